"""Tests of attnlib.models: shapes, gradients, exact parameter counts, gates, describe."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from attnlib.models import (
    PAPER_WIDTHS,
    AdditiveGate,
    Inspection,
    SSEGate,
    UNet,
    UNetPlusPlus,
    build_model,
    describe,
    make_gate,
)

SMALL = (4, 8, 16, 32, 64)
VARIANTS = [(m, g) for m in ("unet", "unetpp") for g in (None, "sse", "additive")]
IDS = [f"{m}-{g}" for m, g in VARIANTS]


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def small_model(name: str, gate, **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(name, gate=gate, widths=SMALL, **kwargs)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: intra-op threads only add synchronisation cost (and stall badly
    on a busy machine), so run this file single-threaded and restore afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def batch() -> torch.Tensor:
    return torch.randn(2, 1, 64, 64, generator=torch.Generator().manual_seed(1))


# ---------------------------------------------------------------- all six variants


@pytest.mark.parametrize(("name", "gate"), VARIANTS, ids=IDS)
def test_output_shape(name, gate, batch):
    assert small_model(name, gate)(batch).shape == (2, 2, 64, 64)


@pytest.mark.parametrize(("name", "gate"), VARIANTS, ids=IDS)
def test_every_parameter_gets_a_finite_gradient(name, gate, batch):
    model = small_model(name, gate)
    target = torch.randint(0, 2, (2, 64, 64), generator=torch.Generator().manual_seed(2))
    F.cross_entropy(model(batch), target).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{pname} has a non-finite gradient"


@pytest.mark.parametrize(("name", "gate"), VARIANTS, ids=IDS)
def test_state_dict_round_trip(name, gate, batch):
    model = small_model(name, gate)
    model(batch)  # update the BatchNorm running statistics
    model.eval()
    torch.manual_seed(123)
    fresh = build_model(name, gate=gate, widths=SMALL).eval()
    fresh.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(fresh(batch), model(batch), rtol=0, atol=0)


@pytest.mark.parametrize(("name", "gate"), VARIANTS, ids=IDS)
def test_attention_maps(name, gate, batch):
    model = small_model(name, gate)
    assert model.attention_maps() == {}  # nothing before the first forward
    model(batch)
    maps = model.attention_maps()
    if gate is None:
        assert maps == {}
        return
    assert len(maps) == (4 if name == "unet" else 20)
    for key, alpha in maps.items():
        level = int(key[4]) if name == "unet" else int(key.split("_")[1])
        size = 64 // 2**level
        assert alpha.shape == (2, 1, size, size), key
        assert not alpha.requires_grad
        assert ((alpha > 0) & (alpha < 1)).all(), key


# ---------------------------------------------------------------- exact counts


@pytest.mark.parametrize(
    ("cls", "gate", "expected"),
    [
        (UNet, None, 31_042_434),
        (UNet, "sse", 31_043_398),
        (UNetPlusPlus, None, 36_171_848),
        (UNetPlusPlus, "sse", 36_174_556),
        # our additive-gate configuration (F_int = C_x // 2), not in the paper
        (UNet, "additive", 32_438_918),
        (UNetPlusPlus, "additive", 38_574_684),
    ],
)
def test_paper_parameter_counts(cls, gate, expected):
    with torch.device("meta"):
        model = cls(in_channels=1, num_classes=2, widths=PAPER_WIDTHS, gate=gate)
    assert n_params(model) == expected


def test_sse_adds_c_plus_one_per_gated_skip():
    with torch.device("meta"):
        unet_extra = n_params(UNet(gate="sse")) - n_params(UNet())
        pp_extra = n_params(UNetPlusPlus(gate="sse")) - n_params(UNetPlusPlus())
    assert unet_extra == sum(c + 1 for c in PAPER_WIDTHS[:4]) == 964
    # UNet++: level i has 4 - i nodes x_i_j with j skips each: 10, 6, 3, 1 gated skips.
    assert pp_extra == sum(n * (c + 1) for n, c in zip((10, 6, 3, 1), PAPER_WIDTHS)) == 2708


# ---------------------------------------------------------------- gates


def test_sse_gate_with_zero_weights_scales_by_sigmoid_of_bias():
    gate = SSEGate(3)
    with torch.no_grad():
        gate.conv.weight.zero_()
        gate.conv.bias.fill_(0.7)
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(gate(x), x * torch.sigmoid(torch.tensor(0.7)))
    expected_alpha = torch.full((2, 1, 8, 8), torch.sigmoid(torch.tensor(0.7)).item())
    torch.testing.assert_close(gate.last_alpha, expected_alpha)


def test_additive_gate_shapes_and_parts():
    gate = AdditiveGate(x_channels=8, g_channels=16)
    assert (
        gate.theta.bias is None and gate.theta.stride == (2, 2) and gate.theta.kernel_size == (2, 2)
    )
    x, g = torch.randn(2, 8, 32, 32), torch.randn(2, 16, 16, 16)
    assert gate(x, g).shape == (2, 8, 32, 32)
    assert gate.last_alpha.shape == (2, 1, 32, 32)
    # a gating signal on another grid is resampled onto theta(x)'s grid
    assert gate(x, torch.randn(2, 16, 8, 8)).shape == (2, 8, 32, 32)


def test_make_gate_choices():
    assert isinstance(make_gate("sse", 8), SSEGate)
    assert isinstance(make_gate("additive", 8, g_channels=16), AdditiveGate)
    x = torch.randn(1, 8, 4, 4)
    assert make_gate(None, 8)(x) is x
    with pytest.raises(ValueError, match="sse"):
        make_gate("spatial", 8)
    with pytest.raises(ValueError, match="g_channels"):
        make_gate("additive", 8)


# ---------------------------------------------------------------- UNet++ deep supervision


def test_heads_mean_equals_mean_mode(batch):
    heads_model = small_model("unetpp", "sse", deep_supervision="heads").eval()
    mean_model = UNetPlusPlus(widths=SMALL, gate="sse", deep_supervision="mean").eval()
    mean_model.load_state_dict(heads_model.state_dict())
    with torch.no_grad():
        heads = heads_model(batch)
        mean = mean_model(batch)
    assert isinstance(heads, list) and len(heads) == 4
    assert all(h.shape == (2, 2, 64, 64) for h in heads)
    torch.testing.assert_close(sum(heads) / 4, mean)


@pytest.mark.parametrize(("name", "gate"), VARIANTS, ids=IDS)
@pytest.mark.parametrize("mode", ["mean", "heads"])
def test_forward_returns_one_type_per_model_as_it_declares(name, gate, mode, batch):
    model = small_model(name, gate, deep_supervision=mode)
    heads = name == "unetpp" and mode == "heads"
    assert model.returns_heads is heads
    for x in (batch, batch[:1]):  # the same type whatever the batch, in train and eval mode
        for out in (model.train()(x), model.eval()(x)):
            if heads:
                assert isinstance(out, list) and len(out) == 4
                assert all(h.shape == (len(x), 2, 64, 64) for h in out)
            else:
                assert isinstance(out, torch.Tensor) and out.shape == (len(x), 2, 64, 64)


def test_forward_takes_no_flags(batch):
    model = small_model("unet", "sse")
    with pytest.raises(TypeError):
        model(batch, return_features=True)
    with pytest.raises(TypeError):
        model(batch, return_attention=True)


def test_inspect_gives_the_features_and_the_logits_of_forward(batch):
    model = small_model("unet", None).eval()
    with torch.no_grad():
        seen = model.inspect(batch)
        logits = model(batch)
    assert isinstance(seen, Inspection) and seen.x is batch
    assert seen.features["enc4"].shape == (2, 64, 4, 4) and seen.features["dec0"].shape == (
        2,
        4,
        64,
        64,
    )
    assert list(seen.features) == [f"enc{i}" for i in range(5)] + [f"dec{i}" for i in (3, 2, 1, 0)]
    assert torch.equal(seen.logits, logits) and seen.attention == {}
    pp = small_model("unetpp", None, deep_supervision="heads").eval()
    with torch.no_grad():
        seen = pp.inspect(batch)
    assert len(seen.features) == 15 and seen.features["x_1_3"].shape == (2, 8, 32, 32)
    assert isinstance(seen.logits, list) and len(seen.logits) == 4  # what forward returns


@pytest.mark.parametrize("name", ["unet", "unetpp"])
def test_inspect_gives_maps_of_its_own_input(name):
    torch.manual_seed(0)
    model = build_model(name, gate="sse", widths=(4, 8, 16, 32, 64)).eval()
    a, b = torch.rand(2, 1, 32, 32), torch.rand(3, 1, 32, 32)
    with torch.no_grad():
        seen_a = model.inspect(a)
        model(b)  # another batch: attention_maps() now describes b
        assert all(m.shape[0] == 3 for m in model.attention_maps().values())
        assert all(m.shape[0] == 2 for m in seen_a.attention.values())  # still a's own maps
        again = model.inspect(a)
    assert len(seen_a.attention) == (4 if name == "unet" else 20)
    assert seen_a.attention.keys() == again.attention.keys() == dict(model.gated_skips()).keys()
    assert all(torch.equal(seen_a.attention[k], again.attention[k]) for k in seen_a.attention)


def test_inspect_keeps_the_graph_for_gradients_to_the_input():
    model = small_model("unet", "sse").eval()
    x = torch.rand(1, 1, 64, 64, requires_grad=True)
    seen = model.inspect(x)
    seen.features["enc1"][
        0, :, 16, 16
    ].sum().backward()  # enc1 at (16, 16): input pixels near (32, 32)
    support = x.grad[0, 0].abs() > 0
    assert support.any() and not support.all()  # a receptive field: some pixels, not all


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("name", ["unet", "unetpp"])
def test_size_not_divisible_by_16(name):
    model = small_model(name, None)
    with pytest.raises(ValueError, match=r"60x64.*divisible by 16.*pad or crop"):
        model(torch.randn(1, 1, 60, 64))


@pytest.mark.parametrize("name", ["unet", "unetpp"])
def test_wrong_channel_count(name):
    with pytest.raises(ValueError, match=r"1 input channel.*got 3"):
        small_model(name, None)(torch.randn(1, 3, 64, 64))


def test_unknown_names():
    with pytest.raises(ValueError, match="unet.*unetpp"):
        build_model("resnet")
    with pytest.raises(ValueError, match="additive"):
        build_model("unet", gate="cbam", widths=SMALL)
    with pytest.raises(ValueError, match="additive"):
        UNetPlusPlus(widths=SMALL, gate="cbam")
    with pytest.raises(ValueError, match="heads"):
        build_model("unetpp", widths=SMALL, deep_supervision="sum")
    with pytest.raises(ValueError, match="heads"):
        UNetPlusPlus(widths=SMALL, deep_supervision="max")


# ---------------------------------------------------------------- describe


@pytest.mark.parametrize(("name", "gate"), [("unet", "additive"), ("unetpp", "sse")])
def test_describe(name, gate, batch):
    model = small_model(name, gate)
    model(batch)
    alphas = model.attention_maps()
    bn_key = "encoder.0.bn1.running_mean" if name == "unet" else "encoder.x_0_0.bn1.running_mean"
    stats = model.state_dict()[bn_key].clone()
    summary = describe(model, (1, 1, 64, 64))
    assert summary.total_params == n_params(model)
    assert summary.rows[-1].name == "output" and summary.row("output").output_shape == (
        1,
        2,
        64,
        64,
    )
    assert summary.flops > 0
    # convolution FLOPs grow with the number of pixels: 2x the side, 4x the FLOPs
    assert math.isclose(describe(model, (1, 1, 128, 128)).flops / summary.flops, 4.0, rel_tol=1e-6)
    assert "output" in summary.to_markdown()
    # describe leaves the model as it was
    assert model.training
    assert all(alphas[k] is v for k, v in model.attention_maps().items())
    torch.testing.assert_close(model.state_dict()[bn_key], stats)


def test_describe_flops_of_a_single_conv():
    conv = torch.nn.Conv2d(1, 4, kernel_size=3, padding=1)
    summary = describe(conv, (1, 1, 16, 16))
    assert summary.flops == 2 * 16 * 16 * 4 * 9  # 2 FLOPs per multiply-add
    assert summary.total_params == 40
