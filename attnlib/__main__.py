"""Command line: ``python -m attnlib data | train | batch`` (see ``--help``)."""
from __future__ import annotations

import argparse
import sys


def _data(args) -> int:
    from attnlib.data import DataError, fetch_isbi2012

    try:
        folder = fetch_isbi2012(args.root, download=True if args.download else None, progress=sys.stderr.isatty())
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"ISBI 2012 data: 90 files verified in {folder}")
    return 0


def _parse_value(text: str):
    import yaml

    return yaml.safe_load(text)  # "5" -> 5, "1e-3" -> 0.001, "[16, 32]" -> list, "true" -> True


def _train(args) -> int:
    import json

    from attnlib.config import make_config, resolve_profile
    from attnlib.train import fit

    params = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"error: --set takes key=value, got {item!r}", file=sys.stderr)
            return 2
        params[key] = _parse_value(value)
    try:
        config, changes = make_config(args.profile, **params)
    except (TypeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"profile {resolve_profile(args.profile)!r} changed: {changes}")
    print(f"effective config: {json.dumps(config.to_dict())}")
    run = fit(config, profile=resolve_profile(args.profile), profile_changes=changes)
    for protocol, s in run.summary.items():
        m = s["test"]
        print(f"{protocol:>15}: epoch {s['epoch']}, mIoU {m['mean_iou']:.4f}, pixel acc {m['pixel_accuracy']:.4f}, "
              f"isbi V_rand {m['isbi_vrand']:.4f}  [{s['rule']}]")
    env = run.record["environment"]
    print(f"wall {env['wall_seconds']:.1f} s, {env['train_images_per_s']:.1f} train images/s, record: {run.path}")
    return 0


def _batch(args) -> int:
    from attnlib.experiments import run_batch

    result = run_batch(args.grid, args.out, jobs=args.jobs)
    print(f"ran {len(result['ran'])}, skipped {len(result['skipped'])} complete, failed {len(result['failed'])}; "
          f"summary in {args.out}/summary.md")
    return 1 if result["failed"] else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m attnlib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("data", help="verify the ISBI 2012 files, downloading what is missing into the cache")
    p.add_argument("--root", default=None, help="data folder (default: $ATTNLIB_DATA or the user cache)")
    p.add_argument("--download", action="store_true", help="also download into a folder you named")
    p.set_defaults(func=_data)
    p = sub.add_parser("train", help="train one configuration (see attnlib.config.Config for the names)")
    p.add_argument("--profile", default=None, help="paper | laptop | smoke (default: $ATTNLIB_PROFILE or paper)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a Config field")
    p.set_defaults(func=_train)
    p = sub.add_parser("batch", help="run a grid of trainings with papermill (experiments/paper.yaml)")
    p.add_argument("grid", help="YAML grid file")
    p.add_argument("--out", default="results", help="results folder (default: results)")
    p.add_argument("--jobs", type=int, default=1, help="runs at once (one per GPU when there are several)")
    p.set_defaults(func=_batch)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
