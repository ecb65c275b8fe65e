"""Command line: ``python -m attnlib data | train | batch | grade`` (see ``--help``)."""

from __future__ import annotations

import argparse
import sys

# The slurm options the command line overrides, as --partition, --gpus-per-node, ...: (key of
# attnlib.batch.slurm.SLURM_KEYS, type, help); signal_delay_s and setup come from the grid only.
SLURM_FLAGS = (
    ("partition", str, "partition"),
    ("account", str, "account"),
    ("qos", str, "quality of service"),
    ("constraint", str, "node constraint"),
    ("gpus_per_node", int, "GPUs per job (default 1)"),
    ("cpus_per_task", int, "CPU cores per job (default 8)"),
    ("mem_gb", float, "memory per job (default 32)"),
    ("timeout_min", int, "minutes per job (default 1440; local too)"),
    ("array_parallelism", int, "jobs of the array at once (default all)"),
)


def _data(args) -> int:
    from attnlib.data import DataError, fetch_isbi2012

    try:
        folder = fetch_isbi2012(
            args.root, download=True if args.download else None, progress=sys.stderr.isatty()
        )
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"ISBI 2012 data: 90 files verified in {folder}")
    return 0


def _parse_value(key: str, text: str):
    """A ``--set`` value, typed by the Config field it sets.

    A text field takes the text as it is (YAML would read ``amp=off`` as False); any other
    field is read as YAML: "5" -> 5, "1e-3" -> 0.001, "[16, 32]" -> a list, "true" -> True."""
    import typing

    import yaml

    from attnlib.config import Config

    hints = typing.get_type_hints(Config)
    if hints.get(key) is str:
        return text
    return yaml.safe_load(text)


def _show_fast_path() -> None:
    """Print the fast-path decision (attnlib.probe logs it) in one line when it is made."""
    import logging

    logger = logging.getLogger("attnlib.probe")
    for old in [h for h in logger.handlers if getattr(h, "attnlib_cli", False)]:
        logger.removeHandler(old)  # an earlier call's, bound to an earlier sys.stdout
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.attnlib_cli = True
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _train(args) -> int:
    import json

    from attnlib.config import make_config, profile_reason, resolve_profile
    from attnlib.data import DataError
    from attnlib.train import fit

    params = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"error: --set takes key=value, got {item!r}", file=sys.stderr)
            return 2
        params[key] = _parse_value(key, value)
    if args.out:
        params["out_dir"] = args.out
    try:
        config, changes = make_config(args.profile, **params)
    except (TypeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(profile_reason(args.profile))
    print(f"profile {resolve_profile(args.profile)!r} changed: {changes}")
    print(f"effective config: {json.dumps(config.to_dict())}")
    _show_fast_path()
    try:
        run = fit(config, profile=resolve_profile(args.profile), profile_changes=changes)
    except (
        DataError,
        ValueError,
    ) as err:  # a missing data folder, a run folder that is another run
        print(f"error: {err}", file=sys.stderr)
        return 2
    moved = run.record.get("registration")
    if moved:
        first, last = moved["slices"][0], moved["slices"][-1]
        print(
            f"register={moved['mode']}: images moved by (dy, dx) = ({moved['shift'][0]:+.2f}, "
            f"{moved['shift'][1]:+.2f}) px, the offset measured on slices {first}-{last}"
        )
    for protocol, s in run.summary.items():
        m = s["test"]
        print(
            f"{protocol:>15}: epoch {s['epoch']}, mIoU {m['mean_iou']:.4f}, pixel acc "
            f"{m['pixel_accuracy']:.4f}, "
            f"isbi V_rand {m['isbi_vrand']:.4f}  [{s['rule']}]"
        )
    env = run.record["environment"]
    print(
        f"wall {env['wall_seconds']:.1f} s, {env['end_to_end_images_per_s']:.1f} images/s end to "
        "end, "
        f"record: {run.path}"
    )
    return 0


def _batch(args) -> int:
    from attnlib.batch.grid import batch_status, format_status, read_grid
    from attnlib.batch.jobs import BatchError
    from attnlib.batch.run import run_batch
    from attnlib.batch.summary import summarize_results

    slurm = {key: getattr(args, key) for key, _, _ in SLURM_FLAGS}
    try:
        if args.status:
            print("\n".join(format_status(batch_status(args.grid, args.out))))
            return 0
        if args.summarize:
            table = summarize_results(args.out, read_grid(args.grid))
            print(
                f"{len({r['config'] for r in table})} configurations summarized in "
                f"{args.out}/summary.md and summary.csv"
            )
            return 0
        result = run_batch(
            args.grid,
            args.out,
            executor=args.executor,
            jobs=args.jobs,
            slurm=slurm,
            wait=args.wait,
            rerun_changed=args.rerun_changed,
            log=print,
        )
    except BatchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.executor == "slurm" and not args.wait:
        print(
            f"submitted {len(result['submitted'])}, skipped {len(result['skipped'])} complete and "
            f"{len(result['waiting'])} queued or running, invalid {len(result['failed'])}; "
            "follow them with "
            f"`python -m attnlib batch {args.grid} --out {args.out} --status`, then --summarize"
        )
    else:
        print(
            f"ran {len(result['ran'])}, skipped {len(result['skipped'])} complete, failed "
            f"{len(result['failed'])}; "
            f"summary in {args.out}/summary.md"
        )
    return 1 if result["failed"] else 0


def _grade(args) -> int:
    from attnlib.grade import grade, summary_lines, write_csv

    graded = grade(args.notebooks, timeout_s=args.timeout, profile=args.profile, cwd=args.cwd)
    print("\n".join(summary_lines(graded)))
    print(f"{write_csv(graded, args.out)} rows (one per student and exercise) in {args.out}")
    return 0


def main(argv=None) -> int:
    from attnlib.config import PROFILES

    parser = argparse.ArgumentParser(prog="python -m attnlib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "data", help="verify the ISBI 2012 files, downloading what is missing into the cache"
    )
    p.add_argument(
        "--root", default=None, help="data folder (default: $ATTNLIB_DATA or the user cache)"
    )
    p.add_argument("--download", action="store_true", help="also download into a folder you named")
    p.set_defaults(func=_data)
    p = sub.add_parser(
        "train", help="train one configuration (see attnlib.config.Config for the names)"
    )
    p.add_argument(
        "--profile",
        default=None,
        help=f"{' | '.join(PROFILES)} (default: $ATTNLIB_PROFILE, else paper on CUDA and laptop "
        "on a CPU)",
    )
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a Config field"
    )
    p.add_argument(
        "--out",
        default=None,
        help="run folder (default: runs/<model>-<gate>-s<seed>-<config hash>)",
    )
    p.set_defaults(func=_train)
    p = sub.add_parser(
        "batch",
        help="run a grid of trainings with papermill, here or on SLURM (experiments/paper.yaml)",
    )
    p.add_argument("grid", help="YAML grid file")
    p.add_argument("--out", default="results", help="results folder (default: results)")
    p.add_argument(
        "--executor",
        default="local",
        help="local (here; blocks) | slurm (one job array; returns once submitted)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="local: runs at once, each on its own GPU when there are several",
    )
    p.add_argument(
        "--status",
        action="store_true",
        help="print each run's state (complete, failed, queued, ...) and exit",
    )
    p.add_argument(
        "--summarize",
        action="store_true",
        help="write summary.md and summary.csv from the finished runs and exit",
    )
    p.add_argument(
        "--wait", action="store_true", help="slurm: block until the jobs end, then summarize"
    )
    p.add_argument(
        "--rerun-changed",
        action="store_true",
        help="overwrite complete runs recorded with other settings",
    )
    for key, kind, what in SLURM_FLAGS:
        p.add_argument(
            f"--{key.replace('_', '-')}",
            type=kind,
            default=None,
            help=f"slurm: {what}; overrides the grid's slurm block",
        )
    p.set_defaults(func=_batch)
    p = sub.add_parser(
        "grade", help="run submitted student notebooks and grade their exercises into a CSV"
    )
    p.add_argument(
        "notebooks", nargs="+", metavar="NOTEBOOK", help="e.g. submissions/*/02_unet.ipynb"
    )
    p.add_argument("--out", default="grades.csv", help="the gradebook CSV (default: grades.csv)")
    p.add_argument("--timeout", type=float, default=600, help="seconds per notebook (default 600)")
    p.add_argument(
        "--profile",
        choices=PROFILES,
        default=None,
        help="the profile the notebooks run with (default: $ATTNLIB_PROFILE, else smoke)",
    )
    p.add_argument(
        "--cwd", default=None, help="the kernels' folder (default: the course's notebooks/)"
    )
    p.set_defaults(func=_grade)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
