"""The fast-path probe: time the run's own training step in each combination, on this machine.

:func:`fast_path` is what ``fit`` asks (before the first epoch; a resumed run reuses the
checkpoint's decision). In order:

1. a **rule** where the answer is certain (:func:`attnlib.fastpath.rule`: both settings made,
   CUDA, mps, a CPU without bf16 instructions) or where no timing may decide (a
   ``deterministic`` run: fp32, NCHW for what is left to auto): no measurement;
2. the **cache**: a decision measured before for the same CPU, torch, model, gate, widths, crop,
   batch and threads (and the same settings left to auto), from ``~/.cache/attnlib/fastpath.json``
   (``$ATTNLIB_FASTPATH_CACHE`` relocates it);
3. the **probe** (:func:`measure`): deep copies of the model and optimizer (one per memory
   format; the run's weights and optimizer state are not touched), a synthetic batch of the
   run's size and crop from a private generator, and torch's RNG state saved and restored, so a
   run's results do not depend on whether the probe ran. Each combination gets warm-up steps
   (oneDNN builds its kernels on the first), then rounds in which every combination runs
   ``k`` steps, in the order ABCD, DCBA, ABCD, ... (a drift in load hits all alike);
   :func:`attnlib.fastpath.decide` reads the per-round ratios.

Cost: about :data:`BUDGET_S` seconds; a model whose step is slow gets fewer rounds (down to
:data:`MIN_ROUNDS`). A run too short to win a probe back is not probed: when the first
combination's warm-up step times the run's steps come under :data:`PAYBACK_S` (no path could
save more than that), it stays on that path (fp32, NCHW when both are auto). Smoke runs (tests,
CI, nbval under ``ATTNLIB_PROFILE=smoke``) are ``deterministic``, so they are not measured at
all and take fp32, NCHW on every machine: their numbers never depend on a timing.

The decision is logged (``logging.getLogger("attnlib.probe")``, level INFO); the command line
prints it in one line, the library prints nothing.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import time
from pathlib import Path

import torch

from attnlib import cpu, fastpath
from attnlib.epoch import train_step

log = logging.getLogger(__name__)

BUDGET_S = 15.0  # the probe's target cost, warm-up included
MIN_ROUNDS, MAX_ROUNDS = 3, 8
ROUND_S = 0.1  # each combination runs at least this long per round (several steps when tiny)
PAYBACK_S = (
    BUDGET_S  # a run estimated to train in less is not probed: it could not win the probe back
)
CACHE_ENV = "ATTNLIB_FASTPATH_CACHE"


def cache_path() -> Path:
    """``$ATTNLIB_FASTPATH_CACHE``, else ``fastpath.json`` in the user cache (beside the data's)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    import pooch

    return Path(pooch.os_cache("attnlib")) / "fastpath.json"


def cache_key(config) -> dict:
    """What a measured decision depends on: the machine, torch, the model and the step's size."""
    return {
        "cpu": cpu.cpu_name(),
        "onednn_cap": cpu.onednn_cap(),
        "torch": torch.__version__,
        "model": config.model,
        "gate": config.gate,
        "widths": list(config.widths),
        "crop": config.crop,
        "batch": config.effective_batch_size,
        "threads": torch.get_num_threads(),
        "amp": config.amp,
        "channels_last": config.channels_last,
    }


def _key_text(key: dict) -> str:
    return json.dumps(key, sort_keys=True)


def load_cache(path: Path | None = None) -> dict:
    """The cached decisions, ``{key text: entry}``; {} when there is none or it is unreadable."""
    path = path or cache_path()
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        log.warning("fast-path cache %s unreadable (%s): measuring again", path, err)
        return {}


def store(key: dict, entry: dict, path: Path | None = None) -> None:
    """Add one decision to the cache (an atomic write; a failure is logged, never raised)."""
    from attnlib.checkpoints import write_json_atomic

    path = path or cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(load_cache(path) | {_key_text(key): entry | {"key": key}}, path)
    except OSError as err:  # a read-only home, a concurrent writer: the next run measures again
        log.warning("fast-path cache %s not written: %s", path, err)


def _timed(fn, n: int) -> float:
    """Seconds per call of ``fn``, over ``n`` calls."""
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def _steps(model, opt, loss_fn, batch: int, crop: int, device, combos, copies: dict) -> dict:
    """One closure per combination, each training its layout's copy (made once, kept in
    ``copies``) on a synthetic batch."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 1, crop, crop, generator=gen).to(device)  # (B, 1, H, W)
    y = (torch.rand(batch, crop, crop, generator=gen) > 0.3).long().to(device)  # (B, H, W)
    for cl in sorted({cl for _, cl in combos} - set(copies)):
        m, o = copy.deepcopy(
            (model, opt)
        )  # one deepcopy: the optimizer keeps the copy's parameters
        copies[cl] = (m.to(memory_format=torch.channels_last) if cl else m).train(), o
    steps = {}
    for amp, cl in combos:
        m, o = copies[cl]
        xc = x.contiguous(memory_format=torch.channels_last if cl else torch.contiguous_format)
        steps[fastpath.label(amp, cl)] = lambda m=m, o=o, xc=xc, amp=amp: train_step(
            m, xc, y, o, loss_fn, amp
        )
    return steps


WARM_ONCE_S = 5.0  # a first step slower than this is its own estimate (no second warm-up step)


def _warm(step) -> float:
    """Warm-up: a first step (oneDNN builds its kernels, memory is allocated), then a second,
    timed, as the estimate of a step; a very slow first step is the estimate itself."""
    first = _timed(step, 1)
    return first if first > WARM_ONCE_S else _timed(step, 1)


def measure(
    model,
    opt,
    loss_fn,
    batch: int,
    crop: int,
    device,
    combos,
    total_steps: int | None = None,
    budget_s: float | None = None,
    rounds: int | None = None,
) -> dict:
    """Time the training step in each of ``combos`` (``(amp, channels_last)`` pairs), interleaved.

    Returns ``{"seconds": {label: [seconds per step, one per round]}, "warmup_seconds",
    "rounds", "steps_per_round", "batch", "crop", "cost_s"}``, or with ``"skipped"`` set when
    the run (``total_steps`` of the first combination's step) is too short to pay for it.
    ``budget_s`` (default :data:`BUDGET_S`) sets the number of rounds, unless ``rounds`` does."""
    t0, budget_s = time.perf_counter(), BUDGET_S if budget_s is None else budget_s
    with torch.random.fork_rng(devices=[]):  # the run's RNG streams are not consumed
        copies: dict = {}
        first = _steps(model, opt, loss_fn, batch, crop, device, combos[:1], copies)
        warm = {label: _warm(step) for label, step in first.items()}
        estimate = next(iter(warm.values())) * (total_steps or 0)
        out = {"batch": batch, "crop": crop, "combinations": [fastpath.label(*c) for c in combos]}
        if total_steps is not None and estimate < PAYBACK_S:
            return out | {
                "skipped": f"the run's {total_steps} steps take about {estimate:.0f} s, "
                f"too few to pay for a probe (under {PAYBACK_S:.0f} s)",
                "warmup_seconds": warm,
                "cost_s": time.perf_counter() - t0,
            }
        steps = _steps(model, opt, loss_fn, batch, crop, device, combos, copies)
        warm |= {label: _warm(step) for label, step in steps.items() if label not in warm}
        k = max(1, math.ceil(ROUND_S / min(warm.values())))
        per_round = k * sum(warm.values())
        left = budget_s - (time.perf_counter() - t0)
        rounds = rounds or min(MAX_ROUNDS, max(MIN_ROUNDS, int(left / per_round)))
        seconds: dict[str, list[float]] = {label: [] for label in steps}
        for r in range(rounds):
            for label in list(steps) if r % 2 == 0 else list(steps)[::-1]:
                seconds[label].append(_timed(steps[label], k))
    return out | {
        "seconds": seconds,
        "warmup_seconds": warm,
        "rounds": rounds,
        "steps_per_round": k,
        "cost_s": time.perf_counter() - t0,
    }


def fast_path(
    config,
    device: torch.device,
    model,
    opt,
    loss_fn,
    total_steps: int | None,
    recorded: dict | None = None,
    budget_s: float | None = None,
) -> dict:
    """The run's fast path (see the module doc); ``recorded``: the checkpoint's, reused as it is.
    ``total_steps=None``: never too short to measure (the benchmarks)."""
    if recorded:
        log.info("fast path (recorded at the start, resumed): %s", recorded["why"])
        return recorded
    fast = _decide(config, device, model, opt, loss_fn, total_steps, budget_s)
    log.info("fast path: %s, %s", fastpath.label(fast["amp"], fast["channels_last"]), fast["why"])
    return fast


def fast_path_for(config, device: torch.device, budget_s: float | None = None) -> dict:
    """The fast path ``fit`` would take for ``config`` (probing a freshly built model, or cached):
    what the benchmarks call "ours"."""
    from attnlib.builder import build

    model, loss_fn, opt = build(config, device)
    return fast_path(config, device, model, opt, loss_fn, None, budget_s=budget_s)


def _decide(
    config, device, model, opt, loss_fn, total_steps: int | None, budget_s: float | None = None
) -> dict:
    ruled = fastpath.rule(device, config.amp, config.channels_last, config.deterministic)
    if ruled is not None:
        by = "set" if config.amp != "auto" and config.channels_last is not None else "rule"
        return fastpath.record(device, *ruled, decided_by=by, compile=config.compile)
    key, path = cache_key(config), cache_path()
    hit = load_cache(path).get(_key_text(key))
    if hit:
        why = f"{hit['why']} (measured {hit['measured']}, cached in {path})"
        return fastpath.record(
            device, hit["amp"], hit["channels_last"], why, "cache", config.compile, hit["probe"]
        )
    combos = fastpath.candidates(config.amp, config.channels_last)
    probe = measure(
        model,
        opt,
        loss_fn,
        config.effective_batch_size,
        config.crop or 512,
        device,
        combos,
        total_steps,
        budget_s,
    )
    if "skipped" in probe:
        amp, cl = combos[0]
        return fastpath.record(
            device,
            amp,
            cl,
            f"{probe['skipped']}: {fastpath.label(amp, cl)}",
            "short run",
            config.compile,
            probe,
        )
    amp, cl, why = fastpath.decide(probe["seconds"], config.amp, config.channels_last)
    why = f"measured {probe['rounds']} rounds in {probe['cost_s']:.1f} s: {why}"
    store(
        key,
        {
            "amp": amp,
            "channels_last": cl,
            "why": why,
            "probe": probe,
            "measured": time.strftime("%Y-%m-%d %H:%M"),
        },
        path,
    )
    return fastpath.record(device, amp, cl, why, "probe", config.compile, probe)
