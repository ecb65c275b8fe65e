"""Checks for notebook 07 (training)."""
import numpy as np

from ._core import correct, expect


def check_mean_of_last(fn):
    """``fn(evals, k)``: mean test mIoU of the last k evaluations."""
    evals = [{"epoch": e, "test": {"mean_iou": v}} for e, v in enumerate([0.5, 0.7, 0.6, 0.8, 0.9], 1)]
    for k, want in [(1, 0.9), (2, 0.85), (5, 0.7)]:
        got = fn(evals, k)
        expect(got is not None, "mean_of_last returned None: return a number.")
        expect(np.isclose(got, want), f"mean_of_last(evals, {k}) gave {got}, expected {want}: average the last k "
                                       f"entries' e['test']['mean_iou'].")
    correct("the last-k average smooths the noise without looking for the best epoch.")


def check_optimism(value, record):
    """Paper-protocol mIoU minus honest mIoU of ``record``."""
    s = record["summary"]
    want = s["paper_protocol"]["test"]["mean_iou"] - s["honest"]["test"]["mean_iou"]
    expect(isinstance(value, (int, float, np.floating)), f"optimism is {type(value).__name__}: compute a number.")
    expect(np.isclose(value, want), f"optimism = {value}, expected {want:.6f}: "
                                    "record['summary'][protocol]['test']['mean_iou'], paper_protocol minus honest.")
    expect(want >= 0, "the best-on-test epoch can never score below the honest one on the test slices.")
    correct(f"choosing on the test slices adds {want:+.4f} mIoU here.")
