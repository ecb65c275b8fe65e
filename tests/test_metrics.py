"""Tests for attnlib.metrics and attnlib.isbi_metrics against independent computations."""

import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from skimage.metrics import adapted_rand_error

from attnlib.isbi_metrics import (
    check_inputs,
    ground_truth_cells,
    isbi_scores,
    segmentation_scores,
    thinned_segments,
)
from attnlib.metrics import (
    METRICS,
    class_scores,
    confusion,
    evaluate,
    format_table,
    isbi_vinfo,
    isbi_vrand,
    mean_iou,
    pixel_accuracy,
    vinfo_class,
    vrand_class,
)


# ------------------------------------------------- the paper's utils.evaluate, restated
def reference_evaluate(pred, label, alpha=0.5):
    """utils.py::evaluate of AllenXuuu/CS420-Machine-Learning, restated loop by loop.

    Classes = the values present in the label; joint[i, j] = #(pred == i and label == j)
    normalised to sum 1; eps = 1e-7 inside the logs; natural log.
    """
    k = len(np.unique(label))
    joint = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            joint[i, j] = np.logical_and(pred == i, label == j).sum()
    joint = joint / joint.sum()
    accuracy = (pred == label).mean()
    ious = []
    for c in range(k):
        inter = np.logical_and(pred == c, label == c).sum()
        ious.append(inter / ((pred == c).sum() + (label == c).sum() - inter))
    s, t, eps = joint.sum(1), joint.sum(0), 1e-7
    vrand = (joint**2).sum() / (alpha * (s**2).sum() + (1 - alpha) * (t**2).sum())
    h_s = -(s * np.log(s + eps)).sum()
    h_t = -(t * np.log(t + eps)).sum()
    mutual = (joint * np.log(joint + eps)).sum() + h_s + h_t
    vinfo = mutual / ((1 - alpha) * h_s + alpha * h_t)
    return {
        "pixel_accuracy": accuracy,
        "mean_iou": np.mean(ious),
        "vrand_class": vrand,
        "vinfo_class": vinfo,
    }


@pytest.fixture
def hand_table():
    """10 pixels. Label: 6 cell, 4 membrane. Prediction: 5 of the 6 cells right, 3 of the 4
    membranes.

    confusion (rows = prediction, columns = label) = [[3, 1], [1, 5]].
    """
    label = np.array([[0, 0, 0, 0, 1, 1, 1, 1, 1, 1]])
    pred = np.array([[0, 0, 0, 1, 0, 1, 1, 1, 1, 1]])
    return pred, label


def test_confusion_layout_and_counts(hand_table):
    cm = confusion(*hand_table)
    assert cm.dtype == np.int64
    np.testing.assert_array_equal(cm, [[3, 1], [1, 5]])  # cm[pred, label]


def test_confusion_per_image_matches_a_loop():
    rng = np.random.default_rng(0)
    pred, label = rng.integers(0, 2, (4, 9, 7)), rng.integers(0, 2, (4, 9, 7))
    per_image = confusion(pred, label, per_image=True)
    for n in range(4):
        for i in range(2):
            for j in range(2):
                assert per_image[n, i, j] == np.sum((pred[n] == i) & (label[n] == j))
    np.testing.assert_array_equal(confusion(pred, label), per_image.sum(0))


def test_class_metrics_by_hand(hand_table):
    scores = class_scores(*hand_table)
    # accuracy = (3 + 5) / 10
    assert scores["pixel_accuracy"] == pytest.approx(0.8, abs=1e-12)
    # IoU_0 = 3 / (4 + 4 - 3) = 3/5, IoU_1 = 5 / (6 + 6 - 5) = 5/7, mean = 23/35
    assert scores["mean_iou"] == pytest.approx(23 / 35, abs=1e-12)
    # p = [[.3, .1], [.1, .5]], s = t = (.4, .6): V_rand = .36 / .52 = 9/13
    assert scores["vrand_class"] == pytest.approx(9 / 13, abs=1e-12)
    # I = sum p ln p - 2 sum s ln s = -1.1682825 + 2 * 0.6730117 = 0.1777409;
    # V_info = I / H = 0.2640979
    h = -(0.4 * math.log(0.4) + 0.6 * math.log(0.6))
    mutual = 0.3 * math.log(0.3) + 2 * 0.1 * math.log(0.1) + 0.5 * math.log(0.5) + 2 * h
    assert scores["vinfo_class"] == pytest.approx(
        mutual / h, abs=1e-6
    )  # eps = 1e-7 shifts it by ~1e-7
    assert pixel_accuracy(*hand_table) == scores["pixel_accuracy"]
    assert mean_iou(*hand_table) == scores["mean_iou"]
    assert vrand_class(*hand_table) == scores["vrand_class"]
    assert vinfo_class(*hand_table) == scores["vinfo_class"]


@pytest.mark.parametrize("seed", range(6))
def test_class_metrics_equal_the_paper_reference(seed):
    rng = np.random.default_rng(seed)
    shape = (3, 20, 17)
    label = (rng.random(shape) < rng.uniform(0.05, 0.95)).astype(np.int64)
    pred = np.where(rng.random(shape) < rng.uniform(0.5, 1.0), label, 1 - label)
    ours, ref = class_scores(pred, label), reference_evaluate(pred, label)  # pooled over all pixels
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-6)
    per_image = class_scores(pred, label, per_image=True)
    for n in range(shape[0]):
        ref_n = reference_evaluate(pred[n], label[n])
        for key in ref:
            assert per_image[key][n] == pytest.approx(ref_n[key], abs=1e-6)
        assert pixel_accuracy(pred, label, per_image=True)[n] == pytest.approx(
            ref_n["pixel_accuracy"]
        )


def test_per_image_returns_arrays(hand_table):
    pred, label = hand_table
    stack_p, stack_l = np.stack([pred, label]), np.stack([label, label])  # (2, 1, 10)
    np.testing.assert_allclose(mean_iou(stack_p, stack_l, per_image=True), [23 / 35, 1.0])
    np.testing.assert_allclose(vrand_class(stack_p, stack_l, per_image=True), [9 / 13, 1.0])


def test_missing_class_gives_defined_values_where_the_reference_gives_nan():
    label = np.ones((1, 4, 4), dtype=np.int64)  # no membrane at all
    perfect = class_scores(label, label)
    assert perfect == pytest.approx(dict.fromkeys(perfect, 1.0))
    pred = label.copy()
    pred[0, 0, :2] = 0  # 2 of 16 pixels wrongly called membrane
    scores = class_scores(pred, label)
    assert all(np.isfinite(v) for v in scores.values())
    # IoU_membrane = 0 / (2 + 0 - 0) = 0, IoU_cell = 14 / 16: mean 7/16
    assert scores["mean_iou"] == pytest.approx(7 / 16)
    # p = [[0, 2/16], [0, 14/16]]:
    # V_rand = (4 + 196) / 256 / (.5 (4 + 196) / 256 + .5 * 1) = 200/228
    assert scores["vrand_class"] == pytest.approx(200 / 228)
    with warnings.catch_warnings():  # the reference: 1x1 table of zeros -> 0/0
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = reference_evaluate(pred, label)
        assert math.isnan(ref["vrand_class"]) and math.isnan(ref["vinfo_class"])
        assert ref["mean_iou"] == 0.0  # it scores the membrane class (0) only
        assert math.isnan(reference_evaluate(label, label)["mean_iou"])
    rng = np.random.default_rng(3)
    labels = np.stack([np.zeros((6, 6)), np.ones((6, 6)), rng.integers(0, 2, (6, 6))]).astype(int)
    preds = np.stack([np.zeros((6, 6)), np.zeros((6, 6)), np.ones((6, 6))]).astype(int)
    for value in class_scores(preds, labels, per_image=True).values():
        assert np.isfinite(value).all()


def test_class_table_scores_ignore_which_class_is_which():
    rng = np.random.default_rng(1)
    label = rng.integers(0, 2, (2, 10, 10))
    pred = np.where(rng.random(label.shape) < 0.8, label, 1 - label)
    assert vrand_class(pred, label) == pytest.approx(vrand_class(1 - pred, label))
    assert vinfo_class(pred, label) == pytest.approx(vinfo_class(1 - pred, label))
    assert vrand_class(1 - label, label) == pytest.approx(1.0)  # all wrong, yet "perfect"


# ----------------------------------------------------------------- ISBI scores
def strip_image(widths, membrane_columns, height=5):
    """Label image of vertical strips: 1 = cell, 0 on the given columns."""
    image = np.ones((height, sum(widths) if widths else 0), dtype=np.int64)
    image[:, membrane_columns] = 0
    return image


def test_isbi_perfect_prediction_scores_one():
    label = strip_image([11], [3, 7])
    assert isbi_vrand(label, label) == 1.0 and isbi_vinfo(label, label) == 1.0
    assert isbi_vrand(label.astype(float), label) == 1.0  # as a probability map
    assert isbi_scores(np.ones((5, 5), int), np.ones((5, 5), int))["isbi_vinfo"] == 1.0  # one cell


def test_isbi_one_pixel_gap_merging_two_cells():
    # cells of a = 5 x 3 = 15 and b = 5 x 7 = 35 pixels, membrane column 3 (width 11)
    label = strip_image([11], [3])
    pred = label.copy()
    pred[2, 3] = 1  # a one-pixel gap: both cells become one predicted segment
    # foreground table: rows (15, 35) both in one column: sum n_ij^2 = 15^2 + 35^2 = 1450,
    # sum a_i^2 = 1450, sum b_j^2 = 50^2 = 2500 -> V_rand = 2 * 1450 / (1450 + 2500) = 58/79
    assert isbi_vrand(pred, label) == pytest.approx(58 / 79, abs=1e-12)
    assert isbi_vinfo(pred, label) == pytest.approx(0.0, abs=1e-12)  # one segment: I = H(B) = 0
    # The class table barely notices: 1 wrong pixel of 55.
    assert vrand_class(pred, label) > 0.95
    # skimage counts pairs of distinct pixels:
    # (1450 - 50) / (.5 (1450 - 50) + .5 (2500 - 50)) = 8/11
    are, _, _ = adapted_rand_error(ground_truth_cells(label), thinned_segments(pred == 1))
    assert 1 - are == pytest.approx(8 / 11, abs=1e-12)


def test_isbi_gap_merging_two_of_three_cells():
    # cells of 10 (cols 0-1), 15 (cols 3-5) and 20 (cols 7-10); gap in column 2 merges the first two
    label = strip_image([11], [2, 6])
    pred = label.copy()
    pred[2, 2] = 1
    # V_rand = 2 (10^2 + 15^2 + 20^2) / ((10^2 + 15^2 + 20^2) + (25^2 + 20^2)) = 1450 / 1750 = 29/35
    assert isbi_vrand(pred, label) == pytest.approx(29 / 35, abs=1e-12)
    # every GT cell lies in one segment, so H(A, B) = H(A) and I = H(B):
    # V_info = 2 H(B) / (H(A) + H(B))
    h_a = -sum(k / 45 * math.log(k / 45) for k in (10, 15, 20))
    h_b = -sum(k / 45 * math.log(k / 45) for k in (25, 20))
    assert isbi_vinfo(pred, label) == pytest.approx(2 * h_b / (h_a + h_b), abs=1e-12)


def test_isbi_border_pixels_inside_a_cell_are_singletons():
    # GT: cells of 10 (cols 0-1) and 25 (cols 3-7). The prediction adds a membrane in column 5,
    # splitting the big cell into 10 + 10 with 5 line pixels, each its own segment.
    label = strip_image([8], [2])
    pred = strip_image([8], [2, 5])
    segments = thinned_segments(pred == 1)
    assert (segments[:, [2, 5]] == 0).all() and (segments[:, [0, 1, 3, 4, 6, 7]] > 0).all()
    # sum n_ij^2 = 10^2 + 10^2 + 10^2 + 5 * 1^2 = 305, sum a^2 = 10^2 + 25^2 = 725, sum b^2 = 305
    assert isbi_vrand(pred, label) == pytest.approx(2 * 305 / (725 + 305), abs=1e-12)
    # each predicted segment is inside one GT cell: H(A, B) = H(B), I = H(A)
    h_a = -sum(k / 35 * math.log(k / 35) for k in (10, 25))
    h_b = -3 * (10 / 35 * math.log(10 / 35)) + 5 * (1 / 35) * math.log(35)
    assert isbi_vinfo(pred, label) == pytest.approx(2 * h_a / (h_a + h_b), abs=1e-12)


def test_isbi_is_robust_to_membrane_width():
    label = strip_image([11], [5])
    thick = strip_image([11], [4, 5, 6])  # predicted membrane 3 pixels wide
    assert isbi_vrand(thick, label) == 1.0 and isbi_vinfo(thick, label) == 1.0
    assert pixel_accuracy(thick, label) < 1.0
    thick_label = strip_image([11], [4, 5, 6])
    thin = strip_image([11], [5])
    assert isbi_vrand(thin, thick_label) == 1.0


def test_thinned_lines_separate_segments_and_are_one_pixel_wide():
    rng = np.random.default_rng(0)
    cells = rng.random((40, 40)) > 0.45
    segments = thinned_segments(cells)
    for a, b in [(segments[1:], segments[:-1]), (segments[:, 1:], segments[:, :-1])]:
        touching = (a > 0) & (b > 0)
        assert (a[touching] == b[touching]).all()  # different segments never touch
    line = segments == 0
    assert not line[cells].any()  # lines only on predicted membrane
    assert (thinned_segments(np.zeros((4, 4), bool)) == 1).all()  # no cell: one segment


def test_isbi_threshold_sweep_and_best_threshold():
    label = strip_image([11], [2, 6])
    prob = np.where(label == 1, 0.75, 0.35)  # exact for 0.4 <= t < 0.75
    value, threshold = isbi_vrand(prob, label, return_threshold=True)
    assert (value, threshold) == (1.0, 0.4)  # the first best threshold
    out = isbi_scores(prob, label)
    # t <= 0.3 (all cell) and t >= 0.8 (no cell): one segment,
    # V_rand = 2 * 725 / (725 + 45^2) = 29/55
    assert out["per_threshold"][0.0][0] == pytest.approx(29 / 55)
    assert out["per_threshold"][0.9][0] == pytest.approx(29 / 55)
    assert list(out["per_threshold"]) == [i / 10 for i in range(10)]
    assert list(isbi_scores(label, label)["per_threshold"]) == [0.0]  # class map: one threshold
    assert isbi_vinfo(prob, label, thresholds=[0.0, 0.9]) == pytest.approx(0.0)


def test_isbi_averages_slices_before_choosing_the_threshold():
    label = strip_image([11], [3])
    gap = label.copy()
    gap[2, 3] = 1
    stack_pred, stack_label = np.stack([label, gap]), np.stack([label, label])
    assert isbi_vrand(stack_pred, stack_label) == pytest.approx((1 + 58 / 79) / 2, abs=1e-12)
    rng = np.random.default_rng(5)
    prob, labels = rng.random((3, 16, 16)), rng.integers(0, 2, (3, 16, 16))
    assert isbi_scores(prob, labels, workers=1) == isbi_scores(prob, labels, workers=3)  # threads


def brute_force_scores(gt_cells, segments):
    """V_rand by counting ordered pixel pairs, V_info from a dense joint histogram.

    Only GT-foreground pixels; each border pixel (segment 0) gets a label of its own.
    """
    fg = gt_cells > 0
    gt, seg = gt_cells[fg], segments[fg].copy()
    seg[seg == 0] = -1 - np.arange((seg == 0).sum())  # singletons
    same_gt = gt[:, None] == gt[None, :]
    same_seg = seg[:, None] == seg[None, :]
    vrand = 2 * (same_gt & same_seg).sum() / (same_gt.sum() + same_seg.sum())

    def entropy(*labels):
        _, counts = np.unique(np.stack(labels), axis=1, return_counts=True)
        p = counts / counts.sum()
        return -(p * np.log(p)).sum()

    h_a, h_b = entropy(gt), entropy(seg)
    return vrand, 2 * (h_a + h_b - entropy(gt, seg)) / (h_a + h_b)


@pytest.mark.parametrize("seed", range(4))
def test_segmentation_scores_equal_brute_force(seed):
    rng = np.random.default_rng(seed)
    label = (rng.random((14, 15)) > 0.35).astype(int)
    cells = np.where(rng.random(label.shape) < 0.85, label, 1 - label).astype(bool)
    gt, segments = ground_truth_cells(label), thinned_segments(cells)
    assert (segments == 0).any() and len(np.unique(gt)) > 3  # lines and several cells present
    np.testing.assert_allclose(
        segmentation_scores(gt, segments), brute_force_scores(gt, segments), atol=1e-12
    )


def test_isbi_no_foreground_and_nan_free():
    membrane = np.zeros((6, 6), dtype=np.int64)
    assert segmentation_scores(ground_truth_cells(membrane), np.ones((6, 6), int)) == (1.0, 1.0)
    rng = np.random.default_rng(2)
    out = isbi_scores(rng.random((2, 12, 12)), rng.integers(0, 2, (2, 12, 12)))
    assert all(np.isfinite(v) for k, v in out.items() if k != "per_threshold")


# ------------------------------------------------------------- evaluate and checks
def test_evaluate_perfect_and_probability_threshold():
    label = strip_image([11], [3, 7])
    for prediction in (label, label.astype(bool), label.astype(np.float32)):
        out = evaluate(prediction, label)
        assert tuple(out) == METRICS and all(type(v) is float for v in out.values())
        assert out == pytest.approx(dict.fromkeys(METRICS, 1.0))
    prob = np.where(label == 1, 0.9, 0.5)  # 0.5 is not > 0.5: membrane, like argmax
    assert evaluate(prob, label)["pixel_accuracy"] == 1.0


def test_input_errors():
    label = strip_image([11], [3])
    with pytest.raises(ValueError, match=r"shape \(5, 10\).*\(5, 11\)"):
        evaluate(label[:, :10], label)
    with pytest.raises(ValueError, match=r"0 \(membrane\) or 1 \(cell\).*255.*png > 0"):
        evaluate(label, label * 255)
    with pytest.raises(ValueError, match=r"\[0, 1\].*1\.5.*softmax"):
        evaluate(label * 1.5, label)
    with pytest.raises(ValueError, match="NaN"):
        evaluate(np.full(label.shape, np.nan), label)
    with pytest.raises(ValueError, match="class-map prediction values must be 0 or 1"):
        pixel_accuracy(label * 2, label)
    with pytest.raises(ValueError, match="integer or bool"):
        evaluate(label, label.astype(float))
    with pytest.raises(ValueError, match=r"\(N, H, W\) or \(H, W\)"):
        evaluate(label[None, None], label[None, None])
    with pytest.raises(ValueError, match="class map"):
        confusion(label.astype(float), label)
    pred, lab, is_prob = check_inputs(label.astype(bool), label.astype(bool))
    assert pred.shape == (1, 5, 11) and lab.dtype == np.int64 and not is_prob


def test_format_table():
    rows = [
        ("unet", {"mean_iou": 0.81234, "epochs": 3}),
        ("unet++", {"mean_iou": 0.8, "isbi_vrand": 0.9}),
    ]
    expected = (
        "| run | mean_iou | epochs | isbi_vrand |\n"
        "| --- | ---: | ---: | ---: |\n"
        "| unet | 0.812 | 3 |  |\n"
        "| unet++ | 0.800 |  | 0.900 |"
    )
    assert format_table(rows, digits=3) == expected
    assert format_table(dict(rows), digits=3) == expected


# ---------------------------------------------------------------- the real data
DATA = Path(
    os.environ.get("ATTNLIB_DATA", Path(__file__).resolve().parents[2] / "shared/data/isbi2012")
)


@pytest.mark.skipif(not (DATA / "train/label/25.png").is_file(), reason="ISBI 2012 data not found")
def test_real_test_slices_perfect_prediction():
    from PIL import Image

    labels = np.stack(
        [
            (np.asarray(Image.open(DATA / f"train/label/{i}.png")) > 0).astype(np.uint8)
            for i in (25, 26)
        ]
    )
    assert evaluate(labels, labels) == pytest.approx(dict.fromkeys(METRICS, 1.0))
    flipped = labels.copy()
    flipped[:, ::7, ::7] ^= 1
    out = evaluate(flipped, labels)
    assert all(0 < v < 1 for v in out.values())
