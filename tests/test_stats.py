"""attnlib.stats: mean and sd over seeds, runs paired by seed, the t interval, the verdict rule."""

import numpy as np
import pytest

from attnlib import stats


def test_paired_difference_matches_a_hand_computed_t_interval():
    a, b = {0: 0.80, 1: 0.82, 2: 0.81}, {0: 0.79, 1: 0.80, 2: 0.80}
    d = stats.paired_difference(a, b)
    diffs = np.array([0.01, 0.02, 0.01])
    half = 4.302652729911275 * diffs.std(ddof=1) / np.sqrt(3)  # t_{0.975, 2}
    assert d["n"] == 3 and d["mean"] == pytest.approx(diffs.mean())
    assert (d["lo"], d["hi"]) == pytest.approx((diffs.mean() - half, diffs.mean() + half))


def test_pairs_only_the_seeds_both_have():
    d = stats.paired_difference({0: 1.0, 1: 2.0, 2: 3.0}, {1: 1.0, 2: 1.5, 7: 0.0})
    assert d["seeds"] == [1, 2] and d["mean"] == pytest.approx(1.25)


@pytest.mark.parametrize(
    "lo, hi, want",
    [
        (0.001, 0.01, "holds"),
        (-0.01, -0.001, "reversed"),
        (-0.01, 0.01, "too small to tell at this scale"),
        (None, None, "n/a"),
    ],
)
def test_verdict_rule(lo, hi, want):
    assert stats.verdict({"lo": lo, "hi": hi}) == want


def test_mean_sd_says_none_for_what_cannot_be_computed():
    assert stats.mean_sd([0.7, 0.8, 0.9]) == pytest.approx((0.8, 0.1))
    assert stats.mean_sd([0.8]) == (0.8, None)  # no sd of one seed
    assert stats.mean_sd([]) == (None, None)
    assert stats.mean_sd(v for v in (1.0, 3.0)) == pytest.approx((2.0, np.sqrt(2)))  # any iterable


def test_per_seed_picks_one_configuration_and_protocol():
    rows = [
        {"config": "unet", "protocol": "honest", "seed": 0, "mean_iou": 0.8},
        {"config": "unet", "protocol": "paper_protocol", "seed": 0, "mean_iou": 0.9},
        {"config": "unet_sse", "protocol": "honest", "seed": 0, "mean_iou": 0.7},
        {"config": "unet", "protocol": "honest", "seed": 3, "mean_iou": 0.85},
    ]
    assert stats.per_seed(rows, "unet", "honest") == {0: 0.8, 3: 0.85}


def test_t_interval_widens_with_the_level_and_needs_two_values():
    lo95, hi95 = stats.t_interval([1.0, 2.0, 3.0])
    lo99, hi99 = stats.t_interval([1.0, 2.0, 3.0], level=0.99)
    assert (lo95 + hi95) / 2 == pytest.approx(2.0) and lo99 < lo95 < hi95 < hi99
    assert hi95 - 2.0 == pytest.approx(
        4.302652729911275 / np.sqrt(3)
    )  # t_{0.975, 2} * sd / sqrt(n), sd = 1
    with pytest.raises(ValueError, match="at least two values"):
        stats.t_interval([1.0])


def test_one_paired_seed_has_a_mean_and_no_interval():
    d = stats.paired_difference({0: 0.81, 1: 0.5}, {0: 0.80})
    assert d["n"] == 1 and d["mean"] == pytest.approx(0.01) and d["sd"] is None and d["lo"] is None
    assert stats.verdict(d) == "n/a"
    assert stats.paired_difference({0: 1.0}, {1: 1.0})["mean"] is None  # no seed in common
