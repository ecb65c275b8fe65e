"""Does torch.compile pay on the CPU? The laptop UNet's training step, eager against compiled.

    python benchmarks/compile_cpu.py [--threads 1] [--steps 30] [--out FILE.json]

Both on the fast path ``fit`` takes on this CPU (what :func:`attnlib.probe.fast_path_for`
measures or has cached), 128 x 128 crops, batch 8. Reports the compile time (the first
compiled step) and the steady-state seconds per step of each, interleaved (eager step, compiled
step, ...) so that a busy machine slows both alike, and how many steps the compile needs to pay
for itself.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from attnlib import probe
from attnlib.builder import build
from attnlib.config import make_config
from attnlib.inference import autocast


def make_step(config, device, fast, compiled: bool):
    model, loss_fn, opt = build(config, device)
    if fast["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    forward = torch.compile(model) if compiled else model

    def step(x, y) -> float:
        t0 = time.perf_counter()
        with autocast(device, fast["amp"]):
            loss = loss_fn(forward(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return time.perf_counter() - t0

    return step


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config, _ = make_config("laptop")
    device = torch.device("cpu")
    fast = probe.fast_path_for(config, device)
    fmt = torch.channels_last if fast["channels_last"] else torch.contiguous_format
    x = torch.rand(8, 1, 128, 128).contiguous(memory_format=fmt)  # (B, 1, H, W)
    y = (torch.rand(8, 128, 128) > 0.3).long()  # (B, H, W)
    eager, compiled = make_step(config, device, fast, False), make_step(config, device, fast, True)
    compile_s = compiled(x, y)  # the first call compiles forward and backward
    eager(x, y)
    times = {"eager": [], "compiled": []}
    for _ in range(args.steps):
        times["eager"].append(eager(x, y))
        times["compiled"].append(compiled(x, y))
    med = {k: statistics.median(v) for k, v in times.items()}
    gain = med["eager"] - med["compiled"]
    result = {
        "threads": torch.get_num_threads(),
        "fast_path": fast["why"],
        "compile_seconds": compile_s,
        "eager_s_per_step": med["eager"],
        "compiled_s_per_step": med["compiled"],
        "speedup": med["eager"] / med["compiled"],
        "steps_to_pay_back": compile_s / gain if gain > 0 else None,
        "laptop_run_steps": config.epochs * config.samples_per_epoch // config.batch_size,
    }
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
