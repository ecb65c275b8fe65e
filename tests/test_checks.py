"""Every exercise check in attnlib.checks rejects a wrong answer, and says
"not done yet" to a stub. (That each passes on the notebooks' solutions is
tested in test_student_edition.py.)"""

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnlib import checks
from attnlib.checks import CheckFailed, NotDoneYet

RECORD = {
    "summary": {
        "paper_protocol": {"test": {"mean_iou": 0.812}},
        "honest": {"test": {"mean_iou": 0.797}},
    }
}


# One plausible mistake per check: (answer, extra arguments of the check).
def _ema_without_warmup(avg, w, decay, n):
    return decay * avg + (1 - decay) * w


def _cell_fraction(labels):
    return float(np.mean(np.asarray(labels) == 1))  # the wrong class


def _rotate_image_only(image, mask, k, flip):
    image = np.rot90(image, k)
    return (image[:, ::-1] if flip else image), mask


def _interleaved_folds(n, k):  # random-like folds: not contiguous
    vals = [list(range(i, n, k)) for i in range(k)]
    return [([i for i in range(n) if i not in v], v) for v in vals]


def _doubleconv_without_batchnorm(c_in, c_out):
    return 9 * c_in * c_out + c_out + 9 * c_out * c_out + c_out


def _pooled_ceil(n, k):
    return math.ceil(n / 2**k)


def _node_inputs_without_up(i, j):
    return [f"x_{i}_{k}" for k in range(j)]


def _count_square(L):
    return (L + 1) ** 2


def _one_gate_per_node(L):
    return L * (L + 1) // 2


def _sse_alpha_only(x, w, b):
    return torch.sigmoid(torch.einsum("bchw,c->bhw", x, w)[:, None] + b)


def _one_gate_per_node_params(widths):
    L = len(widths) - 1
    return sum(widths[i] + 1 for i in range(L) for _ in range(1, L - i + 1))


def _absorb_in_place(conv, alpha, C):
    with torch.no_grad():
        conv.weight[:, -C:] *= alpha
    return conv


def _absorb_bias_too(conv, alpha, C):
    new = copy.deepcopy(conv)
    with torch.no_grad():
        new.weight[:, -C:] *= alpha
        new.bias *= alpha
    return new


def _dice_per_class(prob, onehot):
    dims = (0, 2, 3)
    inter, total = (prob * onehot).sum(dims), prob.sum(dims) + onehot.sum(dims)
    return 1 - (2 * inter / total).mean()


def _dice_one_ratio(prob, onehot, smooth=1.0):
    return 1 - 2 * (prob * onehot).sum() / (prob.sum() + onehot.sum())


def _grad_wrong_sign(logits, target):
    p = logits.softmax(dim=1)
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(p.dtype)
    p_true = (p * onehot).sum(dim=1, keepdim=True)
    return p_true * (onehot - p) / target.numel()


def _miou_no_empty_class(cm):
    cm = np.asarray(cm, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.mean(np.diag(cm) / (cm.sum(0) + cm.sum(1) - np.diag(cm))))


def _vrand_rows_only(cm):
    p = cm / cm.sum()
    return float((p**2).sum() / (p.sum(axis=1) ** 2).sum())


def _rand_with_membrane(gt_cells, segments):
    gt, seg = gt_cells.ravel(), segments.ravel()  # gt == 0 counted too
    _, n_ij = np.unique(np.stack([gt, seg]), axis=1, return_counts=True)
    _, a = np.unique(gt, return_counts=True)
    _, b = np.unique(seg, return_counts=True)
    return 2 * (n_ij**2).sum() / ((a**2).sum() + (b**2).sum())


def _train_step_no_zero_grad(model, optimizer, loss_fn, x, y):
    model.train()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def _train_step_returns_tensor(model, optimizer, loss_fn, x, y):
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def _mean_of_first(evals, k):
    return float(np.mean([e["test"]["mean_iou"] for e in evals[:k]]))


def _spread_population_sd(rows, config, protocol):
    v = [r["mean_iou"] for r in rows if r["config"] == config and r["protocol"] == protocol]
    return float(np.mean(v)), float(np.std(v))


def _best_of_max_only(n, sd, seed=0):
    rng = np.random.default_rng(seed)
    return float(rng.normal(0.80, sd, size=(200, n)).max(axis=1).mean())


WRONG = {
    "check_membrane_fraction": [(_cell_fraction, ())],
    "check_rot_flip": [(_rotate_image_only, ())],
    "check_contiguous_kfold": [(_interleaved_folds, ())],
    "check_doubleconv_params": [(_doubleconv_without_batchnorm, ())],
    "check_pooled_size": [(_pooled_ceil, ())],
    "check_node_inputs": [(_node_inputs_without_up, ())],
    "check_count_nodes": [(_count_square, ())],
    "check_count_skips": [(_one_gate_per_node, ())],
    "check_sse_forward": [(_sse_alpha_only, ())],
    "check_unetpp_sse_params": [(_one_gate_per_node_params, ())],
    "check_absorb_constant_gate": [
        (_absorb_in_place, ()),
        (_absorb_bias_too, ()),
    ],
    "check_seed_dice": [(_dice_per_class, ())],
    "check_soft_dice": [(_dice_one_ratio, ())],
    "check_seed_dice_grad": [(_grad_wrong_sign, ())],
    "check_miou_from_confusion": [(_miou_no_empty_class, ())],
    "check_vrand_from_confusion": [(_vrand_rows_only, ())],
    "check_rand_fscore": [(_rand_with_membrane, ())],
    "check_train_step": [
        (_train_step_no_zero_grad, ()),
        (_train_step_returns_tensor, ()),
    ],
    "check_mean_of_last": [(_mean_of_first, ())],
    "check_optimism": [(-0.015, (RECORD,)), ("0.015", (RECORD,))],
    "check_spread": [(_spread_population_sd, ())],
    "check_best_of": [(_best_of_max_only, ())],
    "check_ema_step": [(_ema_without_warmup, ())],
    "check_change": [({"seed": 3}, ()), ({"lr": 0.002}, ()), ({"crop": 100}, ())],
}
EXTRA = {"check_optimism": (RECORD,)}
VALUE_EXERCISES = ("check_optimism", "check_change")  # answers are values, not functions
CHECKS = sorted(n for n in checks.__all__ if n.startswith("check_"))
CASES = [
    pytest.param(name, answer, args, id=f"{name}-{i}")
    for name, answers in WRONG.items()
    for i, (answer, args) in enumerate(answers)
]


def test_every_check_has_a_wrong_answer_and_an_exercise_number():
    assert sorted(WRONG) == CHECKS
    numbers = [getattr(checks, n).exercise for n in CHECKS]
    assert len(set(numbers)) == len(numbers), "one exercise per check"


@pytest.mark.parametrize("name, answer, args", CASES)
def test_check_rejects_a_wrong_answer(name, answer, args, capsys):
    with pytest.raises(CheckFailed) as err:
        getattr(checks, name)(answer, *args)
    assert not isinstance(err.value, NotDoneYet)
    assert len(str(err.value)) > 20, "the message says what to look at"
    assert "Correct" not in capsys.readouterr().out


def _raises(*args, **kwargs):
    raise NotImplementedError("Exercise: ...")


def _returns_none(*args, **kwargs):
    return None


@pytest.mark.parametrize("name", CHECKS)
@pytest.mark.parametrize("stub", [_raises, _returns_none, None])
def test_check_says_not_done_yet_to_a_stub(name, stub):
    check = getattr(checks, name)
    if name in VALUE_EXERCISES and stub is not None:
        pytest.skip("a value exercise: its stub is None")
    with pytest.raises(NotDoneYet, match=rf"^Exercise {check.exercise} is not"):
        check(stub, *EXTRA.get(name, ()))


def _fold4_record(split="4", **config):
    folds = {"train": list(range(20)), "val": [20, 21, 22, 23, 24], "test": [25, 26, 27, 28, 29]}
    if split == "paper":
        folds = {"train": list(range(25)), "val": [], "test": folds["test"]}
    return {
        "config": {"seed": config.pop("seed", 0), "split": split, "lr": 0.004, **config},
        "split": folds,
        "evals": [{"epoch": 2, "val": {"mean_iou": 0.5, "isbi_vrand": 0.5}}],
        "environment": {"wall_seconds": 6.0, "cpu_threads": 1, "device": "cpu"},
    }


def test_confirm_fold4_only_reads_the_records_of_exercise_9_2(capsys):
    confirm = checks.ch09_beyond.confirm_fold4_only
    confirm([_fold4_record(seed=0), _fold4_record(seed=1)], {"lr": 0.004})
    assert capsys.readouterr().out.startswith("Correct")
    wrong = [
        ([_fold4_record(seed=0)], "two seeds"),
        ([_fold4_record(seed=0), _fold4_record(seed=0)], "each seed once"),
        ([_fold4_record(seed=0), _fold4_record("paper", seed=1)], "split='4'"),
        ([_fold4_record(seed=0), _fold4_record(seed=1, lr=0.002)], "does not hold your change"),
    ]
    for records, hint in wrong:
        with pytest.raises(CheckFailed, match=hint):
            confirm(records, {"lr": 0.004})
