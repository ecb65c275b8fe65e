"""Training throughput: the paper's code path against ours, for UNet and UNet++ (gate none/sse).

    python benchmarks/throughput.py                      # the GPU benchmark (paper widths, 512x512)
    python benchmarks/throughput.py --tiny               # seconds on a CPU (what CI runs)

Paths:
  paper  fp32 eager, batch 4 (UNet++: 1), Adam, framework defaults (as the paper's code).
  ours   bf16 autocast (CUDA), channels_last, torch.compile (CUDA), fused Adam (CUDA),
         cudnn.benchmark, the largest batch that fits (powers of two up to --max-batch).

For each it reports images/s of a full training step (forward, loss, backward, Adam), the
achieved TFLOP/s (FLOPs of one step counted with torch.utils.flop_counter), the fraction of
a bf16 matmul peak measured in the same run, and peak memory. Rows go to a JSON file.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from attnlib.models import build_model
from attnlib.train import resolve_device


def matmul_peak_tflops(device: torch.device, n: int, iters: int = 20) -> float:
    """bf16 (CUDA) or fp32 (CPU) square matmul rate: the yardstick for "% of peak"."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        a @ b
    _sync(device)
    return 2 * n**3 * iters / (time.perf_counter() - t0) / 1e12


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_step(model_name, gate, widths, device, fast: bool):
    model = build_model(model_name, gate=None if gate == "none" else gate, widths=widths).to(device)
    cuda = device.type == "cuda"
    if fast:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, **({"fused": True} if fast and cuda else {}))
    fwd = torch.compile(model) if fast and cuda else model
    amp = torch.autocast(device.type, dtype=torch.bfloat16) if fast and cuda else nullcontext()
    fmt = torch.channels_last if fast else torch.contiguous_format

    def step(x, y):
        x = x.contiguous(memory_format=fmt)
        with amp:
            logits = fwd(x)  # (B, 2, H, W)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return model, step


def step_flops(model_name, gate, widths, size) -> float:
    """FLOPs of one training step (forward + backward) for one image, counted on the CPU/meta."""
    model = build_model(model_name, gate=None if gate == "none" else gate, widths=widths)
    x, y = torch.randn(1, 1, size, size), torch.randint(0, 2, (1, size, size))
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    return float(counter.get_total_flops())


def measure(step, batch, size, device, steps, warmup) -> tuple[float, float]:
    x = torch.rand(batch, 1, size, size, device=device)
    y = torch.randint(0, 2, (batch, size, size), device=device)
    for _ in range(warmup):
        step(x, y)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step(x, y)
    _sync(device)
    return batch * steps / (time.perf_counter() - t0), time.perf_counter() - t0


def run(args) -> list[dict]:
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    widths = (4, 8, 16, 32, 64) if args.tiny else (64, 128, 256, 512, 1024)
    size = 64 if args.tiny else args.size
    peak = matmul_peak_tflops(device, 256 if args.tiny else 8192)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    rows = []
    for model_name in args.models:
        for gate in args.gates:
            flops_per_image = step_flops(model_name, gate, widths, size)
            for path in ("paper", "ours"):
                fast = path == "ours"
                batches = [4 if model_name == "unet" else 1] if not fast else [2**k for k in range(args.max_batch.bit_length())][::-1]
                for batch in batches:  # ours: the largest power of two that fits
                    try:
                        if device.type == "cuda":
                            torch.cuda.empty_cache()
                            torch.cuda.reset_peak_memory_stats(device)
                        model, step = make_step(model_name, gate, widths, device, fast)
                        ips, secs = measure(step, batch, size, device, args.steps, args.warmup)
                        break
                    except torch.OutOfMemoryError:
                        model = step = None  # free the failed attempt, try half the batch
                        continue
                mem = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
                tflops = flops_per_image * ips / 1e12
                rows.append({"model": model_name, "gate": gate, "path": path, "batch": batch, "size": size,
                             "images_per_s": ips, "tflops": tflops, "peak_tflops": peak, "peak_fraction": tflops / peak,
                             "peak_memory_gib": mem, "device": name, "torch": torch.__version__, "seconds": secs})
                del model, step
    return rows


def table(rows) -> str:
    lines = ["| model | gate | path | batch | images/s | TFLOP/s | % of peak | memory GiB |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['gate']} | {r['path']} | {r['batch']} | {r['images_per_s']:.1f} | "
                     f"{r['tflops']:.2f} | {100 * r['peak_fraction']:.1f} | {r['peak_memory_gib']:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="tiny widths at 64x64: a CPU smoke run")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--models", nargs="+", default=["unet", "unetpp"])
    ap.add_argument("--gates", nargs="+", default=["none", "sse"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--out", default=None, help="JSON file for the rows")
    args = ap.parse_args(argv)
    rows = run(args)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, indent=1))
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
