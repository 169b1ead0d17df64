"""Which top-level statements of a user's file run: load the model, not the script.

Definitions always run (imports, functions, classes: defining them runs nothing of
the user's), and so do module-level configuration calls that tracing depends on
(``torch.fx.wrap``, seeds, default dtypes). Every other top-level statement runs only
when a model needs it: a backward slice over names, computed from the AST alone
(pyflakes-style bindings and uses), starting from the statements that build models
(``model = Net(...)``, ``net = nn.Sequential(...)``, wrappers) and the definitions they
call. The slice takes in what those read (hyperparameter constants, ``device = ...``,
config objects, ``args = parser.parse_args()`` with the ``add_argument`` calls before it)
and what changes a needed object after it is built (``model.apply(init)``,
``nn.init.*_(model.fc.weight)``, ``config.n_layer = 4``).

Whatever touches data, checkpoints, experiment trackers or the optimizer never runs,
even when a model seems to need it: datasets and data loaders, downloads, ``torch.load``
and ``load_state_dict``, ``torch.save``, optimizers and schedulers, ``backward``/``step``
and top-level loops that train. Nor does anything under ``if __name__ == "__main__":``
or a bare ``main()`` call that nothing needs.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field
from typing import Iterable

# Skip categories, in the order the load note lists them.
DATA = "data loading"
TRAINING = "training"
CHECKPOINT = "checkpoint I/O"
TRACKING = "experiment tracking"
LOOP = "top-level loop"
MAIN_GUARD = "__main__ block"
UNNEEDED = "not needed by a model"

_DATA_WORDS = ("dataset", "dataloader", "datamodule", "download", "urlretrieve", "urlopen", "imagefolder",
               "read_csv", "read_parquet", "loadtxt", "genfromtxt", "random_split", "corpus", "tokenizer")
_DATA_PREFIXES = ("datasets.", "torchvision.datasets.", "torch.utils.data.", "requests.", "urllib.", "data.")
_DATA_NAMES = {"MNIST", "CIFAR10", "CIFAR100", "FashionMNIST", "ImageNet", "SVHN", "STL10", "CelebA", "COCO",
               "VOCDetection", "VOCSegmentation", "Cityscapes", "LSUN", "Omniglot", "KMNIST", "EMNIST", "QMNIST"}
_TRAINING_METHODS = {"backward", "step", "zero_grad", "fit", "train_model", "evaluate", "validate", "predict",
                     "test_model"}
_OPTIMIZERS = {"SGD", "Adam", "AdamW", "Adamax", "Adagrad", "Adadelta", "RMSprop", "Rprop", "LBFGS", "NAdam",
               "RAdam", "SparseAdam", "ASGD", "Adafactor", "Lion", "LAMB", "Trainer", "GradScaler"}
_CHECKPOINT_CALLS = {"torch.load", "torch.save", "load", "save", "pickle.load", "pickle.dump", "np.load",
                     "numpy.load", "np.save", "open", "joblib.load", "safetensors.torch.load_file", "load_file",
                     "torch.hub.load", "hub.load", "torch.hub.load_state_dict_from_url", "load_state_dict_from_url"}
_CHECKPOINT_METHODS = {"load_state_dict", "save_pretrained", "from_pretrained", "save_checkpoint",
                       "load_checkpoint", "to_csv", "savefig"}
_TRACKING_PREFIXES = ("wandb.", "mlflow.", "neptune.", "comet_ml.", "tensorboard", "SummaryWriter", "plt.",
                      "matplotlib.", "logging.FileHandler")
#: Module-level calls that change how the model is built or traced: always run.
_CONFIG_CALLS = {"torch.fx.wrap", "fx.wrap", "wrap", "torch.manual_seed", "manual_seed", "random.seed",
                 "np.random.seed", "numpy.random.seed", "torch.set_default_dtype", "torch.set_default_tensor_type",
                 "torch.set_float32_matmul_precision", "torch.use_deterministic_algorithms",
                 "warnings.filterwarnings", "warnings.simplefilter", "torch.cuda.manual_seed",
                 "torch.cuda.manual_seed_all", "torch._dynamo.config.update", "set_seed", "seed_everything"}
#: Methods that keep returning the model: ``Net().to(device).eval()`` builds a model.
_CHAIN_METHODS = {"to", "cuda", "cpu", "float", "double", "half", "bfloat16", "eval", "train", "requires_grad_",
                  "to_empty", "apply", "share_memory", "type", "xpu", "mps"}
#: Names of functions that initialise weights: calling one on a model changes the model.
_INIT_WORDS = ("init", "weight", "reset", "zero_", "normal_", "uniform_", "fill_", "orthogonal_", "kaiming",
               "xavier", "trunc_normal")
_WRAPPER_CALLS = {"torch.compile", "compile", "nn.DataParallel", "DataParallel", "DistributedDataParallel",
                  "DDP", "nn.parallel.DistributedDataParallel", "torch.nn.DataParallel", "torch.jit.script"}
_BUILTINS = set(dir(builtins))


def dotted_name(node: ast.AST) -> str:
    """``torch.nn.init.xavier_uniform_`` for the callee of a call ('' when not a plain chain)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    if isinstance(node, ast.Call):  # Net().to -> "Net().to": keep the method for checks
        inner = dotted_name(node.func)
        return f"{inner}()." + ".".join(reversed(parts)) if inner and parts else ""
    return ""


def root_name(node: ast.AST) -> str | None:
    """The variable at the root of ``model.fc.weight.data`` or ``x[0].y`` or ``f(model).z``."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func.value
        else:
            return None


@dataclass
class Statement:
    """One top-level statement: what it binds, reads and changes, and how it is classified."""

    index: int
    node: ast.stmt
    kind: str  # "import", "definition", "config", "model", "guard", "other"
    binds: set[str] = field(default_factory=set)
    uses: set[str] = field(default_factory=set)  # names read when the statement runs
    body_uses: set[str] = field(default_factory=set)  # free names read later, when a defined function runs
    mutates: set[str] = field(default_factory=set)  # objects it changes (receivers, attribute targets)
    skip_reason: str | None = None  # data, training, checkpoint... never run

    @property
    def line(self) -> int:
        return self.node.lineno


@dataclass
class LoadPlan:
    """The statements to run, and why each other statement does not."""

    statements: list[Statement]
    run: set[int]
    names_bound_by_skipped: dict[str, Statement]  # name -> the skipped statement that binds it

    def runs(self, statement: Statement) -> bool:
        return statement.index in self.run

    def skipped(self) -> dict[str, list[int]]:
        """Skip category -> lines, for statements that do something (not plain unneeded ones)."""
        out: dict[str, list[int]] = {}
        for s in self.statements:
            if s.index in self.run or s.kind in ("import", "definition", "docstring"):
                continue
            reason = s.skip_reason or UNNEEDED
            out.setdefault(reason, []).append(s.line)
        return out


class _Names(ast.NodeVisitor):
    """Names loaded and stored in an expression or statement (not descending into scopes)."""

    def __init__(self) -> None:
        self.loads: set[str] = set()
        self.stores: set[str] = set()

    @classmethod
    def of(cls, node: ast.AST) -> "_Names":
        names = cls()
        names.visit(node)
        return names

    def visit_Name(self, node: ast.Name) -> None:
        (self.loads if isinstance(node.ctx, ast.Load) else self.stores).add(node.id)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:  # nested defs: their free names
        self.stores.add(node.name)
        self.loads |= _function_free_names(node)
        for d in node.decorator_list:
            self.visit(d)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.loads |= _free_names(node.body, {a.arg for a in _all_args(node.args)})

    def _comprehension(self, node: ast.AST) -> None:
        inner = _Names()
        for child in ast.iter_child_nodes(node):
            inner.visit(child)
        self.loads |= inner.loads - inner.stores

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension  # type: ignore[assignment]

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.stores.add((alias.asname or alias.name).split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.stores.add(alias.asname or alias.name)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.stores.add(node.name)
        self.generic_visit(node)


def _all_args(args: ast.arguments) -> list[ast.arg]:
    out = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    out += [a for a in (args.vararg, args.kwarg) if a is not None]
    return out


def _free_names(node: ast.AST | list[ast.stmt], local: set[str]) -> set[str]:
    names = _Names()
    for n in node if isinstance(node, list) else [node]:
        names.visit(n)
    return names.loads - names.stores - local


def _function_free_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Global names a function's body reads (approximate: assignments anywhere make a name local)."""
    local = {a.arg for a in _all_args(node.args)}
    body_globals: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Global):
            body_globals.update(n.names)
    return _free_names(node.body, local - body_globals) | (body_globals & _free_names(node.body, set()))


def _definition_time_names(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> set[str]:
    """Names read when the ``def``/``class`` statement itself runs (decorators, defaults, bases, class body)."""
    names = _Names()
    for d in node.decorator_list:
        names.visit(d)
    if isinstance(node, ast.ClassDef):
        for b in [*node.bases, *node.keywords]:
            names.visit(b)
        loads: set[str] = set()
        stores: set[str] = set()
        for stmt in node.body:  # the class body runs now; method bodies run later
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                loads |= _definition_time_names(stmt)
                stores.add(stmt.name)
            else:
                inner = _Names()
                inner.visit(stmt)
                loads |= inner.loads - stores
                stores |= inner.stores
        return names.loads | loads
    for default in [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]:
        names.visit(default)
    return names.loads


def _method_bodies_free_names(node: ast.ClassDef) -> set[str]:
    out: set[str] = set()
    for stmt in ast.walk(node):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out |= _function_free_names(stmt)
    return out


def _calls(node: ast.AST) -> Iterable[ast.Call]:
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            yield n


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    parts = [node.test.left, *node.test.comparators]
    return any(isinstance(p, ast.Name) and p.id == "__name__" for p in parts) and any(
        isinstance(p, ast.Constant) and p.value == "__main__" for p in parts
    )


class Planner:
    """Classifies the statements of one module and computes the slice."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.defined_classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
        self.defined_functions = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        self.import_names: set[str] = set()
        for n in tree.body:
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                self.import_names |= _Names.of(n).stores
        self.training_functions = {name for name, fn in self.defined_functions.items() if self._trains(fn)}
        self.assigned_names: set[str] = set()
        for n in tree.body:
            if not isinstance(n, (ast.Import, ast.ImportFrom)):
                self.assigned_names |= _Names.of(n).stores

    # --- classification -----------------------------------------------------------

    def _trains(self, fn: ast.AST) -> bool:
        """A function that runs training or evaluation: backward/step calls, or named like it."""
        for call in _calls(fn):
            name = dotted_name(call.func)
            if name.rsplit(".", 1)[-1] in ("backward", "step", "zero_grad", "fit"):
                return True
        return False

    def skip_reason(self, node: ast.AST) -> str | None:
        """Why no call in ``node`` may run (data, training, checkpoints, trackers), or None."""
        for call in _calls(node):
            reason = self._call_reason(call)
            if reason:
                return reason
        return None

    def _call_reason(self, call: ast.Call) -> str | None:
        name = dotted_name(call.func)
        last = name.rsplit(".", 1)[-1]
        lowered = name.lower()
        if last in _TRAINING_METHODS or last in _OPTIMIZERS or "optim." in name or "lr_scheduler" in name:
            return TRAINING
        if "." not in name and (name in self.training_functions or name in (
                "main", "train", "test", "run", "train_epoch", "train_one_epoch", "evaluate", "validate")):
            return TRAINING  # a plain call: methods such as model.train() only set a mode
        if name in _CHECKPOINT_CALLS or last in _CHECKPOINT_METHODS:
            return CHECKPOINT
        if any(name.startswith(p) or p in name for p in _TRACKING_PREFIXES):
            return TRACKING
        if last in _DATA_NAMES or any(w in lowered for w in _DATA_WORDS) or name.startswith(_DATA_PREFIXES):
            return DATA
        return None

    def _builds_model(self, value: ast.AST) -> bool:
        """``Net(...)``, ``nn.Sequential(...)``, ``models.resnet18()``, ``Net().to(device)``, wrappers."""
        while (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
               and value.func.attr in _CHAIN_METHODS and isinstance(value.func.value, ast.Call)):
            value = value.func.value
        if not isinstance(value, ast.Call):
            return False
        name = dotted_name(value.func)
        if not name:
            return False
        if name in _WRAPPER_CALLS:
            return True
        parts = name.split(".")
        last = parts[-1]
        if len(parts) == 1:
            if name in self.defined_classes:
                return True
            if name in self.defined_functions:
                return name not in self.training_functions
            # An imported class, or one from a star import (bound nowhere in the file).
            return last[:1].isupper() and (name in self.import_names or name not in self.assigned_names)
        if parts[0] in self.import_names:
            # nn.Linear, torch.nn.Sequential, models.resnet18, timm.create_model, mymodels.Net
            return last[:1].isupper() or any(p in ("nn", "models", "timm", "transformers") for p in parts[:-1]) \
                or last in ("create_model", "from_config", "build_model", "get_model", "make_model")
        return False

    def _config_call(self, node: ast.stmt) -> bool:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            return dotted_name(node.value.func) in _CONFIG_CALLS
        if isinstance(node, ast.Assign):  # torch.backends.cudnn.benchmark = True
            return all(isinstance(t, ast.Attribute) and root_name(t) in self.import_names for t in node.targets)
        return False

    def _mutations(self, node: ast.stmt) -> set[str]:
        """Objects a statement changes: method-call receivers, attribute/item targets, init calls' arguments."""
        out: set[str] = set()
        for n in ast.walk(node):
            if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                for t in targets:
                    for sub in ast.walk(t):
                        if isinstance(sub, (ast.Attribute, ast.Subscript)):
                            root = root_name(sub)
                            if root:
                                out.add(root)
            elif isinstance(n, ast.Expr) and isinstance(n.value, ast.Call):
                call = n.value
                func = call.func
                if isinstance(func, ast.Attribute):
                    root = root_name(func.value)
                    if root and root not in self.import_names:
                        out.add(root)  # parser.add_argument(...), model.apply(init), model.fc.weight.normal_()
                name = dotted_name(func)
                last = name.rsplit(".", 1)[-1].lower()
                if "init" in name or any(w in last for w in _INIT_WORDS) or name in ("setattr", "delattr"):
                    for arg in [*call.args, *(k.value for k in call.keywords)]:
                        root = root_name(arg)
                        if root:
                            out.add(root)  # nn.init.xavier_uniform_(model.fc.weight), weights_init(model)
        return out

    def classify(self, index: int, node: ast.stmt) -> Statement:
        names = _Names()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.visit(node)
            return Statement(index, node, "import", binds=names.stores)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return Statement(index, node, "definition", binds={node.name}, uses=_definition_time_names(node),
                             body_uses=_function_free_names(node))
        if isinstance(node, ast.ClassDef):
            return Statement(index, node, "definition", binds={node.name}, uses=_definition_time_names(node),
                             body_uses=_method_bodies_free_names(node))
        if _is_main_guard(node):
            return Statement(index, node, "guard", skip_reason=MAIN_GUARD)
        if isinstance(node, ast.Pass) or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            return Statement(index, node, "docstring")  # a docstring or a bare constant: nothing to run
        names.visit(node)
        stmt = Statement(index, node, "other", binds=names.stores, uses=names.loads, mutates=self._mutations(node))
        stmt.body_uses = set()
        reason = self.skip_reason(node)
        if isinstance(node, (ast.While, ast.AsyncFor)):
            reason = reason or LOOP
        if isinstance(node, (ast.For, ast.AsyncFor)) and reason is None:
            # for m in model.modules(): init(m) changes the model; anything else is a loop to skip
            if stmt.mutates & _Names.of(node.target).stores:
                stmt.mutates |= {r for r in (root_name(node.iter),) if r and r not in self.import_names}
            reason = None if stmt.mutates & _Names.of(node.iter).loads else LOOP
        if isinstance(node, (ast.Try, ast.If)) and reason is None and self._holds_definitions(node):
            stmt.kind = "definition"  # try: from apex import FusedLayerNorm / except: ...
            return stmt
        stmt.skip_reason = reason
        if reason is None and self._config_call(node):
            stmt.kind = "config"
        elif reason is None and self._holds_model_build(node):
            stmt.kind = "model"
        return stmt

    def _holds_definitions(self, node: ast.stmt) -> bool:
        return any(isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)) for n in ast.walk(node))

    def _holds_model_build(self, node: ast.stmt) -> bool:
        for n in ast.walk(node):
            if isinstance(n, (ast.Assign, ast.AnnAssign)) and n.value is not None and self._builds_model(n.value):
                return True
        return False

    # --- the slice ----------------------------------------------------------------

    def plan(self) -> LoadPlan:
        statements = [self.classify(i, node) for i, node in enumerate(self.tree.body)]
        binders: dict[str, list[Statement]] = {}
        mutators: dict[str, list[Statement]] = {}
        for s in statements:
            for name in s.binds:
                binders.setdefault(name, []).append(s)
            for name in s.mutates:
                mutators.setdefault(name, []).append(s)
        needed: set[int] = set()
        live_bodies: set[int] = set()  # definitions whose bodies will run (models, factories, helpers)
        queue: list[tuple[Statement, bool]] = []

        def need(s: Statement, body: bool) -> None:
            if s.kind == "guard":
                return
            if s.index not in needed or (body and s.index not in live_bodies):
                needed.add(s.index)
                if body:
                    live_bodies.add(s.index)
                if s.skip_reason is None:  # a statement that never runs needs nothing
                    queue.append((s, body))

        for s in statements:
            if s.kind in ("import", "config", "model"):
                need(s, False)
            elif s.kind == "definition":
                # Classes may be models (and their methods run); functions run when something calls them.
                # (A try/except around imports is a definition too, and has no name.)
                name = getattr(s.node, "name", "")
                need(s, isinstance(s.node, ast.ClassDef) or name.startswith(("build", "make", "create",
                                                                             "get", "example_inputs")))
        while queue:
            s, body = queue.pop()
            names = set(s.uses) | (s.body_uses if body else set())
            for name in names - _BUILTINS:
                for b in binders.get(name, ()):
                    if b.index < s.index or s.kind == "definition" or b.kind == "definition":
                        need(b, True)
                for m in mutators.get(name, ()):
                    if m.index > min((b.index for b in binders.get(name, ())), default=-1):
                        need(m, False)
            if s.kind in ("model", "other", "config"):
                for name in s.binds | s.mutates:
                    for m in mutators.get(name, ()):
                        if m.index > s.index:
                            need(m, False)
        run = {i for i in needed if statements[i].skip_reason is None}
        skipped_binds = {name: statements[i] for i in sorted(needed - run, reverse=True) for name in statements[i].binds}
        return LoadPlan(statements, run, skipped_binds)


def plan_module(tree: ast.Module) -> LoadPlan:
    """The load plan of a parsed module (see the module docstring)."""
    return Planner(tree).plan()


__all__ = ["LoadPlan", "Statement", "plan_module", "dotted_name", "DATA", "TRAINING", "CHECKPOINT", "TRACKING",
           "LOOP", "MAIN_GUARD", "UNNEEDED"]
