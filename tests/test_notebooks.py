"""The notebooks' contracts: the training notebook's parameters cell mirrors Config."""
import ast
import dataclasses
from pathlib import Path

import nbformat

from attnlib.config import Config

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: exactly one cell tagged 'parameters'"
    return cells[0].source


def test_training_parameters_mirror_config():
    src = _parameters_cell(NOTEBOOKS / "07_training.ipynb")
    values = {}
    for node in ast.parse(src).body:
        assert isinstance(node, ast.AnnAssign), "the parameters cell holds typed assignments (papermill shows the types)"
        values[node.target.id] = ast.literal_eval(node.value)
    fields = {f.name: getattr(Config(), f.name) for f in dataclasses.fields(Config)}
    assert values.pop("profile") == ""
    assert values == fields  # same names, same defaults, same order below
    assert list(values) == list(fields)
    for line in src.splitlines():
        assert "  # " in line, f"every parameter has a comment for papermill --help-notebook: {line!r}"


def test_every_notebook_has_a_kernelspec_and_exercises():
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert nb.metadata["kernelspec"]["name"] == "python3", path.name
        text = "\n".join(c.source for c in nb.cells)
        assert text.count("checks.check_") >= 2, f"{path.name}: at least two exercises with checks"
        assert any("hide-cell" in c.metadata.get("tags", []) for c in nb.cells), f"{path.name}: hidden solutions"
