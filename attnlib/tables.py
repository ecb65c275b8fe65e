"""The one Markdown table writer, and the one way a number is written in a table or a line.

    >>> print(markdown_table(["run", "mIoU"], [["unet", fmt_number(0.81234)]], align="lr"))
    | run | mIoU |
    | --- | ---: |
    | unet | 0.8123 |
    >>> (fmt_mean_sd(0.7945, 0.0012), fmt_mean_sd(0.0021, None, sign=True),
    ...  fmt_interval(-0.001, 0.0034))
    ('0.7945 ± 0.0012', '+0.0021 ± n/a', '[-0.0010, +0.0034]')

Used by the metrics tables (:func:`attnlib.metrics.format_table`), the paper's tables and claims,
a run's summary, the batch summary and ``describe()``.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

MISSING = "n/a"  # what a table says for a number that is not there (never "nan")


def fmt_number(x, digits: int = 4, sign: bool = False, missing: str = MISSING) -> str:
    """``x`` with ``digits`` decimals (``sign``: always a sign, ``+0.0012``), or ``missing`` for
    None, nan and inf."""
    if x is None or not math.isfinite(x):
        return missing
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def fmt_mean_sd(mean, sd, digits: int = 4, sign: bool = False) -> str:
    """``"0.7945 ± 0.0012"``; ``"0.7945 ± n/a"`` for one seed; ``"n/a"`` for none (``sign``:
    ``+0.0012``)."""
    return (
        MISSING if mean is None else f"{fmt_number(mean, digits, sign)} ± {fmt_number(sd, digits)}"
    )


def fmt_interval(lo, hi, digits: int = 4) -> str:
    """``"[-0.0012, +0.0034]"``, or ``"n/a"`` without an interval."""
    return (
        MISSING
        if lo is None
        else f"[{fmt_number(lo, digits, True)}, {fmt_number(hi, digits, True)}]"
    )


def markdown_table(header: Sequence, rows: Iterable[Sequence], align: str | None = None) -> str:
    """A Markdown table: one line per row, cells as ``str()`` gives them (``""`` stays blank).

    ``align``: one letter per column, ``"l"`` (left, the default) or ``"r"`` (right: numbers).
    """
    align = align or "l" * len(header)
    if len(align) != len(header):
        raise ValueError(f"align {align!r} has {len(align)} letters for {len(header)} columns")

    def line(cells) -> str:
        return "| " + " | ".join(str(c) for c in cells) + " |"

    return "\n".join(
        [line(header), line("---:" if a == "r" else "---" for a in align), *map(line, rows)]
    )
