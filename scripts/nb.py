"""Notebook sources -> the two editions of the course notebooks.

The notebooks are written as jupytext "percent" scripts in ``notebooks/src/``
(easy to diff and review). One source gives two editions:

- the **instructor edition** ``notebooks/NN_name.ipynb`` (what the book builds
  and nbval tests): every cell except those tagged ``task``;
- the **student edition** ``notebooks/student/NN_name.ipynb``: every cell
  except those tagged ``solution``, without outputs.

An exercise is a ``task`` cell (a stub that raises ``NotImplementedError``), a
``solution`` cell (tagged ``solution`` and ``hide-cell``: folded in the book)
and a check cell after both. Each edition holds exactly one of the two, so a
student's answer is never overwritten by the solution. The answers to the
conceptual questions are Markdown cells tagged ``solution``.

Usage::

    python scripts/nb.py build [NAMES] [--execute | --keep-outputs]
    python scripts/nb.py student [NAMES]     # make student
    python scripts/nb.py check               # exit 1 if a notebook is stale

``--execute`` runs the instructor notebook (nbclient, working directory
``notebooks/``) and stores its outputs, which nbval compares for the cells
marked ``# NBVAL_CHECK_OUTPUT``; build with ``ATTNLIB_PROFILE=smoke``.
``--keep-outputs`` keeps the stored outputs of the cells whose source did not
change (07 and 08 keep the outputs of real runs).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import sys
from pathlib import Path

import jupytext
import nbformat
from nbconvert.preprocessors import TagRemovePreprocessor

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "notebooks" / "src"
OUT = ROOT / "notebooks"
STUDENT = OUT / "student"
HIDDEN = {"hide-cell", "hide-input"}  # folded in the book and in JupyterLab
METADATA = {
    "kernelspec": {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    },
    "language_info": {"name": "python"},
}
REMOVE = {"instructor": "task", "student": "solution"}


def sources(names=None) -> list[Path]:
    if names:
        return [SRC / f"{Path(n).stem}.py" for n in names]
    return sorted(SRC.glob("[0-9][0-9]_*.py"))


def read_source(path: Path) -> nbformat.NotebookNode:
    """The source as a notebook: jupytext's cells, tags only, stable ids."""
    nb = jupytext.read(path, fmt="py:percent")
    seen: dict[str, int] = {}
    for cell in nb.cells:
        tags = list(cell.metadata.get("tags", []))
        cell.metadata = {"tags": tags} if tags else {}
        if HIDDEN & set(tags):
            cell.metadata["jupyter"] = {"source_hidden": True}
        key = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode())
        cid = key.hexdigest()[:8]
        seen[cid] = seen.get(cid, 0) + 1
        cell.id = cid if seen[cid] == 1 else f"{cid}-{seen[cid]}"
    nb.metadata = copy.deepcopy(METADATA)
    return nb


def edition(nb: nbformat.NotebookNode, which: str) -> nbformat.NotebookNode:
    """The instructor or student edition of a source notebook."""
    remove = TagRemovePreprocessor(remove_cell_tags={REMOVE[which]})
    remove.enabled = True
    out, _ = remove.preprocess(copy.deepcopy(nb), {})
    if which == "student":
        for cell in out.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
    nbformat.validate(out)
    return out


def build(path: Path, which: str) -> nbformat.NotebookNode:
    return edition(read_source(path), which)


def target(path: Path, which: str) -> Path:
    folder = OUT if which == "instructor" else STUDENT
    return folder / f"{path.stem}.ipynb"


def keep_outputs(nb, old) -> int:
    """Copy outputs from ``old`` to the cells of ``nb`` with the same source."""
    stored = {}
    for cell in old.cells:
        if cell.cell_type == "code":
            stored.setdefault(cell.source, cell)
    kept = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source in stored:
            cell.outputs = stored[cell.source].outputs
            cell.execution_count = stored[cell.source].execution_count
            kept += 1
    return kept


def execute(nb, timeout=900):
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(OUT)}},
    )
    client.execute()
    return nb


def same_cells(a, b) -> bool:
    """Same cells (type, source, metadata, id), outputs aside."""

    def key(nb):
        return [(c.cell_type, c.source, dict(c.metadata), c.get("id")) for c in nb.cells]

    return key(a) == key(b) and a.metadata.get("kernelspec") == b.metadata.get("kernelspec")


def stale() -> list[str]:
    """The committed notebooks that are out of step with their sources."""
    out = []
    for src in sources():
        for which in ("instructor", "student"):
            path = target(src, which)
            if not path.exists():
                out.append(f"{path.relative_to(ROOT)} (missing)")
                continue
            if not same_cells(build(src, which), nbformat.read(path, 4)):
                out.append(str(path.relative_to(ROOT)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("command", choices=["build", "student", "check"])
    ap.add_argument("names", nargs="*", help="source stems (default: all)")
    ap.add_argument("--execute", action="store_true", help="run, store outputs")
    ap.add_argument(
        "--keep-outputs",
        action="store_true",
        help="keep the stored outputs of unchanged code cells",
    )
    args = ap.parse_args(argv)
    if args.command == "check":
        bad = stale()
        for name in bad:
            print(f"out of step with notebooks/src: {name}")
        if bad:
            print("rebuild: python scripts/nb.py build ... && make student")
        return 1 if bad else 0
    which = "instructor" if args.command == "build" else "student"
    for src in sources(args.names):
        nb, path, note = build(src, which), target(src, which), ""
        if which == "instructor" and args.execute:
            execute(nb)
            note = " (executed)"
        elif which == "instructor" and args.keep_outputs and path.exists():
            kept = keep_outputs(nb, nbformat.read(path, as_version=4))
            note = f" ({kept} code cells kept their outputs)"
        path.parent.mkdir(exist_ok=True)
        nbformat.write(nb, path)
        print(f"{src.relative_to(ROOT)} -> {path.relative_to(ROOT)}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
