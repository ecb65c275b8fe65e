"""The fast path: which dtype and memory format a run computes in, decided once and recorded.

``amp="auto"`` and ``channels_last=None`` ("auto") are decided

* by a **rule** where the answer is certain: on CUDA bf16 from compute capability 8.0 (Ampere),
  fp16 with a gradient scaler below it (a T4, a V100: no bf16 tensor cores), and NHWC; on
  Apple's ``mps`` and other devices fp32, NCHW; on a CPU without bf16 instructions (AVX2 only,
  or oneDNN capped below AVX512-BF16 by ``ONEDNN_MAX_CPU_ISA``: :func:`attnlib.cpu.native_bf16`)
  fp32, NCHW, without measuring, as bf16 is then emulated; for a ``deterministic`` run on a
  CPU fp32, NCHW (a timing must not decide what a bit-for-bit repeatable run computes);
* elsewhere on a CPU by **measuring**: :mod:`attnlib.probe` times the run's own training step
  in the four combinations (fp32/bf16 x NCHW/NHWC), interleaved round by round, and
  :func:`decide` reads the timings: bf16 only when it beats the fastest fp32 combination by
  :data:`BF16_MARGIN`, channels_last only when it beats NCHW in the chosen precision by
  :data:`NHWC_MARGIN`, each as the median over rounds of the per-round ratio (a load that comes
  and goes slows a whole round, so the ratios of that round hardly move and the median drops a
  round that was hit unevenly). A setting the user made is kept; only the other is measured.

Why measure: a flag rule ("bf16 only with AMX") came from capping oneDNN on one Xeon (its
measurements: ``benchmarks/results/isa-caps-2026-12-01.json``) and cost 2x on the first AMD
Zen 4 it met (AVX512-BF16, no AMX; issue 24). ``benchmarks/fastpath_report.py`` records a
machine's four combinations and the probe's choice in ``benchmarks/results/fastpath-*.json``.

A decision is a dict, recorded in ``run.json`` and the checkpoint (a resumed run reuses it)::

    {"amp": "bf16", "channels_last": True, "dtype": "bfloat16", "memory_format": "channels_last",
     "compile": False, "threads": 2, "device": "cpu", "device_name": "...", "cpu_flags": [...],
     "decided_by": "probe",  # set | rule | cache | probe | short run
     "why": "...", "probe": {"seconds": {...per round...}, "rounds", "cost_s", ...} or None}

Outside ``fit`` nothing is measured: :func:`inference_amp` gives ``predict`` the decision
recorded with the model (:func:`remember`; ``fit`` and ``load_run`` do it), or else fp32.
"""

from __future__ import annotations

import statistics

import torch

from attnlib import cpu

BF16_MARGIN = 1.15  # bf16 must beat the fastest fp32 combination by this much
NHWC_MARGIN = 1.05  # channels_last must beat NCHW in the chosen precision by this much
DTYPES = {"bf16": "bfloat16", "fp16": "float16", "off": "float32"}
MODEL_ATTR = "_attnlib_fast_path"  # where remember() keeps a model's decision


def label(amp: str, channels_last: bool) -> str:
    """A combination's name: ``"fp32/NCHW"``, ``"bf16/NHWC"``."""
    return f"{'fp32' if amp == 'off' else amp}/{'NHWC' if channels_last else 'NCHW'}"


def candidates(amp: str = "auto", channels_last: bool | None = None) -> list[tuple[str, bool]]:
    """The combinations to measure: all four, or the two that vary what the user left to auto."""
    amps = ["off", "bf16"] if amp == "auto" else [amp]
    layouts = [False, True] if channels_last is None else [channels_last]
    return [(a, cl) for a in amps for cl in layouts]


def speedup(seconds: dict[str, list[float]], fast: str, slow: str) -> float:
    """How many times faster ``fast`` ran than ``slow``: the median of the per-round ratios."""
    return statistics.median(s / f for f, s in zip(seconds[fast], seconds[slow]))


def _layout(seconds: dict, amp: str, layouts: list[bool], margin: float) -> bool:
    """NHWC when both layouts were measured in ``amp`` and NHWC beat NCHW by ``margin``."""
    return len(layouts) == 2 and speedup(seconds, label(amp, True), label(amp, False)) >= margin


def decide(
    seconds: dict[str, list[float]], amp: str = "auto", channels_last: bool | None = None
) -> tuple[str, bool, str]:
    """``(amp, channels_last, why)`` from the probe's seconds per round of each combination.

    ``seconds[label]`` is a list over rounds (the same rounds for every combination); ``amp`` and
    ``channels_last`` are the user's settings: a set one is kept (see the module doc)."""
    layouts = [False, True] if channels_last is None else [channels_last]
    why = []
    if amp == "auto":
        bf16_cl = _layout(seconds, "bf16", layouts, NHWC_MARGIN)
        fp32_best = _layout(seconds, "off", layouts, 1.0)  # the fastest fp32 combination
        gain = speedup(seconds, label("bf16", bf16_cl), label("off", fp32_best))
        amp = "bf16" if gain >= BF16_MARGIN else "off"
        why.append(
            f"{label('bf16', bf16_cl)} {gain:.2f}x {label('off', fp32_best)}: "
            f"{'bf16' if amp == 'bf16' else 'fp32'} (bf16 needs {BF16_MARGIN}x)"
        )
    if channels_last is None:
        gain = speedup(seconds, label(amp, True), label(amp, False))
        channels_last = gain >= NHWC_MARGIN
        why.append(
            f"{label(amp, True)} {gain:.2f}x {label(amp, False)}: "
            f"{'NHWC' if channels_last else 'NCHW'} "
            f"(NHWC needs {NHWC_MARGIN}x)"
        )
    return amp, channels_last, "; ".join(why)


def cuda_amp(device: torch.device) -> tuple[str, str]:
    """bf16 from compute capability 8.0, else fp16 (with a gradient scaler), and why."""
    major, minor = torch.cuda.get_device_capability(device)
    if major >= 8:
        return "bf16", f"CUDA compute capability {major}.{minor} >= 8.0 has bf16 tensor cores"
    return (
        "fp16",
        f"CUDA compute capability {major}.{minor} < 8.0 has no bf16 tensor cores: fp16 with a "
        "GradScaler",
    )


def rule(
    device: torch.device,
    amp: str = "auto",
    channels_last: bool | None = None,
    deterministic: bool = False,
) -> tuple[str, bool, str] | None:
    """``(amp, channels_last, why)`` where no measurement is needed, else None (measure).

    A ``deterministic`` run on a CPU is not measured either: it must repeat bit for bit, and a
    timing could decide differently the next time; what is left to auto is fp32, NCHW."""
    why = []
    if amp != "auto":
        why.append(f"amp={amp} set")
    if channels_last is not None:
        why.append(f"channels_last={channels_last} set")
    if device.type == "cuda":
        if amp == "auto":
            amp, reason = cuda_amp(device)
            why.append(reason)
        if channels_last is None:
            channels_last = True
            why.append("NHWC on CUDA")
    elif device.type == "cpu" and (amp == "auto" or channels_last is None):
        ok, reason = cpu.native_bf16()
        if ok and not deterministic:
            return None  # bf16 hardware: what pays is measured
        reason = "deterministic=True: no timing decides" if ok else reason
        amp = "off" if amp == "auto" else amp
        channels_last = bool(channels_last)
        why.append(f"{reason}: {label(amp, channels_last)} without measuring")
    elif device.type != "cpu":
        amp = "off" if amp == "auto" else amp
        channels_last = False if channels_last is None else channels_last
        why.append(f"{device.type}: fp32, NCHW")
    return amp, channels_last, "; ".join(why)


def record(
    device: torch.device,
    amp: str,
    channels_last: bool,
    why: str,
    decided_by: str,
    compile: bool = False,
    probe: dict | None = None,
) -> dict:
    """The decision as ``run.json`` and the checkpoint keep it (see the module doc)."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu.cpu_name()
    return {
        "amp": amp,
        "channels_last": bool(channels_last),
        "dtype": DTYPES[amp],
        "memory_format": "channels_last" if channels_last else "contiguous",
        "compile": compile,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "device_name": name,
        "cpu_flags": [f for f in cpu.RELEVANT_FLAGS if f in cpu.cpu_flags()]
        if device.type == "cpu"
        else None,
        "decided_by": decided_by,
        "why": why,
        "probe": probe,
    }


def remember(
    model: torch.nn.Module, fast: dict | None, device_name: str | None = None
) -> torch.nn.Module:
    """Keep the run's decision with its model, for :func:`inference_amp` (``fit``, ``load_run``)."""
    if fast:
        model.__dict__[MODEL_ATTR] = dict(fast, device_name=fast.get("device_name") or device_name)
    return model


def inference_amp(model: torch.nn.Module, amp: str, device: torch.device) -> str:
    """What ``predict(amp=...)`` computes in: ``amp`` when set; for ``"auto"`` the decision
    recorded with the model when it was made for this kind of device and this device's model
    (a run trained elsewhere does not carry its path here), else fp32. Nothing is measured."""
    if amp != "auto":
        return amp
    fast = getattr(model, MODEL_ATTR, None)
    if not fast or torch.device(fast["device"]).type != device.type:
        return "off"
    here = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu.cpu_name()
    return fast["amp"] if fast.get("device_name") in (None, here) else "off"


def compiled_forward(model, fast: dict, notes: dict):
    """The forward function: torch.compile'd when asked, falling back to eager (and noting
    why) where compilation fails on this platform, which shows only at the first call."""
    if not fast["compile"]:
        return model
    compiled_model = torch.compile(model)

    def forward(x):
        nonlocal compiled_model
        try:
            return compiled_model(x)
        except Exception as err:
            if compiled_model is model:
                raise
            notes["compile_error"], compiled_model = f"{type(err).__name__}: {err}"[:500], model
            return model(x)

    return forward
