"""actlint in Jupyter, for real: a notebook executed by nbclient on an ipykernel kernel
defines a model in a cell and calls actlint.lint; the rendered HTML report is checked."""

from __future__ import annotations

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

CELLS = [
    "import torch\nimport torch.nn as nn\nimport actlint",
    """class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        h = torch.softmax(self.fc1(x), dim=-1)
        return self.fc2(h)""",
    "result = actlint.lint(Net(), torch.randn(4, 8))\nresult",
    "first = [f for f in result.findings if f.rule == 'ACT101'][0]\nprint(first.location.file, first.location.line)",
]


def test_notebook_renders_the_html_report_located_at_the_cell(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    client = nbclient.NotebookClient(notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    (display,) = [o for o in notebook.cells[2].outputs if o.get("output_type") == "execute_result"]
    html = display["data"]["text/html"]
    assert "ACT101" in html and "softmax" in html
    assert "Cell In[2]" in html  # the finding is located at the cell that defined the model
    assert "<script" not in html.lower()  # self-contained, nothing to run
    printed = "".join(o.get("text", "") for o in notebook.cells[3].outputs)
    assert printed.split() == ["Cell", "In[2]", "8"]  # `h = torch.softmax(...)` is line 8 of that cell
