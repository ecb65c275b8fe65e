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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m attnlib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("data", help="verify the ISBI 2012 files, downloading what is missing into the cache")
    p.add_argument("--root", default=None, help="data folder (default: $ATTNLIB_DATA or the user cache)")
    p.add_argument("--download", action="store_true", help="also download into a folder you named")
    p.set_defaults(func=_data)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
