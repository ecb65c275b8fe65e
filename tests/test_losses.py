"""Tests for attnlib.losses: each loss against an independent computation."""

import math

import pytest
import torch
import torch.nn.functional as F

from attnlib.losses import LOSSES, build_loss, ce_dice, cross_entropy, seed_dice, soft_dice
from attnlib.names import LOSS_ALIASES

ALL_LOSSES = [cross_entropy, seed_dice, soft_dice, ce_dice]


@pytest.fixture
def tiny():
    """One image of 1 x 2 pixels, worked by hand.

    pixel 0: logits (0, ln 3) -> probs (1/4, 3/4), target 1 (cell)
    pixel 1: logits (0, 0)    -> probs (1/2, 1/2), target 0 (membrane)
    """
    logits = torch.tensor([[[[0.0, 0.0]], [[math.log(3.0), 0.0]]]], dtype=torch.float64)
    target = torch.tensor([[[1, 0]]])
    return logits, target


@pytest.fixture
def batch():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 2, 8, 8, generator=generator, dtype=torch.float64) * 3
    target = torch.randint(0, 2, (3, 8, 8), generator=generator)
    return logits, target


# ------------------------------------------------------------- hand-worked values
def test_cross_entropy_by_hand(tiny):
    # CE = -(ln 3/4 + ln 1/2) / 2 = ln(8/3) / 2 = 0.49041...
    assert cross_entropy(*tiny).item() == pytest.approx(math.log(8 / 3) / 2, abs=1e-12)


def test_seed_dice_by_hand(tiny):
    # intersection = 3/4 + 1/2 = 5/4, sum p = 2, sum onehot = 2: 1 - 2 (5/4) / 4 = 3/8,
    # and 1 - mean true-class probability = 1 - (3/4 + 1/2) / 2 = 3/8 as well.
    assert seed_dice(*tiny).item() == pytest.approx(3 / 8, abs=1e-12)


def test_soft_dice_by_hand(tiny):
    # smooth = 1.  class 0: inter 1/2, sum p 3/4, sum y 1 -> (1 + 1) / (3/4 + 1 + 1) = 8/11
    #              class 1: inter 3/4, sum p 5/4, sum y 1 -> (3/2 + 1) / (5/4 + 1 + 1) = 10/13
    # loss = 1 - (8/11 + 10/13) / 2 = 36/143 = 0.25175
    assert soft_dice(*tiny).item() == pytest.approx(36 / 143, abs=1e-12)


def test_soft_dice_squared_by_hand(tiny):
    # squared (V-Net): class 0: sum p^2 = 1/16 + 1/4 = 5/16 -> 2 / (5/16 + 2) = 32/37
    #                  class 1: sum p^2 = 9/16 + 1/4 = 13/16 -> (5/2) / (13/16 + 2) = 8/9
    # loss = 1 - (32/37 + 8/9) / 2 = 41/333
    assert soft_dice(*tiny, squared=True).item() == pytest.approx(41 / 333, abs=1e-12)


def test_ce_dice_is_the_weighted_sum(tiny):
    expected = math.log(8 / 3) / 2 + 0.3 * 36 / 143
    assert ce_dice(*tiny, dice_weight=0.3).item() == pytest.approx(expected, abs=1e-12)
    assert ce_dice(*tiny, dice="seed").item() == pytest.approx(
        math.log(8 / 3) / 2 + 3 / 8, abs=1e-12
    )


# ------------------------------------------------------------ general properties
def test_cross_entropy_equals_torch(batch):
    logits, target = batch
    assert torch.allclose(cross_entropy(logits, target), F.cross_entropy(logits, target))
    weight = torch.tensor([2.0, 0.5], dtype=torch.float64)
    assert torch.allclose(
        cross_entropy(logits, target, weight=weight), F.cross_entropy(logits, target, weight=weight)
    )


def paper_dice_loss(score, label):
    """The paper's code's DiceLoss.forward, restated: global sums over classes and pixels."""
    prob = torch.softmax(score, 1)
    onehot = F.one_hot(label, 2).permute(0, 3, 1, 2)
    return 1 - 2 * (prob * onehot).sum() / (prob.sum() + onehot.sum())


def test_seed_dice_is_one_minus_mean_true_class_probability(batch):
    logits, target = batch
    p_true = torch.softmax(logits, 1).gather(1, target[:, None]).squeeze(1)
    assert torch.allclose(seed_dice(logits, target), 1 - p_true.mean())
    assert torch.allclose(seed_dice(logits, target), paper_dice_loss(logits, target))


def test_soft_dice_is_not_seed_dice(batch):
    assert not torch.allclose(soft_dice(*batch), seed_dice(*batch))


def test_soft_dice_confident_right_and_wrong(batch):
    _, target = batch
    right = (F.one_hot(target, 2).permute(0, 3, 1, 2).double() * 2 - 1) * 30  # +-30 logits
    assert soft_dice(right, target).item() < 1e-3
    assert seed_dice(right, target).item() < 1e-3
    assert soft_dice(-right, target).item() > 0.99
    assert seed_dice(-right, target).item() > 0.99


def test_soft_dice_with_an_absent_class_is_defined():
    target = torch.ones(1, 4, 4, dtype=torch.long)  # no membrane anywhere
    logits = torch.zeros(1, 2, 4, 4)
    logits[:, 1] = 30.0
    loss = soft_dice(logits, target)
    assert torch.isfinite(loss) and loss.item() < 1e-3  # absent class: Dice (0 + 1) / (0 + 1) = 1
    with pytest.raises(ValueError, match="smooth"):
        soft_dice(logits, target, smooth=0.0)


@pytest.mark.parametrize("loss_fn", ALL_LOSSES)
def test_gradients_are_finite(loss_fn, batch):
    logits, target = batch
    for scale in (1.0, 100.0):  # also very confident logits
        x = (logits * scale).detach().requires_grad_()
        loss = loss_fn(x, target)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("loss_fn", ALL_LOSSES)
def test_list_of_heads_gives_the_mean_of_per_head_losses(loss_fn, batch):
    logits, target = batch
    heads = [logits, logits * 0.5, -logits, logits + 1]
    expected = sum(loss_fn(h, target) for h in heads) / len(heads)
    assert torch.allclose(loss_fn(heads, target), expected)
    assert torch.allclose(loss_fn(tuple(heads), target), expected)
    x = [h.clone().requires_grad_() for h in heads]
    loss_fn(x, target).backward()
    assert all(torch.isfinite(h.grad).all() for h in x)


# -------------------------------------------------------------------- validation
@pytest.mark.parametrize("loss_fn", ALL_LOSSES)
def test_input_errors(loss_fn, batch):
    logits, target = batch
    with pytest.raises(ValueError, match=r"4-D \(B, C, H, W\).*unsqueeze"):
        loss_fn(logits[0], target)
    with pytest.raises(ValueError, match=r"\(3, 1, 8, 8\).*squeeze\(1\)"):
        loss_fn(logits, target[:, None])
    with pytest.raises(ValueError, match=r"\(3, 7, 8\) does not match logits shape \(3, 2, 8, 8\)"):
        loss_fn(logits, target[:, :7])
    with pytest.raises(ValueError, match=r"\{0\.\.1\}.*max 255.*png > 0"):
        loss_fn(logits, target * 255)
    with pytest.raises(ValueError, match="min -1"):
        loss_fn(logits, target - 1)
    with pytest.raises(ValueError, match="integer class indices.*long"):
        loss_fn(logits, target.float())
    with pytest.raises(ValueError, match="C >= 2"):
        loss_fn(logits[:, :1], target)
    with pytest.raises(ValueError, match="empty list"):
        loss_fn([], target)
    with pytest.raises(ValueError, match=r"\(3, 7, 8\)"):  # every head is checked
        loss_fn([logits, logits[:, :, :7]], target)


def test_uint8_targets_and_bfloat16_logits(batch):
    logits, target = batch
    assert torch.allclose(soft_dice(logits, target.to(torch.uint8)), soft_dice(logits, target))
    half = logits.to(torch.bfloat16)
    assert soft_dice(half, target).dtype == torch.float32  # Dice sums are taken in float32
    assert soft_dice(half, target).item() == pytest.approx(
        soft_dice(half.double(), target).item(), abs=1e-5
    )


# -------------------------------------------------------------------- build_loss
def test_build_loss_names_and_aliases(tiny):
    for name in ["ce", "CE", "cross_entropy", "crossentropy", "CrossEntropy"]:
        assert build_loss(name)(*tiny).item() == pytest.approx(math.log(8 / 3) / 2)
    assert build_loss("dice")(*tiny).item() == pytest.approx(3 / 8)  # the paper's "Dice"
    assert build_loss("seed-dice")(*tiny).item() == pytest.approx(3 / 8)
    assert build_loss("soft_dice", squared=True)(*tiny).item() == pytest.approx(41 / 333)
    assert build_loss("ce_dice", dice_weight=0.3)(*tiny).item() == pytest.approx(
        math.log(8 / 3) / 2 + 0.3 * 36 / 143
    )
    assert set(LOSSES) == {"cross_entropy", "seed_dice", "soft_dice", "ce_dice"}
    assert set(LOSS_ALIASES.values()) <= set(LOSSES)


def test_build_loss_errors():
    with pytest.raises(
        ValueError, match="unknown loss 'focal'.*ce, ce_dice, cross_entropy.*soft_dice"
    ):
        build_loss("focal")
    with pytest.raises(ValueError, match="soft_dice.*smoth"):
        build_loss("soft_dice", smoth=1.0)
    with pytest.raises(ValueError, match="'soft' or 'seed'"):
        build_loss("ce_dice", dice="hard")(
            torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long)
        )
