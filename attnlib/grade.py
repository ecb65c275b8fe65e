"""Grade submitted student notebooks: ``python -m attnlib grade NOTEBOOK... --out grades.csv``.

Each notebook runs to its end in a fresh ``python3`` kernel (nbclient, errors allowed, one
time limit for the whole notebook) in the course's ``notebooks/`` folder, which the chapters'
relative paths expect, with the data from ``ATTNLIB_DATA`` and the ``smoke`` profile unless
``ATTNLIB_PROFILE`` or ``profile=`` names another (chapter 07 then trains in seconds). Its
stored outputs are cleared first: only what runs here counts. Then every check cell (one that
calls ``checks.check_<name>(...)``, see :mod:`attnlib.checks`) gives its exercise one of:

- ``correct``: the check printed its "Correct" line;
- ``wrong``: the check raised ``CheckFailed`` (the detail is its hint), or the answer crashed
  the check (the detail is that error);
- ``not attempted``: the stub is still there (``NotDoneYet``, ``NotImplementedError``), or
  the chapter's check cell is gone from the notebook;
- ``not reached``: the notebook stopped before the cell (it ran out of time, its kernel died,
  it could not be read), or the check failed on an earlier cell's error (the detail names it).

A notebook that cannot be read, crashes or hangs gives rows like any other, never an
exception. The student is the notebook's folder (``submissions/alice/02_unet.ipynb``), or the
file's stem when the file is not named as a chapter (``submissions/alice.ipynb``).

Why not nbgrader or otter-grader (both on PyPI): each brings its own assignment format. nbgrader
wants its cell metadata (grade ids, locked and checksummed cells, points) written with its
toolbar, a course folder ``{step}/{student}/{assignment}/{notebook}.ipynb`` and a gradebook
database, and grades test cells by points; otter-grader wants its own notebook format and test
files (``otter assign``) and grades in Docker containers. The course already has both halves of
a grader: ``scripts/nb.py`` builds the student edition from ``notebooks/src/`` (``task`` and
``solution`` tags), and :mod:`attnlib.checks` tells not-done-yet from wrong and says why. Either
tool would mean rewriting every exercise in its format and would lose the hints; running the
notebook (nbclient, already installed with nbval and papermill) and reading the check cells
is all this needs.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

STATUSES = ("correct", "wrong", "not attempted", "not reached")
FIELDS = ("student", "exercise", "status", "detail", "check", "notebook")
DEFAULT_TIMEOUT_S = 600
COURSE_DIR = Path(__file__).resolve().parent.parent / "notebooks"
CHECK_CALL = re.compile(r"\bchecks\.(check_\w+)\s*\(")
CHAPTER_FILE = re.compile(r"^(\d\d)_\w+$")  # 02_unet
NOT_DONE = ("NotDoneYet", "NotImplementedError")
LOG = logging.getLogger(
    __name__
)  # nbclient's messages (a timeout, a dead kernel): kept, not printed
LOG.addHandler(logging.NullHandler())


@dataclass
class Graded:
    """One graded notebook: its rows (dicts with FIELDS), why it stopped early (or None), its
    time."""

    notebook: str
    student: str
    rows: list[dict] = field(default_factory=list)
    stopped: str | None = None
    seconds: float = 0.0


def known_checks() -> dict[str, str]:
    """{check name: exercise number} for every check in :mod:`attnlib.checks`."""
    from attnlib import checks

    found = {name: getattr(getattr(checks, name), "exercise", None) for name in checks.__all__}
    return {name: number for name, number in found.items() if number}


def _order(number: str) -> tuple:
    parts = number.split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else (math.inf,)


def student_name(path) -> str:
    """``alice/02_unet.ipynb`` -> alice; ``alice.ipynb`` -> alice."""
    path = Path(path)
    if CHAPTER_FILE.match(path.stem) and path.parent.name:
        return path.parent.resolve().name
    return path.stem


def kernel_env(profile: str | None = None) -> dict:
    """The kernel's environment: this one's (ATTNLIB_DATA included), the profile, no bars, no
    GUI."""
    profile = profile or os.environ.get("ATTNLIB_PROFILE") or "smoke"
    return {
        **os.environ,
        "ATTNLIB_PROFILE": profile,
        "ATTNLIB_QUIET": "1",
        "NO_ALBUMENTATIONS_UPDATE": "1",
        "MPLBACKEND": "Agg",
    }


def execute(nb, timeout_s: float, cwd: Path, env: dict) -> tuple[str | None, int | None]:
    """Run ``nb`` in place, errors allowed; return (why it stopped early, the cell it stopped in),
    (None, None) when it ran to its end."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    deadline, current = time.monotonic() + timeout_s, {"index": None}
    client = NotebookClient(
        nb,
        kernel_name="python3",
        allow_errors=True,
        record_timing=False,
        timeout_func=lambda cell: max(1, math.ceil(deadline - time.monotonic())),
        on_cell_start=lambda cell, cell_index: current.update(index=cell_index),
        resources={"metadata": {"path": str(cwd)}},
        log=LOG,
    )
    # the kernel's own stdout/stderr (ipykernel's warnings): the cells' outputs come by messages
    try:
        client.execute(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except CellTimeoutError:
        return f"ran out of its {timeout_s:g} s", current["index"]
    except DeadKernelError:
        return "lost its kernel (it died)", current["index"]
    except Exception as err:  # noqa: BLE001 (a submission must not stop the grading)
        why = (str(err).strip().splitlines() or [""])[0]
        return f"stopped: {type(err).__name__}: {why}", current["index"]
    return None, None


def _errors(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def _verdict(
    cell, index: int, earlier, stopped: str | None, stopped_at: int | None
) -> tuple[str, str]:
    """(status, detail) of one check cell after the run."""
    if stopped is not None and (stopped_at is None or index >= stopped_at):
        where = f" in cell {stopped_at + 1}" if stopped_at is not None else ""
        return "not reached", f"the notebook {stopped}{where}"
    errors = _errors(cell)
    if not errors:
        text = "".join(
            o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream"
        )
        line = next((ln for ln in text.splitlines() if ln.startswith("Correct")), None)
        return (
            ("correct", line)
            if line
            else ("wrong", "the check cell ran but printed no 'Correct' line")
        )
    err = errors[0]
    if err.ename in NOT_DONE:
        return "not attempted", err.evalue
    if err.ename == "CheckFailed":
        return "wrong", err.evalue
    if earlier is not None:
        i, first = earlier
        return "not reached", f"cell {i + 1} raised {first.ename}: {first.evalue}"
    return "wrong", f"the check raised {err.ename}: {err.evalue}"


def read_checks(
    nb, stopped: str | None = None, stopped_at: int | None = None
) -> dict[str, tuple[str, str]]:
    """{check name: (status, detail)} from the check cells of an executed notebook. A check called
    in several cells counts once: correct if one of them passed, else its last cell."""
    found, earlier = (
        {},
        None,
    )  # earlier: (index, error) of the first failing cell that is not a check
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        names = CHECK_CALL.findall(cell.get("source", ""))
        if not names:
            if earlier is None and _errors(cell):
                earlier = (index, _errors(cell)[0])
            continue
        verdict = _verdict(cell, index, earlier, stopped, stopped_at)
        for name in names:
            if found.get(name, ("",))[0] != "correct":
                found[name] = verdict
    return found


def _rows(path: Path, student: str, found: dict, chapters: set[str], fallback: str) -> list[dict]:
    """One row per exercise of the notebook's chapters (every check it calls, and any it lacks)."""
    numbers = known_checks()
    chapters = chapters | {numbers[n].split(".")[0] for n in found if n in numbers}
    expected = {n for n, number in numbers.items() if number.split(".")[0] in chapters}
    rows = []
    for name in sorted(set(found) | expected, key=lambda n: (_order(numbers.get(n, "?")), n)):
        status, detail = found.get(name) or fallback_verdict(name, fallback)
        rows.append(
            {
                "student": student,
                "exercise": numbers.get(name, "?"),
                "status": status,
                "detail": detail,
                "check": name,
                "notebook": str(path),
            }
        )
    if not rows:
        rows.append(
            {
                "student": student,
                "exercise": "",
                "status": "not reached",
                "detail": fallback or "the notebook has no check cell",
                "check": "",
                "notebook": str(path),
            }
        )
    return rows


def fallback_verdict(name: str, why_unread: str) -> tuple[str, str]:
    """The verdict of an exercise without a check cell: gone from the notebook, or never read."""
    if why_unread:
        return "not reached", why_unread
    return "not attempted", f"no cell calls checks.{name}(...): put the exercise's check cell back"


def grade_notebook(
    path, timeout_s: float = DEFAULT_TIMEOUT_S, profile: str | None = None, cwd=None
) -> Graded:
    """Run one submitted notebook and grade its exercises (see the module's docstring)."""
    import nbformat

    path = Path(path)
    graded = Graded(notebook=str(path), student=student_name(path))
    match = CHAPTER_FILE.match(path.stem)
    chapters = {str(int(match.group(1)))} if match else set()
    t0 = time.perf_counter()
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # noqa: BLE001 (missing, not JSON, not a notebook)
        graded.stopped = f"could not be read ({type(err).__name__}: {err})"
        graded.rows = _rows(path, graded.student, {}, chapters, f"the notebook {graded.stopped}")
        return graded
    for cell in nb.cells:  # only what runs here counts
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    cwd = Path(cwd) if cwd else (COURSE_DIR if COURSE_DIR.is_dir() else path.resolve().parent)
    stopped, stopped_at = execute(nb, timeout_s, cwd, kernel_env(profile))
    graded.seconds = time.perf_counter() - t0
    graded.rows = _rows(path, graded.student, read_checks(nb, stopped, stopped_at), chapters, "")
    if stopped is not None:
        graded.stopped = stopped + (f" in cell {stopped_at + 1}" if stopped_at is not None else "")
    return graded


def grade(
    paths, timeout_s: float = DEFAULT_TIMEOUT_S, profile: str | None = None, cwd=None
) -> list[Graded]:
    """Grade each notebook in turn (a progress bar on a terminal, none in CI)."""
    from tqdm.auto import tqdm

    from attnlib.train import progress_enabled

    bar = tqdm(list(paths), desc="grading", unit="notebook", disable=not progress_enabled())
    return [grade_notebook(p, timeout_s=timeout_s, profile=profile, cwd=cwd) for p in bar]


def write_csv(graded: list[Graded], path) -> int:
    """Write one row per student and exercise; return the number of rows."""
    rows = [row for g in graded for row in g.rows]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def summary_lines(graded: list[Graded]) -> list[str]:
    """One line per student (how many exercises are correct, wrong, ...), each followed by an
    indented line per notebook of theirs that stopped early."""
    by_student: dict[str, list[Graded]] = {}
    for g in graded:
        by_student.setdefault(g.student, []).append(g)
    lines = []
    for student, items in by_student.items():
        rows = [r for g in items for r in g.rows]
        counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
        seconds = sum(g.seconds for g in items)
        lines.append(
            f"{student}: {counts['correct']}/{len(rows)} correct, {counts['wrong']} wrong, "
            f"{counts['not attempted']} not attempted, {counts['not reached']} not reached "
            f"({seconds:.0f} s)"
        )
        lines += [f"  {Path(g.notebook).name} {g.stopped}" for g in items if g.stopped]
    return lines
