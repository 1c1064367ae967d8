"""Every notebook in examples/notebooks runs top to bottom (nbclient, a fresh kernel), at the small
sizes it takes from MVCLASS_NB_SMALL=1, on data that ships or is synthesised (and the shared data)."""
import os
import sys
from pathlib import Path

import pytest

NB_DIR = Path(__file__).resolve().parents[1] / "examples" / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("*.ipynb"))


def test_the_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == ["01_encode_and_look.ipynb", "02_rate_accuracy_paper.ipynb",
                                           "03_video_to_classifier.ipynb"]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, shared_data, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    import mvclass

    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("MVCLASS_NB_SMALL", "1")
    monkeypatch.setenv("MVCLASS_SHARED_DATA", str(shared_data))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # the kernel imports the same mvclass as this test (a source checkout or the installed package)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(mvclass.__file__).parents[1])]
                                                     + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(NB_DIR)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, when a cell fails
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the notebook drew no figure"
