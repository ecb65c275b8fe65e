"""The fast path: which dtype and memory format a run computes in, decided once and recorded.

``amp="auto"`` means bf16 autocast where it is really faster, fp32 elsewhere:

* on CUDA, bf16 (every GPU this course targets has bf16 tensor cores);
* on a CPU, only where oneDNN can use AMX tiles. Measured on the course machine (laptop
  UNet, one training step, one thread, fp32 against bf16 + channels_last, oneDNN capped with
  ``ONEDNN_MAX_CPU_ISA``): AVX2 only 8.2 against 0.9 img/s, AVX512 without bf16 11.3 against
  4.7, AVX512-BF16 without AMX 11.2 against 10.1, AMX 14.3 against 48.6. So bf16 pays only
  with AMX. ``torch.ops.mkldnn._is_mkldnn_bf16_supported()`` says True for all but AVX2, so
  it is not the test; the CPU's AMX flag is, together with the ISA cap oneDNN reads from
  ``ONEDNN_MAX_CPU_ISA`` (or ``DNNL_MAX_CPU_ISA``) at start, which a CPUID test cannot see.

``channels_last=None`` (auto) takes NHWC on CUDA and with bf16 on a CPU (laptop UNet, bf16,
128 x 128 crops: 42.9 against 29.9 img/s on one thread), and keeps NCHW in fp32 on a CPU,
where the two measured within noise of each other.

:func:`choose` returns the decision as a dict, which ``fit`` records in ``run.json`` and the
checkpoint, so a resumed run reuses it rather than deciding again::

    {"amp": "bf16", "channels_last": True, "dtype": "bfloat16", "memory_format": "channels_last",
     "compile": False, "threads": 2, "device": "cpu", "why": "..."}
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import torch

AMX_ISAS = ("AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16", "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16")


@functools.lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:  # read once: predict(amp="auto") asks per batch
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no flags to read
        return frozenset()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return frozenset(line.partition(":")[2].split())


def cpu_amx() -> tuple[bool, str]:
    """Whether oneDNN may run bf16 on AMX tiles in this process, and why (one line)."""
    has_amx = "amx_bf16" in _cpu_flags()
    if not has_amx and hasattr(torch.cpu, "_is_amx_tile_supported"):
        has_amx = bool(torch.cpu._is_amx_tile_supported())
    if not has_amx:
        return False, "this CPU has no AMX-BF16 (bf16 would be slower than fp32)"
    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "").upper()
    if cap and cap not in ("ALL", "DEFAULT") and cap not in AMX_ISAS:
        return False, f"the CPU has AMX-BF16 but ONEDNN_MAX_CPU_ISA={cap} keeps oneDNN off it"
    return True, "this CPU has AMX-BF16 (bf16 3-4x faster than fp32)"


def choose(device: torch.device, amp: str = "auto", channels_last: bool | None = None,
           compile: bool = False) -> dict:
    """Decide the dtype and memory format of a run on ``device`` (see the module doc)."""
    if amp != "auto":
        bf16, why = amp == "bf16", f"amp={amp} set explicitly"
    elif device.type == "cuda":
        bf16, why = True, "amp=auto on CUDA: bf16"
    elif device.type == "cpu":
        bf16, reason = cpu_amx()
        why = f"amp=auto: {'bf16' if bf16 else 'fp32'}, {reason}"
    else:
        bf16, why = False, f"amp=auto on {device.type}: fp32"
    if channels_last is None:
        nhwc = device.type == "cuda" or (device.type == "cpu" and bf16)
        why += f"; channels_last=auto: {'NHWC' if nhwc else 'NCHW'}"
    else:
        nhwc = channels_last
        why += f"; channels_last={channels_last} set explicitly"
    return {"amp": "bf16" if bf16 else "off", "channels_last": nhwc,
            "dtype": "bfloat16" if bf16 else "float32",
            "memory_format": "channels_last" if nhwc else "contiguous",
            "compile": compile, "threads": torch.get_num_threads(), "device": str(device), "why": why}


def resolve_amp(device: torch.device, amp: str) -> str:
    """``"bf16"`` or ``"off"``: what ``amp`` means on ``device``."""
    return choose(device, amp, channels_last=False)["amp"]


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
