"""attnlib.paper: the claims tested on per-seed rows, the tables beside the paper's numbers, no
nan in them.

The statistics themselves (paired differences, t intervals, the verdict rule) are tested in
test_stats.py."""

import numpy as np
import pytest

from attnlib import paper, stats


def _rows(values: dict, protocol="honest"):
    return [
        {"config": c, "seed": s, "protocol": protocol, "mean_iou": v}
        for c, vs in values.items()
        for s, v in enumerate(vs)
    ]


def test_claims_table_says_na_never_nan():
    one_seed = _rows({c: [0.8] for c in paper.PAPER_RESULTS})
    claims = paper.check_claims(one_seed, "honest")
    assert all(c["verdict"] == "n/a" and c["label"] == "laptop, n=1" for c in claims)
    text = paper.claims_table(claims)
    assert "nan" not in text and "n/a" in text


def test_check_claims_reports_whether_the_papers_difference_is_inside():
    values = {c: [0.80, 0.81, 0.80, 0.82, 0.81] for c in paper.PAPER_RESULTS}
    values["unet_sse"] = [
        v + 0.0015 + e for v, e in zip(values["unet"], [0.001, -0.001, 0.0005, -0.0005, 0.0])
    ]
    claim = paper.check_claims(_rows(values), "honest")[0]
    assert claim["claim"] == "attention improves UNet" and claim["label"] == "laptop, n=5"
    assert claim["verdict"] == "holds" and claim["paper_inside"] is True
    assert paper.check_claims(_rows(values), "paper_protocol")[0]["verdict"] == "not run"


def test_claims_summary_covers_the_claims_a_grid_has():
    values = {c: [0.80, 0.81, 0.80] for c in ("unet", "unet_sse")}
    rows = _rows(values) + _rows(values, protocol="paper_protocol")
    text, claims = paper.claims_summary(rows)
    assert [c["claim"] for c in claims] == ["attention improves UNet"] * 2  # honest, then paper's
    assert stats.VERDICT_RULE in text and "laptop, n=3" in text and "nan" not in text
    assert paper.claims_summary(_rows({"unet": [0.8]})) == ("", [])


def test_check_claims_gives_each_sides_mean_and_sd():
    claim = paper.check_claims(_rows({"unet_sse": [0.80, 0.82], "unet": [0.79, 0.79]}), "honest")[0]
    assert claim["better_mean"] == pytest.approx(0.81) and claim["better_sd"] == pytest.approx(
        np.sqrt(2e-4)
    )
    assert claim["worse_sd"] == pytest.approx(0.0)
    one = paper.check_claims(_rows({"unet_sse": [0.80], "unet": [0.79]}), "honest")[0]
    assert one["better_sd"] is None and "0.8000 ± n/a" in paper.claims_table([one])


def test_results_table_labels_scale_and_seeds_and_never_prints_nan():
    rows = _rows({"unet": [0.80, 0.82, 0.81]}) + _rows({"unet": [0.81]}, protocol="paper_protocol")
    for r in rows:
        r.update({m: r["mean_iou"] for m in paper.METRICS4})
    text = paper.results_table(rows, ["unet", "unetpp"])
    assert "ours, honest (laptop, n=3)" in text and "ours, paper protocol (laptop, n=1)" in text
    assert "0.8100 ± 0.0100" in text and "n/a" in text and "nan" not in text
    assert "0.8028" in text and "0.7976" in text  # the paper's rows, ours or not


def test_optimism_is_paper_protocol_minus_honest_per_run():
    from attnlib.protocols import optimism

    rows = _rows({"unet": [0.80, 0.81]}) + _rows({"unet": [0.805, 0.81]}, protocol="paper_protocol")
    assert optimism(rows) == pytest.approx({("unet", 0): 0.005, ("unet", 1): 0.0})
    assert optimism(_rows({"unet": [0.8]})) == {}
