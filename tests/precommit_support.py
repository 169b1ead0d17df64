"""Run the real ``pre-commit`` with this repository's hook, without building a hook env.

Used by tests/e2e/test_precommit.py and bench/bench_precommit.py.

How the hook is exercised: a remote hook (``repo: <url or path>`` plus ``rev``) makes
pre-commit clone the repository at a committed revision and ``pip install`` it into a
fresh virtualenv, which downloads torch (gigabytes, minutes, network). Instead, the
config is a ``repo: local`` hook whose fields are copied from this repository's
``.pre-commit-hooks.yaml`` (entry, types, require_serial, pass_filenames, ...), with only
``language`` changed to ``system`` so that ``entry`` resolves to the ``actlint`` of the
running interpreter's environment (its bin folder goes first on PATH). The manifest is
read and validated by pre-commit itself (``pre_commit.clientlib.load_manifest``), so a
wrong manifest fails here, and pre-commit does the file selection (types: python), the
batching (require_serial) and the argument passing exactly as for a remote hook.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / ".pre-commit-hooks.yaml"
HOOK_ID = "actlint"


def manifest_hook(hook_id: str = HOOK_ID) -> dict:
    """The hook ``hook_id`` as pre-commit reads it from this repository's manifest."""
    from pre_commit.clientlib import load_manifest

    hooks = {hook["id"]: hook for hook in load_manifest(str(MANIFEST))}
    return hooks[hook_id]


def local_hook_config(args: tuple[str, ...] = ()) -> dict:
    """A ``.pre-commit-config.yaml`` document running the manifest's hook as ``repo: local``.

    Every field the manifest sets is kept except ``language`` (``system``: use the
    current environment instead of building one); ``args`` are the user's extra arguments.
    """
    raw = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    hook = dict(next(h for h in raw if h["id"] == HOOK_ID))
    manifest_hook(HOOK_ID)  # validate with pre-commit's own schema first
    hook["language"] = "system"
    if args:
        hook["args"] = list(args)
    return {"repos": [{"repo": "local", "hooks": [hook]}]}


def precommit_env(home: Path) -> dict[str, str]:
    """Environment for pre-commit: private cache, no colour, this interpreter's bin first."""
    env = dict(os.environ)
    env.pop("FORCE_COLOR", None)
    env.update({
        "PRE_COMMIT_HOME": str(home),
        "PRE_COMMIT_COLOR": "never",
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(home),  # no user-level git config or hooks leak in
    })
    return env


def precommit_executable() -> str:
    """The ``pre-commit`` next to this interpreter (the test extra installs it)."""
    beside = Path(sys.executable).parent / "pre-commit"
    return str(beside) if beside.exists() else (shutil.which("pre-commit") or "pre-commit")


def init_git_repo(root: Path, files: dict[str, str], config: dict, env: dict[str, str]) -> None:
    """A git repository in ``root`` holding ``files`` and the pre-commit config, all staged."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, env, "init", "-q")
    git(root, env, "config", "user.email", "test@example.com")
    git(root, env, "config", "user.name", "actlint test")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    (root / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    git(root, env, "add", "--", *files, ".pre-commit-config.yaml")


def git(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True)


def run_precommit(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """``pre-commit run <args>`` in ``root`` (stdout and stderr merged, as a user sees them)."""
    return subprocess.run(
        [precommit_executable(), "run", *args], cwd=root, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
    )
