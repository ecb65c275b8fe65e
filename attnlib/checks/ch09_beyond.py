"""Checks for notebook 09 (beyond the paper): the moving average, and a candidate of one's own
scored on fold 4 only."""

import torch

from ._core import correct, exercise, expect

FIXED_BY_THE_RULES = ("split", "seed", "out_dir", "resume", "device")  # the cell sets these
FOLD4 = {"train": list(range(20)), "val": [20, 21, 22, 23, 24], "test": [25, 26, 27, 28, 29]}


@exercise(
    "9.1",
    "write ema_step(avg, w, decay, n): the average after update n, with the warm-up "
    "d = min(decay, (1 + n) / (10 + n)) and avg <- d * avg + (1 - d) * w",
)
def check_ema_step(fn):
    """``fn(avg, w, decay, n)`` -> the new average (a tensor); compared with attnlib.ema."""
    from attnlib.ema import decay_at

    g = torch.Generator().manual_seed(0)
    for n, decay in ((1, 0.999), (20, 0.9), (5000, 0.999)):
        avg, w = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
        d = decay_at(decay, n)
        got = fn(avg.clone(), w, decay, n)
        expect(isinstance(got, torch.Tensor), "return the new average as a tensor.")
        expect(
            torch.allclose(got, d * avg + (1 - d) * w, atol=1e-6),
            f"update n={n}, decay={decay}: the decay is min(decay, (1 + n) / (10 + n)) = "
            f"{d:.4f}, and the average moves by (1 - d) toward the weights.",
        )
    correct("early updates forget the random start fast; later ones use the decay itself.")


@exercise(
    "9.2",
    "set my_change to a dict of Config fields that changes the base candidate, for example "
    '{"lr": 0.004}',
)
def check_change(change):
    """``change``: Config fields on top of the base candidate; the rules' fields are not
    the student's to set."""
    from attnlib.config import make_config

    change = change() if callable(change) else change  # a stub function: not done yet
    expect(isinstance(change, dict) and change, "my_change is a non-empty dict of Config fields.")
    fixed = sorted(set(change) & set(FIXED_BY_THE_RULES))
    expect(not fixed, f"{fixed}: the rules set these (fold 4, seeds 0 and 1); change others.")
    try:
        config, _ = make_config("laptop", gate="sse", split="4", **change)
    except (TypeError, ValueError) as err:
        expect(False, f"not a valid change: {err}")
    base, _ = make_config("laptop", gate="sse", split="4")
    expect(config != base, "this change sets what the base candidate already has.")
    correct(f"a candidate: {change}.")


def confirm_fold4_only(records, change):
    """After exercise 9.2's runs: ``records``, the run records of the candidate's seeds, were
    each trained on 0-19 and scored on fold 4, with the change in the config. Not an exercise
    answer (so not a ``check_``): it checks what the training cell made."""
    from attnlib.selection import val_row

    expect(isinstance(records, list) and len(records) >= 2, "train two seeds, 0 and 1.")
    seeds = sorted(r["config"]["seed"] for r in records)
    expect(len(set(seeds)) == len(seeds), f"seeds {seeds}: each seed once.")
    for rec in records:
        expect(rec["config"]["split"] == "4", "train with split='4' (fold 4).")
        expect(
            {k: list(v) for k, v in rec["split"].items()} == FOLD4,
            f"the record's split is {rec['split']}: expected train 0-19, validation 20-24.",
        )
        wrong = {k: v for k, v in change.items() if rec["config"].get(k) != v}
        expect(not wrong, f"the record does not hold your change {wrong}: retrain.")
        val_row(rec, "mine")  # what the selection reads: refuses a record without fold 4
    correct(f"seeds {seeds} trained on slices 0-19 and scored on fold 4 (slices 20-24).")
