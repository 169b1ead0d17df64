"""Rewrites of the training code: zero the gradients per step, AdamW for Adam's L2, eval mode and no_grad for evaluation."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as matchers

from actlint.fixes.tree import SCOPES, CannotFix, SourceTree, dotted_name, last_name, renamed


def _loop_at(tree: SourceTree, line: int) -> cst.For | cst.While:
    loops = [n for n in tree.nodes(cst.BaseCompoundStatement)
             if isinstance(n, (cst.For, cst.While)) and tree.line_of(n) == line]
    if not loops:
        raise CannotFix(f"no loop statement found at line {line}")
    return loops[0]


def _optimizer_of_step(tree: SourceTree, line: int, column: int) -> str:
    """The optimizer expression of a step call: ``optimizer`` of ``optimizer.step()`` or ``scaler.step(optimizer)``."""
    call = tree.call_at(line, column)
    if last_name(call.func) != "step" or not isinstance(call.func, cst.Attribute):
        raise CannotFix(f"the call at line {line} is not an optimizer's step()")
    if call.args:  # scaler.step(optimizer)
        if call.args[0].keyword is not None or call.args[0].star:
            raise CannotFix(f"cannot tell which optimizer the step at line {line} steps")
        return tree.code(call.args[0].value)
    receiver = call.func.value
    if dotted_name(receiver) is None:
        raise CannotFix(f"the optimizer stepped at line {line} is not a plain name")
    return tree.code(receiver)


def _zero_grad_statement(tree: SourceTree, statement: cst.CSTNode, optimizer: str) -> bool:
    """Is ``statement`` a lone ``<optimizer>.zero_grad(...)`` line?"""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    expr = statement.body[0]
    return (isinstance(expr, cst.Expr) and isinstance(expr.value, cst.Call)
            and isinstance(expr.value.func, cst.Attribute) and expr.value.func.attr.value == "zero_grad"
            and tree.code(expr.value.func.value) == optimizer)


def zero_grad_in_loop(tree: SourceTree, loop_line: int, step_line: int, step_column: int,
                      zeroed_before_line: int | None) -> dict:
    """Zero the gradients as the loop's first statement; a zero_grad() that ran once before the loop moves in."""
    loop = _loop_at(tree, loop_line)
    optimizer = _optimizer_of_step(tree, step_line, step_column)
    replacements: dict = {}
    statement = cst.parse_statement(f"{optimizer}.zero_grad()\n")
    if zeroed_before_line is not None:
        before = [s for s in tree.nodes(cst.SimpleStatementLine)
                  if tree.line_of(s) == zeroed_before_line and _zero_grad_statement(tree, s, optimizer)]
        if before and tree.parent(before[0]) is tree.parent(loop):
            statement = before[0].with_changes(leading_lines=())  # keep its arguments (set_to_none=True)
            replacements[before[0]] = cst.RemovalSentinel.REMOVE
    if not isinstance(loop.body, cst.IndentedBlock):
        raise CannotFix(f"the loop at line {loop_line} is written on one line")
    body = loop.body.with_changes(body=(statement, *loop.body.body))
    replacements[loop] = loop.with_changes(body=body)
    return replacements


def adamw_for_adam(tree: SourceTree, line: int, column: int) -> dict:
    """``torch.optim.Adam(...)`` -> ``torch.optim.AdamW(...)``, keeping every argument."""
    call = tree.call_at(line, column)
    if last_name(call.func) != "Adam":
        raise CannotFix(f"the call at line {line} is not Adam(...)")
    replacements: dict = {call: call.with_changes(func=renamed(call.func, "AdamW"))}
    if isinstance(call.func, cst.Name) and not tree.imports_name("AdamW"):
        # ``from torch.optim import Adam``: import AdamW beside it.
        for node in tree.nodes(cst.ImportFrom):
            if node.module is not None and tree.code(node.module) == "torch.optim" \
                    and not isinstance(node.names, cst.ImportStar) \
                    and any(a.asname is None and tree.code(a.name) == "Adam" for a in node.names):
                names = list(node.names)
                names[-1] = names[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                names.append(cst.ImportAlias(cst.Name("AdamW")))
                replacements[node] = node.with_changes(names=names)
                break
        else:
            raise CannotFix("Adam is imported in a way actlint cannot extend with AdamW")
    return replacements


def _leaves_early(loop: cst.CSTNode) -> bool:
    """Does the loop return or yield (in its own function)? That would skip model.train() after it."""
    found: list[cst.CSTNode] = []

    class Finder(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

        def visit_Return(self, node: cst.Return) -> None:
            found.append(node)

        def visit_Yield(self, node: cst.Yield) -> None:
            found.append(node)

    loop.visit(Finder())
    return bool(found)


def evaluation_mode(tree: SourceTree, line: int, column: int, *, set_eval: bool, no_grad: bool) -> dict:
    """Put the evaluation loop around the model call at (line, column) in eval mode and under
    ``torch.no_grad()``, and put the model back in training mode right after it."""
    call = tree.call_at(line, column)
    model = dotted_name(call.func)
    if model is None:
        raise CannotFix(f"the model called at line {line} is not a plain name")
    loop = None
    for ancestor in tree.ancestors(call):
        if isinstance(ancestor, (cst.For, cst.While)):
            loop = ancestor
            break
        if isinstance(ancestor, SCOPES):
            break
    if loop is None:
        raise CannotFix(f"the model call at line {line} is not inside a loop of its function")
    if matchers.findall(loop, matchers.Call(func=matchers.Attribute(attr=matchers.Name("backward")))):
        raise CannotFix(f"the loop at line {tree.line_of(loop)} calls backward(): it trains, "
                        f"no_grad() around it would stop training")
    if _leaves_early(loop):
        raise CannotFix(f"the evaluation loop at line {tree.line_of(loop)} returns from inside, which would "
                        f"skip putting the model back in training mode")
    if no_grad and not tree.imports_name("torch"):
        raise CannotFix("the file does not import torch (needed for torch.no_grad())")
    block: cst.BaseCompoundStatement = loop.with_changes(leading_lines=())
    if no_grad:
        block = cst.With(items=[cst.WithItem(cst.parse_expression("torch.no_grad()"))],
                         body=cst.IndentedBlock([block]))
    statements: list[cst.CSTNode] = []
    if set_eval:
        statements.append(cst.parse_statement(f"{model}.eval()\n").with_changes(leading_lines=loop.leading_lines))
    else:
        block = block.with_changes(leading_lines=loop.leading_lines)
    statements.append(block)
    if set_eval:
        statements.append(cst.parse_statement(f"{model}.train()\n"))
    return {loop: cst.FlattenSentinel(statements)}
