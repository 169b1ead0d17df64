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
from typing import Callable, Iterable

from actlint.core.syntax import dotted_name

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
#: Imported names whose calls build values, never models: they are not model statements
#: (they still run when a model needs their value).
_NON_MODEL_NAMES = {
    "np", "numpy", "math", "os", "sys", "json", "re", "random", "time", "datetime", "pathlib", "Path", "PIL",
    "Image", "cv2", "pandas", "pd", "plt", "matplotlib", "collections", "itertools", "functools", "string",
    "glob", "shutil", "subprocess", "pickle", "csv", "argparse", "logging", "tqdm", "trange", "requests",
    "urllib", "scipy", "sklearn", "transforms", "T", "F", "functional", "einops", "rearrange", "repeat",
    "reduce", "copy", "deepcopy", "partial", "namedtuple", "dataclass", "field", "defaultdict", "Counter",
    "OrderedDict", "yaml", "toml", "h5py", "io", "struct", "hashlib", "uuid", "warnings", "inspect",
    "typing", "abc", "enum", "operator", "socket", "threading", "multiprocessing", "signal", "platform",
    "gc", "contextlib", "textwrap", "pprint", "statistics", "decimal", "fractions", "tempfile", "zipfile",
    "tarfile", "gzip", "bz2", "lzma", "base64", "sqlite3", "nltk", "spacy", "gym", "gymnasium", "seaborn",
    "sns", "skimage", "imageio", "wandb", "mlflow", "tensorboard", "SummaryWriter", "tokenize", "unicodedata",
}


def callee_name(node: ast.AST) -> str:
    """:func:`~actlint.core.syntax.dotted_name` of a callee, '' when it is not a plain chain."""
    return dotted_name(node) or ""


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
    holds_model: bool = False  # builds a model (whether or not it may run)
    speculative: bool = False  # recognised as a model statement only by value (an imported function's call)

    @property
    def line(self) -> int:
        return self.node.lineno


@dataclass
class LoadPlan:
    """The statements to run, and why each other statement does not."""

    statements: list[Statement]
    run: set[int]
    names_bound_by_skipped: dict[str, Statement]  # name -> the skipped statement that binds it
    #: Statements not run because they would build something other than what the file builds
    #: (index -> why, naming the statement they depend on); see :meth:`Planner._unfaithful`.
    blocked: dict[int, str] = field(default_factory=dict)

    def runs(self, statement: Statement) -> bool:
        return statement.index in self.run

    def skipped(self) -> dict[str, list[int]]:
        """Skip category -> lines, for statements that do something (not plain unneeded ones)."""
        out: dict[str, list[int]] = {}
        for s in self.statements:
            if s.index in self.run or s.index in self.blocked or s.kind in ("import", "definition", "docstring"):
                continue  # (a blocked statement is reported on its own, as a failure)
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


def _endless(node: ast.While) -> bool:
    """``while True:`` without a ``break``: a server or game loop, never a build step."""
    return isinstance(node.test, ast.Constant) and bool(node.test.value) and not any(
        isinstance(n, ast.Break) for n in ast.walk(node))


def is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    parts = [node.test.left, *node.test.comparators]
    return any(isinstance(p, ast.Name) and p.id == "__name__" for p in parts) and any(
        isinstance(p, ast.Constant) and p.value == "__main__" for p in parts
    )


class Planner:
    """Classifies the statements of one module (or of one example block) and computes the slice.

    ``parent`` is the planner of the module an example block belongs to (the
    ``__main__`` block, ``main()``, a ``test_*`` function, a docstring example): its
    definitions and imports are known names there.
    """

    def __init__(self, tree: ast.Module, parent: "Planner | None" = None,
                 example_nodes: set[int] | None = None) -> None:
        self.tree = tree
        #: ids of synthetic statements that evaluate a block's example inputs (always wanted)
        self.example_nodes = example_nodes or set()
        self.defined_classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
        self.defined_functions = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        self.import_names: set[str] = set()
        self.import_sources: dict[str, str] = {}  # name -> the module ``from ... import`` took it from
        for n in tree.body:
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                self.import_names |= _Names.of(n).stores
            if isinstance(n, ast.ImportFrom) and n.module:
                self.import_sources.update({a.asname or a.name: n.module for a in n.names})
        self.assigned_names: set[str] = set()
        counts: dict[str, int] = {}  # how often each name is bound at this level
        for n in tree.body:
            stores = _Names.of(n).stores
            if not isinstance(n, (ast.Import, ast.ImportFrom)):
                self.assigned_names |= stores
            for name in stores:
                counts[name] = counts.get(name, 0) + 1
        if parent is not None:
            self.defined_classes |= parent.defined_classes
            self.defined_functions = {**parent.defined_functions, **self.defined_functions}
            self.import_names |= parent.import_names
            self.import_sources = {**parent.import_sources, **self.import_sources}
            self.assigned_names |= parent.assigned_names
        self.training_functions = self._training_closure()
        #: Names bound exactly once, to a literal (``init_from = "scratch"``): tests on them are decided.
        self.constants = dict(parent.constants) if parent is not None else {}
        for n in tree.body:
            if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name) \
                    and isinstance(n.value, ast.Constant) and counts.get(n.targets[0].id) == 1:
                self.constants[n.targets[0].id] = n.value.value

    def _training_closure(self) -> set[str]:
        """Functions that train: backward/step calls, or calls of another function that trains."""
        trains = {name for name, fn in self.defined_functions.items() if self._trains(fn)}
        calls = {name: {callee_name(c.func) for c in _calls(fn)} for name, fn in self.defined_functions.items()}
        changed = True
        while changed:
            changed = False
            for name, callees in calls.items():
                if name not in trains and callees & trains:
                    trains.add(name)
                    changed = True
        return trains

    # --- classification -----------------------------------------------------------

    def _trains(self, fn: ast.AST) -> bool:
        """A function that runs training or evaluation: backward/step calls, or named like it."""
        for call in _calls(fn):
            name = callee_name(call.func)
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
        name = callee_name(call.func)
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

    def builds_model(self, value: ast.AST, *, by_value: bool = True) -> bool:
        """``Net(...)``, ``nn.Sequential(...)``, ``models.resnet18()``, ``Net().to(device)``, wrappers;
        with ``by_value``, also any other call of an imported function (it may return a model)."""
        if isinstance(value, (ast.List, ast.Tuple)):  # nets = [Net(bn=False), Net(bn=True)]
            return any(self.builds_model(e, by_value=by_value) for e in value.elts)
        if isinstance(value, ast.ListComp):
            return self.builds_model(value.elt, by_value=by_value)
        while (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
               and value.func.attr in _CHAIN_METHODS and isinstance(value.func.value, ast.Call)):
            value = value.func.value
        if not isinstance(value, ast.Call):
            return False
        name = callee_name(value.func)
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
            if name in self.import_names:
                # By value, not by name: an imported class or factory (``deeplabv3_resnet50(weights=None)``)
                # may build a model; the loader keeps what turns out to be an nn.Module.
                if last[:1].isupper():
                    return True
                from_torch = self.import_sources.get(name) == "torch"  # from torch import from_numpy, zeros
                return by_value and name not in _NON_MODEL_NAMES and not from_torch
            # A class from a star import (bound nowhere in the file).
            return last[:1].isupper() and name not in self.assigned_names
        if parts[0] in self.import_names:
            # nn.Linear, torch.nn.Sequential, models.resnet18, timm.create_model, mymodels.Net
            if last[:1].isupper() or any(p in ("nn", "models", "timm", "transformers") for p in parts[:-1]) \
                    or last in ("create_model", "from_config", "build_model", "get_model", "make_model"):
                return True
            # Any other imported module's function, except the libraries that build values, not models
            # (torch.randn, np.zeros, os.path.join, transforms.Compose ...).
            return by_value and parts[0] not in _NON_MODEL_NAMES and not (parts[0] == "torch" and len(parts) == 2)
        return False

    def _config_call(self, node: ast.stmt) -> bool:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            return callee_name(node.value.func) in _CONFIG_CALLS
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
                name = callee_name(func)
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
        if is_main_guard(node):
            return Statement(index, node, "guard", skip_reason=MAIN_GUARD)
        if isinstance(node, ast.Pass) or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            return Statement(index, node, "docstring")  # a docstring or a bare constant: nothing to run
        names.visit(node)
        stmt = Statement(index, node, "other", binds=names.stores, uses=names.loads, mutates=self._mutations(node))
        stmt.body_uses = set()
        # ``if init_from == "scratch": model = ...  elif ...: torch.load(...)``: with a test on
        # the file's constants, only the branch that runs counts.
        branch = self._taken_branch(node) if isinstance(node, ast.If) else None
        scope: ast.AST = ast.Module(body=branch, type_ignores=[]) if branch is not None else node
        stmt.holds_model = self._holds_model_build(scope)
        # Recognised only by value (an imported function's call): its failure is not news unless no
        # model is found at all.
        stmt.speculative = stmt.holds_model and not self._holds_model_build(scope, by_value=False)
        reason = self.skip_reason(scope)
        if isinstance(node, ast.AsyncFor) or (isinstance(node, ast.While) and _endless(node)):
            reason = reason or LOOP
        if isinstance(node, ast.For) and reason is None:
            # for m in model.modules(): init(m) changes the model through the loop variable.
            # Otherwise a loop that builds layers or values (no data, training, I/O or tracking:
            # no skip reason) is an ordinary statement, run when a model needs what it binds
            # or changes (``for _ in range(11): layers += [nn.Linear(128, 128), nn.Sigmoid()]``).
            if stmt.mutates & _Names.of(node.target).stores:
                stmt.mutates |= {r for r in (root_name(node.iter),) if r and r not in self.import_names}
        if isinstance(node, (ast.Try, ast.If)) and reason is None and self._holds_definitions(node):
            stmt.kind = "definition"  # try: from apex import FusedLayerNorm / except: ...
            return stmt
        stmt.skip_reason = reason
        if reason is None and id(node) in self.example_nodes:
            stmt.kind = "example"
        elif reason is None and self._config_call(node):
            stmt.kind = "config"
        elif reason is None and stmt.holds_model:
            stmt.kind = "model"
        return stmt

    def _taken_branch(self, node: ast.If) -> list[ast.stmt] | None:
        """The statements of the branch an ``if`` on the file's constants takes (None: unknown)."""
        truth = self._static_truth(node.test)
        if truth is None:
            return None
        if truth:
            return node.body
        if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):  # elif: its own taken branch, if known
            inner = self._taken_branch(node.orelse[0])
            return node.orelse if inner is None else inner
        return node.orelse

    def _static_truth(self, test: ast.expr) -> bool | None:
        """The value of a test made of literals and names bound once to literals, else None."""
        def value(n: ast.expr) -> tuple[bool, object]:
            if isinstance(n, ast.Constant):
                return True, n.value
            if isinstance(n, ast.Name) and n.id in self.constants:
                return True, self.constants[n.id]
            if isinstance(n, (ast.Tuple, ast.List)):
                items = [value(e) for e in n.elts]
                return all(k for k, _ in items), tuple(v for _, v in items)
            return False, None

        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            inner = self._static_truth(test.operand)
            return None if inner is None else not inner
        if isinstance(test, ast.BoolOp):
            parts = [self._static_truth(v) for v in test.values]
            if any(p is None for p in parts):
                return None
            return all(parts) if isinstance(test.op, ast.And) else any(parts)
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            (known_left, left), (known_right, right) = value(test.left), value(test.comparators[0])
            if not (known_left and known_right):
                return None
            op = test.ops[0]
            try:
                if isinstance(op, (ast.Eq, ast.NotEq)):
                    return (left == right) == isinstance(op, ast.Eq)
                if isinstance(op, (ast.In, ast.NotIn)):
                    return (left in right) == isinstance(op, ast.In)  # type: ignore[operator]
            except TypeError:
                return None
            return None
        known, constant = value(test)
        return bool(constant) if known else None

    def _holds_definitions(self, node: ast.stmt) -> bool:
        return any(isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)) for n in ast.walk(node))

    def _holds_model_build(self, node: ast.AST, *, by_value: bool = True) -> bool:
        for n in ast.walk(node):
            if isinstance(n, (ast.Assign, ast.AnnAssign)) and n.value is not None \
                    and self.builds_model(n.value, by_value=by_value):
                return True
        return False

    # --- the slice ----------------------------------------------------------------

    def plan(self, external_uses: dict[str, set[str]] | None = None, extra_needs: set[str] | None = None) -> LoadPlan:
        """The slice: what the models need, and which statements a skipped one makes unfaithful.

        ``external_uses`` maps names the parent module defines to the global names their
        bodies read (an example block's ``model = NNLM()`` needs the globals NNLM's
        ``__init__`` reads, bound in the block). ``extra_needs`` are module names the
        file's example blocks read (``NDIGIT`` in ``block_size = 3 * NDIGIT``).
        """
        external_uses = external_uses or {}
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
            if s.kind in ("import", "config", "model", "example"):
                need(s, False)
            elif s.kind == "definition":
                # Classes may be models (and their methods run); functions run when something calls them.
                # (A try/except around imports is a definition too, and has no name.)
                name = getattr(s.node, "name", "")
                need(s, isinstance(s.node, ast.ClassDef) or name.startswith(("build", "make", "create",
                                                                             "get", "example_inputs")))
        if extra_needs:
            queue.append((Statement(len(statements), ast.Pass(), "example", uses=set(extra_needs)), False))
        while queue:
            s, body = queue.pop()
            names = _with_external(set(s.uses) | (s.body_uses if body else set()), external_uses)
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
        blocked = self._unfaithful(statements, run, binders, mutators, external_uses)
        run -= {i for i in blocked if statements[i].kind != "definition"}  # defining runs nothing
        skipped_binds = {name: statements[i] for i in sorted(needed - run - set(blocked), reverse=True)
                         for name in statements[i].binds}
        return LoadPlan(statements, run, skipped_binds, blocked)

    def _unfaithful(self, statements: list[Statement], run: set[int], binders: dict[str, list[Statement]],
                    mutators: dict[str, list[Statement]], external_uses: dict[str, set[str]]) -> dict[int, str]:
        """Statements that would build something other than what the file builds, and why.

        A statement that runs is unfaithful when a value it reads comes from (or is changed
        by, in its structure: ``layers.append(...)``, ``config.depth = ...``) a statement
        actlint does not run: data loading, training, a loop over data. Run anyway, it
        would fail with a NameError at best, and build a different model at worst (a
        two-layer model where the file builds twelve). Weight and mode changes by skipped
        statements (``load_state_dict``, ``model.train()``) do not count: actlint lints the
        architecture at initialisation by design. Unfaithfulness spreads to whatever reads
        an unfaithful statement's bindings.
        """
        blocked: dict[int, str] = {}
        roots: dict[int, str] = {}  # the skipped statement at the end of each chain

        def cause(stmt: Statement, names: set[str], body: bool) -> tuple[str, str] | None:
            """(why, the skipped statement at the root of it), or None."""
            for name in sorted(names - _BUILTINS):
                name_binders = binders.get(name, [])
                prior = name_binders if body else [b for b in name_binders if b.index < stmt.index]
                latest = max(prior, key=lambda b: b.index) if prior and not body else None
                sources = prior if body else ([latest] if latest else [])
                for b in sources:
                    if b.index in blocked:
                        return f"{name} comes from line {b.line}, not run: {roots[b.index]}", roots[b.index]
                    if b.index not in run and b.skip_reason is not None:
                        why = f"{name} comes from line {b.line}, {b.skip_reason}, which actlint does not run"
                        return why, why
                since = -1 if body or latest is None else latest.index
                for m in mutators.get(name, []):
                    if m.index == stmt.index or m.index <= since or (not body and m.index > stmt.index):
                        continue
                    if m.index in blocked and _changes_structure(m.node, name):
                        return f"{name} is changed by line {m.line}, not run: {roots[m.index]}", roots[m.index]
                    if m.index not in run and m.skip_reason is not None and _changes_structure(m.node, name):
                        why = f"{name} is changed by line {m.line}, {m.skip_reason}, which actlint does not run"
                        return why, why
            return None

        for stmt in statements:
            if stmt.kind == "definition":
                names = _build_names(stmt.node) if isinstance(stmt.node, (ast.ClassDef, ast.FunctionDef)) else set()
                found = cause(stmt, names, body=True)
            elif stmt.index in run:
                found = cause(stmt, _with_external(stmt.uses, external_uses), body=False)
            else:
                continue
            if found is None and stmt.kind in ("model", "example") and stmt.index in run:
                # The model, once built, is changed in its structure by a statement that does not run.
                for name in stmt.binds:
                    for m in mutators.get(name, []):
                        if m.index > stmt.index and m.index not in run and m.skip_reason is not None \
                                and _changes_structure(m.node, name, module_values=self.builds_model):
                            why = f"{name} is changed by line {m.line}, {m.skip_reason}, which actlint does not run"
                            found = why, why
                            break
                    if found:
                        break
            if found is not None:
                blocked[stmt.index], roots[stmt.index] = found
        return blocked


def _with_external(names: set[str], external_uses: dict[str, set[str]]) -> set[str]:
    """``names`` plus the globals the parent module's definitions among them read."""
    return set(names).union(*(external_uses.get(name, ()) for name in names))


#: Methods that change what a container or module holds (not its weights or mode).
_STRUCTURAL_METHODS = {"append", "extend", "insert", "add_module", "register_module", "register_parameter",
                       "register_buffer", "update", "setdefault", "pop", "remove", "clear", "__setitem__",
                       "__setattr__"}
#: Attributes whose assignment changes values, not structure (a checkpoint's weights).
_VALUE_ATTRIBUTES = {"data", "weight", "bias", "grad", "requires_grad", "training"}


def _changes_structure(node: ast.AST, name: str, module_values: Callable[[ast.AST], bool] | None = None) -> bool:
    """Does ``node`` change what ``name`` holds (layers, config fields), not only its weights or mode?

    With ``module_values`` (for a built model), an attribute or item assignment counts only when
    its value is a module (``model.fc = nn.Linear(...)``), not a flag (``model.require_sync = True``).
    """
    for n in ast.walk(node):
        if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            if module_values is not None and not isinstance(n, ast.AugAssign) and not (
                    n.value is not None and module_values(n.value)):
                continue
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            for t in targets:
                for sub in ast.walk(t):
                    if root_name(sub) != name:
                        continue
                    if isinstance(n, ast.AugAssign) and isinstance(sub, ast.Name):
                        return True  # layers += [...]
                    if isinstance(sub, ast.Attribute) and sub.attr not in _VALUE_ATTRIBUTES:
                        return True
                    if isinstance(sub, ast.Subscript):
                        return True
        elif isinstance(n, ast.Call):
            func = n.func
            if isinstance(func, ast.Attribute) and func.attr in _STRUCTURAL_METHODS and root_name(func.value) == name:
                return True
            if callee_name(func) in ("setattr", "delattr") and n.args and root_name(n.args[0]) == name:
                return True
    return False


def _build_names(node: ast.ClassDef | ast.FunctionDef) -> set[str]:
    """Global names read while a class builds (``__init__``, ``forward`` and the methods they call)
    or while a factory function runs."""
    if isinstance(node, ast.FunctionDef):
        return _function_free_names(node)
    methods = {m.name: m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))}
    todo = [m for m in ("__init__", "forward") if m in methods]
    seen: set[str] = set()
    names = _definition_time_names(node)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        fn = methods[name]
        names |= _function_free_names(fn)
        for call in _calls(fn):
            callee = callee_name(call.func)
            if callee.startswith("self.") and callee[5:] in methods:
                todo.append(callee[5:])
    return names


def plan_module(tree: ast.Module, extra_needs: set[str] | None = None) -> LoadPlan:
    """The load plan of a parsed module (see the module docstring)."""
    return Planner(tree).plan(extra_needs=extra_needs)


def definition_uses(tree: ast.Module) -> dict[str, set[str]]:
    """Name of each top-level class and function -> the global names building it reads,
    through the other definitions it uses (for example blocks: :meth:`Planner.plan`)."""
    direct = {n.name: _build_names(n) for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    closure: dict[str, set[str]] = {}
    for name in direct:
        seen, todo = set(), [name]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo.extend(n for n in direct.get(current, ()) if n in direct)
        closure[name] = set().union(*(direct[n] for n in seen))
    return closure


__all__ = ["LoadPlan", "Statement", "plan_module", "dotted_name", "DATA", "TRAINING", "CHECKPOINT", "TRACKING",
           "LOOP", "MAIN_GUARD", "UNNEEDED"]
