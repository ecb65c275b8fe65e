"""The training notebook's parameters: every Config field, visible to papermill, None = not set."""

import ast
import dataclasses
import subprocess
import sys
import typing
from pathlib import Path

import nbformat

from attnlib.config import Config

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "07_training.ipynb"


def _parameters_cell() -> str:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "exactly one cell tagged 'parameters'"
    return cells[0].source


def test_every_config_field_is_a_parameter_that_defaults_to_not_set():
    nodes = ast.parse(_parameters_cell()).body
    assert all(isinstance(n, ast.AnnAssign) for n in nodes), (
        "typed assignments (papermill shows the types)"
    )
    names = [n.target.id for n in nodes]
    assert names == ["profile"] + [
        f.name for f in dataclasses.fields(Config)
    ]  # same names, same order
    assert all(ast.literal_eval(n.value) is None for n in nodes)  # None: the profile decides
    hints = typing.get_type_hints(Config)
    for n in nodes[1:]:
        want = hints[n.target.id]
        want = typing.get_args(want)[0] if typing.get_origin(want) is typing.Union else want
        want = typing.get_origin(want) or want
        assert ast.unparse(n.annotation) == f"Optional[{want.__name__}]", n.target.id


def test_papermill_sees_every_parameter_with_its_type_and_help():
    out = subprocess.run(
        [sys.executable, "-m", "papermill", "--help-notebook", str(NOTEBOOK)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for f in ["profile"] + [f.name for f in dataclasses.fields(Config)]:
        assert f"  {f}: Optional[" in out, f"papermill does not list {f}"
    helps = [ln for ln in out.splitlines() if ln.startswith(" " * 20)]
    assert len(helps) == 1 + len(dataclasses.fields(Config))  # one comment per parameter
