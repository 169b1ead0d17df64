"""The rule catalogue: one page per rule, rendered from the rule classes themselves.

Every rule carries its documentation (``summary``, ``what``, ``why``, ``instead``,
``options``, ``confirmed_by``, ``references``) and its VALID / INVALID example models (see
:mod:`actlint.rules.base`). This module turns that into

* ``rules/ACTxxx-name.md`` pages and the ``rules/README.md`` index (markdown, committed to
  the repository and kept in sync by ``tests/rules/test_rule_pages.py``);
* the text ``actlint explain ACT101`` prints in a terminal;
* the ``help.markdown`` of each rule in the SARIF output.

Regenerate the pages after changing a rule::

    python -m actlint.rules.docs            # writes rules/
    python -m actlint.rules.docs --check    # exit 1 when rules/ is out of date
"""

from __future__ import annotations

import argparse
import difflib
import importlib.metadata
import sys
import textwrap
from pathlib import Path
from typing import Iterable, Sequence

from actlint.fixes.edits import UNSAFE
from actlint.rules.base import Example, Rule
from actlint.rules.catalogue import CATALOGUE_PATH, RuleEntry, read_catalogue
from actlint.rules import builtin
from actlint.rules.registry import BUILTIN_ENTRY_POINT, ENTRY_POINT_GROUP, RuleRegistry, default_registry

#: The command that rewrites the committed pages (named in every stale-page message).
REGENERATE_COMMAND = "python -m actlint.rules.docs"
DEFAULT_PAGES_DIR = "rules"
INDEX_NAME = "README.md"

#: Rule families by ID prefix (the hundreds digit), for the index and SARIF tags.
FAMILIES = {
    "ACT1": "activation placement",
    "ACT2": "depth and signal propagation",
    "ACT3": "initialization",
    "ACT4": "output and loss pairing",
    "ACT5": "normalization",
    "ACT6": "unused code",
    "ACT7": "measured by the probe",
    "ACT9": "actlint itself (suppression comments)",
}

_REQUIREMENTS = {
    "dataflow": "a dataflow graph (torch.fx, or an executed trace of one forward pass; skipped, with a note, when only the module tree is known)",
    "shapes": "tensor shapes, i.e. known example inputs",
    "weights": "weight values (skipped, with a note, when a model too large for memory is linted on the meta device)",
    "probe": "the probe run (example inputs known and `--no-probe` not given)",
    "training": "the training probe (`--no-train-probe` not given; skipped, with the reason, for a model too "
                "expensive for its FLOP budget)",
}

_GENERATED_NOTE = (
    f"<!-- Generated from the rule registry by `{REGENERATE_COMMAND}`: edit the rule class, "
    "not this file. -->"
)


def builtin_registry() -> RuleRegistry:
    """The built-in rules only: the committed pages must not depend on installed plugins."""
    registry = RuleRegistry()
    registry.register_all(builtin.rules())
    return registry


def family(rule: type[Rule]) -> str | None:
    """The family a rule ID belongs to (``ACT101`` -> activation placement), if any."""
    return FAMILIES.get(rule.id[:4])


def page_name(rule: type[Rule]) -> str:
    """File name of a rule's page: ``ACT101-softmax-in-hidden-layer.md``."""
    return f"{rule.id}-{rule.name}.md"


def is_measured(rule: type[Rule]) -> bool:
    """A measured rule reads the probe's numbers; it has no static finding to confirm."""
    return "probe" in rule.requires


def probe_kind(rule: type[Rule]) -> str:
    """``measured``, ``structural`` or ``confirmed`` (a static rule the probe can confirm)."""
    if is_measured(rule):
        return "measured"
    if rule.confirmed_by == "structural":
        return "structural"
    return "confirmed"


def probe_summary(rule: type[Rule]) -> str:
    """One line: how the probe relates to the rule (for tables)."""
    kind = probe_kind(rule)
    if kind == "confirmed":
        raised = f" (a {rule.confirmed_severity.label} when confirmed)" if rule.confirmed_severity is not None else ""
        return f"confirmed by {rule.confirmed_by}{raised}"
    return kind


def probe_explanation(rule: type[Rule]) -> str:
    """A paragraph: how the probe run confirms (or produces) this rule's findings."""
    kind = probe_kind(rule)
    if kind == "measured" and "training" in rule.requires:
        return (
            "Measured by the training probe: a copy of the model is trained for a few dozen steps on one "
            "fixed synthetic batch with the optimizer, learning rate, loss and clipping the file uses "
            "(Adam at 1e-3 when it builds none). The rule runs only when the probe runs and "
            "`--no-train-probe` is not given; its findings carry the status `measured` and the numbers."
        )
    if kind == "measured":
        return (
            "Measured: this rule reads the probe's measurements at initialisation directly, so it "
            "runs only when the probe runs (example inputs known, `--no-probe` not given). Its "
            "findings carry the probe status `measured` and the numbers they are based on."
        )
    if kind == "structural":
        return (
            "Structural: the finding is a fact about the architecture or the source, and no probe "
            "measurement can add to it. Findings carry the probe status `structural`."
        )
    return (
        f"Static finding, checked by the probe's {rule.confirmed_by} measurement. After the short "
        "probe run each finding is `confirmed` or `refuted`, with the measured numbers as "
        "evidence, or `not-probed` with the reason when the probe did not run or could not "
        "measure it."
    )


def requirement_text(rule: type[Rule]) -> str:
    """What the rule needs to run, in words."""
    needs = [_REQUIREMENTS.get(r, r) for r in sorted(rule.requires)]
    if not needs:
        return "nothing beyond the module tree (runs even when torch.fx cannot trace the model)"
    return "; ".join(needs)


def format_default(value: object) -> str:
    """An option default as users write it (``0.0001`` not ``1e-04``, ``true`` for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def _example_caption(rule: type[Rule], example: Example, invalid: bool) -> str:
    if not invalid:
        return f"actlint does not report {rule.id} here."
    where = f" at line {example.line}" if example.line is not None else ""
    probe = " (with the probe run)" if example.probe else ""
    return f"actlint reports {rule.id}{where}{probe}."


def fix_command(rule: type[Rule]) -> str:
    """The command that applies the rule's fixes: ``actlint --fix`` (safe) or with ``--unsafe-fixes``."""
    return "actlint --fix" + (" --unsafe-fixes" if rule.fixable == UNSAFE else "")


def fix_summary(rule: type[Rule]) -> str:
    """One line on the rule's fixes, for the page's table and ``actlint explain``."""
    if rule.fixable is None:
        return "none: the change needs a decision actlint cannot make"
    kind = ("safe: changes nothing but the problem" if rule.fixable != UNSAFE
            else "unsafe: changes what the model computes or how it trains")
    return f"{kind} (`{fix_command(rule)}`); verified by linting the file again"


def _example_fix(rule: type[Rule], example: Example) -> tuple[str, str] | None:
    """(caption, diff) of what the fix does to an INVALID example; None for rules without fixes."""
    if rule.fixable is None:
        return None
    fixed = example.fixed_source
    if fixed is None:
        return (f"`{fix_command(rule)}` offers no fix here: it cannot be made exactly, and the finding says why.", "")
    diff = "".join(difflib.unified_diff(example.source.splitlines(keepends=True), fixed.splitlines(keepends=True),
                                        fromfile="before.py", tofile="after.py"))
    return f"`{fix_command(rule)}` rewrites it:", diff


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_rule_markdown(rule: type[Rule], heading: int = 1) -> str:
    """A rule's documentation as markdown, its title at heading level ``heading``."""
    h1 = "#" * heading
    h2 = "#" * (heading + 1)
    h3 = "#" * (heading + 2)
    lines = [f"{h1} {rule.id}: {rule.name}", "", f"> {rule.summary}", ""]
    lines += [
        "| | |",
        "|---|---|",
        f"| Default severity | `{rule.severity.label}` (override with `--severity {rule.id}=LEVEL`) |",
        f"| Probe | {_md_cell(probe_summary(rule))} |",
        f"| Needs | {_md_cell(requirement_text(rule))} |",
        f"| Fix | {_md_cell(fix_summary(rule))} |",
    ]
    if family(rule):
        lines.append(f"| Family | {rule.id[:4]}xx: {family(rule)} |")
    lines += ["", f"{h2} What it does", "", rule.what, ""]
    lines += [f"{h2} Why is this bad?", "", rule.why, ""]
    lines += [f"{h2} Use instead", "", rule.instead, ""]
    lines += [f"{h2} Examples", ""]
    for title, examples, invalid in (("Invalid", rule.invalid, True), ("Valid", rule.valid, False)):
        for i, example in enumerate(examples, 1):
            number = f" {i}" if len(examples) > 1 else ""
            lines += [f"{h3} {title}{number}", "", _example_caption(rule, example, invalid), ""]
            lines += ["```python", example.source.rstrip("\n"), "```", ""]
            fix = _example_fix(rule, example) if invalid else None
            if fix is not None:
                lines += [fix[0], ""]
                lines += ["```diff", fix[1].rstrip("\n"), "```", ""] if fix[1] else []
    lines += [f"{h2} Options", ""]
    if rule.options:
        lines += ["| option | default | meaning |", "|---|---|---|"]
        for name, option in rule.options.items():
            lines.append(f"| `{name}` | `{format_default(option.default)}` | {_md_cell(option.description)} |")
    else:
        lines.append("This rule has no options.")
    lines += ["", f"{h2} How the probe confirms it", "", probe_explanation(rule), ""]
    if rule.references:
        lines += [f"{h2} References", ""]
        lines += [f"- {ref}" for ref in rule.references]
        lines.append("")
    return "\n".join(lines)


def render_rule_page(rule: type[Rule]) -> str:
    """The committed ``rules/ACTxxx-name.md`` page of one rule."""
    return f"{_GENERATED_NOTE}\n\n{render_rule_markdown(rule)}"


def render_index(rules: Iterable[type[Rule]]) -> str:
    """``rules/README.md``: every rule with its severity and probe relation, grouped by family."""
    lines = [
        _GENERATED_NOTE,
        "",
        "# actlint rules",
        "",
        "Every rule actlint ships, generated from the rule classes in `actlint/rules/`. Each page",
        "says what the rule finds, why it matters, what to write instead, how the probe run",
        "confirms it, its options, and shows the VALID and INVALID example models that the",
        "test-suite runs through the whole pipeline.",
        "",
        "On the command line: `actlint rules` lists them, `actlint explain ACT101` prints one page.",
        "",
        "Probe column: *confirmed by ...* rules are static findings that the probe run confirms or",
        "refutes with numbers; *structural* findings need no measurement; *measured* rules come",
        "from the probe's measurements themselves.",
        "",
    ]
    current_family: str | None = None
    for rule in rules:
        fam = rule.id[:4]
        if fam != current_family:
            current_family = fam
            title = FAMILIES.get(fam, "other rules")
            if lines[-1]:
                lines.append("")
            lines += [f"## {fam}xx: {title}", "", "| ID | name | severity | probe | summary |", "|---|---|---|---|---|"]
        lines.append(
            f"| [{rule.id}]({page_name(rule)}) | {rule.name} | {rule.severity.label} | "
            f"{_md_cell(probe_summary(rule))} | {_md_cell(rule.summary)} |"
        )
    lines.append("")
    return "\n".join(lines)


def expected_pages(rules: Iterable[type[Rule]]) -> dict[str, str]:
    """File name -> content of every page the catalogue consists of (the index included)."""
    rules = list(rules)
    pages = {page_name(rule): render_rule_page(rule) for rule in rules}
    pages[INDEX_NAME] = render_index(rules)
    return pages


def _rule_page_files(directory: Path) -> set[str]:
    return {p.name for p in directory.glob("ACT*.md")} if directory.is_dir() else set()


def stale_pages(directory: Path, rules: Iterable[type[Rule]]) -> list[str]:
    """Names of pages that are missing, different, or left over from a removed rule."""
    expected = expected_pages(rules)
    stale = []
    for name, text in expected.items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    stale += sorted(_rule_page_files(directory) - set(expected))
    return sorted(stale)


def write_pages(directory: Path, rules: Iterable[type[Rule]]) -> list[str]:
    """Write the catalogue into ``directory``; returns the names of files changed or removed."""
    expected = expected_pages(rules)
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in expected.items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8", newline="\n")
            changed.append(name)
    for name in sorted(_rule_page_files(directory) - set(expected)):
        (directory / name).unlink()  # a renamed or removed rule must not leave its old page
        changed.append(name)
    return sorted(changed)


# --- terminal text (actlint explain) ---------------------------------------------------


def _wrap(text: str, width: int, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent) or [indent]


def render_rule_text(rule: type[Rule], width: int = 88) -> str:
    """A rule's documentation for a terminal: what / why / use instead / probe / options / examples."""
    lines = [f"{rule.id} {rule.name}  (default severity: {rule.severity.label})", rule.summary, ""]
    for title, body in (("What it does", rule.what), ("Why is this bad?", rule.why), ("Use instead", rule.instead)):
        lines += [title, *_wrap(body, width), ""]
    lines += ["How the probe confirms it", *_wrap(probe_explanation(rule), width), ""]
    lines += ["Needs", *_wrap(requirement_text(rule), width), ""]
    lines += ["Fix", *_wrap(fix_summary(rule).replace("`", ""), width), ""]
    lines.append("Options")
    if rule.options:
        for name, option in rule.options.items():
            lines += _wrap(f"{name} (default {format_default(option.default)}): {option.description}", width)
    else:
        lines.append("  none")
    lines.append("")
    for title, examples, invalid in (("Invalid example", rule.invalid, True), ("Valid example", rule.valid, False)):
        for i, example in enumerate(examples, 1):
            number = f" {i}" if len(examples) > 1 else ""
            lines.append(f"{title}{number}: {_example_caption(rule, example, invalid)}")
            lines += [f"    {line}" if line else "" for line in example.source.rstrip("\n").splitlines()]
            lines.append("")
            fix = _example_fix(rule, example) if invalid else None
            if fix is not None:
                lines.append(fix[0].replace("`", ""))
                lines += [f"    {line}" for line in fix[1].rstrip("\n").splitlines()]
                lines.append("")
    if rule.references:
        lines.append("References")
        lines += [f"  - {ref}" for ref in rule.references]
        lines.append("")
    if rule.__module__.startswith("actlint.rules."):  # plugins have no page in this repository
        lines.append(f"Page: {DEFAULT_PAGES_DIR}/{page_name(rule)} in the actlint repository")
    return "\n".join(lines) + "\n"


# --- the catalogue the documentation commands read (actlint/rules/catalogue.json) ----------


def entries_from_rules(rules: Iterable[type[Rule]]) -> list:
    """:class:`actlint.rules.catalogue.RuleEntry` for each rule, in ID order."""
    return [RuleEntry(r.id, r.name, r.severity.label, probe_kind(r), r.summary, render_rule_text(r))
            for r in sorted(rules, key=lambda r: r.id)]


def _plugins_installed() -> bool:
    return any(ep.name != BUILTIN_ENTRY_POINT for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def rule_entries() -> list[RuleEntry]:
    """Every rule, in ID order: from the generated catalogue, or from the registry when plugins exist.

    Third-party rules (other ``actlint.rules`` entry points) carry their documentation in
    their classes, so with plugins installed the full registry is loaded instead.
    """
    entries = None if _plugins_installed() else read_catalogue()
    if entries is not None:
        return entries
    return entries_from_rules(default_registry())


def catalogue_json(rules: Iterable[type[Rule]]) -> str:
    import dataclasses
    import json

    return json.dumps([dataclasses.asdict(e) for e in entries_from_rules(rules)], indent=1, ensure_ascii=False) + "\n"


def catalogue_is_stale(rules: Iterable[type[Rule]]) -> bool:
    return not CATALOGUE_PATH.is_file() or CATALOGUE_PATH.read_text(encoding="utf-8") != catalogue_json(rules)


def write_catalogue(rules: Iterable[type[Rule]]) -> bool:
    """Write ``actlint/rules/catalogue.json``; True when it changed."""
    if not catalogue_is_stale(rules):
        return False
    CATALOGUE_PATH.write_text(catalogue_json(rules), encoding="utf-8", newline="\n")
    return True


# --- python -m actlint.rules.docs --------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or ``--check``) the rule pages; returns the process exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m actlint.rules.docs",
        description="Generate the rule catalogue (one markdown page per built-in rule).",
    )
    parser.add_argument("directory", nargs="?", default=DEFAULT_PAGES_DIR,
                        help=f"where the pages go (default: {DEFAULT_PAGES_DIR}/)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a page is missing or out of date")
    args = parser.parse_args(argv)
    directory = Path(args.directory)
    rules = list(builtin_registry())
    if args.check:
        stale = stale_pages(directory, rules) + (["actlint/rules/catalogue.json"] if catalogue_is_stale(rules) else [])
        if stale:
            print(f"{directory}/ is out of date ({', '.join(stale)}); run `{REGENERATE_COMMAND}`", file=sys.stderr)
            return 1
        print(f"{directory}/ is up to date ({len(rules)} rules)")
        return 0
    changed = write_pages(directory, rules) + (["actlint/rules/catalogue.json"] if write_catalogue(rules) else [])
    print(f"{directory}/: {len(changed)} file(s) written or removed, {len(rules)} rules"
          + (f" ({', '.join(changed)})" if changed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
