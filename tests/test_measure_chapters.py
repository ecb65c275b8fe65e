"""scripts/measure_chapters.py and the page that quotes it (book/time_and_compute.md): the grid's
times come from the current laptop grid (results/laptop), in step with its records, and every
pause that the grid's log records inside a run's wall time is flagged (and no other shows)."""

import importlib.util
import json
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "measure_chapters", ROOT / "scripts" / "measure_chapters.py"
)
measure = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(measure)
TIMES = json.loads((ROOT / "book" / "_data" / "chapter_times.json").read_text())


def _epoch_excess(run: str) -> float:
    """How much longer than the run's median epoch its longest epoch took (seconds)."""
    seconds = json.loads((measure.GRID / run / "run.json").read_text())["history"]["seconds"]
    return max(seconds) - statistics.median(seconds)


def test_the_page_reads_the_current_grid_in_step_with_its_records():
    assert measure.GRID == ROOT / "results" / "laptop"
    grid = TIMES["laptop_grid"]
    assert grid["source"].startswith("results/laptop/")
    fresh = measure.grid_records()
    assert grid["runs"] == fresh, (
        "book/_data/chapter_times.json is out of step with results/laptop: "
        "python scripts/measure_chapters.py --grid-only"
    )
    assert "laptop_v0" not in (ROOT / "book" / "time_and_compute.md").read_text()


def test_every_logged_pause_is_flagged_and_shows_in_its_record():
    runs = measure.grid_records()
    flagged = {name for name, r in runs.items() if r["paused_seconds"]}
    assert flagged == set(measure.LOGGED_PAUSES) and flagged <= set(runs)
    for name in runs:
        if name in flagged:  # the pause sits in one epoch's time
            assert _epoch_excess(name) >= 0.9 * runs[name]["paused_seconds"], name
        else:  # an epoch five minutes over the median would be a pause the log does not record
            assert _epoch_excess(name) < 300, f"{name}: a pause that LOGGED_PAUSES does not flag"
    log = (measure.GRID / "README.md").read_text()
    assert "11:13-11:33" in log and all(f"`{name}`" in log for name in flagged)
