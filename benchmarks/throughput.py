"""Training throughput: the paper's code path against ours, for UNet and UNet++ (gate none/sse).

    python benchmarks/throughput.py               # the GPU benchmark (paper widths, 512x512)
    python benchmarks/throughput.py --cpu --save  # the CPU benchmark: laptop and paper widths
    python benchmarks/throughput.py --tiny        # seconds on a CPU (what CI runs)

Paths:
  paper  fp32 eager, contiguous, batch 4 (UNet++: 1), Adam, framework defaults (the paper's code).
  ours   what ``fit`` chooses (:func:`attnlib.probe.fast_path_for`): on a CPU the probe's
         measured choice of dtype and memory format (cached per machine and model); on CUDA bf16
         (fp16 below compute capability 8.0) and channels_last, torch.compile, fused Adam,
         cudnn.benchmark and the largest batch that fits (powers of two up to --max-batch). On a
         CPU the batch is fixed.

For each it reports images/s of a full training step (forward, loss, backward, Adam), the
achieved TFLOP/s (FLOPs of one step counted with torch.utils.flop_counter), the fraction of an
fp32 and of a bf16 peak measured in the same run (the fastest large matmul: best of several
sizes and repeats), and peak memory (CUDA; null elsewhere). Rows go to a strict JSON file (no
NaN); ``--save`` names it ``benchmarks/results/<device>-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from attnlib import cpu, probe
from attnlib.builder import build_model_for, build_optimizer
from attnlib.config import PROFILES, Config
from attnlib.epoch import make_scaler, train_step
from attnlib.inference import resolve_device
from attnlib.models import PAPER_WIDTHS
from attnlib.tables import markdown_table

LAPTOP_WIDTHS, TINY_WIDTHS = tuple(PROFILES["laptop"]["widths"]), tuple(PROFILES["smoke"]["widths"])


def matmul_peak_tflops(device: torch.device, sizes, dtype=torch.bfloat16, repeats: int = 5) -> dict:
    """The fastest large square matmul in ``dtype``, the yardstick for "% of peak": for each
    size a warm-up, then ``repeats`` timed products; the best of all. Returns
    ``{"tflops": best, "size": its n, "by_size": {n: best TFLOP/s}}``."""
    by_size = {}
    for n in sizes:
        a, b = (
            torch.randn(n, n, device=device, dtype=dtype),
            torch.randn(n, n, device=device, dtype=dtype),
        )
        a @ b
        best = float("inf")
        for _ in range(repeats):
            _sync(device)
            t0 = time.perf_counter()
            a @ b
            _sync(device)
            best = min(best, time.perf_counter() - t0)
        by_size[n] = 2 * n**3 / best / 1e12
    n_best = max(by_size, key=by_size.get)
    return {"tflops": by_size[n_best], "size": n_best, "by_size": by_size}


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def model_config(model_name, gate, widths, size: int = 0, batch: int = 0) -> Config:
    """The paper's settings for one network at this crop and batch: what ``fit`` would build."""
    return Config(
        model=model_name,
        gate=gate,
        widths=list(widths),
        crop=size if size < 512 else 0,
        batch_size=batch,
    )


def make_step(
    model_name, gate, widths, device, fast: bool, size: int = 0, batch: int = 0, probe_budget=None
):
    config = model_config(model_name, gate, widths, size, batch)
    cuda = device.type == "cuda"
    choice = (
        probe.fast_path_for(config, device, probe_budget)
        if fast
        else {"amp": "off", "channels_last": False}
    )
    model = build_model_for(config, device)
    if choice["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    # ours: fit's optimizer (fused Adam on CUDA); the paper's code: Adam with PyTorch's defaults
    opt = (
        build_optimizer(config, model, device)
        if fast
        else torch.optim.Adam(model.parameters(), lr=config.lr)
    )
    fwd = torch.compile(model) if fast and cuda else model
    fmt = torch.channels_last if choice["channels_last"] else torch.contiguous_format
    scaler = make_scaler(choice, device)  # fp16 only

    def step(x, y):  # fit's own step (attnlib.epoch.train_step)
        return train_step(
            fwd, x.contiguous(memory_format=fmt), y, opt, F.cross_entropy, choice["amp"], scaler
        )

    return model, step, choice


def step_flops(model_name, gate, widths, size) -> float:
    """FLOPs of one training step (forward + backward) for one image, counted on the CPU/meta."""
    model = build_model_for(model_config(model_name, gate, widths))
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


def cases(args, device) -> list[tuple[str, tuple, int, dict]]:
    """(widths name, widths, crop size, {path: batch}) to measure."""
    if args.tiny:
        return [("tiny", TINY_WIDTHS, 64, {})]
    if args.cpu:  # the laptop profile's model and crops, and the paper's widths on small crops
        return [
            ("laptop", LAPTOP_WIDTHS, 128, {"paper": 8, "ours": 8}),
            ("paper", PAPER_WIDTHS, 128, {}),
        ]
    return [("paper", PAPER_WIDTHS, args.size, {})]


def batches_for(path, model_name, fixed: dict, device, max_batch) -> list[int]:
    if path in fixed:
        return [fixed[path]]
    if path == "paper" or device.type != "cuda":
        return [4 if model_name == "unet" else 1]
    return [2**k for k in range(max_batch.bit_length())][
        ::-1
    ]  # ours on CUDA: the largest that fits


def measure_one(model_name, gate, widths, size, path, batches, device, args) -> dict:
    for batch in batches:  # the first that fits
        try:
            if device.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            model, step, choice = make_step(
                model_name, gate, widths, device, path == "ours", size, batch, args.probe_budget
            )
            ips, secs = measure(step, batch, size, device, args.steps, args.warmup)
            break
        except torch.OutOfMemoryError:
            model = step = None  # free the failed attempt, try half the batch
    mem = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    del model, step
    return {
        "batch": batch,
        "images_per_s": ips,
        "seconds": secs,
        "peak_memory_gib": mem,
        "amp": choice["amp"],
        "channels_last": choice["channels_last"],
        "why": choice.get("why", "the paper's path"),
    }


def run(args) -> list[dict]:
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    sizes = (256,) if args.tiny else (2048, 4096) if device.type == "cpu" else (4096, 8192)
    peaks = {
        "fp32": matmul_peak_tflops(device, sizes, torch.float32)["tflops"],
        "bf16": matmul_peak_tflops(device, sizes)["tflops"],
    }
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu.cpu_name()
    flags = cpu.describe()["flags"] if device.type == "cpu" else None
    rows = []
    for widths_name, widths, size, fixed in cases(args, device):
        for model_name in args.models:
            for gate in args.gates:
                flops_per_image = step_flops(model_name, gate, widths, size)
                for path in ("paper", "ours"):
                    r = measure_one(
                        model_name,
                        gate,
                        widths,
                        size,
                        path,
                        batches_for(path, model_name, fixed, device, args.max_batch),
                        device,
                        args,
                    )
                    tflops = flops_per_image * r["images_per_s"] / 1e12
                    rows.append(
                        {
                            "model": model_name,
                            "gate": gate,
                            "path": path,
                            "widths": widths_name,
                            "size": size,
                            **r,
                            "tflops": tflops,
                            "gflops": tflops * 1e3,
                            "peak_tflops": peaks["bf16"],
                            "peak_fraction": tflops / peaks["bf16"],
                            "fp32_peak_tflops": peaks["fp32"],
                            "fp32_peak_fraction": tflops / peaks["fp32"],
                            "dtype": {"off": "float32", "bf16": "bfloat16", "fp16": "float16"}[
                                r["amp"]
                            ],
                            "threads": torch.get_num_threads(),
                            "device": name,
                            "cpu_flags": flags,
                            "torch": torch.__version__,
                        }
                    )
    return rows


def table(rows) -> str:
    header = [
        "model",
        "gate",
        "widths",
        "path",
        "dtype",
        "batch",
        "images/s",
        "GFLOP/s",
        "% fp32 peak",
        "% bf16 peak",
        "memory GiB",
    ]
    body = [
        [
            r["model"],
            r["gate"],
            r["widths"],
            r["path"],
            r["dtype"],
            r["batch"],
            f"{r['images_per_s']:.2f}",
            f"{r['gflops']:.0f}",
            f"{100 * r['fp32_peak_fraction']:.1f}",
            f"{100 * r['peak_fraction']:.1f}",
            "-" if r["peak_memory_gib"] is None else f"{r['peak_memory_gib']:.1f}",
        ]
        for r in rows
    ]
    return markdown_table(header, body, align="llllllrrrrr")


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--tiny", action="store_true", help="tiny widths at 64x64: a CPU smoke run")
    ap.add_argument(
        "--cpu", action="store_true", help="laptop and paper widths on 128 x 128 crops (a CPU)"
    )
    ap.add_argument(
        "--save", action="store_true", help="write benchmarks/results/<device>-<date>.json"
    )
    ap.add_argument("--device", default="auto")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--models", nargs="+", default=["unet", "unetpp"])
    ap.add_argument("--gates", nargs="+", default=["none", "sse"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument(
        "--probe-budget",
        type=float,
        default=None,
        help="seconds for the fast-path probe (default: fit's)",
    )
    ap.add_argument("--out", default=None, help="JSON file for the rows")
    args = ap.parse_args(argv)
    if args.tiny and args.probe_budget is None:
        args.probe_budget = 1.0
    rows = run(args)
    if args.save and not args.out:
        slug = "".join(c if c.isalnum() else "-" for c in rows[0]["device"]).strip("-").lower()
        args.out = Path(__file__).parent / "results" / f"{slug}-{time.strftime('%Y-%m-%d')}.json"
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, indent=1, allow_nan=False))
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
