"""Configuration: ``[tool.actlint]`` in the nearest ``pyproject.toml`` (ruff's conventions).

Discovery: without ``--config``, actlint looks for a ``pyproject.toml`` that has a
``[tool.actlint]`` table in the folder of the linted path and then in each parent folder;
the first one found configures the whole run (a ``pyproject.toml`` without the table is
skipped, as ruff does). With several paths the search starts from their deepest common
folder. ``--config FILE`` reads ``FILE`` instead (a ``pyproject.toml``'s ``[tool.actlint]``
table, or the top level of any other TOML file such as ``actlint.toml``); ``--isolated``
ignores configuration files altogether. Command-line flags override the file.

Keys (kebab-case, like ruff's)::

    [tool.actlint]
    select = ["ACT"]              # rule IDs or prefixes; replaces the default (every rule)
    extend-select = []            # added to select
    ignore = ["ACT106"]           # rule IDs or prefixes to turn off
    extend-ignore = []            # added to ignore (an alias kept for ruff users)
    fail-on = "warning"           # info | warning | error
    fail-on-refuted = false       # findings the probe refuted count toward the exit code
    severity = { ACT203 = "error" }
    input-shape = [[8, 3, 224, 224]]   # one list per input (or one flat list)
    input-dtype = "float32"
    batch-size = 8                # batch of inferred example inputs
    exclude = [...]               # replaces the default excludes (.git, .venv, build, ...)
    extend-exclude = ["legacy/"]  # added to them
    force-exclude = false         # also exclude files named on the command line
    respect-gitignore = true      # skip what .gitignore files ignore when walking folders
    cache-dir = ".actlint_cache"  # results of unchanged files are replayed from here
    per-file-ignores = { "tests/*.py" = ["ACT2"] }

    [tool.actlint.rules.ACT701]   # per-rule options (kebab-case or the declared name)
    threshold = 1e-5

    [tool.actlint.probe]
    enabled = true
    device = "auto"               # auto | cpu | cuda | cuda:N
    batch-size = 32
    timeout = 60                  # seconds
    training = true               # the training probe (false: --no-train-probe)

    [tool.actlint.load]
    script-args = ["--data", "x"]  # the script's sys.argv[1:] while actlint loads it
    timeout = 60                  # seconds for loading a file, and for each model construction
    max-model-memory = "4GB"      # weights above this are linted on the meta device

    [tool.actlint.per-file."models/*.py"]
    models = ["Net", "Net(width=64)"]  # which models of matching files to lint (names or calls)
    input-shape = [[1, 3, 224, 224]]
    input-dtype = "float32"
    batch-size = 4

Glob patterns are gitignore-style (see :mod:`actlint.files.discovery`) and relative to the folder
holding the configuration file. Unknown keys and bad values are a one-line error naming
the key (exit code 2).

Precedence follows ruff: a flag given on the command line replaces the file's value;
``--select`` starts the selection over (the file's ``select`` and ``ignore`` no longer
apply), while ``--extend-select`` and ``--ignore`` add to the file's selection.
"""

from __future__ import annotations

import difflib
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from actlint.core.errors import UserError
from actlint.core.findings import Severity
from actlint.files.discovery import GlobPattern, PatternList

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

if TYPE_CHECKING:
    from actlint.rules.registry import RuleRegistry

PYPROJECT = "pyproject.toml"

_TOP_KEYS = (
    "select", "extend-select", "ignore", "extend-ignore", "fail-on", "fail-on-refuted", "severity", "rules", "probe",
    "input-shape", "input-dtype", "batch-size", "exclude", "extend-exclude", "force-exclude",
    "respect-gitignore", "per-file-ignores", "per-file", "load", "cache-dir",
)
_LOAD_KEYS = ("script-args", "timeout", "max-model-memory")
_PROBE_KEYS = ("enabled", "device", "batch-size", "timeout", "training")
_PER_FILE_KEYS = ("models", "input-shape", "input-dtype", "batch-size")


@dataclass(frozen=True)
class ProbeConfig:
    """``[tool.actlint.probe]``: None where the file does not say."""

    enabled: bool | None = None
    device: str | None = None
    batch_size: int | None = None
    timeout: float | None = None
    training: bool | None = None  # the training probe (ACT806, ACT851-853, ACT802's confirmation)


@dataclass(frozen=True)
class LoadConfig:
    """``[tool.actlint.load]``: None where the file does not say."""

    script_args: tuple[str, ...] | None = None
    timeout: float | None = None
    max_model_memory: int | None = None


@dataclass(frozen=True)
class FileOverrides:
    """Settings for one file, from the ``per-file`` sections and ``per-file-ignores``."""

    models: tuple[str, ...] | None = None
    input_shapes: tuple[tuple[int, ...], ...] | None = None
    input_dtype: str | None = None
    batch_size: int | None = None
    ignore: tuple[str, ...] = ()  # rule IDs or prefixes turned off for the file

    def ignores(self, rule_id: str) -> bool:
        return any(rule_id.startswith(prefix) for prefix in self.ignore)


@dataclass(frozen=True)
class PerFileSection:
    """One ``[tool.actlint.per-file."GLOB"]`` section."""

    pattern: GlobPattern
    models: tuple[str, ...] | None = None
    input_shapes: tuple[tuple[int, ...], ...] | None = None
    input_dtype: str | None = None
    batch_size: int | None = None


@dataclass(frozen=True)
class PerFileRules:
    """Everything configured per file, resolved for a path by :meth:`for_file`."""

    root: Path
    sections: tuple[PerFileSection, ...] = ()
    ignores: tuple[tuple[GlobPattern, tuple[str, ...]], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.sections or self.ignores)

    def for_file(self, path: Path) -> FileOverrides:
        """The settings for ``path``; later sections override earlier ones key by key."""
        path = Path(os.path.abspath(path))
        merged: dict[str, Any] = {}
        for section in self.sections:
            if _pattern_applies(section.pattern, path, self.root):
                for key in ("models", "input_shapes", "input_dtype", "batch_size"):
                    value = getattr(section, key)
                    if value is not None:
                        merged[key] = value
        ignore: list[str] = []
        for pattern, codes in self.ignores:
            if _pattern_applies(pattern, path, self.root):
                ignore.extend(codes)
        return FileOverrides(**merged, ignore=tuple(dict.fromkeys(ignore)))

    def without(self, *keys: str) -> "PerFileRules":
        """These rules minus per-file ``keys`` (those a command-line flag overrides)."""
        sections = tuple(replace(s, **{k: None for k in keys}) for s in self.sections)
        return replace(self, sections=sections)


def _pattern_applies(pattern: GlobPattern, path: Path, root: Path) -> bool:
    """A matching ``!pattern`` applies to the files it does not match (as in ruff)."""
    positive = replace(pattern, negated=False)
    matched = PatternList((positive,)).matches_path(path, within=root)
    return matched != pattern.negated


@dataclass(frozen=True)
class Config:
    """A parsed, validated configuration (empty when no file was found)."""

    path: Path | None = None  # the file it came from
    root: Path = field(default_factory=Path.cwd)  # relative patterns start here
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fail_on: Severity | None = None
    fail_on_refuted: bool | None = None
    severity: Mapping[str, Severity] = field(default_factory=dict)
    rule_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    load: LoadConfig = field(default_factory=LoadConfig)
    input_shapes: tuple[tuple[int, ...], ...] | None = None
    input_dtype: str | None = None
    batch_size: int | None = None
    exclude: tuple[str, ...] | None = None
    extend_exclude: tuple[str, ...] = ()
    force_exclude: bool | None = None
    respect_gitignore: bool | None = None
    per_file: PerFileRules | None = None

    @property
    def display(self) -> str:
        return _display(self.path) if self.path else "<defaults>"


# --- discovery ----------------------------------------------------------------------------


def find_config(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` with a ``[tool.actlint]`` table, from ``start`` upward."""
    folder = Path(os.path.abspath(start))
    if not folder.is_dir():
        folder = folder.parent
    for candidate in (folder, *folder.parents):
        pyproject = candidate / PYPROJECT
        if pyproject.is_file() and "actlint" in _read_toml(pyproject).get("tool", {}):
            return pyproject
    return None


def search_start(paths: Sequence[str]) -> Path:
    """Where discovery starts: the linted path, or the deepest folder common to several."""
    from actlint.loader.selectors import split_selector

    folders = []
    for arg in paths:
        path = Path(os.path.abspath(split_selector(arg)[0]))
        folders.append(path if path.is_dir() else path.parent)
    if not folders:
        return Path.cwd()
    try:
        return Path(os.path.commonpath([str(f) for f in folders]))
    except ValueError:  # different drives (Windows)
        return Path.cwd()


def discover(paths: Sequence[str], registry: "RuleRegistry", *, config_file: str | None = None,
             isolated: bool = False) -> Config:
    """The configuration for a run over ``paths`` (see the module docstring)."""
    if isolated:
        return Config()
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise UserError(f"--config {config_file}: no such file")
        return load_config(path, registry, explicit=True)
    found = find_config(search_start(paths))
    return load_config(found, registry) if found is not None else Config()


def load_config(path: Path, registry: "RuleRegistry", *, explicit: bool = False) -> Config:
    """Read and validate the actlint settings in ``path``; UserError naming the bad key."""
    data = _read_toml(path)
    if path.name == PYPROJECT:
        table = data.get("tool", {}).get("actlint")
        if table is None:
            if explicit:
                raise UserError(f"{_display(path)}: no [tool.actlint] table")
            return Config(path=path, root=Path(os.path.abspath(path.parent)))
        section = "tool.actlint"
    else:
        table, section = data, "actlint"
    return _Parser(path, registry).parse(table, section)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{_display(path)}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise UserError(f"{_display(path)}: cannot read ({exc.strerror or exc})") from None


def _display(path: Path) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


# --- validation ---------------------------------------------------------------------------


class _Parser:
    """Turns one TOML table into a :class:`Config`, failing on the first bad key."""

    def __init__(self, path: Path, registry: "RuleRegistry") -> None:
        self.path = path
        self.root = Path(os.path.abspath(path.parent))
        self.registry = registry

    def error(self, section: str, message: str) -> UserError:
        return UserError(f"{_display(self.path)}: [{section}] {message}")

    def check_keys(self, section: str, table: Mapping[str, Any], known: Sequence[str]) -> None:
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(known)})"
                raise self.error(section, f"unknown key '{key}'{hint}")

    def table(self, section: str, key: str, value: Any) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.error(section, f"'{key}' must be a table, got {_show(value)}")
        return value

    def strings(self, section: str, key: str, value: Any) -> tuple[str, ...]:
        if isinstance(value, str) or not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(section, f"'{key}' must be a list of strings, got {_show(value)}")
        return tuple(value)

    def codes(self, section: str, key: str, value: Any) -> tuple[str, ...]:
        out = []
        for code in self.strings(section, key, value):
            code = code.strip().upper()
            if code != "ALL" and not any(r.startswith(code) for r in self.registry.ids):
                close = difflib.get_close_matches(code, self.registry.ids, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else " (see `actlint rules`)"
                raise self.error(section, f"'{key}': '{code}' matches no rule{hint}")
            out.append(code)
        return tuple(out)

    def rule_id(self, section: str, key: str) -> str:
        try:
            return self.registry.get(key).id
        except KeyError:
            close = difflib.get_close_matches(key.upper(), self.registry.ids, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else " (see `actlint rules`)"
            raise self.error(section, f"unknown rule '{key}'{hint}") from None

    def boolean(self, section: str, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.error(section, f"'{key}' must be true or false, got {_show(value)}")
        return value

    def positive_int(self, section: str, key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(section, f"'{key}' must be a positive integer, got {_show(value)}")
        return value

    def positive_number(self, section: str, key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise self.error(section, f"'{key}' must be a positive number, got {_show(value)}")
        return float(value)

    def severity(self, section: str, key: str, value: Any) -> Severity:
        try:
            if not isinstance(value, str):
                raise ValueError
            return Severity.parse(value)
        except ValueError:
            choices = ", ".join(s.label for s in Severity)
            raise self.error(section, f"'{key}' must be one of {choices}, got {_show(value)}") from None

    def shapes(self, section: str, key: str, value: Any) -> tuple[tuple[int, ...], ...]:
        def is_dim(d: Any) -> bool:
            return isinstance(d, int) and not isinstance(d, bool) and d > 0

        if isinstance(value, list) and value and all(is_dim(d) for d in value):
            return (tuple(value),)
        if (isinstance(value, list) and value
                and all(isinstance(s, list) and s and all(is_dim(d) for d in s) for s in value)):
            return tuple(tuple(s) for s in value)
        raise self.error(section, f"'{key}' must be a shape such as [8, 3, 224, 224] or a list of "
                                  f"shapes, got {_show(value)}")

    def dtype(self, section: str, key: str, value: Any) -> str:
        from actlint.trace.inputs import DTYPES

        if not isinstance(value, str) or value.strip().lower() not in DTYPES:
            raise self.error(section, f"'{key}' must be one of {', '.join(sorted(DTYPES))}, got {_show(value)}")
        return value.strip().lower()

    def patterns(self, section: str, key: str, value: Any) -> tuple[str, ...]:
        texts = self.strings(section, key, value)
        for text in texts:
            self.glob(section, key, text)
        return texts

    def glob(self, section: str, key: str, text: str) -> GlobPattern:
        try:
            return GlobPattern.parse(text, self.root)
        except ValueError as exc:
            raise self.error(section, f"'{key}': {exc}") from None

    # -- sections ---------------------------------------------------------------------

    def parse(self, table: Mapping[str, Any], section: str) -> Config:
        self.check_keys(section, table, _TOP_KEYS)
        values: dict[str, Any] = {"path": self.path, "root": self.root}
        if "select" in table:
            values["select"] = self.codes(section, "select", table["select"])
        if "extend-select" in table:
            values["extend_select"] = self.codes(section, "extend-select", table["extend-select"])
        values["ignore"] = tuple(
            code for key in ("ignore", "extend-ignore") if key in table
            for code in self.codes(section, key, table[key])
        )
        if "fail-on" in table:
            values["fail_on"] = self.severity(section, "fail-on", table["fail-on"])
        if "fail-on-refuted" in table:
            values["fail_on_refuted"] = self.boolean(section, "fail-on-refuted", table["fail-on-refuted"])
        if "severity" in table:
            levels = self.table(section, "severity", table["severity"])
            values["severity"] = {
                self.rule_id(f"{section}.severity", rule): self.severity(f"{section}.severity", rule, level)
                for rule, level in levels.items()
            }
        if "rules" in table:
            values["rule_options"] = self.rule_options(f"{section}.rules", self.table(section, "rules", table["rules"]))
        if "probe" in table:
            values["probe"] = self.probe(f"{section}.probe", self.table(section, "probe", table["probe"]))
        if "load" in table:
            values["load"] = self.load(f"{section}.load", self.table(section, "load", table["load"]))
        if "input-shape" in table:
            values["input_shapes"] = self.shapes(section, "input-shape", table["input-shape"])
        if "input-dtype" in table:
            values["input_dtype"] = self.dtype(section, "input-dtype", table["input-dtype"])
        if "batch-size" in table:
            values["batch_size"] = self.positive_int(section, "batch-size", table["batch-size"])
        if "exclude" in table:
            values["exclude"] = self.patterns(section, "exclude", table["exclude"])
        if "extend-exclude" in table:
            values["extend_exclude"] = self.patterns(section, "extend-exclude", table["extend-exclude"])
        if "cache-dir" in table:  # read by actlint.cache.store.cache_folder, before torch is imported
            folder = table["cache-dir"]
            if not isinstance(folder, str) or not folder.strip():
                raise self.error(section, f"'cache-dir' must be a folder path, got {_show(folder)}")
        for key in ("force-exclude", "respect-gitignore"):
            if key in table:
                values[key.replace("-", "_")] = self.boolean(section, key, table[key])
        ignores = sections = ()
        if "per-file-ignores" in table:
            ignores = self.per_file_ignores(section, self.table(section, "per-file-ignores", table["per-file-ignores"]))
        if "per-file" in table:
            sections = self.per_file(f"{section}.per-file", self.table(section, "per-file", table["per-file"]))
        if ignores or sections:
            values["per_file"] = PerFileRules(self.root, sections, ignores)
        return Config(**values)

    def rule_options(self, section: str, table: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        options: dict[str, dict[str, Any]] = {}
        for key, settings in table.items():
            rule = self.registry.get(self.rule_id(section, key))
            where = f"{section}.{key}"
            settings = self.table(section, key, settings)
            declared = {name.replace("_", "-"): name for name in rule.options}
            known = list(dict.fromkeys([*declared, *rule.options]))
            if not known:
                if settings:
                    raise self.error(where, f"unknown key '{next(iter(settings))}' ({rule.id} has no options)")
                continue
            self.check_keys(where, settings, known)
            rule_options = options.setdefault(rule.id, {})
            for name, value in settings.items():
                declared_name = declared.get(name, name)
                try:
                    rule_options[declared_name] = rule.options[declared_name].coerce(rule.id, name, value)
                except ValueError:
                    expected = type(rule.options[declared_name].default).__name__
                    raise self.error(where, f"'{name}' must be {_TYPE_WORDS.get(expected, expected)}, "
                                            f"got {_show(value)}") from None
        return options

    def probe(self, section: str, table: Mapping[str, Any]) -> ProbeConfig:
        self.check_keys(section, table, _PROBE_KEYS)
        device = table.get("device")
        if device is not None and (not isinstance(device, str) or not _is_device(device)):
            raise self.error(section, f"'device' must be auto, cpu, cuda or cuda:N, got {_show(device)}")
        return ProbeConfig(
            enabled=self.boolean(section, "enabled", table["enabled"]) if "enabled" in table else None,
            device=device,
            batch_size=self.positive_int(section, "batch-size", table["batch-size"]) if "batch-size" in table else None,
            timeout=self.positive_number(section, "timeout", table["timeout"]) if "timeout" in table else None,
            training=self.boolean(section, "training", table["training"]) if "training" in table else None,
        )

    def load(self, section: str, table: Mapping[str, Any]) -> LoadConfig:
        import shlex

        from actlint.loader.build import parse_size

        self.check_keys(section, table, _LOAD_KEYS)
        script_args = memory = None
        if "script-args" in table:
            value = table["script-args"]
            script_args = tuple(shlex.split(value)) if isinstance(value, str) else self.strings(section, "script-args", value)
        if "max-model-memory" in table:
            value = table["max-model-memory"]
            try:
                memory = parse_size(str(value)) if not isinstance(value, bool) else None
            except ValueError:
                memory = None
            if memory is None:
                raise self.error(section, f"'max-model-memory' must be a size such as \"4GB\", got {_show(value)}")
        return LoadConfig(
            script_args=script_args,
            timeout=self.positive_number(section, "timeout", table["timeout"]) if "timeout" in table else None,
            max_model_memory=memory,
        )

    def per_file_ignores(self, section: str, table: Mapping[str, Any]) -> tuple[tuple[GlobPattern, tuple[str, ...]], ...]:
        where = f"{section}.per-file-ignores"
        return tuple((self.glob(where, pattern, pattern), self.codes(where, pattern, codes))
                     for pattern, codes in table.items())

    def per_file(self, section: str, table: Mapping[str, Any]) -> tuple[PerFileSection, ...]:
        sections = []
        for pattern, settings in table.items():
            where = f'{section}."{pattern}"'
            settings = self.table(section, pattern, settings)
            self.check_keys(where, settings, _PER_FILE_KEYS)
            models = None
            if "models" in settings:
                models = self.strings(where, "models", settings["models"])
                bad = next((m for m in models if not _is_selector(m)), None)
                if bad is not None or not models:
                    raise self.error(where, f"'models' must list Python names or calls such as \"Net\" or "
                                            f"\"Net(width=64)\", got {_show(models)}")
            sections.append(PerFileSection(
                pattern=self.glob(where, "per-file", pattern),
                models=models,
                input_shapes=self.shapes(where, "input-shape", settings["input-shape"]) if "input-shape" in settings else None,
                input_dtype=self.dtype(where, "input-dtype", settings["input-dtype"]) if "input-dtype" in settings else None,
                batch_size=self.positive_int(where, "batch-size", settings["batch-size"]) if "batch-size" in settings else None,
            ))
        return tuple(sections)


_TYPE_WORDS = {"float": "a number", "int": "an integer", "bool": "true or false", "str": "a string"}


def _is_selector(text: str) -> bool:
    from actlint.loader.selectors import parse_selector

    try:
        parse_selector(text)
    except UserError:
        return False
    return True


def _is_device(text: str) -> bool:
    text = text.strip().lower()
    return text in ("auto", "cpu", "cuda") or (text.startswith("cuda:") and text[5:].isdigit())


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_config_mapping(table: Mapping[str, Any], registry: "RuleRegistry", label: str) -> Config:
    """A configuration given as a mapping of the file's keys (``actlint.lint(config={...})``)."""
    return _Parser(Path.cwd() / label, registry).parse(table, "config")


__all__ = [
    "Config", "FileOverrides", "LoadConfig", "PerFileRules", "ProbeConfig",
    "discover", "find_config", "load_config", "parse_config_mapping",
]
