"""Notebook sources -> notebooks: ``python scripts/nb.py build [NAMES...] [--execute]``.

The course notebooks are written as plain-text "percent" scripts in ``notebooks/src/`` (easy to
diff and review) and turned into ``notebooks/NN_name.ipynb`` here. Cell markers:

    # %% [markdown]                a Markdown cell; each line's leading "# " is removed
    # %%                           a code cell
    # %% tags=["parameters"]       a code cell with tags (JSON list)

``--execute`` runs the notebook (nbclient, working directory ``notebooks/``) and stores the
outputs; nbval compares the cells marked ``# NBVAL_CHECK_OUTPUT`` against them. The
environment decides the profile, e.g. ``ATTNLIB_PROFILE=smoke python scripts/nb.py build --execute``.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SRC, OUT = ROOT / "notebooks" / "src", ROOT / "notebooks"
MARK = re.compile(r"^# %%(?P<md> \[markdown\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$")


def parse(text: str) -> nbformat.NotebookNode:
    cells, kind, tags, buf = [], None, [], []

    def flush():
        if kind is None:
            return
        lines = buf[:]
        while lines and not lines[-1].strip():
            lines.pop()
        if kind == "markdown":
            src = "\n".join(ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in lines)
            cell = nbformat.v4.new_markdown_cell(src)
        else:
            cell = nbformat.v4.new_code_cell("\n".join(lines))
        if tags:
            cell.metadata["tags"] = tags
            if "hide-cell" in tags or "hide-input" in tags:
                cell.metadata["jupyter"] = {"source_hidden": True}
        cells.append(cell)

    for line in text.splitlines():
        m = MARK.match(line)
        if m:
            flush()
            kind, tags, buf = ("markdown" if m["md"] else "code"), json.loads(m["tags"]) if m["tags"] else [], []
        else:
            buf.append(line)
    flush()
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    return nb


def execute(nb, timeout=900):
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(OUT)}}).execute()
    return nb


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["build"])
    ap.add_argument("names", nargs="*", help="source stems, e.g. 01_data (default: all)")
    ap.add_argument("--execute", action="store_true", help="run and store outputs")
    args = ap.parse_args(argv)
    sources = [SRC / f"{n}.py" for n in args.names] if args.names else sorted(SRC.glob("[0-9][0-9]_*.py"))
    for src in sources:
        nb = parse(src.read_text())
        if args.execute:
            execute(nb)
        nbformat.validate(nb)
        nbformat.write(nb, OUT / f"{src.stem}.ipynb")
        print(f"{src.relative_to(ROOT)} -> notebooks/{src.stem}.ipynb{' (executed)' if args.execute else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
