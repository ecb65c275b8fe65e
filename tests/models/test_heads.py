"""attnlib.models.heads: one head or a list of them, handled in one place for the loss, the
training step and the predictor."""

from __future__ import annotations

import pytest
import torch

from attnlib.epoch import train_step
from attnlib.inference import predict
from attnlib.losses import cross_entropy
from attnlib.models import UNetPlusPlus, as_heads, build_model, mean_logits, per_head

SMALL = (4, 8, 16, 32, 64)


def _heads():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(2, 2, 8, 8, generator=g) for _ in range(4)]


def test_as_heads():
    t = torch.zeros(1, 2, 4, 4)
    assert as_heads(t) == [t] and as_heads(t)[0] is t
    heads = _heads()
    assert as_heads(heads) == heads and as_heads(tuple(heads)) == heads
    with pytest.raises(ValueError, match="empty list"):
        as_heads([])


def test_mean_logits_is_the_tensor_itself_or_the_heads_mean():
    t = torch.randn(1, 2, 4, 4)
    assert mean_logits(t) is t
    heads = _heads()
    torch.testing.assert_close(mean_logits(heads), sum(heads) / 4)
    assert torch.equal(mean_logits(heads), torch.stack(heads).mean(0))


def test_per_head_keeps_the_type():
    t = torch.randn(1, 2, 4, 4, dtype=torch.bfloat16)
    assert per_head(torch.Tensor.float, t).dtype == torch.float32
    out = per_head(torch.Tensor.float, [t, t])
    assert isinstance(out, list) and len(out) == 2 and all(o.dtype == torch.float32 for o in out)


def test_the_mean_model_is_the_mean_of_the_heads_model():
    torch.manual_seed(0)
    heads_model = UNetPlusPlus(widths=SMALL, deep_supervision="heads").eval()
    mean_model = UNetPlusPlus(widths=SMALL, deep_supervision="mean").eval()
    mean_model.load_state_dict(heads_model.state_dict())
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(mean_logits(heads_model(x)), mean_model(x))  # the same op, bit for bit


def test_loss_step_and_predictor_take_the_heads():
    torch.manual_seed(0)
    model = build_model("unetpp", widths=SMALL, deep_supervision="heads")
    x, y = torch.rand(2, 1, 32, 32), torch.randint(0, 2, (2, 32, 32))
    heads = model(x)
    expected = sum(cross_entropy(h, y) for h in heads) / 4
    torch.testing.assert_close(cross_entropy(heads, y), expected)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: the step leaves the weights
    loss = train_step(model, x, y, opt, cross_entropy, amp="off")
    torch.testing.assert_close(loss, cross_entropy(model(x), y))
    images = (torch.rand(1, 32, 32) * 255).to(torch.uint8).numpy()
    probs = predict(model, images)  # (1, 32, 32)
    model.eval()
    with torch.no_grad():
        want = mean_logits(model(torch.as_tensor(images).float().div(255)[:, None])).softmax(1)[
            :, 1
        ]
    assert probs.shape == (1, 32, 32)
    torch.testing.assert_close(torch.from_numpy(probs), want)
