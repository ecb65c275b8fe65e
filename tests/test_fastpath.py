"""The fast path: the decision from timings (pure), the certain rules (CUDA, mps, a CPU without
bf16), the decision a model carries into predict, and bf16 following fp32 within a tolerance."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnlib import cpu, fastpath
from attnlib.fastpath import candidates, decide, rule
from attnlib.metrics import evaluate
from attnlib.models import build_model

FP32, FP32_CL, BF16, BF16_CL = "fp32/NCHW", "fp32/NHWC", "bf16/NCHW", "bf16/NHWC"


def _rounds(step_seconds: dict, n: int = 6, spike=None) -> dict:
    """Synthetic probe seconds: each combination's step time every round, times ``spike(round,
    label)``."""
    return {
        k: [s * (spike(r, k) if spike else 1.0) for r in range(n)] for k, s in step_seconds.items()
    }


ZEN4 = {FP32: 8 / 17.0, FP32_CL: 8 / 21.8, BF16: 8 / 34.7, BF16_CL: 8 / 37.8}  # issue 24, 2 threads


def test_bf16_and_nhwc_where_both_pay():
    amp, cl, why = decide(_rounds(ZEN4))
    assert (amp, cl) == ("bf16", True)
    assert (
        "1.73x fp32/NHWC" in why and "bf16/NHWC 1.09x bf16/NCHW" in why
    )  # against the fastest fp32


def test_margins_keep_the_reference_when_the_gain_is_small():
    close = {
        FP32: 1.0,
        FP32_CL: 0.97,
        BF16: 0.92,
        BF16_CL: 0.90,
    }  # bf16 1.10x, NHWC 1.03x: noise-sized
    assert decide(_rounds(close))[:2] == ("off", False)
    assert decide(_rounds(close | {BF16_CL: 0.80}))[:2] == ("bf16", True)  # 1.21x the fastest fp32
    assert decide(_rounds(close | {FP32_CL: 0.90}))[:2] == ("off", True)  # fp32 NHWC 1.11x


def test_bf16_is_compared_with_the_fastest_fp32_not_the_slowest():
    t = {FP32: 1.0, FP32_CL: 0.8, BF16: 0.75, BF16_CL: 0.74}  # 1.33x fp32 NCHW, but 1.07x fp32 NHWC
    assert decide(_rounds(t))[:2] == ("off", True)


def test_a_load_spike_mid_probe_does_not_change_the_decision():
    t = {FP32: 1.0, FP32_CL: 1.0, BF16: 0.9, BF16_CL: 0.9}  # bf16 1.11x: below the margin
    whole_round = _rounds(
        t, spike=lambda r, k: 4.0 if r == 2 else 1.0
    )  # everyone slowed in round 2
    one_candidate = _rounds(
        t, spike=lambda r, k: 4.0 if (r, k) in ((2, FP32), (3, FP32_CL)) else 1.0
    )
    for seconds in (whole_round, one_candidate):
        assert decide(seconds)[:2] == ("off", False)
    totals = {k: sum(v) for k, v in one_candidate.items()}
    assert (
        totals[FP32] / totals[BF16] > fastpath.BF16_MARGIN
    )  # totals would have been fooled into bf16
    ramp = _rounds(ZEN4, spike=lambda r, k: 1 + 0.5 * r)  # a load that grows over the probe
    assert decide(ramp)[:2] == ("bf16", True)


def test_a_setting_made_is_kept_and_only_the_other_is_measured():
    assert candidates("bf16", None) == [("bf16", False), ("bf16", True)]
    assert candidates("auto", True) == [("off", True), ("bf16", True)]
    assert candidates("auto", None) == [
        ("off", False),
        ("off", True),
        ("bf16", False),
        ("bf16", True),
    ]
    only_layout = {k: v for k, v in _rounds(ZEN4).items() if k.startswith("fp32")}
    assert decide(only_layout, amp="off")[:2] == ("off", True)
    only_amp = {k: v for k, v in _rounds(ZEN4).items() if k.endswith("NCHW")}
    amp, cl, why = decide(only_amp, channels_last=False)
    assert (amp, cl) == ("bf16", False) and "NHWC" not in why


def test_cuda_bf16_from_ampere_fp16_below(monkeypatch):
    dev = torch.device("cuda")
    for cap, want in (((7, 5), "fp16"), ((7, 0), "fp16"), ((8, 0), "bf16"), ((9, 0), "bf16")):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None, cap=cap: cap)
        amp, cl, why = rule(dev)
        assert (amp, cl) == (want, True) and f"{cap[0]}.{cap[1]}" in why
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "Tesla T4")
    rec = fastpath.record(dev, "fp16", True, "t4", "rule")
    assert (
        rec["dtype"] == "float16" and rec["device_name"] == "Tesla T4" and rec["cpu_flags"] is None
    )
    assert rule(dev, amp="off")[:2] == ("off", True)  # a setting made wins on CUDA too


def test_mps_is_picked_by_auto_and_runs_fp32(monkeypatch):
    from attnlib.inference import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    dev = resolve_device("auto")
    assert dev.type == "mps"
    amp, cl, why = rule(dev)
    assert (amp, cl) == ("off", False) and "mps" in why
    assert rule(dev, channels_last=True)[:2] == ("off", True)


def test_a_cpu_without_bf16_instructions_stays_fp32_without_measuring(monkeypatch):
    monkeypatch.setattr(cpu, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    amp, cl, why = rule(torch.device("cpu"))
    assert (amp, cl) == ("off", False) and "no bf16 instructions" in why
    assert rule(torch.device("cpu"), amp="bf16")[:2] == ("bf16", False)  # set by the user: kept
    monkeypatch.setattr(
        cpu, "cpu_flags", lambda: frozenset({"avx2", "avx512f", "avx512_bf16"})
    )  # a Zen 4
    assert rule(torch.device("cpu")) is None  # measured
    assert rule(torch.device("cpu"), deterministic=True)[:2] == ("off", False)  # no timing decides
    assert rule(torch.device("cpu"), "off", False)[:2] == ("off", False)  # both set


def _decided_under(isa: str | None, cache) -> dict:
    """probe.fast_path in a fresh process (oneDNN reads its ISA cap at start), for a long run."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")
    }
    env |= {"ATTNLIB_FASTPATH_CACHE": str(cache)} | ({"ONEDNN_MAX_CPU_ISA": isa} if isa else {})
    code = (
        "import json, torch; from attnlib import probe; from attnlib.config import make_config; "
        "from attnlib.builder import build; c, _ = make_config('laptop'); "
        "probe.measure = lambda *a, **k: (_ for _ in ()).throw(AssertionError('measured')); "
        "print(json.dumps(probe.fast_path(c, torch.device('cpu'), None, None, None, 10**6)))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr[-300:]}


def test_avx2_only_stays_fp32_without_a_probe(tmp_path):
    choice = _decided_under("AVX2", tmp_path / "fastpath.json")
    assert choice.get("decided_by") == "rule", choice
    assert (choice["amp"], choice["channels_last"], choice["probe"]) == ("off", False, None)
    assert "ONEDNN_MAX_CPU_ISA=AVX2" in choice["why"] or "no bf16 instructions" in choice["why"]


@pytest.mark.skipif(not cpu.native_bf16()[0], reason="this CPU has no bf16 instructions")
def test_a_cpu_with_bf16_instructions_is_measured(tmp_path):
    assert "measured" in _decided_under("AVX512_CORE_BF16", tmp_path / "fastpath.json").get(
        "error", ""
    )  # a Zen 4's ISA: the probe runs


def test_predict_reuses_the_models_decision_else_fp32(monkeypatch):
    dev, model = torch.device("cpu"), build_model("unet", widths=(4, 8, 16, 32, 64))
    assert (
        fastpath.inference_amp(model, "auto", dev) == "off"
    )  # nothing recorded: fp32, nothing measured
    assert fastpath.inference_amp(model, "bf16", dev) == "bf16"
    fastpath.remember(model, fastpath.record(dev, "bf16", True, "test", "probe"))
    assert fastpath.inference_amp(model, "auto", dev) == "bf16"
    other = fastpath.remember(
        build_model("unet", widths=(4, 8, 16, 32, 64)),
        {"amp": "bf16", "device": "cpu", "device_name": "Another CPU"},
    )
    assert fastpath.inference_amp(other, "auto", dev) == "off"  # decided on another machine
    gpu = fastpath.remember(
        build_model("unet", widths=(4, 8, 16, 32, 64)), {"amp": "fp16", "device": "cuda:0"}
    )
    assert fastpath.inference_amp(gpu, "auto", dev) == "off"


def test_one_reader_of_proc_cpuinfo():
    from attnlib import records

    assert records.cpu_name is cpu.cpu_name
    assert cpu.cpu_name() and set(cpu.describe()["flags"]) <= set(cpu.RELEVANT_FLAGS)
    assert (
        cpu.job_threads(1, cores=2),
        cpu.job_threads(2, cores=2),
        cpu.job_threads(4, cores=2),
    ) == (2, 1, 1)
    assert cpu.thread_env(2, cores=16) == {"OMP_NUM_THREADS": "8", "MKL_NUM_THREADS": "8"}


def _losses(fast: bool, steps: int = 50):
    torch.manual_seed(0)
    model = build_model("unet", gate="sse", widths=(4, 8, 16, 32, 64))
    x, y = torch.rand(2, 1, 16, 16), (torch.rand(2, 16, 16) > 0.3).long()
    if fast:
        model, x = (
            model.to(memory_format=torch.channels_last),
            x.contiguous(memory_format=torch.channels_last),
        )
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
    via_bf16 = (
        torch.from_numpy(prob).to(torch.bfloat16).float().numpy()
    )  # what a bf16 eval would hand over
    assert evaluate(prob, label) == evaluate(prob.copy(), label)
    assert abs(evaluate(via_bf16, label)["mean_iou"] - evaluate(prob, label)["mean_iou"]) < 0.01


@pytest.mark.slow
def test_throughput_benchmark_runs_on_cpu(tmp_path):
    out = tmp_path / "bench.json"
    cmd = [
        sys.executable,
        "benchmarks/throughput.py",
        "--tiny",
        "--steps",
        "1",
        "--warmup",
        "1",
        "--max-batch",
        "4",
        "--models",
        "unet",
        "--gates",
        "none",
        "sse",
        "--out",
        str(out),
    ]
    env = os.environ | {"ATTNLIB_FASTPATH_CACHE": str(tmp_path / "fastpath.json")}
    subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    text = out.read_text()
    rows = json.loads(text, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    assert {(r["gate"], r["path"]) for r in rows} == {
        ("none", "paper"),
        ("none", "ours"),
        ("sse", "paper"),
        ("sse", "ours"),
    }
    for r in rows:
        assert r["images_per_s"] > 0 and r["tflops"] > 0 and 0 < r["peak_fraction"] and r["device"]


def test_fit_in_bf16_follows_fp32_for_50_steps_on_the_real_data(tmp_path):
    """Through fit (data, augmentation, loss, Adam): 5 epochs of 10 steps, both dtypes."""
    from attnlib.config import make_config
    from attnlib.train import fit

    tiny = dict(
        widths=[4, 8, 16, 32, 64],
        crop=64,
        batch_size=4,
        samples_per_epoch=40,
        epochs=5,
        eval_interval=5,
        deterministic=True,
    )
    losses = {}
    for amp in ("off", "bf16"):
        config, _ = make_config(
            "smoke", **tiny, amp=amp, channels_last=False, out_dir=str(tmp_path / amp)
        )
        losses[amp] = np.array(fit(config).record["history"]["loss"])
    ref, fast = losses["off"], losses["bf16"]
    assert ref[-1] < ref[0] and fast[-1] < fast[0]  # both learn
    # stated tolerance: bf16 keeps 8 mantissa bits; after 50 Adam steps the epoch losses
    # stay within 5% of fp32's
    assert np.max(np.abs(fast - ref) / ref) < 0.05, (ref, fast)
