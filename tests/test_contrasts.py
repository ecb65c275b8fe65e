"""Named contrasts and the hypotheses' predictions."""

from __future__ import annotations

import pytest

from attnlib import contrasts
from attnlib.contrasts import AUGMENTATION_CONTRASTS, AUGMENTATION_HYPOTHESES, Contrast


def rows_of(values: dict) -> list[dict]:
    """Per-seed rows as batch.summary.collect gives them: {config: [mIoU per seed]}."""
    return [
        {"config": cfg, "seed": s, "protocol": "honest", "mean_iou": v}
        for cfg, vs in values.items()
        for s, v in enumerate(vs)
    ]


def test_a_verdict_is_checked_against_each_prediction():
    rows = rows_of({"x": [0.80, 0.81, 0.79], "y": [0.78, 0.79, 0.77], "z": [0.80, 0.80, 0.80]})
    up = Contrast("x-y", "x", "y", True, {"one": "+", "two": "0-"})
    flat = Contrast("x-z", "x", "z", False, {"one": "+", "two": "0-"})
    t_up, t_flat = contrasts.check_contrasts(rows, [up, flat], "honest")
    assert t_up["verdict"] == "holds" and t_up["sign"] == "+"
    assert t_up["consistent"] == {"one": True, "two": False}
    assert t_up["mean"] == pytest.approx(0.02) and t_up["n"] == 3
    assert t_flat["sign"] == "0" and t_flat["consistent"] == {"one": False, "two": True}
    assert contrasts.tally([t_up, t_flat], ["one", "two"]) == {"one": (1, 1), "two": (0, 1)}
    assert contrasts.tally([t_up, t_flat], ["one", "two"], primary_only=False) == {
        "one": (1, 2),
        "two": (1, 2),
    }


def test_missing_runs_give_no_verdict_and_no_judgement():
    rows = rows_of({"paper": [0.79]})
    tested = contrasts.check_contrasts(rows, AUGMENTATION_CONTRASTS, "honest")
    assert all(t["verdict"] == "n/a" and t["sign"] is None for t in tested)
    assert all(v is None for t in tested for v in t["consistent"].values())
    table = contrasts.contrasts_table(tested, AUGMENTATION_HYPOTHESES)
    assert table.count("\n") == len(AUGMENTATION_CONTRASTS) + 1  # header, rule, one per contrast
    assert "n/a" in table and "nan" not in table


def test_the_augmentation_contrasts_name_the_grid_and_both_hypotheses():
    import yaml

    grid = yaml.safe_load(open("experiments/augmentation.yaml"))
    for c in AUGMENTATION_CONTRASTS:
        assert {c.a, c.b} <= set(grid["runs"]), c.name
        assert set(c.predicts) == set(AUGMENTATION_HYPOTHESES)
        assert all(set(p) <= set("+-0") for p in c.predicts.values())
    assert [c.name for c in AUGMENTATION_CONTRASTS if c.primary] == [
        "b-a",
        "c-b",
        "f-b",
        "f-g",
        "h-f",
    ]
    for params in grid["runs"].values():  # the fast path is set, not left to auto
        assert params["amp"] == "bf16" and params["channels_last"] is True


def test_a_table_without_hypotheses_has_no_prediction_columns():
    rows = rows_of({"paper": [0.79, 0.80], "noaug": [0.80, 0.81]})
    tested = contrasts.check_contrasts(rows, AUGMENTATION_CONTRASTS[:1], "honest")
    header = contrasts.contrasts_table(tested, ()).splitlines()[0]
    assert header.count("|") == 5 and "fits?" not in header
