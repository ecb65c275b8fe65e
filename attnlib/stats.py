"""Statistics over seeds: mean and sd, runs paired by seed, the t interval, and the verdict rule.

One number per run and seed (a test mIoU, say) is all these take. A claim "A beats B" is judged
on the differences ``A[seed] - B[seed]`` over the seeds both have::

    >>> d = paired_difference({0: 0.81, 1: 0.83, 2: 0.82}, {0: 0.80, 1: 0.81, 2: 0.81})
    >>> d["n"], round(d["mean"], 4), verdict(d)
    (3, 0.0133, 'holds')

Used by :mod:`attnlib.paper` (the claims), :mod:`attnlib.batch.summary` and chapter 08.
"""

from __future__ import annotations

import numpy as np

__all__ = ["VERDICT_RULE", "mean_sd", "per_seed", "t_interval", "paired_difference", "verdict"]

VERDICT_RULE = (
    'For each claim "A beats B" we pair the runs by seed (same seed: same crops, same '
    "augmentation, same initial draw where the shapes allow), take the differences A - B, and "
    "give their mean with a 95% interval from the t distribution (n - 1 degrees of freedom). "
    'The verdict is "holds" when the whole interval lies above 0, "reversed" when it lies '
    'below 0, and "too small to tell at this scale" otherwise. With fewer than two paired '
    'seeds there is no interval: "n/a".'
)


def mean_sd(values) -> tuple[float | None, float | None]:
    """Mean and sample sd of ``values``: ``None`` for what cannot be computed (no values; sd of
    one)."""
    v = np.asarray(list(values), dtype=float)
    return (float(v.mean()) if len(v) else None), (float(v.std(ddof=1)) if len(v) > 1 else None)


def per_seed(
    rows: list[dict], config: str, protocol: str, metric: str = "mean_iou"
) -> dict[int, float]:
    """``{seed: value}`` of one configuration under one protocol, from per-seed rows
    (``attnlib.batch.summary.collect``)."""
    return {
        r["seed"]: r[metric] for r in rows if r["config"] == config and r["protocol"] == protocol
    }


def t_interval(values, level: float = 0.95) -> tuple[float, float]:
    """The ``level`` confidence interval of the mean of ``values`` (n >= 2) from the t
    distribution with n - 1 degrees of freedom: mean -/+ t * sd / sqrt(n)."""
    from scipy import stats

    v = np.asarray(list(values), dtype=float)
    if len(v) < 2:
        raise ValueError(f"a t interval needs at least two values, got {len(v)}")
    mean, sd = float(v.mean()), float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1)) * sd / np.sqrt(len(v))
    return mean - half, mean + half


def paired_difference(a: dict, b: dict, level: float = 0.95) -> dict:
    """Mean, sd and ``level`` t-interval of ``a[seed] - b[seed]`` over the seeds both have:
    ``{"n", "seeds", "mean", "sd", "lo", "hi"}`` (None where it cannot be computed)."""
    seeds = sorted(set(a) & set(b))
    d = np.array([a[s] - b[s] for s in seeds], dtype=float)  # (n,) one difference per paired seed
    mean, sd = mean_sd(d)
    out = {"n": len(d), "seeds": seeds, "mean": mean, "sd": sd, "lo": None, "hi": None}
    if len(d) >= 2:
        out["lo"], out["hi"] = t_interval(d, level)
    return out


def verdict(diff: dict) -> str:
    """The verdict of :data:`VERDICT_RULE` on a :func:`paired_difference`."""
    if diff["lo"] is None:
        return "n/a"
    if diff["lo"] > 0:
        return "holds"
    if diff["hi"] < 0:
        return "reversed"
    return "too small to tell at this scale"
