"""Time each course notebook on this machine: ``python scripts/measure_chapters.py``.

Writes ``book/_data/chapter_times.json``, which ``book/time_and_compute.md`` quotes
(every number on that page comes from this file or from ``results/laptop_profile/*/run.json``).

* Chapters 1-6 and 8 are executed one at a time with nbclient (working directory
  ``notebooks/``, outputs discarded, the .ipynb files are not changed), with
  ``ATTNLIB_PROFILE=laptop``, the reader's setting. For each it records the wall time, the
  CPU time of the kernel process (``RUSAGE_CHILDREN``) and the 1-minute load average
  sampled every 2 s while it ran: a load well above the cores in use means the machine
  was shared with other work and the wall time is longer than on an idle machine.
* Chapter 7 trains a network; executing it here would take as long as a training run. Its
  time is taken from the records of the current laptop profile's five-seed grid,
  ``results/laptop/*/run.json`` (``environment.wall_seconds``), as is the time of the whole
  grid that chapter 8 reads. Chapter 8 itself only reads those records, so it is also
  executed and timed.
* A run whose wall time includes a pause logged in ``results/laptop/README.md`` (the batch
  stopped with SIGSTOP while other work was measured) is flagged with the pause's length
  (:data:`LOGGED_PAUSES`); the page leaves those runs out of the per-run ranges and gives
  the grid's hours with and without the pauses.

Options: ``--only 01_data 02_unet`` to time some notebooks (the others keep their old
entries), ``--grid-only`` to rewrite only the grid's part (when runs land; no notebook is
executed), ``--out PATH``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
OUT = ROOT / "book" / "_data" / "chapter_times.json"
EXECUTED = [
    "01_data",
    "02_unet",
    "03_unetpp",
    "04_attention",
    "05_losses",
    "06_metrics",
    "08_ablations",
]
GRID = ROOT / "results" / "laptop"  # the current laptop profile's five-seed grid
GRID_COMMAND = "python -m attnlib batch experiments/laptop.yaml --out results/laptop --jobs 2"
# Pauses that results/laptop/README.md's Log records inside a run's wall time:
# {run: (seconds, why)}.
LOGGED_PAUSES = {
    run: (
        20 * 60,
        "the whole batch paused (SIGSTOP) 2026-12-01 11:13-11:33 while the chapter "
        "times and a CI run were measured",
    )
    for run in ("unetpp_s0", "unetpp_sse_s0")
}


def _load1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def time_notebook(name: str, timeout: int = 1800) -> dict:
    import nbformat
    from nbclient import NotebookClient

    path = NB_DIR / f"{name}.ipynb"
    raw = path.read_bytes()
    nb = nbformat.reads(raw.decode(), as_version=4)
    samples: list[float] = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            samples.append(_load1())
            stop.wait(2.0)

    load_before = _load1()
    cpu0, t0 = _children_cpu(), time.monotonic()
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    error = None
    try:
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(NB_DIR)}},
        ).execute()
    except Exception as exc:  # record it, keep timing the others
        error = (
            f"{type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else ''}"
        )
    finally:
        stop.set()
        thread.join()
    wall, cpu = time.monotonic() - t0, _children_cpu() - cpu0
    n_code = sum(c.cell_type == "code" for c in nb.cells)
    return {
        "notebook": f"notebooks/{name}.ipynb",
        "sha256": hashlib.sha256(raw).hexdigest(),
        "code_cells": n_code,
        "wall_seconds": round(wall, 1),
        "kernel_cpu_seconds": round(cpu, 1),
        "load1_before": load_before,
        "load1_mean": round(sum(samples) / len(samples), 2) if samples else load_before,
        "load1_max": max(samples) if samples else load_before,
        "error": error,
    }


def grid_records(grid: Path = GRID) -> dict:
    """One entry per run record of the grid: its times, whether it resumed, and the logged
    pause its wall time includes (``paused_seconds``, 0 for none)."""
    runs = {}
    for p in sorted(grid.glob("*/run.json")):
        rec = json.loads(p.read_text())
        env = rec["environment"]
        paused, why = LOGGED_PAUSES.get(p.parent.name, (0, None))
        runs[p.parent.name] = {
            "record": str(p.relative_to(ROOT)),
            "model": rec["config"]["model"],
            "gate": rec["config"]["gate"],
            "wall_seconds": round(env["wall_seconds"], 1),
            "train_seconds": round(env["train_seconds"], 1),
            "eval_seconds": round(env["eval_seconds"], 1),
            "cpu_threads": env["cpu_threads"],
            "dtype": rec["fast_path"]["dtype"],
            "resumed": rec.get("resumed_from") is not None,
            "complete": bool(rec.get("complete")),
            "paused_seconds": paused,
            "pause": why,
        }
    return runs


def grid_section() -> dict:
    return {
        "source": f"{GRID.relative_to(ROOT)}/*/run.json (environment.*_seconds)",
        "log": f"{GRID.relative_to(ROOT)}/README.md",
        "command": GRID_COMMAND,
        "runs": grid_records(),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--only",
        nargs="*",
        default=None,
        help="notebook names to time (default: all executed ones)",
    )
    ap.add_argument(
        "--grid-only", action="store_true", help="rewrite only the grid's part; execute nothing"
    )
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.grid_only:
        record = json.loads(args.out.read_text())
        record["laptop_grid"] = grid_section()
        args.out.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote the grid's part of {args.out} ({len(record['laptop_grid']['runs'])} runs)")
        return 0
    os.environ["ATTNLIB_PROFILE"] = "laptop"
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    old = json.loads(args.out.read_text()) if args.out.exists() else {}
    chapters = dict(old.get("chapters", {}))
    for name in args.only or EXECUTED:
        print(f"timing {name} ...", flush=True)
        chapters[name] = time_notebook(name)
        print(f"  {json.dumps(chapters[name])}", flush=True)
    import torch

    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    cpu_model = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    record = {
        "what": "wall time of executing each course notebook once, one at a time "
        "(scripts/measure_chapters.py)",
        "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": commit,
        "profile": "laptop",
        "machine": {
            "cpu": cpu_model,
            "cores": os.cpu_count(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
        },
        "chapters": {k: chapters[k] for k in sorted(chapters)},
        "laptop_grid": grid_section(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
