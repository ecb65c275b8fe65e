"""attnlib.tables: the Markdown table writer and the one number formatter (never "nan")."""

import numpy as np
import pytest

from attnlib.tables import fmt_interval, fmt_mean_sd, fmt_number, markdown_table


def test_fmt_number_digits_sign_and_missing():
    assert fmt_number(0.81234) == "0.8123" and fmt_number(0.81234, digits=2) == "0.81"
    assert (
        fmt_number(0.0012, sign=True) == "+0.0012" and fmt_number(-0.0012, sign=True) == "-0.0012"
    )
    assert fmt_number(3) == "3.0000"
    for missing in (None, float("nan"), np.float32("nan"), float("inf")):
        assert fmt_number(missing) == "n/a"
    assert fmt_number(None, missing="") == ""


def test_mean_sd_and_interval():
    assert fmt_mean_sd(0.7945, 0.0012) == "0.7945 ± 0.0012"
    assert fmt_mean_sd(0.7945, None) == "0.7945 ± n/a" and fmt_mean_sd(None, None) == "n/a"
    assert fmt_mean_sd(0.0021, 0.001, sign=True) == "+0.0021 ± 0.0010"
    assert (
        fmt_interval(-0.0012, 0.0034) == "[-0.0012, +0.0034]" and fmt_interval(None, None) == "n/a"
    )


def test_markdown_table_aligns_and_checks_its_columns():
    text = markdown_table(["run", "mIoU"], [["unet", "0.8123"]], align="lr")
    assert text.splitlines() == ["| run | mIoU |", "| --- | ---: |", "| unet | 0.8123 |"]
    with pytest.raises(ValueError, match="2 letters for 3 columns"):
        markdown_table(["a", "b", "c"], [], align="lr")


def test_the_metrics_table_writes_numbers_the_same_way():
    from attnlib.metrics import format_table

    text = format_table(
        {"unet": {"mean_iou": 0.81234, "vrand": float("nan"), "epochs": 3}}, digits=3
    )
    assert text.splitlines()[-1] == "| unet | 0.812 | n/a | 3 |"
