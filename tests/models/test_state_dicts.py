"""State dicts across versions: what attnlib 0.1 saved still loads, and a seed draws the same
weights.

The fixture holds, for every model and gate at widths (1, 1, 1, 1, 1), the state dict that
attnlib 0.1.0 (commit f38495e, before UNet and UNet++ shared their decoder cell) built right
after ``torch.manual_seed(0)``, and its output on a fixed input.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch

from attnlib.checkpoints import load_run
from attnlib.models import NestedNode, build_model

FIXTURE = Path(__file__).parent / "fixtures" / "attnlib_0.1_state_dicts.json.gz"
RESULTS = Path(__file__).resolve().parents[2] / "results"
NAMES = [f"{m}-{g}" for m in ("unet", "unetpp") for g in ("none", "sse", "additive")]
TINY = (1, 1, 1, 1, 1)


@pytest.fixture(scope="module")
def old() -> dict:
    with gzip.open(FIXTURE, "rt") as f:
        return json.load(f)


def _build(name: str, seed: int) -> torch.nn.Module:
    model, gate = name.split("-")
    torch.manual_seed(seed)
    return build_model(model, gate=gate, widths=TINY).eval()


@pytest.mark.parametrize("name", NAMES)
def test_the_same_seed_draws_the_same_initial_weights_as_before(old, name):
    state, saved = _build(name, seed=0).state_dict(), old["models"][name]["state"]
    assert list(state) == list(saved)  # the same keys, in the same order
    assert all(state[k].tolist() == saved[k] for k in state)  # bit for bit


@pytest.mark.parametrize("name", NAMES)
def test_an_old_state_dict_loads_and_computes_the_same(old, name):
    model = _build(name, seed=1)  # other weights, then the old ones loaded
    current = model.state_dict()
    model.load_state_dict(
        {
            k: torch.tensor(v, dtype=current[k].dtype)
            for k, v in old["models"][name]["state"].items()
        }
    )
    with torch.no_grad():
        out = model(torch.tensor(old["input"]))
    torch.testing.assert_close(
        out, torch.tensor(old["models"][name]["output"]), rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("run", ["unet_sse_s0", "unet_additive_s0"])
def test_the_committed_weights_load(run):
    rec, model = load_run(RESULTS / "laptop_v0" / run)  # model.pt only: strict load of the 0.1 keys
    assert rec["config"]["gate"] == run.split("_")[1] and not model.training
    with torch.no_grad():
        assert model(torch.rand(1, 1, 32, 32)).shape == (1, 2, 32, 32)


def test_a_unet_level_is_a_node_with_one_skip_over_the_registered_parts():
    model = build_model("unet", gate="sse", widths=(4, 8, 16, 32, 64))
    for i, level in enumerate(model.levels):
        assert isinstance(level, NestedNode) and len(level.gates) == 1
        assert (
            level.up is model.up[i]
            and level.gates[0] is model.gates[i]
            and level.conv is model.decoder[i]
        )
    assert not any(k.startswith("levels") for k in model.state_dict())  # nothing registered twice
    assert all(
        isinstance(node, NestedNode)
        for node in build_model("unetpp", widths=(4, 8, 16, 32, 64)).nodes.values()
    )
