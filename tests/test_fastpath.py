"""The fast path (bf16 autocast, channels_last) follows the fp32 path; the benchmark runs."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnlib.metrics import evaluate
from attnlib.models import build_model


def _losses(fast: bool, steps: int = 50):
    torch.manual_seed(0)
    model = build_model("unet", gate="sse", widths=(4, 8, 16, 32, 64))
    x, y = torch.rand(2, 1, 16, 16), (torch.rand(2, 16, 16) > 0.3).long()
    if fast:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    out = []
    for _ in range(steps):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=fast):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append(loss.item())
    return np.array(out)


def test_bf16_loss_follows_fp32_over_50_steps():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small ops: one thread is faster and immune to a busy machine
    try:
        ref, fast = _losses(False), _losses(True)
    finally:
        torch.set_num_threads(threads)
    assert ref[-1] < ref[0] and fast[-1] < fast[0]  # both learn the fixed batch
    # bf16 keeps 8 bits of mantissa (relative error ~ 0.4%); 50 Adam steps amplify it a little
    assert np.max(np.abs(fast - ref) / ref) < 0.05, np.max(np.abs(fast - ref) / ref)


def test_metrics_identical_on_identical_predictions():
    rng = np.random.default_rng(0)
    label = (rng.random((2, 64, 64)) > 0.25).astype(np.uint8)
    prob = np.clip(label + rng.normal(0, 0.3, label.shape), 0, 1).astype(np.float32)
    via_bf16 = torch.from_numpy(prob).to(torch.bfloat16).float().numpy()  # what a bf16 eval would hand over
    assert evaluate(prob, label) == evaluate(prob.copy(), label)
    assert abs(evaluate(via_bf16, label)["mean_iou"] - evaluate(prob, label)["mean_iou"]) < 0.01


@pytest.mark.slow
def test_throughput_benchmark_runs_on_cpu(tmp_path):
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "benchmarks/throughput.py", "--tiny", "--steps", "1", "--warmup", "1", "--max-batch", "4",
           "--models", "unet", "--gates", "none", "sse", "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    rows = json.loads(out.read_text())
    assert {(r["gate"], r["path"]) for r in rows} == {("none", "paper"), ("none", "ours"), ("sse", "paper"), ("sse", "ours")}
    for r in rows:
        assert r["images_per_s"] > 0 and r["tflops"] > 0 and 0 < r["peak_fraction"] and r["device"]


def _choice_under(isa: str | None) -> dict:
    """The fast-path decision in a fresh process (oneDNN reads its ISA cap at start)."""
    env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")}
    if isa:
        env["ONEDNN_MAX_CPU_ISA"] = isa
    code = "import json, torch; from attnlib.fastpath import choose; print(json.dumps(choose(torch.device('cpu'))))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("isa", ["AVX2", "AVX512_CORE_BF16"])
def test_auto_stays_fp32_where_bf16_is_not_faster(isa):
    choice = _choice_under(isa)
    assert choice["amp"] == "off" and choice["dtype"] == "float32" and not choice["channels_last"]
    assert isa in choice["why"] or "no AMX" in choice["why"]


def test_auto_takes_bf16_exactly_where_the_cpu_has_amx():
    from attnlib.fastpath import _cpu_flags

    choice = _choice_under(None)
    assert (choice["amp"] == "bf16") == ("amx_bf16" in _cpu_flags())
    assert choice["channels_last"] == (choice["amp"] == "bf16")


def test_explicit_settings_win_over_auto():
    from attnlib.fastpath import choose

    c = choose(torch.device("cpu"), amp="off", channels_last=True)
    assert (c["amp"], c["channels_last"]) == ("off", True) and "explicitly" in c["why"]
    assert choose(torch.device("cpu"), amp="bf16")["dtype"] == "bfloat16"


def test_fit_in_bf16_follows_fp32_for_50_steps_on_the_real_data(tmp_path):
    """Through fit (data, augmentation, loss, Adam): 5 epochs of 10 steps, both dtypes."""
    from attnlib.config import make_config
    from attnlib.train import fit

    tiny = dict(widths=[4, 8, 16, 32, 64], crop=64, batch_size=4, samples_per_epoch=40, epochs=5,
                eval_interval=5, deterministic=True)
    losses = {}
    for amp in ("off", "bf16"):
        config, _ = make_config("smoke", **tiny, amp=amp, channels_last=False, out_dir=str(tmp_path / amp))
        losses[amp] = np.array(fit(config).record["history"]["loss"])
    ref, fast = losses["off"], losses["bf16"]
    assert ref[-1] < ref[0] and fast[-1] < fast[0]  # both learn
    # stated tolerance: bf16 keeps 8 mantissa bits; after 50 Adam steps the epoch losses
    # stay within 5% of fp32's
    assert np.max(np.abs(fast - ref) / ref) < 0.05, (ref, fast)
