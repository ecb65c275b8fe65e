"""The CPU this process runs on: its name, its flags, what oneDNN may use, its share of the cores.

``/proc/cpuinfo`` is read once, here and nowhere else (:func:`cpu_name` for the records,
:func:`cpu_flags` for the fast path). Where there is no ``/proc/cpuinfo`` (macOS, Windows) the
name comes from :mod:`platform` and the bf16 question from PyTorch's own CPUID tests.

oneDNN, which runs PyTorch's CPU convolutions and matmuls, reads an ISA cap from
``ONEDNN_MAX_CPU_ISA`` (or ``DNNL_MAX_CPU_ISA``) when the process starts: a capped Xeon behaves
like an older CPU, which no CPUID test can see, so :func:`native_bf16` reads the cap too.
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

# The flags that decide the fast path, as Linux names them (x86; "bf16" is Arm's Features name)
RELEVANT_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile", "bf16")
BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # bf16 dot products in hardware
# oneDNN's ISA names (x64) up to which bf16 has no hardware support: a cap at one of them keeps
# oneDNN off bf16 instructions. Any other cap (AVX512_CORE_BF16, ..._AMX, AVX10_...) leaves them on.
NO_BF16_ISAS = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX512_CORE", "AVX512_CORE_VNNI")


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> dict[str, str]:
    """The first processor's ``key: value`` lines of ``/proc/cpuinfo`` ({} where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux
        return {}
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if out:
                break  # the end of the first processor's block
            continue
        key, _, value = line.partition(":")
        out.setdefault(key.strip(), value.strip())
    return out


def cpu_name() -> str:
    """The CPU's model name (``platform.processor()`` is empty on Linux)."""
    info = _cpuinfo()
    return info.get("model name") or info.get("Model") or platform.processor() or platform.machine()


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (x86 ``flags``, Arm ``Features``); empty where they cannot be
    read."""
    info = _cpuinfo()
    return frozenset((info.get("flags") or info.get("Features") or "").split())


def onednn_cap() -> str | None:
    """The ISA cap oneDNN was started with (``ONEDNN_MAX_CPU_ISA``), or None for no cap."""
    cap = (
        (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "")
        .strip()
        .upper()
    )
    return None if cap in ("", "ALL", "DEFAULT") else cap


def native_bf16() -> tuple[bool, str]:
    """Whether oneDNN may run bf16 in hardware in this process, and why (one clause).

    Without it bf16 is emulated and certainly slower than fp32 (the course's Xeon capped at
    AVX2: 0.9 against 8.2 img/s), so the fast path stays fp32 without measuring."""
    flags = cpu_flags()
    if flags:
        found = sorted(set(BF16_FLAGS) & flags)
    else:  # no flags to read: PyTorch's CPUID tests
        import torch

        found = [
            n
            for n, test in (
                ("avx512_bf16", "_is_avx512_bf16_supported"),
                ("amx_tile", "_is_amx_tile_supported"),
            )
            if getattr(torch.cpu, test, lambda: False)()
        ]
    if not found:
        return (
            False,
            "this CPU has no bf16 instructions (AVX512-BF16, AMX), so bf16 would be emulated",
        )
    cap = onednn_cap()
    if cap in NO_BF16_ISAS:
        return (
            False,
            f"the CPU has {', '.join(found)} but ONEDNN_MAX_CPU_ISA={cap} keeps oneDNN off it",
        )
    return True, f"the CPU has {', '.join(found)}"


def describe() -> dict:
    """What the records and benchmarks name: the model, the flags that matter, the oneDNN cap."""
    import torch

    return {
        "name": cpu_name(),
        "flags": [f for f in RELEVANT_FLAGS if f in cpu_flags()],
        "onednn_cap": onednn_cap(),
        "cores": usable_cores(),
        "threads": torch.get_num_threads(),
    }


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def job_threads(jobs: int, cores: int | None = None) -> int:
    """Each job's share of the cores when ``jobs`` runs share them (at least one thread)."""
    return max(1, (cores or usable_cores()) // max(1, jobs))


def thread_env(jobs: int, cores: int | None = None) -> dict[str, str]:
    """The environment that gives a job its share: ``OMP_NUM_THREADS`` (PyTorch's intra-op
    threads; it reads the variable when it starts) and ``MKL_NUM_THREADS``."""
    n = str(job_threads(jobs, cores))
    return {"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n}
