"""``actlint server`` for real: a subprocess spoken to in LSP over stdio (no editor needed)."""

from __future__ import annotations

import os
import sys
from textwrap import dedent

import pytest

from lsp_client import LspClient

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the server's workers fork (Linux)")

BROKEN = """
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(16, 32)
        self.squash = nn.Softmax(dim=1)
        self.head = nn.Linear(32, 4)

    def forward(self, x):
        return self.head(self.squash(self.hidden(x)))
"""


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "ACTLINT_NO_CACHE"}


@pytest.fixture
def client(tmp_path):
    lsp = LspClient(tmp_path, env=_env())
    yield lsp
    lsp.close()


def _open(client: LspClient, path) -> str:
    uri = path.as_uri()
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                            "text": path.read_text()}})
    return uri


def test_diagnostics_on_open_and_save_with_the_probe_verdict(client, tmp_path):
    capabilities = client.initialize(tmp_path)["capabilities"]
    assert capabilities["textDocumentSync"] in (1, {"openClose": True, "change": 1, "save": True}) or \
        capabilities["textDocumentSync"]["change"] == 1
    model = tmp_path / "model.py"
    model.write_text(dedent(BROKEN))
    uri = _open(client, model)

    static = client.diagnostics(uri)  # the rules without the probe come first
    (softmax,) = [d for d in static if d["code"] == "ACT101"]
    assert softmax["severity"] == 1 and softmax["source"] == "actlint"
    assert softmax["range"]["start"] == {"line": 12, "character": 30}
    assert softmax["codeDescription"]["href"].endswith("/rules/ACT101-softmax-in-hidden-layer.md")
    assert "probe:" not in softmax["message"]
    probed = client.diagnostics(uri)  # then the probe's verdict, replacing them
    (softmax,) = [d for d in probed if d["code"] == "ACT101"]
    assert "probe: confirmed: gradient shrinks" in softmax["message"]

    model.write_text(dedent(BROKEN).replace("nn.Softmax(dim=1)", "nn.ReLU()"))
    client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
    assert [d for d in client.diagnostics(uri) if d["code"] == "ACT101"] == []


def test_code_actions_offer_the_fix_and_the_documentation(client, tmp_path):
    client.initialize(tmp_path)
    model = tmp_path / "model.py"
    model.write_text(dedent(BROKEN))
    uri = _open(client, model)
    client.diagnostics(uri)
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri},
        "range": {"start": {"line": 12, "character": 0}, "end": {"line": 12, "character": 0}},
        "context": {"diagnostics": []}})
    titles = [a["title"] for a in actions]
    assert any("replace the hidden softmax with ReLU" in t and "unsafe fix" in t for t in titles), titles
    (fix,) = [a for a in actions if a.get("edit")]
    (edit,) = fix["edit"]["changes"][uri]
    assert edit["newText"] == "        self.squash = nn.ReLU()\n"
    assert edit["range"] == {"start": {"line": 8, "character": 0}, "end": {"line": 9, "character": 0}}
    (docs,) = [a for a in actions if a.get("command")]
    assert docs["command"]["command"] == "actlint.showDocumentation"


def test_a_file_that_kills_its_interpreter_is_one_diagnostic_and_the_server_lives_on(client, tmp_path):
    client.initialize(tmp_path)
    dying = tmp_path / "dying.py"
    dying.write_text("import os\nimport torch.nn as nn\n\nclass Net(nn.Module):\n    def __init__(self):\n"
                     "        super().__init__()\n        os._exit(3)\n\n    def forward(self, x):\n        return x\n")
    (diagnostic,) = client.diagnostics(_open(client, dying))
    assert "the file ended its process with exit code 3 while building Net()" in diagnostic["message"]
    model = tmp_path / "model.py"
    model.write_text(dedent(BROKEN))
    assert any(d["code"] == "ACT101" for d in client.diagnostics(_open(client, model)))


def test_a_slow_file_shows_progress_and_a_newer_save_wins(client, tmp_path):
    client.initialize(tmp_path, progress=True)
    model = tmp_path / "model.py"
    model.write_text(dedent(BROKEN))
    uri = _open(client, model)
    begin = client.wait_for(lambda m: m.get("method") == "$/progress" and m["params"]["value"]["kind"] == "begin")
    assert begin["params"]["value"]["message"].startswith("linting ")
    client.diagnostics(uri)
    model.write_text(dedent(BROKEN).replace("nn.Softmax(dim=1)", "nn.ReLU()"))
    client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})  # while the probe of the first runs
    while True:  # whatever the first open still publishes, the last word is the saved file's
        diagnostics = client.diagnostics(uri)
        if not any(d["code"] == "ACT101" for d in diagnostics):
            break
    client.wait_for(lambda m: m.get("method") == "$/progress" and m["params"]["value"]["kind"] == "end")


def test_the_workspace_configuration_is_honoured(client, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.actlint]\nignore = ["ACT101"]\n\n[tool.actlint.probe]\nenabled = false\n')
    client.initialize(tmp_path)
    model = tmp_path / "model.py"
    model.write_text(dedent(BROKEN))
    uri = _open(client, model)
    assert [d for d in client.diagnostics(uri) if d["code"] == "ACT101"] == []
    # The probe is off in the configuration: one publish, nothing follows it.
    with pytest.raises(TimeoutError):
        client.diagnostics(uri, timeout=5)
