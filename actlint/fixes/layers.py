"""Rewrites of one layer or activation of the model: remove it, replace it, set a constructor keyword.

The rule describes the op as a :class:`LayerSite` (where the graph says it is called, and
where its module was built); these functions find the exact call in the user's file and
refuse (:class:`CannotFix`) whenever the edit would not be exact: the module is built in
another file, in a loop or comprehension, through a factory, or the call is not the one expected.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from actlint.core.location import SourceLocation
from actlint.fixes.tree import CannotFix, SourceTree, last_name, renamed

#: Functional and method names of the activations fixes rewrite, by op kind.
FUNCTION_NAMES = {
    "relu": {"relu", "relu_"}, "relu6": {"relu6"}, "sigmoid": {"sigmoid", "sigmoid_"},
    "softmax": {"softmax"}, "log_softmax": {"log_softmax"}, "softmin": {"softmin"},
    "hardtanh": {"hardtanh", "hardtanh_"}, "threshold": {"threshold", "threshold_"},
    "softplus": {"softplus"}, "hardsigmoid": {"hardsigmoid"}, "tanh": {"tanh", "tanh_"},
}

#: Keywords an activation call may carry that removing or replacing it loses nothing of.
_HARMLESS_KEYWORDS = {"inplace", "dim", "dtype", "_stacklevel"}


@dataclass(frozen=True)
class LayerSite:
    """Where one op of the graph sits in the user's file.

    ``op`` is the graph's opcode (``call_module``, ``call_function``, ``call_method``);
    ``called_at`` the graph's location of the call; ``built_at`` where its module was
    constructed (modules only); ``built_here`` how many of the model's modules that
    construction line built; ``attribute`` the module's last path segment (``act`` of ``block.act``).
    """

    kind: str
    op: str
    file: str
    called_at: SourceLocation | None
    built_at: SourceLocation | None = None
    built_here: int = 1
    attribute: str | None = None
    #: Removing the module from its nn.Sequential would renumber later children with state.
    renumbers_state: bool = False
    #: How many of the layers built at ``built_at`` the rule flags alike: a construction line
    #: that builds several layers (a helper class used twice) is rewritten only when all are.
    flagged_here: int = 1


def _in_file(site: LayerSite, location: SourceLocation | None, what: str) -> SourceLocation:
    if location is None:
        raise CannotFix(f"actlint does not know where the {what} is")
    if location.file != site.file:
        raise CannotFix(f"the {what} is in another file ({location.file})")
    return location


def _constructor(tree: SourceTree, site: LayerSite) -> cst.Call:
    """The constructor call of the site's module, when rewriting it is exact."""
    where = _in_file(site, site.built_at, "layer's construction")
    call = tree.call_at(where.line, where.column)
    if site.built_here > site.flagged_here:
        raise CannotFix(f"line {where.line} builds {site.built_here} layers of the model (a factory or a shared "
                        f"helper), {site.flagged_here} of them with this problem: changing it changes all of them")
    if tree.in_loop(call) and site.flagged_here < 2:  # every layer the loop builds is flagged: exact
        raise CannotFix(f"the layer is built in a loop (line {where.line}): changing it changes every layer it builds")
    return call


def _sequential_arg(tree: SourceTree, call: cst.Call) -> tuple[cst.Call, cst.Arg] | None:
    """(the nn.Sequential call, the argument) when ``call`` is a positional argument of an nn.Sequential(...)."""
    arg = tree.parent(call)
    if not isinstance(arg, cst.Arg) or arg.keyword is not None or arg.star:
        return None
    outer = tree.parent(arg)
    if isinstance(outer, cst.Call) and last_name(outer.func) == "Sequential":
        return outer, arg
    return None


def _unwrapped(tree: SourceTree, call: cst.Call, site: LayerSite) -> cst.BaseExpression:
    """The activation call's input: ``x`` of ``F.relu(x)``, ``self.act(x)`` or ``x.relu()``."""
    name = last_name(call.func)
    if site.op == "call_method":
        if isinstance(call.func, cst.Attribute) and name in FUNCTION_NAMES.get(site.kind, ()):
            if any(a.keyword is None or a.keyword.value not in _HARMLESS_KEYWORDS for a in call.args):
                raise CannotFix(f"the {name}() call at line {tree.line_of(call)} has arguments actlint would drop")
            return call.func.value
        raise CannotFix(f"the call at line {tree.line_of(call)} is not a .{site.kind}() method call")
    if site.op == "call_module":
        if name != site.attribute or not isinstance(call.func, cst.Attribute):
            raise CannotFix(f"the call at line {tree.line_of(call)} is not a call of the module {site.attribute}")
    elif name not in FUNCTION_NAMES.get(site.kind, ()):
        raise CannotFix(f"the call at line {tree.line_of(call)} is not a {site.kind} call")
    positional = [a for a in call.args if a.keyword is None]
    extra = [a for a in call.args if a.keyword is not None and a.keyword.value not in _HARMLESS_KEYWORDS]
    if len(positional) < 1 or positional[0].star or extra or (site.op == "call_module" and len(positional) != 1):
        raise CannotFix(f"the call at line {tree.line_of(call)} takes arguments besides its input")
    if site.op != "call_module" and len(positional) > 1 and site.kind not in ("softmax", "log_softmax", "softmin"):
        raise CannotFix(f"the call at line {tree.line_of(call)} takes arguments besides its input")
    return positional[0].value


def removal(tree: SourceTree, site: LayerSite) -> dict:
    """The replacement that removes an activation from the model (its input passes straight on)."""
    where = site.called_at if site.op != "call_module" or site.built_at is None else site.built_at
    where = _in_file(site, where, "activation")
    call = tree.call_at(where.line, where.column)
    if site.op == "call_module":
        sequential = _sequential_arg(tree, call)
        if sequential is not None and last_name(call.func) not in (None, site.attribute):
            outer, arg = sequential
            _constructor(tree, site)  # not built in a loop, once
            if site.renumbers_state:
                # Removing it would renumber the later layers' weights (checkpoints would stop loading).
                return {call: call.with_changes(func=renamed(call.func, "Identity"), args=())}
            return {outer: _without_arg(outer, arg)}
        # A module called in forward(): call the input through, leave the (parameter-free) module built.
        where = _in_file(site, site.called_at, "activation call")
        call = tree.call_at(where.line, where.column)
    source = _unwrapped(tree, call, site)
    return {call: source.with_changes(lpar=call.lpar, rpar=call.rpar) if call.lpar else source}


def _without_arg(call: cst.Call, arg: cst.Arg) -> cst.Call:
    args = list(call.args)
    index = args.index(arg)
    del args[index]
    if args and index == len(args):  # removed the last one: the new last keeps the old last's comma style
        args[-1] = args[-1].with_changes(comma=arg.comma)
    return call.with_changes(args=args)


def replacement_activation(tree: SourceTree, site: LayerSite, module_class: str, function: str) -> dict:
    """The replacement that swaps an activation for another (``nn.Softmax(dim=1)`` -> ``nn.ReLU()``)."""
    if site.op == "call_module":
        call = _constructor(tree, site)
        return {call: call.with_changes(func=renamed(call.func, module_class), args=())}
    where = _in_file(site, site.called_at, "activation call")
    call = tree.call_at(where.line, where.column)
    source = _unwrapped(tree, call, site)
    if site.op == "call_method":
        return {call: call.with_changes(func=call.func.with_changes(attr=cst.Name(function)), args=())}
    return {call: call.with_changes(func=renamed(call.func, function), args=[cst.Arg(source)])}


def keyword_set(tree: SourceTree, site: LayerSite, keyword: str, value: str, position: int | None = None) -> dict:
    """The replacement that sets ``keyword=value`` on the layer's constructor (``bias=False``).

    ``position``: the keyword's positional index, replaced in place when given positionally.
    """
    call = _constructor(tree, site)
    if site.kind and last_name(call.func) is None:
        raise CannotFix(f"the layer at line {tree.line_of(call)} is not built by a plain constructor call")
    if any(a.star for a in call.args):
        raise CannotFix(f"the constructor at line {tree.line_of(call)} takes *args/**kwargs")
    args = list(call.args)
    new_value = cst.parse_expression(value)
    for i, arg in enumerate(args):
        if arg.keyword is not None and arg.keyword.value == keyword:
            args[i] = arg.with_changes(value=new_value)
            return {call: call.with_changes(args=args)}
    positional = [i for i, a in enumerate(args) if a.keyword is None]
    if position is not None and len(positional) > position:
        i = positional[position]
        args[i] = args[i].with_changes(value=new_value)
        return {call: call.with_changes(args=args)}
    comma: cst.Comma | cst.MaybeSentinel = cst.MaybeSentinel.DEFAULT
    if args:  # the new last argument takes over the old last one's trailing comma (and its newline)
        last = args[-1]
        if isinstance(last.comma, cst.Comma):
            comma = last.comma
        args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    no_space = cst.SimpleWhitespace("")
    args.append(cst.Arg(new_value, keyword=cst.Name(keyword), comma=comma,
                        equal=cst.AssignEqual(whitespace_before=no_space, whitespace_after=no_space)))
    return {call: call.with_changes(args=args)}
