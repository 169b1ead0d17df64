"""ACT6xx: parameters that forward never uses."""

from __future__ import annotations

from typing import Iterable

from actlint.core.findings import Finding, ProbeVerdict, Severity
from actlint.graph.view import GraphView, parameter_count
from actlint.loader.provenance import module_construction_site
from actlint.rules.base import Example, Rule, RuleContext
from actlint.rules.confirmation import confirm_no_gradient


def used_parameter_ids(graph: GraphView) -> set[int]:
    """ids of every parameter forward touches (called modules, their children, get_attr)."""
    used: set[int] = set()
    for node in graph.nodes:
        if node.op == "call_module" and node.module is not None:
            used.update(id(p) for p in node.module.parameters())
        elif node.op == "get_attr":
            owner_path, _, attr = str(node.target).rpartition(".")
            owner = graph.modules.get(owner_path)
            value = getattr(owner, attr, None) if owner is not None else None
            if value is not None and hasattr(value, "data"):
                used.add(id(value))
            if value is not None and hasattr(value, "parameters"):
                used.update(id(p) for p in value.parameters())
    return used


class UnusedModule(Rule):
    id = "ACT601"
    name = "unused-module"
    severity = Severity.WARNING
    summary = "A submodule with parameters that forward never calls."
    what = (
        "Reports submodules that own parameters none of which the traced forward pass uses "
        "(the outermost such module only). Shared (tied) parameters used elsewhere count as used."
    )
    why = (
        "Its parameters never receive gradients: memory and optimizer state are wasted, "
        "checkpoint sizes grow, and DistributedDataParallel fails with 'parameters that were "
        "not used in producing loss'. Most often a layer was defined and then forgotten in forward."
    )
    instead = "Call the module in forward, or delete it from __init__."
    confirmed_by = "no gradient"

    def measure(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        return confirm_no_gradient(finding, ctx)

    valid = (
        Example(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc1 = nn.Linear(8, 16)
                    self.fc2 = nn.Linear(16, 2)

                def forward(self, x):
                    return self.fc2(self.fc1(x).relu())
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc1 = nn.Linear(8, 16)
                    self.norm = nn.LayerNorm(16)
                    self.fc2 = nn.Linear(16, 2)

                def forward(self, x):
                    return self.fc2(self.fc1(x).relu())
            """,
            line=7,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        graph = ctx.graph
        used = used_parameter_ids(graph)
        reported: list[str] = []
        for path, module in graph.modules.items():
            if path == "" or any(path.startswith(r + ".") for r in reported):
                continue
            params = list(module.parameters())
            if not params or any(id(p) in used for p in params):
                continue
            reported.append(path)
            count = parameter_count(params)
            yield ctx.finding(
                f"{path} ({type(module).__name__}, {count:,} parameters) is never used by forward: "
                f"its parameters get no gradient; call it or remove it",
                location=module_construction_site(module) or graph.location_of_module(path),
                module=path,
            )
