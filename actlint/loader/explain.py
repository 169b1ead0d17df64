"""One-line explanations of why loading or building failed: argparse exits, downloads, unfaithful configs."""


from __future__ import annotations

import ast
import re


from actlint.core.errors import one_line
from actlint.sandbox.fence import FenceLog, NetworkBlocked
from actlint.loader.plan import LoadPlan, Statement

#: Seconds a file may take to load, and again each model construction, by default.
from actlint.loader.loaded import LoadedFile


def unfaithful_message(loaded: LoadedFile, stmt: Statement, why: str) -> str:
    """One line: a statement actlint did not run because it would build something else."""
    what = ", ".join(sorted(stmt.binds)) or f"line {stmt.line}"
    return (f"{loaded.display}:{stmt.line}: {what} not built: {why} (actlint lints a model only as the "
            f"file builds it)")


_REQUIRED = re.compile(r"error: the following arguments are required: (.+)")


_PARSER_ERROR = re.compile(r"error: (.+)")


def exit_message(exc: SystemExit, log: FenceLog) -> str:
    """What a ``sys.exit`` while loading means; argparse's own message when it was argparse."""
    tail = log.current_tail()
    required = _REQUIRED.findall(tail)
    if required or (errors := _PARSER_ERROR.findall(tail)) and exc.code == 2:
        log.drop()  # argparse's usage text: the one-line message below says it all
    if required:
        options = required[-1].strip()
        first = options.split(",")[0].strip()
        return (f"the script's argument parser requires {options}; pass "
                f"--script-args \"{first} VALUE\" (actlint gives the script no arguments of its own)")
    errors = _PARSER_ERROR.findall(tail)
    if errors and exc.code == 2:
        return f"the script's argument parser stopped: {errors[-1].strip()} (check --script-args)"
    return f"the file called sys.exit({exc.code}) while loading"


_WEIGHT_ARGUMENTS = ("pretrained", "weights", "pretrained_backbone", "weights_backbone", "pretrained_model",
                     "checkpoint", "ckpt", "url")


def download_hint(exc: BaseException, node: ast.AST | None) -> str | None:
    """A build that tried to download weights: name the argument to change (the network is off)."""
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, NetworkBlocked):
        seen = seen.__cause__ or seen.__context__
    if seen is None and "network access is disabled" not in str(exc):
        return None
    named = []
    for sub in ast.walk(node) if node is not None else ():
        if isinstance(sub, ast.keyword) and sub.arg and sub.arg.startswith(_WEIGHT_ARGUMENTS):
            if not (isinstance(sub.value, ast.Constant) and sub.value.value in (None, False)):
                named.append(sub.arg)
    change = (", ".join(f"{a}=None" if a.startswith("weights") else f"{a}=False" for a in named)
              if named else "weights=None (or pretrained=False)")
    return (f"tried to download pretrained weights, and the network is off while actlint runs your file; "
            f"build the model with {change}: actlint lints the architecture, not the weights")


def statement_at(tree: ast.Module | None, line: int | None) -> ast.stmt | None:
    """The innermost statement of the file that spans ``line``."""
    if tree is None or line is None:
        return None
    spanning = [n for n in ast.walk(tree) if isinstance(n, ast.stmt) and n.lineno <= line <= (n.end_lineno or n.lineno)]
    return min(spanning, key=lambda n: (n.end_lineno or n.lineno) - n.lineno, default=None)


def attribute_source(exc: BaseException, stmt: Statement, plan: LoadPlan | None) -> str:
    """``opt.src_vocab_size`` missing: the skipped statement that was given ``opt`` probably sets it."""
    if not isinstance(exc, AttributeError) or plan is None or not getattr(exc, "name", None):
        return ""
    for earlier in reversed(plan.statements[:stmt.index]):
        if earlier.skip_reason is None or plan.runs(earlier):
            continue
        for call in (n for n in ast.walk(earlier.node) if isinstance(n, ast.Call)):
            passed = [a for a in [*call.args, *(k.value for k in call.keywords)] if isinstance(a, ast.Name)]
            given = next((a.id for a in passed if a.id in stmt.uses), None)
            if given is not None:
                return (f" ({given}.{exc.name} would be set by line {earlier.line}, {earlier.skip_reason}, "
                        f"which actlint does not run)")
    return ""


def explain_failure(exc: BaseException, loaded: LoadedFile) -> str:
    """One-line error; a NameError says where the missing name would have come from."""
    text = one_line(exc)
    if isinstance(exc, NameError) and loaded.plan is not None:
        name = getattr(exc, "name", None)
        skipped = loaded.plan.names_bound_by_skipped.get(name or "")
        if skipped is not None:
            return (f"{text} ({name} comes from line {skipped.line}, {skipped.skip_reason}, "
                    f"which actlint does not run)")
        failed = next((loaded.failures[s.index] for s in loaded.plan.statements
                       if name in s.binds and s.index in loaded.failures), None)
        if failed:
            return f"{text} (its statement failed: {failed.replace(loaded.display + ':', 'line ', 1)})"
    return text


def user_line(exc: BaseException, user_path: str) -> int | None:
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == user_path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
