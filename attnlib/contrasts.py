"""Named contrasts between the configurations of a grid, and what each hypothesis predicts.

A contrast "A - B" is tested like one of the paper's claims (:mod:`attnlib.stats`: paired by
seed, t interval, the verdict rule). A hypothesis predicts the sign of each contrast before the
runs: ``"+"`` (A beats B), ``"-"`` (B beats A), ``"0"`` (no difference at this scale), or two
of them (``"0-"``: none, or B beats A). A verdict is *consistent* with a prediction when its
sign is one the prediction allows ("holds" is +, "reversed" is -, "too small to tell" is 0)::

    rows = batch.summary.collect("results/augmentation")
    tested = check_contrasts(rows, AUGMENTATION_CONTRASTS, "honest", "mean_iou")
    print(contrasts_table(tested, AUGMENTATION_HYPOTHESES))

The augmentation grid (``experiments/augmentation.yaml``, chapter 08) is the one use so far.
"""

from __future__ import annotations

from typing import NamedTuple

from attnlib.stats import mean_sd, paired_difference, per_seed, verdict
from attnlib.tables import fmt_interval, fmt_mean_sd, markdown_table


class Contrast(NamedTuple):
    """``a - b`` between two configurations; ``predicts``: hypothesis -> allowed signs."""

    name: str
    a: str
    b: str
    primary: bool  # named before the runs as a test; the others are descriptive
    predicts: dict


AUGMENTATION_HYPOTHESES = {
    "short run": "a network that has not begun to overfit is hurt by what prevents "
    "overfitting: views unlike the test slices' (noise, blur, distortion) "
    "cost steps; realistic views (flips, rotations) cost little",
    "offset": "the labels sit ~0.6 px above the ridges; vertical flips and 90-degree "
    "rotations turn that offset, so a network trained on all eight views "
    "cannot learn it and draws its membranes off the test labels",
}

AUGMENTATION_CONTRASTS = (
    Contrast("b-a", "paper", "noaug", True, {"short run": "-", "offset": "-"}),
    Contrast("c-b", "upright", "paper", True, {"short run": "0", "offset": "+"}),
    Contrast("f-b", "paper_registered", "paper", True, {"short run": "0", "offset": "+"}),
    Contrast(
        "f-g", "paper_registered", "noaug_registered", True, {"short run": "-", "offset": "0+"}
    ),
    Contrast("h-f", "paper_opposite", "paper_registered", True, {"short run": "0", "offset": "-"}),
    Contrast("d-a", "photometric", "noaug", False, {"short run": "-", "offset": "0"}),
    Contrast("e-a", "geometric", "noaug", False, {"short run": "0", "offset": "-"}),
    Contrast("g-a", "noaug_registered", "noaug", False, {"short run": "0", "offset": "0"}),
)

SIGN = {"holds": "+", "reversed": "-", "too small to tell at this scale": "0"}


def check_contrast(rows: list[dict], c: Contrast, protocol: str, metric: str) -> dict:
    """One contrast on per-seed rows (``batch.summary.collect``): each side's mean and sd, the
    paired difference (``n``, ``mean``, ``sd``, ``lo``, ``hi``), the verdict and its sign
    (None without an interval), and per hypothesis whether the verdict is consistent."""
    a, b = per_seed(rows, c.a, protocol, metric), per_seed(rows, c.b, protocol, metric)
    diff = paired_difference(a, b)
    word = verdict(diff)
    sign = SIGN.get(word)
    consistent = {
        h: (None if sign is None else sign in allowed) for h, allowed in c.predicts.items()
    }
    return {
        "contrast": c.name,
        "a": c.a,
        "b": c.b,
        "primary": c.primary,
        "protocol": protocol,
        "metric": metric,
        "a_mean_sd": mean_sd(a.values()),
        "b_mean_sd": mean_sd(b.values()),
        **diff,
        "verdict": word,
        "sign": sign,
        "predicts": dict(c.predicts),
        "consistent": consistent,
    }


def check_contrasts(
    rows: list[dict], contrasts, protocol: str, metric: str = "mean_iou"
) -> list[dict]:
    """:func:`check_contrast` for each of ``contrasts``, in order."""
    return [check_contrast(rows, c, protocol, metric) for c in contrasts]


def _mark(consistent: bool | None) -> str:
    return {None: "n/a", True: "yes", False: "no"}[consistent]


def contrasts_table(tested: list[dict], hypotheses, digits: int = 4, scale: str = "laptop") -> str:
    """Markdown: per contrast, A - B (scale, n), the paired difference, its interval, the
    verdict, and per hypothesis its prediction and whether the verdict is consistent."""
    body = []
    for t in tested:
        body.append(
            [
                f"{t['contrast']}{'' if t['primary'] else '*'}: {t['a']} - {t['b']} "
                f"({scale}, n={t['n']})",
                fmt_mean_sd(t["mean"], t["sd"], digits, sign=True),
                fmt_interval(t["lo"], t["hi"], digits),
                t["verdict"],
                *(f"{t['predicts'][h]} {_mark(t['consistent'][h])}" for h in hypotheses),
            ]
        )
    header = [
        "A - B (* descriptive)",
        "Δ ± sd",
        "95% interval",
        "verdict",
        *(f"{h}: fits?" for h in hypotheses),
    ]
    return markdown_table(header, body)


def tally(tested: list[dict], hypotheses, primary_only: bool = True) -> dict:
    """Per hypothesis: how many tested contrasts (with an interval) it predicted, and of those
    how many verdicts were consistent: ``{h: (consistent, tested)}``."""
    out = {}
    for h in hypotheses:
        marks = [
            t["consistent"][h]
            for t in tested
            if (t["primary"] or not primary_only) and t["consistent"][h] is not None
        ]
        out[h] = (sum(marks), len(marks))
    return out
