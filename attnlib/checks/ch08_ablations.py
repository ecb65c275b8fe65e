"""Checks for notebook 08 (ablations)."""

import numpy as np

from ._core import correct, exercise, expect


@exercise(
    "8.1",
    "write spread(rows, config, protocol): the mean and the sample sd (ddof=1) of 'mean_iou' "
    "over the rows of that config and protocol",
)
def check_spread(fn):
    """``fn(rows, config, protocol)`` -> (mean, sample sd) of mIoU over seeds."""
    rows = [
        {"config": c, "protocol": p, "seed": s, "mean_iou": v}
        for c, p, s, v in [
            ("a", "honest", 0, 0.70),
            ("a", "honest", 1, 0.74),
            ("a", "honest", 2, 0.78),
            ("a", "paper_protocol", 0, 0.9),
            ("b", "honest", 0, 0.5),
        ]
    ]
    got = fn(rows, "a", "honest")
    expect(isinstance(got, (tuple, list)) and len(got) == 2, "return a pair (mean, sd).")
    expect(
        np.isclose(got[0], 0.74), f"mean {got[0]}: expected 0.74 (only config 'a' under 'honest')."
    )
    expect(
        np.isclose(got[1], 0.04),
        f"sd {got[1]}: expected 0.04, the sample sd (ddof=1) of 0.70, 0.74, 0.78.",
    )
    correct("mean and sample standard deviation over seeds.")


@exercise(
    "8.2",
    "write best_of(n, sd, seed): the mean over 200 repetitions of (max of n draws of N(0.80, sd) "
    "- 0.80)",
)
def check_best_of(fn):
    """``fn(n, sd, seed)``: expected optimism of taking the max of n noisy evaluations."""
    ref = float(
        (np.random.default_rng(1).normal(0, 0.005, size=(4000, 500)).max(axis=1)).mean()
    )  # ~ 3.04 sd
    got = fn(500, 0.005, 0)
    expect(
        abs(got - ref) < 0.0008,
        f"best_of(500, 0.005) = {got:.4f}; expected about {ref:.4f} "
        "(the max of 500 normal draws lies about 3 sd above the mean).",
    )
    expect(
        abs(fn(1, 0.005, 0)) < 0.001,
        "with n = 1 there is no choice, so no optimism: expected about 0.",
    )
    correct(
        f"picking the best of 500 noisy evaluations adds about {ref:.4f} mIoU that is not there."
    )
