"""``python -m attnlib grade`` on chapter 05 (three exercises, the cheapest chapter to run).

Three submissions of 05_losses.ipynb graded in one command: the untouched student edition
(every exercise not attempted, though it carries stale "Correct" outputs), the student edition
with the instructor's solutions put in (all correct), and one with a wrong answer (wrong, with
the check's hint). Then a notebook that hangs, one whose kernel dies and one that is not a
notebook: each is rows, not an exception. The verdict rules without a kernel at the end.
"""

import contextlib
import csv
import importlib.util
import io
from pathlib import Path

import nbformat
import pytest

from attnlib import grade
from attnlib.__main__ import main

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("nb", ROOT / "scripts" / "nb.py")
nb_build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nb_build)

CHAPTER = "05_losses"
EXERCISES = ["5.1", "5.2", "5.3"]
# Exercise 5.1 answered with V-Net's per-class Dice: the check's hint names that mistake.
WRONG_5_1 = """def seed_dice_from(prob, onehot):
    dims = (0, 2, 3)
    dice = 2 * (prob * onehot).sum(dims) / (prob.sum(dims) + onehot.sum(dims))
    return 1 - dice.mean()
"""


def _tags(cell):
    return cell.metadata.get("tags", [])


def _student():
    return nbformat.read(ROOT / "notebooks" / "student" / f"{CHAPTER}.ipynb", as_version=4)


def _solved(answers=None):
    """The student edition with each stub replaced by the instructor's solution, or by
    ``answers[k]`` for the k-th exercise."""
    nb = _student()
    source = nb_build.read_source(nb_build.SRC / f"{CHAPTER}.py")
    solutions = [c.source for c in source.cells if "solution" in _tags(c) and c.cell_type == "code"]
    stubs = [c for c in nb.cells if "task" in _tags(c)]
    assert len(stubs) == len(solutions) == len(EXERCISES)
    for k, (stub, solution) in enumerate(zip(stubs, solutions)):
        stub.source = (answers or {}).get(k, solution)
    return nb


def _with_first_cell(nb, source):
    nb.cells.insert(0, nbformat.v4.new_code_cell(source))
    return nb


def _save(nb, folder: Path, student: str) -> Path:
    path = folder / student / f"{CHAPTER}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The command on three submissions: its CSV rows by student and its printed lines."""
    folder = tmp_path_factory.mktemp("submissions")
    untouched = _student()
    for cell in untouched.cells:  # a stale output must not count: only what runs counts
        if "checks.check_" in cell.source:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="Correct.\n")]
    paths = [
        _save(untouched, folder, "alice"),
        _save(_solved(), folder, "bob"),
        _save(_solved({0: WRONG_5_1}), folder, "carol"),
    ]
    out, printed = folder / "grades.csv", io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["grade", *map(str, paths), "--out", str(out)]) == 0
    with open(out, newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == grade.FIELDS
        rows = list(reader)
    by_student = {}
    for row in rows:
        by_student.setdefault(row["student"], []).append(row)
    return by_student, printed.getvalue().splitlines()


def test_one_row_per_student_and_exercise(graded):
    rows, _ = graded
    assert sorted(rows) == ["alice", "bob", "carol"]
    for student_rows in rows.values():
        assert [r["exercise"] for r in student_rows] == EXERCISES
        assert all(r["notebook"].endswith(f"{CHAPTER}.ipynb") for r in student_rows)


def test_the_untouched_student_edition_is_not_attempted(graded):
    rows, _ = graded
    for number, row in zip(EXERCISES, rows["alice"]):
        assert row["status"] == "not attempted"
        assert row["detail"].startswith(f"Exercise {number} is not done yet: ")


def test_the_instructors_solutions_are_correct(graded):
    rows, _ = graded
    assert [r["status"] for r in rows["bob"]] == ["correct"] * 3
    assert all(r["detail"].startswith("Correct") for r in rows["bob"])


def test_a_wrong_answer_is_wrong_with_the_checks_hint(graded):
    rows, _ = graded
    first, *rest = rows["carol"]
    assert first["status"] == "wrong" and first["check"] == "check_seed_dice"
    assert "one Dice per class" in first["detail"]  # the check's hint for this mistake
    assert [r["status"] for r in rest] == ["correct", "correct"]


def test_the_command_prints_one_summary_line_per_student(graded):
    _, lines = graded
    assert lines[0].startswith("alice: 0/3 correct, 0 wrong, 3 not attempted, 0 not reached (")
    assert lines[1].startswith("bob: 3/3 correct, 0 wrong, 0 not attempted, 0 not reached")
    assert lines[2].startswith("carol: 2/3 correct, 1 wrong, 0 not attempted, 0 not reached")
    assert lines[3].startswith("9 rows (one per student and exercise) in ")


def test_a_hanging_a_dying_and_an_unreadable_notebook_are_rows(tmp_path):
    hang = _save(_with_first_cell(_student(), "import time\ntime.sleep(600)"), tmp_path, "dave")
    dies = _save(_with_first_cell(_student(), "import os\nos._exit(1)"), tmp_path, "erin")
    broken = tmp_path / "frank" / f"{CHAPTER}.ipynb"
    broken.parent.mkdir()
    broken.write_text("{ not a notebook")
    results = grade.grade([hang, dies, broken], timeout_s=3)
    assert [g.student for g in results] == ["dave", "erin", "frank"]
    for g, why in zip(
        results, ["ran out of its 3 s in cell 1", "lost its kernel", "could not be read"]
    ):
        assert [r["exercise"] for r in g.rows] == EXERCISES
        assert {r["status"] for r in g.rows} == {"not reached"}
        assert all(why in r["detail"] for r in g.rows), g.rows
        assert why in g.stopped
    assert results[0].seconds < 60  # stopped, not left to hang
    lines = grade.summary_lines(results)
    assert lines[0].startswith("dave: 0/3 correct, 0 wrong, 0 not attempted, 3 not reached")
    assert lines[1] == f"  {CHAPTER}.ipynb ran out of its 3 s in cell 1"  # why, under the student
    assert lines[2].startswith("erin: ") and lines[3].startswith(
        f"  {CHAPTER}.ipynb lost its kernel"
    )


def _cell(source, outputs):
    return nbformat.v4.new_code_cell(source, outputs=outputs)


def _error(ename, evalue):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[])


def test_verdicts_read_from_the_outputs():
    nb = nbformat.v4.new_notebook(
        cells=[
            _cell(
                "checks.check_pooled_size(pooled_size)",
                [_error("ZeroDivisionError", "division by zero")],
            ),
            _cell("data = load()", [_error("FileNotFoundError", "no data")]),
            _cell(
                "checks.check_doubleconv_params(f)",
                [_error("NameError", "name 'f' is not defined")],
            ),
            _cell("checks.check_seed_dice(g)", []),
        ]
    )
    found = grade.read_checks(nb)
    assert found["check_pooled_size"] == (
        "wrong",
        "the check raised ZeroDivisionError: division by zero",
    )
    assert found["check_doubleconv_params"] == (
        "not reached",
        "cell 2 raised FileNotFoundError: no data",
    )
    assert found["check_seed_dice"][0] == "wrong"  # ran, printed no Correct line
    stopped = grade.read_checks(nb, stopped="ran out of its 5 s", stopped_at=2)
    assert stopped["check_pooled_size"][0] == "wrong"  # it ran before the stop
    assert stopped["check_doubleconv_params"] == (
        "not reached",
        "the notebook ran out of its 5 s in cell 3",
    )


def test_the_student_is_the_folder_or_the_file():
    assert grade.student_name("submissions/alice/02_unet.ipynb") == "alice"
    assert grade.student_name("submissions/bob_week2.ipynb") == "bob_week2"
