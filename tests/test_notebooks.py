"""The notebooks run top to bottom on the shipped data and model."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT


@pytest.mark.slow
@pytest.mark.parametrize("name", ["corpus_overview.ipynb", "model_evaluation.ipynb"])
def test_notebook_runs_top_to_bottom(name):
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert outputs and not [o for o in outputs if o.get("output_type") == "error"]
    assert Path(ROOT / "notebooks" / name).exists()
