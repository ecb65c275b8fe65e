"""The one Markdown table writer: the metrics tables, the claims, a run's summary, describe().

    >>> print(markdown_table(["run", "mIoU"], [["unet", "0.8123"]], align="lr"))
    | run | mIoU |
    | --- | ---: |
    | unet | 0.8123 |
"""
from __future__ import annotations

from typing import Iterable, Sequence


def markdown_table(header: Sequence, rows: Iterable[Sequence], align: str | None = None) -> str:
    """A Markdown table: one line per row, cells as ``str()`` gives them (``""`` stays blank).

    ``align``: one letter per column, ``"l"`` (left, the default) or ``"r"`` (right: numbers).
    """
    align = align or "l" * len(header)
    if len(align) != len(header):
        raise ValueError(f"align {align!r} has {len(align)} letters for {len(header)} columns")

    def line(cells) -> str:
        return "| " + " | ".join(str(c) for c in cells) + " |"

    return "\n".join([line(header), line("---:" if a == "r" else "---" for a in align), *map(line, rows)])
