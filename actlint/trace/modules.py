"""The last resort: the module tree, when no tracing method produced a dataflow graph.

Nodes are the leaf modules in definition order, without edges: rules that need dataflow
are skipped (and say so), rules about the modules themselves still run.
"""

from __future__ import annotations

from actlint.graph import ops
from actlint.graph.view import GraphView, OpNode
from actlint.loader.provenance import module_construction_site

import torch.nn as nn


def module_tree_view(model: nn.Module, table: ops.OpTable, notes: list[str]) -> GraphView:
    """Leaf modules in definition order, without edges (no dataflow is known)."""
    nodes: list[OpNode] = []
    for path, module in model.named_modules():
        if path == "" or any(True for _ in module.children()):
            continue
        kind = table.module_kind(module) or "unknown"
        nodes.append(
            OpNode(
                index=len(nodes),
                name=path.replace(".", "_"),
                op="call_module",
                kind=kind,
                target=path,
                module_path=path,
                module=module,
                location=module_construction_site(module),
            )
        )
    return GraphView(nodes, model, trace_method="modules", notes=notes)
