"""The notebooks' contracts: a kernelspec, exercises with checks and folded
solutions in every instructor notebook, a stub for each in the student one.
(test_student_edition.py tests the editions against their sources.)"""

from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _tags(cell):
    return cell.metadata.get("tags", [])


def test_every_notebook_has_a_kernelspec_and_exercises():
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert len(paths) == 9
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        assert nb.metadata["kernelspec"]["name"] == "python3", path.name
        text = "\n".join(c.source for c in nb.cells)
        assert text.count("checks.check_") >= 2, f"{path.name}: at least two exercises with checks"
        solutions = [c for c in nb.cells if "solution" in _tags(c)]
        assert any(c.cell_type == "code" and "hide-cell" in _tags(c) for c in solutions), (
            f"{path.name}: folded solutions"
        )
        assert not any("task" in _tags(c) for c in nb.cells), path.name


def test_every_student_notebook_has_stubs_and_no_solutions():
    paths = sorted((NOTEBOOKS / "student").glob("[0-9][0-9]_*.ipynb"))
    assert [p.name for p in paths] == [p.name for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))]
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        assert nb.metadata["kernelspec"]["name"] == "python3", path.name
        assert sum("task" in _tags(c) for c in nb.cells) >= 2, path.name
        assert not any("solution" in _tags(c) for c in nb.cells), path.name
