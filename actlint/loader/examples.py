"""The file's own examples: where its author shows how the model is built and called.

In: the parsed module. Out: :class:`ExampleBlock` objects, each a planned block of
statements (:mod:`actlint.loader.plan`) that builds models and, where the block calls
them, their example inputs.

Blocks, in the order they are tried: the ``if __name__ == "__main__":`` block, the file's
functions that block calls (``main()``, ``fire.Fire(main)``), ``test_*`` functions without
parameters, and ``>>>`` examples in docstrings. A block is read, never run as a whole: it
is planned like the module itself, with the module's definitions known, so only the
statements its model constructions (``net = Net([784, 500, 500])``) and the inputs they
are called with (``net(torch.randn(1, 3, 32, 32))``) need are run; data loading,
training, checkpoints and trackers in those blocks never run. The ``__main__`` block runs
in the module's namespace (its assignments are the globals a class may read, as when the
script runs); a function's body runs in a copy of it.
"""

from __future__ import annotations

import ast
import copy
import re
import textwrap
from dataclasses import dataclass
from typing import Any

from actlint.loader.plan import LoadPlan, Planner, callee_name, definition_uses, is_main_guard

#: The variable a block's synthetic statement binds to the inputs a model is called with.
INPUTS_PREFIX = "__actlint_inputs_"
#: ... and to the arguments the ``__main__`` block passes to a function it calls (``main(args)``).
CALL_PREFIX = "__actlint_call_"
_DOCTEST = re.compile(r"^\s*(>>>|\.\.\.) ?(.*)$")


@dataclass
class ExampleBuild:
    """A model one of the file's example blocks built, and the inputs the block calls it with."""

    variable: str
    model: Any  # the nn.Module
    line: int
    block: str  # the block's label
    primary: bool  # built by what the script runs (the __main__ block, main()), not a test or docstring
    call: str  # the construction as written
    inputs: tuple[Any, ...] | None = None
    input_line: int | None = None

    def describe(self) -> str:
        return f"built {self.call} from line {self.line}, {self.block}"

    def inputs_origin(self) -> str:
        return f"the file's example, line {self.input_line}, {self.block}"


@dataclass
class ExampleBlock:
    """One block of the file's examples, planned."""

    label: str  # "the __main__ block", "main()", "test()", "the docstring of UNet"
    plan: LoadPlan
    module_scope: bool  # runs in the module namespace (the __main__ block) or in a copy of it
    function: str | None = None  # the function whose body this is (its arguments come from the __main__ block)
    #: What the script runs (the __main__ block and the functions it calls), not a test or a docstring.
    primary: bool = False

    def outside_names(self) -> set[str]:
        """Names the block's statements read that it does not bind: the module must bind them."""
        plan = self.plan
        bound = {n for s in plan.statements for n in s.binds}
        read = {n for s in plan.statements if plan.runs(s) for n in s.uses | s.body_uses}
        return read - bound

    def model_variables(self) -> dict[str, int]:
        """Variables bound by the block's model statements -> the line that builds them."""
        out: dict[str, int] = {}
        for stmt in self.plan.statements:
            if stmt.kind == "model":
                for name in stmt.binds:
                    out.setdefault(name, stmt.line)
        return out

    def call_text(self, variable: str) -> str:
        """The construction as written (``Net([784, 500, 500])``; ``GAN(args).G`` for a model it holds)."""
        if "." in variable:
            holder, _, attribute = variable.partition(".")
            return f"{self.call_text(holder)}.{attribute}"
        for stmt in self.plan.statements:
            if stmt.kind == "model" and variable in stmt.binds:
                value = getattr(stmt.node, "value", None)
                text = ast.unparse(value if value is not None else stmt.node).splitlines()[0]
                return text if len(text) <= 80 else text[:77] + "..."
        return variable

    def input_line(self, variable: str) -> int | None:
        name = INPUTS_PREFIX + variable
        for stmt in self.plan.statements:
            if stmt.kind == "example" and name in stmt.binds:
                return stmt.line
        return None


def example_blocks(tree: ast.Module) -> list[ExampleBlock]:
    """The file's example blocks, planned (see the module docstring), in the order they are tried."""
    parent = Planner(tree)
    uses = definition_uses(tree)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    blocks: list[ExampleBlock] = []
    guard = next((n for n in tree.body if is_main_guard(n)), None)
    called: list[tuple[str, ast.Call | None]] = []
    if guard is not None:
        called = _functions_called(guard.body, functions)
        calls = [(CALL_PREFIX + name, call) for name, call in called if call is not None and _has_arguments(call)]
        blocks.append(_planned("the __main__ block", guard.body, parent, uses, module_scope=True, calls=calls))
    for name, _ in called:
        blocks.append(_planned(f"{name}()", functions[name].body, parent, uses, function=name))
    for block in blocks:
        block.primary = True
    for name, fn in functions.items():
        if name.startswith("test") and not _required_arguments(fn) and name not in dict(called):
            blocks.append(_planned(f"{name}()", fn.body, parent, uses))
    for owner, body in _docstring_examples(tree):
        blocks.append(_planned(f"the docstring of {owner}", body, parent, uses))
    # A block without models is kept when it hands arguments to a function block (main(args)).
    return [b for b in blocks if b.model_variables() or any(s.kind == "example" for s in b.plan.statements)]


def _planned(label: str, body: list[ast.stmt], parent: Planner, uses: dict[str, set[str]], *,
             module_scope: bool = False, function: str | None = None,
             calls: list[tuple[str, ast.Call]] = ()) -> ExampleBlock:
    statements = [s for s in body if not isinstance(s, (ast.Return, ast.Global, ast.Nonlocal))]
    module = ast.Module(body=statements, type_ignores=[])
    probe = Planner(module, parent)
    variables = {name for node in statements for name in _model_binds(probe, node)}
    synthetic: list[tuple[int, ast.stmt]] = []
    for index, node in enumerate(statements):
        for call in _calls_in_order(node):
            callee = call.func.id if isinstance(call.func, ast.Name) else None
            if callee in variables and not any(isinstance(a, ast.Starred) for a in call.args):
                # A call inside a loop (``hidden = torch.zeros(...)`` then ``model(hidden, x)`` in
                # the training loop): the assignments before it in its block are hoisted out, and
                # run only when they read nothing the loop binds or actlint skips.
                for hoisted in _assignments_before(node, call):
                    synthetic.append((index, copy.deepcopy(hoisted)))
                synthetic.append((index, _assign(INPUTS_PREFIX + callee, ast.Tuple(call.args, ast.Load()), call)))
                variables.discard(callee)  # the first call of each model gives its inputs
    for name, call in calls:
        index = next(i for i, node in enumerate(statements) if any(c is call for c in ast.walk(node)))
        kwargs = ast.Dict([ast.Constant(k.arg) for k in call.keywords], [k.value for k in call.keywords])
        synthetic.append((index, _assign(name, ast.Tuple([ast.Tuple(call.args, ast.Load()), kwargs], ast.Load()),
                                         call)))
    for offset, (index, node) in enumerate(sorted(synthetic, key=lambda pair: pair[0])):  # (a stable sort)
        statements.insert(index + 1 + offset, node)
    module = ast.Module(body=statements, type_ignores=[])
    examples = {id(node) for _, node in synthetic}
    plan = Planner(module, parent, example_nodes=examples).plan(external_uses=uses)
    return ExampleBlock(label, plan, module_scope, function)


def _model_binds(planner: Planner, node: ast.stmt) -> set[str]:
    """Variables a statement binds to a model construction (also inside ``if``/``with`` blocks)."""
    out: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, (ast.Assign, ast.AnnAssign)) and n.value is not None and planner.builds_model(n.value):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            # model, criterion, postprocessors = build_model(args): every name may hold a model
            out |= {sub.id for t in targets for sub in ast.walk(t) if isinstance(sub, ast.Name)}
    return out


def _assignments_before(node: ast.stmt, call: ast.Call) -> list[ast.stmt]:
    """Plain assignments that precede ``call`` in the blocks of compound statement ``node``."""
    out: list[ast.stmt] = []
    current: ast.stmt | None = node
    while isinstance(current, (ast.For, ast.While, ast.With, ast.If, ast.Try)):
        bodies = [getattr(current, f, None) or [] for f in ("body", "orelse", "finalbody")]
        bodies += [h.body for h in getattr(current, "handlers", [])]
        found = None
        for body in bodies:
            for i, stmt in enumerate(body):
                if any(n is call for n in ast.walk(stmt)):
                    out += [s for s in body[:i] if isinstance(s, (ast.Assign, ast.AnnAssign)) and s.value is not None]
                    found = stmt
                    break
            if found is not None:
                break
        current = found
    return out


def _assign(name: str, value: ast.expr, where: ast.AST) -> ast.Assign:
    node = ast.Assign(targets=[ast.Name(name, ast.Store())], value=value)
    return ast.fix_missing_locations(ast.copy_location(node, where))


def _calls_in_order(node: ast.AST) -> list[ast.Call]:
    calls = [n for n in ast.walk(node) if isinstance(n, ast.Call)]
    return sorted(calls, key=lambda c: (c.lineno, c.col_offset))


def _has_arguments(call: ast.Call) -> bool:
    return bool(call.args or call.keywords)


def _required_arguments(fn: ast.FunctionDef) -> list[str]:
    args = fn.args
    positional = [*args.posonlyargs, *args.args]
    required = positional[:len(positional) - len(args.defaults)]
    required += [a for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is None]
    return [a.arg for a in required]


def _functions_called(body: list[ast.stmt], functions: dict[str, ast.FunctionDef]) -> list[tuple[str, ast.Call | None]]:
    """The file's functions the ``__main__`` block calls (``main()``) or hands to a runner (``fire.Fire(main)``)."""
    found: list[tuple[str, ast.Call | None]] = []
    seen: set[str] = set()
    for node in body:
        for call in _calls_in_order(node):
            name = callee_name(call.func)
            if name in functions and name not in seen:
                found.append((name, call))
                seen.add(name)
            for arg in call.args:
                if isinstance(arg, ast.Name) and arg.id in functions and arg.id not in seen:
                    found.append((arg.id, None))
                    seen.add(arg.id)
    # A function called without the arguments it requires cannot be read as an example.
    return [(n, c) for n, c in found if c is not None or not _required_arguments(functions[n])]


def _docstring_examples(tree: ast.Module) -> list[tuple[str, list[ast.stmt]]]:
    """``>>>`` examples in the docstrings of the module and of its classes and functions."""
    owners: list[tuple[str, ast.AST]] = [("the module", tree)]
    owners += [(n.name, n) for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))]
    out: list[tuple[str, list[ast.stmt]]] = []
    for name, node in owners:
        doc = ast.get_docstring(node, clean=True)  # type: ignore[arg-type]
        if not doc or ">>>" not in doc:
            continue
        lines = [m.group(2) for line in doc.splitlines() if (m := _DOCTEST.match(line))]
        try:
            parsed = ast.parse(textwrap.dedent("\n".join(lines)))
        except SyntaxError:
            continue
        # Doctest lines are not the file's lines one for one: point every statement at the docstring.
        doc_node = (node.body[0] if isinstance(node, (ast.ClassDef, ast.FunctionDef)) else tree.body[0])
        for sub in ast.walk(parsed):
            if hasattr(sub, "lineno"):
                sub.lineno = sub.end_lineno = doc_node.lineno  # type: ignore[attr-defined]
        out.append((name, parsed.body))
    return out


__all__ = ["ExampleBlock", "ExampleBuild", "example_blocks", "INPUTS_PREFIX", "CALL_PREFIX"]
