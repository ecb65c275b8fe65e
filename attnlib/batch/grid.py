"""The batch's grid: the paper's configurations times seeds, and what each run's folder says.

``python -m attnlib batch experiments/paper.yaml --out results/`` reads a grid such as::

    profile: paper
    seeds: [0, 1, 2]
    runs:
      unet:     {model: unet}
      unet_sse: {model: unet, gate: sse}
    slurm: {partition: gpu, timeout_min: 720}     # optional, for --executor slurm

and runs ``notebooks/07_training.ipynb`` once per (run, seed) into ``results/<run>_s<seed>/``
(:mod:`attnlib.batch.run`). The batch knows its runs: a run is skipped only when its
``run.json`` is complete *and* records the config the grid asks for now (:func:`run_state`); a
complete run recorded with other settings stops the batch, unless ``rerun_changed``
(:func:`plan_batch`). Invalid parameters (``crop: 100``) are reported before anything is
submitted and never submitted; a run that failed in its job is submitted again by the next
batch (a timed-out or preempted one resumes from its checkpoint).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from attnlib.batch.executors import job_state
from attnlib.batch.slurm import check_slurm_options
from attnlib.batch.jobs import BatchError, read_json

GRID_KEYS = ("profile", "seeds", "runs", "slurm")
TODO_STATES = (
    "not started",
    "failed",
    "interrupted",
)  # what a batch submits (and "changed" with rerun_changed)
WAITING_STATES = ("queued", "running", "submitted")  # jobs of an earlier batch: not submitted twice

__all__ = ["read_grid", "read_slurm", "run_state", "plan_batch", "batch_status", "format_status"]


def _load_grid(path) -> dict:
    """The grid file as a mapping with ``runs`` and only the keys of GRID_KEYS, else a
    BatchError."""
    try:
        grid = yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise BatchError(
            f"cannot read the grid file {path}: {err.strerror} (see experiments/paper.yaml)."
        ) from None
    except yaml.YAMLError as err:
        raise BatchError(f"{path} is not valid YAML: {str(err).splitlines()[0]}.") from None
    if not isinstance(grid, dict) or not isinstance(grid.get("runs"), dict):
        raise BatchError(
            f"{path}: expected a mapping with 'runs: {{name: {{param: value}}}}' "
            "(see experiments/paper.yaml)."
        )
    unknown = sorted(set(grid) - set(GRID_KEYS))
    if unknown:
        raise BatchError(f"{path}: unknown key(s) {unknown}: a grid has {list(GRID_KEYS)}.")
    return grid


def read_grid(path) -> list[dict]:
    """Expand a grid file into runs: ``{"name", "config", "params"}`` (params as papermill gets
    them).

    The profile is resolved here (the grid's, else $ATTNLIB_PROFILE, else by this machine) and
    passed to every run explicitly, so a GPU node runs what the login node planned.
    """
    from attnlib.config import resolve_profile

    grid = _load_grid(path)
    profile = resolve_profile(grid.get("profile") or None)
    runs = []
    for seed in grid.get("seeds", [0]):
        for name, params in grid["runs"].items():
            params = {"profile": profile, **(params or {}), "seed": seed}
            runs.append({"name": f"{name}_s{seed}", "config": name, "params": params})
    return runs


def read_slurm(path) -> dict:
    """The grid's ``slurm:`` block (attnlib.batch.slurm.SLURM_KEYS), checked; {} when there is
    none."""
    return check_slurm_options(_load_grid(path).get("slurm"), str(path))


def asked_config(run: dict, run_dir: Path) -> tuple[dict, dict]:
    """The effective config (as a dict) that the grid asks for this run, and the profile's
    changes."""
    from attnlib.config import make_config

    params = {k: v for k, v in run["params"].items() if k != "profile"}
    out_dir = str(Path(run_dir).resolve())
    config, changes = make_config(run["params"].get("profile") or None, **params, out_dir=out_dir)
    return config.to_dict(), changes


def differing_fields(rec: dict, asked: dict, changes: dict, run: dict) -> list[str]:
    """The fields where a record's config is not the asked one (``config_mismatch``), less those
    that the profile sets by device (the paper profile's fast path on CUDA) and the grid leaves
    open:
    a login node without a GPU plans what a GPU node ran."""
    from attnlib.config import PROFILES, config_mismatch

    fixed = set(PROFILES.get(run["params"].get("profile"), {})) | set(run["params"])
    by_device = (set(rec.get("profile_changes") or {}) | set(changes)) - fixed
    return [
        f
        for f in config_mismatch(rec.get("config") or {}, asked)
        if f not in by_device and not took_asked_path(rec, asked, f)
    ]


AUTO_PATH = {
    "amp": "auto",
    "channels_last": None,
}  # the fast path's fields and their "decide" value


def took_asked_path(rec: dict, asked: dict, field: str) -> bool:
    """Whether a record left ``amp``/``channels_last`` to the fast path and it took exactly what the
    grid now sets (a grid that names the path its runs took still knows them)."""
    if field not in AUTO_PATH or (rec.get("config") or {}).get(field, "unset") != AUTO_PATH[field]:
        return False
    return (
        asked.get(field) not in (None, "auto")
        and (rec.get("fast_path") or {}).get(field) == asked[field]
    )


def run_state(out, run: dict) -> dict:
    """What ``out/<name>/`` says about one run of the grid:
    ``{"name", "state", "detail", "fields"}``.

    state: complete | changed (recorded with other settings: ``fields``) | invalid (parameters
    make_config rejects) | failed | interrupted | not started | queued | running | submitted
    """
    run_dir = Path(out) / run["name"]
    state = {"name": run["name"], "state": "", "detail": "", "fields": []}
    try:
        asked, changes = asked_config(run, run_dir)
    except (TypeError, ValueError) as err:
        return {**state, "state": "invalid", "detail": f"invalid parameters: {err}"}
    rec = read_json(run_dir / "run.json")
    if rec is not None:
        fields = differing_fields(rec, asked, changes, run)
        if fields:
            was = ", ".join(f"{f}={rec['config'].get(f, '<missing>')!r}" for f in fields)
            now = ", ".join(f"{f}={asked.get(f, '<missing>')!r}" for f in fields)
            return {
                **state,
                "state": "changed",
                "fields": fields,
                "detail": f"recorded {was}; the grid asks {now}",
            }
        if rec.get("complete"):
            return {**state, "state": "complete"}
    name, detail = job_state(run_dir)
    return {**state, "state": name, "detail": detail}


def foreign_runs(out, runs: list[dict]) -> list[str]:
    """Folders under ``out`` that hold a run (params.yaml or run.json) that is none of ``runs``."""
    names, out = {r["name"] for r in runs}, Path(out)
    if not out.is_dir():
        return []
    return sorted(
        p.name
        for p in out.iterdir()
        if p.is_dir()
        and p.name not in names
        and ((p / "params.yaml").exists() or (p / "run.json").exists())
    )


def plan_batch(out, runs: list[dict], rerun_changed: bool = False) -> dict:
    """Sort the grid's runs by state:
    ``{"todo", "rerun", "skipped", "waiting", "invalid", "states"}``.

    Raises BatchError when ``out`` holds another grid's runs, or a run recorded with other
    settings (unless ``rerun_changed``: those go to "todo" and "rerun", to be cleared first).
    """
    foreign = foreign_runs(out, runs)
    if foreign:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        raise BatchError(
            f"{out} holds runs that are not in this grid ({', '.join(foreign[:3])}{more}): "
            "use another --out, or the grid that made them."
        )
    states = [run_state(out, r) for r in runs]
    changed = [s for s in states if s["state"] == "changed"]
    if changed and not rerun_changed:
        what = "; ".join(f"{Path(out) / s['name']} ({', '.join(s['fields'])})" for s in changed)
        raise BatchError(
            f"runs were recorded with other settings than the grid asks for: {what}: "
            "pass --rerun-changed to overwrite them, or use another --out."
        )
    by = {s["name"]: s["state"] for s in states}

    def pick(*names):
        return [r for r in runs if by[r["name"]] in names]

    return {
        "todo": pick(*TODO_STATES, "changed"),
        "rerun": pick("changed"),
        "skipped": pick("complete"),
        "waiting": pick(*WAITING_STATES),
        "states": states,
        "invalid": [
            {"name": s["name"], "ok": False, "error": s["detail"]}
            for s in states
            if s["state"] == "invalid"
        ],
    }


def batch_status(grid_path, out) -> list[dict]:
    """The state of every run of the grid (see :func:`run_state`), from the run folders and
    SLURM."""
    runs = read_grid(grid_path)
    return plan_batch(out, runs, rerun_changed=True)["states"]


def format_status(states: list[dict]) -> list[str]:
    """Lines for ``batch --status``: one per run (name, state, detail), then the counts."""
    width = max([len(s["name"]) for s in states] or [1])
    lines = [f"{s['name']:<{width}}  {s['state']:<11}  {s['detail']}".rstrip() for s in states]
    counts: dict[str, int] = {}
    for s in states:
        counts[s["state"]] = counts.get(s["state"], 0) + 1
    return lines + [
        f"{len(states)} runs: " + ", ".join(f"{n} {state}" for state, n in counts.items())
    ]
