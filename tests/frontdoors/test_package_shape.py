"""The package's shape: stages as folders, no import cycle, no private name crossing a module."""

from __future__ import annotations

import ast
from pathlib import Path

from import_graph import cycles, import_graph, module_name

PACKAGE = Path(__file__).resolve().parent.parent.parent / "actlint"
#: The top layer: the front doors and what wires the stages; everything else is in a stage folder.
TOP_LAYER = {"__init__.py", "__main__.py", "cli.py", "api.py", "pipeline.py", "options.py", "config.py"}
STAGES = ("files", "sandbox", "loader", "source", "trace", "graph", "fixes", "rules", "probe", "fixer", "report")


def test_the_package_has_no_import_cycle():
    found = cycles(import_graph(PACKAGE))
    assert not found, "import cycles (function-level imports count): " + "; ".join(" <-> ".join(c) for c in found)


def test_the_cycle_check_finds_a_cycle(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import x\n")
    (package / "b.py").write_text("def x():\n    from pkg import a  # hidden in a function\n")
    assert cycles(import_graph(package)) == [["pkg.a", "pkg.b"]]


def test_only_the_top_layer_sits_in_the_package_root():
    files = {p.name for p in PACKAGE.glob("*.py")}
    assert files <= TOP_LAYER, f"modules outside a stage folder: {sorted(files - TOP_LAYER)}"
    for stage in STAGES:
        assert (PACKAGE / stage / "__init__.py").is_file(), stage


def test_every_module_says_what_it_is():
    missing = [module_name(p, PACKAGE) for p in PACKAGE.rglob("*.py")
               if p.name != "__main__.py" and ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) is None]
    assert not missing, f"modules without a docstring: {missing}"


def _private_imports(path: Path) -> list[str]:
    """``from actlint.x import _name`` and ``module._name`` on an imported actlint module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found, modules = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("actlint"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{node.module}.{alias.name}")
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules.update(a.asname or a.name for a in node.names if a.name.startswith("actlint"))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def test_no_private_name_is_used_from_another_module():
    used = {str(p.relative_to(PACKAGE.parent)): names for p in sorted(PACKAGE.rglob("*.py"))
            if (names := _private_imports(p))}
    assert not used, used
