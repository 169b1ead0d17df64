"""Read how a file trains its model: optimizers, schedulers, clipping, loops, evaluation, inputs.

``read_training_setup(source, namespace)`` parses the user's file once (AST, nothing runs)
and returns a :class:`TrainingSetup`: what the training-setup rules (ACT801-ACT806) judge
and what the training probe replays (the optimizer with its hyperparameters, gradient
clipping). Values are resolved without running code the load plan skipped: literals,
module-level constants, the file's namespace (``args.lr`` when the loader ran
``parse_args``), argparse defaults (``add_argument("--lr", default=0.1)``), function
parameter defaults, and ``self.<attr>`` on the model instance (LightningModule
hyperparameters).

Every site remembers its *scope* (the identifiers of the enclosing function or of the
module-level code, as :mod:`actlint.source.losses` does), so that a file with several models
pairs each optimizer or loop with the model it concerns.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from actlint.core.syntax import dotted_name
from actlint.source.literals import Unresolved, evaluate_literal
from actlint.source.scopes import enclosing_scope, mentioned_names
from actlint.source.adversarial import AdversarialUse, find_adversarial

#: Names of the calls that clip gradients (torch, Lightning, accelerate, fairseq...).
_CLIP_CALLS = frozenset({"clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "clip_gradients",
                         "clip_grad_norm_fp32", "clip_grads"})
#: Keyword arguments that turn clipping on in trainer APIs (Lightning's Trainer, HF's TrainingArguments).
_CLIP_KEYWORDS = frozenset({"gradient_clip_val", "max_grad_norm", "grad_clip", "clip_grad", "gradient_clipping",
                            "clip_norm", "grad_norm_clip", "clip_grad_norm", "max_norm"})
#: Trainer classes that clip by default (HF Trainer: max_grad_norm=1.0).
_CLIPPING_TRAINERS = frozenset({"Trainer", "Seq2SeqTrainer", "SFTTrainer", "TrainingArguments",
                                "Seq2SeqTrainingArguments"})
_SCHEDULER_HINTS = ("lr_scheduler", "LR", "Scheduler", "schedule_with_warmup", "OneCycle", "Cosine", "Plateau")
#: Function-name words that mark evaluation code.
EVAL_WORDS = frozenset({"eval", "evaluate", "evaluation", "validate", "validation", "val", "valid", "test",
                        "testing", "predict", "prediction", "inference", "infer", "score"})
#: Names models are usually called by in training scripts.
MODEL_NAMES = frozenset({"model", "net", "network", "classifier", "module", "encoder", "decoder", "generator",
                         "discriminator", "netG", "netD", "student", "teacher", "policy", "critic", "actor"})
#: Image readers whose output is uint8 in 0..255.
_IMAGE_SOURCES = frozenset({"read_image", "decode_image", "decode_jpeg", "decode_png", "imread", "open",
                            "load_img"})
_TORCHVISION_DATASETS = frozenset({"MNIST", "FashionMNIST", "KMNIST", "EMNIST", "QMNIST", "CIFAR10", "CIFAR100",
                                   "SVHN", "STL10"})
_FLOAT_CASTS = frozenset({"float", "double", "half", "float32", "float64", "FloatTensor", "float16", "bfloat16"})


@dataclass(frozen=True)
class Site:
    """Where something is in the file."""

    line: int
    column: int  # 1-based
    text: str
    placement: str  # "at module level", "in function train", "in Net.configure_optimizers"
    scope_names: frozenset[str]


@dataclass(frozen=True)
class OptimizerUse:
    """One optimizer the file builds."""

    site: Site
    name: str  # the class name, e.g. "SGD"
    is_torch: bool  # a torch.optim class (the training probe can build it)
    #: Hyperparameters as written: keyword -> expression (positional ones named by the signature).
    arguments: tuple[tuple[str, ast.expr], ...]
    #: The names the parameters argument mentions (``model.parameters()`` -> {"model"}).
    param_names: frozenset[str]
    #: The parameters argument itself (``netD.parameters()``), for telling a GAN's two players apart.
    parameters: ast.expr | None = None


@dataclass(frozen=True)
class ClippingUse:
    site: Site
    kind: str  # "norm" or "value"
    limit: ast.expr | None


@dataclass(frozen=True)
class LoopUse:
    """A loop that calls ``backward()`` and an optimizer ``step()``."""

    site: Site  # the loop statement
    backward: Site
    step: Site
    zeroes: bool  # zero_grad() (or grads set to None) inside the loop
    zeroed_before: Site | None  # a zero_grad() in the same function before the loop (the ACT801 clue)


@dataclass(frozen=True)
class EvaluationUse:
    """A function that evaluates a model over data."""

    site: Site  # the model call
    function: str
    eval_mode: bool  # .eval() / .train(False) in the function or a caller
    no_grad: bool  # torch.no_grad / inference_mode / set_grad_enabled(False), here or in a caller


@dataclass(frozen=True)
class InputIssue:
    kind: str  # "unscaled-cast" or "no-normalize"
    site: Site
    detail: str


@dataclass
class TrainingSetup:
    """Everything the file says about training (see module docstring)."""

    optimizers: list[OptimizerUse] = field(default_factory=list)
    schedulers: list[Site] = field(default_factory=list)
    clipping: list[ClippingUse] = field(default_factory=list)
    loops: list[LoopUse] = field(default_factory=list)
    evaluations: list[EvaluationUse] = field(default_factory=list)
    inputs: list[InputIssue] = field(default_factory=list)
    #: ``add_argument`` defaults by destination (``lr`` -> its default expression).
    argparse_defaults: dict[str, ast.expr] = field(default_factory=dict)
    #: Module-level constant assignments (``LR = 1e-3``).
    constants: dict[str, ast.expr] = field(default_factory=dict)
    #: Parameter defaults of the function enclosing each site line: line -> {name: expr}.
    function_defaults: dict[int, dict[str, ast.expr]] = field(default_factory=dict)
    #: A trainer that trains and clips by itself (HF Trainer, Lightning Trainer(gradient_clip_val=...)).
    trainer_clips: bool = False
    #: Two models trained against each other (a GAN), when the file has them.
    adversarial: AdversarialUse | None = None


# --- helpers ------------------------------------------------------------------------------


def _last(expr: ast.AST) -> str:
    if isinstance(expr, ast.Attribute):
        return expr.attr
    if isinstance(expr, ast.Name):
        return expr.id
    return ""


def _names(node: ast.AST) -> set[str]:
    return mentioned_names([node])


class _Index:
    """Parents, enclosing functions and scopes of a parsed file."""

    def __init__(self, tree: ast.Module, source: str) -> None:
        self.tree = tree
        self.source = source
        self.parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        self.module_names = set()
        for stmt in tree.body:
            if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.module_names |= _names(stmt)
        self.functions: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.setdefault(node.name, []).append(node)

    def site(self, node: ast.AST) -> Site:
        text = ast.get_source_segment(self.source, node) or ""
        text = text.splitlines()[0] if text else ""
        names, placement = self.scope(node)
        return Site(node.lineno, node.col_offset + 1, text[:120], placement, frozenset(names))  # type: ignore[attr-defined]

    def enclosing_function(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        cur = self.parents.get(node)
        while cur is not None:
            if isinstance(cur, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return cur
            cur = self.parents.get(cur)
        return None

    def scope(self, node: ast.AST) -> tuple[set[str], str]:
        """Identifiers of the enclosing function (and classes) or of the module, as losses.py scopes them."""
        return enclosing_scope(node, self.parents, self.module_names)


def _optimizer_class(dotted: str, namespace: dict[str, Any]) -> tuple[str, bool] | None:
    """(class name, is a torch.optim class) when ``dotted`` names an optimizer class."""
    import torch

    head, *rest = dotted.split(".")
    obj: Any = namespace.get(head, torch if head == "torch" else None)
    for part in rest:
        obj = getattr(obj, part, None) if obj is not None else None
    if isinstance(obj, type) and issubclass(obj, torch.optim.Optimizer):
        is_torch = getattr(torch.optim, obj.__name__, None) is obj
        return obj.__name__, is_torch
    if obj is None:
        last = dotted.rsplit(".", 1)[-1]
        cls = getattr(torch.optim, last, None)
        if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer) and last != "Optimizer":
            return last, True
    return None


def _positional_names(name: str) -> list[str]:
    import inspect

    import torch

    cls = getattr(torch.optim, name, None)
    if cls is None:
        return ["params", "lr"]
    try:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    except (TypeError, ValueError):
        return ["params", "lr"]


def _is_scheduler(dotted: str, namespace: dict[str, Any]) -> bool:
    import torch

    head, *rest = dotted.split(".")
    obj: Any = namespace.get(head, torch if head == "torch" else None)
    for part in rest:
        obj = getattr(obj, part, None) if obj is not None else None
    if isinstance(obj, type):
        base = getattr(torch.optim.lr_scheduler, "LRScheduler", None)
        if base is not None and issubclass(obj, base):
            return True
        return issubclass(obj, torch.optim.lr_scheduler.ReduceLROnPlateau)
    last = dotted.rsplit(".", 1)[-1]
    return last in dir(torch.optim.lr_scheduler) and last[:1].isupper() or "schedule_with_warmup" in last


def _receiver(call: ast.Call) -> str:
    func = call.func
    return _last(func.value) if isinstance(func, ast.Attribute) else ""


# --- the reader -----------------------------------------------------------------------------


def read_training_setup(source: str, namespace: dict[str, Any] | None = None) -> TrainingSetup:
    """What ``source`` says about training (an empty setup when it does not parse).

    One walk over the tree; each call is read for the optimizer it builds, the scheduler
    and clipping it sets up and the argparse defaults it declares, and every node for how
    inputs are scaled (:class:`_InputScaling`). Loops and evaluation functions come from
    the file's index.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return TrainingSetup()
    namespace = namespace or {}
    index = _Index(tree, source)
    setup = TrainingSetup()
    scaling = _InputScaling(tree, source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and node in tree.body:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    setup.constants[target.id] = node.value
        scaling.visit(node)
        if not isinstance(node, ast.Call):
            continue
        dotted = dotted_name(node.func) or ""
        last = _last(node.func)
        if last in ("argument", "add_argument") and node.args and isinstance(node.args[0], ast.Constant):
            _argparse(node, setup)
        if not _read_optimizer(node, dotted, namespace, index, setup):
            _read_schedule_and_clipping(node, dotted, last, namespace, index, setup)
    setup.loops = _loops(index)
    setup.evaluations = _evaluations(index)
    # Module-level models (modules with parameters: a loss module is no player).
    modules = frozenset(k for k, v in namespace.items() if not isinstance(v, type)
                        and callable(getattr(v, "parameters", None)) and _has_parameters(v))
    setup.adversarial = find_adversarial(tree, [o.parameters for o in setup.optimizers if o.parameters is not None],
                                         modules)
    setup.inputs.extend(scaling.issues(index))
    return setup


#: Names of arrays that hold images, when the file says they are 8-bit.
_IMAGE_NAMES = frozenset({"img", "imgs", "image", "images", "pixels", "frames", "frame", "obs", "observation",
                          "observations", "x_train", "x_test", "train_images", "test_images"})


def _array_images(expr: ast.AST, mentions_uint8: bool) -> bool:
    """An array the file says holds 8-bit images, made a tensor: ``torch.from_numpy(images).permute(0, 3, 1, 2)``
    (HWC to CHW), or ``torch.tensor(images)`` of an array named like images."""
    permuted = False
    while isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and \
            expr.func.attr in ("permute", "transpose", "contiguous", "to", "unsqueeze", "view", "reshape"):
        if expr.func.attr == "permute" and [a.value for a in expr.args if isinstance(a, ast.Constant)] in \
                ([0, 3, 1, 2], [2, 0, 1]):
            permuted = True
        expr = expr.func.value
    if not mentions_uint8 or not (isinstance(expr, ast.Call) and _last(expr.func) in ("from_numpy", "tensor",
                                                                                      "as_tensor") and expr.args):
        return False
    if permuted:
        return True
    names = {n.id.lower() for n in ast.walk(expr.args[0]) if isinstance(n, ast.Name)}
    return bool(names & _IMAGE_NAMES)


def _has_parameters(module: Any) -> bool:
    try:
        return any(True for _ in module.parameters())
    except Exception:  # noqa: BLE001 - a user object with its own parameters()
        return False


class _InputScaling:
    """How the file's inputs are scaled: 8-bit images cast to float without /255, ToTensor without Normalize."""

    def __init__(self, tree: ast.Module, source: str = "") -> None:
        self.tree = tree
        #: The file says its arrays are 8-bit (``np.uint8``, a comment or docstring "uint8").
        self.mentions_uint8 = any(word in source for word in ("uint8", "0-255", "0..255", "8-bit"))
        self.image_sources: list[ast.AST] = []
        self.casts: list[ast.AST] = []
        self.scaled = False
        self.to_tensor: list[ast.AST] = []
        self.normalized = False
        self.reads_raw_data = any(isinstance(n, ast.Attribute) and n.attr in ("data", "train_data", "test_data")
                                  for n in ast.walk(tree))

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.Mult, ast.FloorDiv)):
            if _is_255(node.right) or _is_255(node.left) or _is_inverse_255(node.right) or _is_inverse_255(node.left):
                self.scaled = True
        if isinstance(node, ast.AugAssign) and isinstance(node.op, (ast.Div, ast.Mult)) and (
                _is_255(node.value) or _is_inverse_255(node.value)):
            self.scaled = True
        if isinstance(node, ast.Attribute) and node.attr == "uint8":
            self.image_sources.append(node)  # np.uint8 / torch.uint8 arrays: 8-bit pixels
        if isinstance(node, ast.Call):
            self._call(node, _last(node.func), dotted_name(node.func) or "")

    def _call(self, node: ast.Call, last: str, dotted: str) -> None:
        if last in ("div", "div_", "mul", "mul_", "true_divide") and node.args and (
                _is_255(node.args[0]) or _is_inverse_255(node.args[0])):
            self.scaled = True
        if last in ("ConvertImageDtype", "ToDtype", "Rescale", "rescale", "Normalize", "normalize",
                    "AutoImageProcessor", "AutoFeatureExtractor", "convert_image_dtype", "to_dtype"):
            if last in ("ToDtype", "to_dtype"):
                self.scaled = self.scaled or any(k.arg == "scale" and _truthy(k.value) for k in node.keywords)
            else:
                self.scaled = True
            if last in ("Normalize", "normalize", "AutoImageProcessor", "AutoFeatureExtractor"):
                self.normalized = True
        if last == "ToTensor" or last == "to_tensor":
            self.to_tensor.append(node)
        if last in _IMAGE_SOURCES and last != "open" or (last == "open" and dotted.endswith("Image.open")):
            self.image_sources.append(node)
        if last in _TORCHVISION_DATASETS and self.reads_raw_data:
            self.image_sources.append(node)  # MNIST(...).data is uint8 in 0..255, used directly
        if last in _FLOAT_CASTS and isinstance(node.func, ast.Attribute) and not node.args:
            self.casts.append(node)
            if _array_images(node.func.value, self.mentions_uint8):
                self.image_sources.append(node)
        if last in ("to", "type") and any(_last(a) in _FLOAT_CASTS for a in node.args):
            self.casts.append(node)

    def issues(self, index: "_Index") -> list[InputIssue]:
        found = []
        if self.image_sources and self.casts and not self.scaled:
            cast = min(self.casts, key=lambda n: n.lineno)  # type: ignore[attr-defined]
            source = self.image_sources[0]
            how = "images read" if source not in self.casts else "image arrays made tensors"
            found.append(InputIssue("unscaled-cast", index.site(cast),
                                    f"{how} at line {source.lineno} are 0-255 integers"))  # type: ignore[attr-defined]
        # Pixels in [0, 1] are what a BCE reconstruction (a VAE's) needs as targets: no Normalize then.
        bce = any(isinstance(n, ast.Call) and _last(n.func) in ("BCELoss", "binary_cross_entropy")
                  for n in ast.walk(self.tree))
        if self.to_tensor and not self.normalized and not bce:
            found.append(InputIssue("no-normalize", index.site(self.to_tensor[0]), "ToTensor() scales to [0, 1]"))
        return found


def _read_optimizer(node: ast.Call, dotted: str, namespace: dict[str, Any], index: "_Index", setup: TrainingSetup) -> bool:
    """Record the optimizer ``node`` builds, if it builds one (True then)."""
    found = _optimizer_class(dotted, namespace) if dotted else None
    if found is None:
        return False
    name, is_torch = found
    positional = _positional_names(name)
    arguments = [(positional[i], a) for i, a in enumerate(node.args[1:], start=1) if i < len(positional)]
    arguments += [(k.arg, k.value) for k in node.keywords if k.arg]
    keyword = next((k.value for k in node.keywords if k.arg == "params"), None)
    params = _names(node.args[0]) if node.args else set()
    params |= _names(keyword) if keyword is not None else set()
    setup.optimizers.append(OptimizerUse(index.site(node), name, is_torch, tuple(arguments), frozenset(params),
                                         node.args[0] if node.args else keyword))
    _remember_defaults(index, node, setup)
    return True


def _read_schedule_and_clipping(node: ast.Call, dotted: str, last: str, namespace: dict[str, Any], index: "_Index",
                                setup: TrainingSetup) -> None:
    """Record a scheduler, a clipping call, a clipping keyword or a Trainer that clips by default."""
    if dotted and _is_scheduler(dotted, namespace):
        setup.schedulers.append(index.site(node))
    if last in _CLIP_CALLS:
        kind = "value" if "value" in last else "norm"
        limit = node.args[1] if len(node.args) > 1 else next(
            (k.value for k in node.keywords if k.arg in ("max_norm", "clip_value", "gradient_clip_val")), None)
        setup.clipping.append(ClippingUse(index.site(node), kind, limit))
        _remember_defaults(index, node, setup)
    for k in node.keywords:
        if k.arg in _CLIP_KEYWORDS and not (isinstance(k.value, ast.Constant) and k.value.value in (None, 0, 0.0, False)):
            setup.clipping.append(ClippingUse(index.site(node), "norm", k.value))
            if last in ("Trainer", "TrainingArguments"):
                setup.trainer_clips = True
    if last in _CLIPPING_TRAINERS and _from_transformers(dotted, namespace):
        if not any(k.arg == "max_grad_norm" for k in node.keywords):
            setup.trainer_clips = True  # HF's Trainer clips at max_grad_norm=1.0 by default


def _is_255(expr: ast.AST) -> bool:
    value = _literal(expr)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value in (255, 255.0, 256, 256.0)


def _is_inverse_255(expr: ast.AST) -> bool:
    value = _literal(expr)
    return isinstance(value, float) and (abs(value - 1 / 255) < 1e-9 or abs(value - 1 / 256) < 1e-9)


def _literal(expr: ast.AST) -> Any:
    try:
        return evaluate_literal(expr, {})
    except Unresolved:
        return None


def _truthy(expr: ast.AST) -> bool:
    return isinstance(expr, ast.Constant) and bool(expr.value)


def _from_transformers(dotted: str, namespace: dict[str, Any]) -> bool:
    obj = namespace.get(dotted.split(".")[0])
    module = getattr(obj, "__module__", "") or getattr(obj, "__name__", "")
    return module.startswith("transformers") or dotted.startswith("transformers.")


def _argparse(node: ast.Call, setup: TrainingSetup) -> None:
    options = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    dest = next((k.value.value for k in node.keywords if k.arg == "dest" and isinstance(k.value, ast.Constant)), None)
    if dest is None:
        longs = [o for o in options if o.startswith("--")] or options
        if not longs:
            return
        dest = longs[0].lstrip("-").replace("-", "_")
    default = next((k.value for k in node.keywords if k.arg == "default"), None)
    if default is not None:
        setup.argparse_defaults.setdefault(str(dest), default)


def _remember_defaults(index: _Index, node: ast.AST, setup: TrainingSetup) -> None:
    function = index.enclosing_function(node)
    if function is None:
        return
    args = function.args
    positional = args.posonlyargs + args.args
    defaults: dict[str, ast.expr] = {}
    for arg, default in zip(positional[len(positional) - len(args.defaults):], args.defaults):
        defaults[arg.arg] = default
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        if default is not None:
            defaults[arg.arg] = default
    setup.function_defaults[node.lineno] = defaults  # type: ignore[attr-defined]


# --- loops (ACT801) -------------------------------------------------------------------------


def _calls(node: ast.AST, index: _Index, seen: set[str] | None = None) -> list[ast.Call]:
    """Calls inside ``node``, following calls to the file's own functions (one name, once)."""
    seen = set() if seen is None else seen
    found: list[ast.Call] = []
    for sub in ast.walk(node):
        if not isinstance(sub, ast.Call):
            continue
        found.append(sub)
        name = _last(sub.func)
        if name in index.functions and name not in seen and not isinstance(sub.func, ast.Attribute) or (
                isinstance(sub.func, ast.Attribute) and isinstance(sub.func.value, ast.Name)
                and sub.func.value.id == "self" and name in index.functions and name not in seen):
            seen.add(name)
            for function in index.functions[name]:
                found.extend(_calls(function, index, seen))
    return found


def _zeroes(node: ast.AST) -> bool:
    """Does ``node`` zero gradients: zero_grad(), ``p.grad = None``, ``p.grad.zero_()``?"""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            last = _last(sub.func)
            if last in ("zero_grad", "zero_grad_", "clear_grad"):
                return True
            if last in ("zero_", "detach_") and isinstance(sub.func, ast.Attribute) and "grad" in _names(sub.func.value):
                return True
        if isinstance(sub, (ast.Assign, ast.AnnAssign)):
            targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
            if any(isinstance(t, ast.Attribute) and t.attr == "grad" for t in targets):
                return True
    return False


def _is_backward(call: ast.Call) -> bool:
    return _last(call.func) in ("backward", "manual_backward") and isinstance(call.func, ast.Attribute)


def _is_step(call: ast.Call) -> bool:
    if _last(call.func) != "step" or not isinstance(call.func, ast.Attribute):
        return False
    receiver = _receiver(call).lower()
    return not any(word in receiver for word in ("sched", "lr", "warmup", "env"))


def _loops(index: _Index) -> list[LoopUse]:
    units: list[tuple[ast.AST, ast.Call, ast.Call, bool]] = []
    for node in ast.walk(index.tree):
        if not isinstance(node, (ast.For, ast.While, ast.AsyncFor)):
            continue
        calls = _calls(node, index)
        backward = next((c for c in calls if _is_backward(c)), None)
        step = next((c for c in calls if _is_step(c)), None)
        if backward is None or step is None:
            continue
        zeroes = any(_zeroes(c) for c in calls) or _zeroes(node)
        units.append((node, backward, step, zeroes))
    # One unit per backward() call: the innermost loop around it in the source (an outer epoch
    # loop, or a loop that reaches it through a helper call, says nothing new); a backward()
    # in a helper function belongs to the loop that calls the helper.
    by_backward: dict[int, list[tuple[ast.AST, ast.Call, ast.Call, bool]]] = {}
    for unit in units:
        by_backward.setdefault(id(unit[1]), []).append(unit)
    inner = []
    for group in by_backward.values():
        around = [u for u in group if _contains(u[0], u[1])]
        if around:
            inner.append(min(around, key=lambda u: -_depth(u[0], index)))
        else:  # each loop calling the helper is a unit, except one around another (an epoch loop)
            inner += [u for u in group if not any(o is not u and _contains(u[0], o[0]) for o in group)]
    inner.sort(key=lambda u: u[0].lineno)  # type: ignore[attr-defined]
    found = []
    for loop, backward, step, zeroes in inner:
        before = None
        function = index.enclosing_function(loop)
        body = function.body if function is not None else index.tree.body
        for stmt in body:
            if stmt.lineno >= loop.lineno:  # type: ignore[attr-defined]
                break
            if _zeroes(stmt):
                before = index.site(stmt)
        found.append(LoopUse(index.site(loop), index.site(backward), index.site(step), zeroes, before))
    return found


def _depth(node: ast.AST, index: _Index) -> int:
    depth = 0
    cur = index.parents.get(node)
    while cur is not None:
        depth += 1
        cur = index.parents.get(cur)
    return depth


def _contains(outer: ast.AST, inner: ast.AST) -> bool:
    return inner is not outer and any(sub is inner for sub in ast.walk(outer))


# --- evaluation (ACT805) --------------------------------------------------------------------


def is_eval_function(name: str) -> bool:
    """``evaluate``, ``validate``, ``test``, ``run_validation``; not pytest's ``test_*`` nor ``*_step``."""
    if name.startswith("test_") or name.endswith("_step"):
        return False
    words = {w for w in name.lower().strip("_").split("_") if w}
    return bool(words & EVAL_WORDS)


def _trains(function: ast.AST) -> bool:
    """Does the function call ``backward()``? (Then it trains, whatever its name says.)"""
    return any(isinstance(n, ast.Call) and _is_backward(n) for n in ast.walk(function))


def _model_like_names(index: _Index) -> set[str]:
    """Names used as models anywhere: receivers of ``.eval()``, ``.train()``, ``.parameters()``."""
    names = set(MODEL_NAMES)
    for node in ast.walk(index.tree):
        if isinstance(node, ast.Call) and _last(node.func) in ("eval", "train", "parameters", "named_parameters",
                                                               "state_dict", "zero_grad"):
            receiver = _receiver(node)
            if receiver and receiver not in ("torch", "optimizer", "opt"):
                names.add(receiver)
    return names


def _sets_eval(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            last = _last(sub.func)
            if last == "eval" and isinstance(sub.func, ast.Attribute) and not sub.args:
                return True
            if last == "train" and (
                    any(isinstance(a, ast.Constant) and a.value is False for a in sub.args)
                    or any(k.arg == "mode" and isinstance(k.value, ast.Constant) and k.value.value is False
                           for k in sub.keywords)):
                return True
    return False


def _no_grad_context(expr: ast.AST) -> bool:
    if isinstance(expr, ast.Call):
        last = _last(expr.func)
        if last in ("no_grad", "inference_mode"):
            return True
        if last == "set_grad_enabled" and expr.args and isinstance(expr.args[0], ast.Constant) and expr.args[0].value is False:
            return True
    return _last(expr) in ("no_grad", "inference_mode")


def _under_no_grad(node: ast.AST, index: _Index, stop: ast.AST | None = None) -> bool:
    cur = index.parents.get(node)
    while cur is not None and cur is not stop:
        if isinstance(cur, (ast.With, ast.AsyncWith)) and any(_no_grad_context(i.context_expr) for i in cur.items):
            return True
        if isinstance(cur, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return any(_no_grad_context(d) for d in cur.decorator_list)
        cur = index.parents.get(cur)
    return False


def _callers(name: str, index: _Index) -> list[ast.Call]:
    return [n for n in ast.walk(index.tree) if isinstance(n, ast.Call) and _last(n.func) == name]


def _evaluations(index: _Index) -> list[EvaluationUse]:
    models = _model_like_names(index)
    found = []
    for name, functions in index.functions.items():
        if not is_eval_function(name):
            continue
        for function in functions:
            if _trains(function):
                continue  # train_and_evaluate(): its validation loop is read as one below
            call = _model_call_in_loop(function, models)
            if call is None:
                continue
            callers = _callers(name, index)
            caller_functions = [index.enclosing_function(c) for c in callers]
            eval_mode = _sets_eval(function) or any(f is not None and _sets_eval(f) for f in caller_functions)
            no_grad = _under_no_grad(call, index) or any(_under_no_grad(c, index) for c in callers)
            found.append(EvaluationUse(index.site(call), name, eval_mode, no_grad))
    seen = {(u.site.line, u.site.column) for u in found}
    for use in _validation_loops(index, models):
        if (use.site.line, use.site.column) not in seen:
            found.append(use)
    return found


#: Words that name a held-out split in a loader's name (``val_loader``, ``test_dl``, ``dev_batches``).
_HELD_OUT_WORDS = frozenset({"val", "valid", "validation", "test", "dev", "eval", "holdout", "heldout"})


def _held_out_loader(expr: ast.AST) -> bool:
    for node in ast.walk(expr):
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
        if name and {w for w in name.lower().replace("-", "_").split("_") if w} & _HELD_OUT_WORDS:
            return True
    return False


def _validation_loops(index: _Index, models: set[str]) -> list[EvaluationUse]:
    """Loops over a held-out loader that call a model and never ``backward()``, in any function.

    A ``fit()`` often validates after its training loop, in the same function: the checks are
    those of an evaluation function, scoped to the loop (``.eval()`` before it in the function,
    ``no_grad`` around it).
    """
    found = []
    for loop in ast.walk(index.tree):
        if not isinstance(loop, (ast.For, ast.AsyncFor)) or not _held_out_loader(loop.iter):
            continue
        if any(isinstance(n, ast.Call) and _is_backward(n) for n in ast.walk(loop)):
            continue
        call = _model_call_in_loop(loop, models)
        if call is None:
            continue
        function = index.enclosing_function(loop)
        if function is not None and is_eval_function(function.name) and not _trains(function):
            continue  # an evaluation function: read as one above
        eval_mode = _in_eval_mode(function if function is not None else index.tree, loop)
        no_grad = _under_no_grad(call, index)
        label = f"the loop over {ast.unparse(loop.iter)} in {function.name}" if function is not None \
            else f"the loop over {ast.unparse(loop.iter)}"
        found.append(EvaluationUse(index.site(call), label, eval_mode, no_grad))
    return found


def _in_eval_mode(scope: ast.AST, loop: ast.AST) -> bool:
    """Is the last ``.eval()``/``.train()`` call before ``loop`` (or first in it) one that sets eval mode?"""
    calls = sorted((n for n in ast.walk(scope) if isinstance(n, ast.Call) and _last(n.func) in ("eval", "train")
                    and isinstance(n.func, ast.Attribute)
                    and (getattr(n, "lineno", 0) < loop.lineno or _contains(loop, n))),
                   key=lambda n: (n.lineno, n.col_offset))
    before = [n for n in calls if not _contains(loop, n)]
    inside = [n for n in calls if _contains(loop, n)]
    last = inside[0] if inside else before[-1] if before else None
    return last is not None and _sets_eval(last)


def _model_call_in_loop(function: ast.AST, models: set[str]) -> ast.Call | None:
    for loop in ast.walk(function):
        if not isinstance(loop, (ast.For, ast.AsyncFor, ast.While)):
            continue
        for sub in ast.walk(loop):
            if not isinstance(sub, ast.Call):
                continue
            func = sub.func
            if isinstance(func, ast.Name) and func.id in models:
                return sub
            if isinstance(func, ast.Attribute) and func.attr in models and isinstance(func.value, ast.Name) \
                    and func.value.id == "self":
                return sub
    return None


# --- values ---------------------------------------------------------------------------------




__all__ = ["TrainingSetup", "OptimizerUse", "ClippingUse", "LoopUse", "EvaluationUse", "InputIssue", "Site",
           "read_training_setup", "is_eval_function"]
