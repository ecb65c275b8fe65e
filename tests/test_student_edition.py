"""The two editions of the notebooks, built from notebooks/src by scripts/nb.py.

- the committed notebooks are in step with their sources (``make student``,
  ``python scripts/nb.py build``);
- the student edition has a stub for every exercise and no solution, and
  every check fails on the untouched stub with "Exercise N.k is not done yet";
- the instructor edition has the solutions (folded), no stubs, and every
  check passes on them.

The checks run on the exercise cells directly (exec'd with the notebooks'
imports), not through whole notebooks: nbval runs those.
"""

import ast
import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

from attnlib import checks
from attnlib.checks import NotDoneYet

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("nb", ROOT / "scripts" / "nb.py")
nb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nb)

SOURCES = nb.sources()
PRELUDE = """
import copy
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from attnlib import checks
"""
# What the check cells read besides the exercise (07's record of the run).
RECORD = {
    "summary": {
        "paper_protocol": {"test": {"mean_iou": 0.812}},
        "honest": {"test": {"mean_iou": 0.797}},
    }
}


def _tags(cell):
    return cell.metadata.get("tags", [])


def _exercises(notebook, tag):
    """(exercise cell, check cell) pairs: the cells tagged ``tag`` and the
    next code cell, which calls the check."""
    cells = notebook.cells
    out = []
    for i, cell in enumerate(cells):
        if cell.cell_type == "code" and tag in _tags(cell):
            nxt = next(c for c in cells[i + 1 :] if c.cell_type == "code")
            out.append((cell, nxt))
    return out


def _check_call(cell):
    """The ``checks.check_*(...)`` call of a check cell, as source."""
    calls = [
        node
        for node in ast.walk(ast.parse(cell.source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "checks"
        and node.func.attr.startswith("check_")
    ]
    assert len(calls) == 1, f"one check call per check cell:\n{cell.source}"
    return ast.get_source_segment(cell.source, calls[0]), calls[0].func.attr


def _namespace():
    ns = {"record": RECORD}
    exec(PRELUDE, ns)
    return ns


def _chapter(src):
    return int(src.stem[:2])


def _ids(sources):
    return [s.stem for s in sources]


@pytest.fixture(scope="module", params=SOURCES, ids=_ids(SOURCES))
def editions(request):
    src = request.param
    return src, nb.build(src, "instructor"), nb.build(src, "student")


def test_committed_notebooks_are_in_step_with_the_sources():
    stale = nb.stale()
    assert not stale, (
        f"out of step with notebooks/src: {stale}. Rebuild with "
        "`python scripts/nb.py build NAME --execute` (or --keep-outputs) "
        "and `make student`."
    )


def test_sources_keep_cells_tags_hidden_metadata_and_kernelspec(editions):
    src, instructor, student = editions
    text = src.read_text()
    markers = re.findall(r"^# %%.*$", text, flags=re.M)
    both = nb.read_source(src)
    assert len(both.cells) == len(markers)  # one cell per marker, no more
    assert both.metadata["kernelspec"]["name"] == "python3"
    for cell in both.cells:
        tags = _tags(cell)
        hidden = cell.metadata.get("jupyter", {}).get("source_hidden", False)
        assert hidden == bool({"hide-cell", "hide-input"} & set(tags))
        assert set(cell.metadata) <= {"tags", "jupyter"}, cell.metadata
    for edition in (instructor, student):
        nbformat.validate(edition)
        assert edition.metadata == nb.METADATA


def test_every_exercise_has_a_stub_a_solution_and_a_check(editions):
    src, instructor, student = editions
    stubs = _exercises(student, "task")
    solutions = _exercises(instructor, "solution")
    assert len(stubs) >= 2, f"{src.name}: at least two exercises"
    assert [_check_call(c) for _, c in stubs] == [_check_call(c) for _, c in solutions], (
        "the same checks follow the stubs and the solutions, in order"
    )
    for k, (stub, _) in enumerate(stubs, 1):
        number = f"{_chapter(src)}.{k}"
        assert re.search(
            rf'NotImplementedError\(\s*"Exercise {number}: '
            rf"|= None  # Exercise {number}: ",
            stub.source,
        ), f"the stub of exercise {number} says what to do:\n{stub.source}"
    for solution, _ in solutions:
        assert {"solution", "hide-cell"} <= set(_tags(solution))
        assert solution.metadata["jupyter"]["source_hidden"] is True


def test_student_edition_has_no_solution(editions):
    src, instructor, student = editions
    assert not any("solution" in _tags(c) for c in student.cells)
    assert not any(
        c.cell_type == "code" and (c.outputs or c.execution_count) for c in student.cells
    )
    student_text = "\n".join(c.source for c in student.cells)
    for cell in instructor.cells:
        if "solution" in _tags(cell):
            body = cell.source.replace("# Solution", "").strip()
            assert body not in student_text, f"{src.name}: a solution leaked"


def test_instructor_edition_has_no_stub(editions):
    src, instructor, _ = editions
    assert not any("task" in _tags(c) for c in instructor.cells)
    code = [c.source for c in instructor.cells if c.cell_type == "code"]
    assert "NotImplementedError" not in "\n".join(code)


def test_questions_with_folded_answers_before_the_exercises(editions):
    src, instructor, student = editions
    md = [c for c in instructor.cells if c.cell_type == "markdown"]
    heads = [line for c in md for line in c.source.splitlines() if line.startswith("## ")]
    assert heads[-3:] == ["## Summary", "## Questions", "## Exercises"]
    n = _chapter(src)
    questions = [c for c in md if f"**Question {n}." in c.source]
    answers = [c for c in md if "solution" in _tags(c)]
    assert 3 <= len(questions) <= 5, f"{src.name}: 3-5 questions"
    assert len(answers) == len(questions)
    for answer in answers:
        lines = answer.source.strip().splitlines()
        assert lines[0].startswith(":::{dropdown}") and lines[-1] == ":::"
    student_md = [c.source for c in student.cells if c.cell_type == "markdown"]
    assert sum(f"**Question {n}." in s for s in student_md) == len(questions)
    assert not any(s.lstrip().startswith(":::{dropdown}") for s in student_md)


def _exercise_cases():
    for src in SOURCES:
        student = nb.build(src, "student")
        instructor = nb.build(src, "instructor")
        stubs = _exercises(student, "task")
        solutions = _exercises(instructor, "solution")
        for k, (pair_s, pair_i) in enumerate(zip(stubs, solutions), 1):
            number = f"{_chapter(src)}.{k}"
            yield pytest.param(number, pair_s, pair_i, id=f"exercise-{number}")


EXERCISES = list(_exercise_cases())


@pytest.mark.parametrize("number, stub, solution", EXERCISES)
def test_check_fails_on_the_stub_and_says_what_to_do(number, stub, solution):
    ns = _namespace()
    exec(stub[0].source, ns)
    call, name = _check_call(stub[1])
    with pytest.raises(NotDoneYet) as err:
        eval(call, ns)
    message = str(err.value)
    assert message.startswith(f"Exercise {number} is not done yet: "), message
    assert getattr(checks, name).exercise == number
    assert len(message) > len(f"Exercise {number} is not done yet: ") + 20


@pytest.mark.parametrize("number, stub, solution", EXERCISES)
def test_check_passes_on_the_solution(number, stub, solution, capsys):
    ns = _namespace()
    exec(solution[0].source, ns)
    call, _ = _check_call(solution[1])
    eval(call, ns)
    assert capsys.readouterr().out.startswith("Correct")
