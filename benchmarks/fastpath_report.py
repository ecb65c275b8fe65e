"""The fast path, measured on this machine (issue 24): one script, one strict-JSON record.

    python benchmarks/fastpath_report.py            # about 4-8 minutes on an idle 2-core CPU
    python benchmarks/fastpath_report.py --quick    # tiny settings, a minute: a smoke test only

Run it on an otherwise idle machine (numbers under load are not the machine's). It writes
``benchmarks/results/fastpath-<cpu>-<date>.json`` (and a ``.md`` with the same tables), holding:

* ``machine``: the CPU's model name and the flags that matter (avx2, avx512f, avx512_bf16,
  amx_bf16, amx_tile, ...), the oneDNN ISA cap, cores, torch version, threads;
* ``peak``: the fastest large square matmul in bf16 and in fp32 (best of sizes and repeats),
  at each thread count: the yardstick for the step's TFLOP/s;
* ``combinations``: the laptop UNet's training step (batch 8, 128 x 128) in fp32/bf16 x
  NCHW/NHWC, img/s and TFLOP/s, at all cores and at one thread, measured interleaved as the
  probe does (:func:`attnlib.probe.measure`, more rounds);
* ``profile``: the top operators of the bf16 training step by self CPU time (torch.profiler);
* ``threads``: two one-thread processes side by side (their img/s summed) against one process
  on two threads, on the fp32 path and on the chosen one;
* ``end_to_end``: ``python -m attnlib train --profile laptop --set epochs=3`` with ``amp=auto``
  (a fresh fast-path cache, so the probe runs as for a new user), then ``amp=off
  channels_last=false``, one after the other; their run.json numbers, the ratio, what the
  probe chose with its timings and cost, and whether the choice is within 5% of the fastest
  combination.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from attnlib import cpu, fastpath, probe
from attnlib.builder import build
from attnlib.config import PROFILES, make_config

sys.path.insert(0, str(Path(__file__).parent))
from throughput import matmul_peak_tflops, step_flops  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LAPTOP = {k: PROFILES["laptop"][k] for k in ("widths", "crop", "batch_size")}
QUICK = {"widths": [4, 8, 16, 32, 64], "crop": 64, "batch_size": 4}


def finite(obj):
    """The object with every non-finite float as None (strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def machine() -> dict:
    return cpu.describe() | {
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_average": list(os.getloadavg()),
    }


def peaks(threads: list[int], quick: bool) -> dict:
    sizes = (256, 512) if quick else (2048, 4096)
    out = {}
    for n in threads:
        torch.set_num_threads(n)
        out[str(n)] = {
            "bf16": matmul_peak_tflops(torch.device("cpu"), sizes, torch.bfloat16),
            "fp32": matmul_peak_tflops(torch.device("cpu"), sizes, torch.float32),
        }
    return out


def combinations(step: dict, threads: list[int], rounds: int, peak: dict) -> dict:
    """img/s and TFLOP/s of the four combinations at each thread count, interleaved rounds."""
    config, _ = make_config("laptop", **step)
    flops = step_flops(config.model, config.gate, config.widths, config.crop) * config.batch_size
    out = {}
    for n in threads:
        torch.set_num_threads(n)
        model, loss_fn, opt = build(config, torch.device("cpu"))
        m = probe.measure(
            model,
            opt,
            loss_fn,
            config.batch_size,
            config.crop,
            torch.device("cpu"),
            fastpath.candidates(),
            rounds=rounds,
        )
        rows = {}
        for label, secs in m["seconds"].items():
            s = statistics.median(secs)
            tflops = flops / s / 1e12
            kind = "bf16" if label.startswith("bf16") else "fp32"
            rows[label] = {
                "images_per_s": config.batch_size / s,
                "seconds_per_step": s,
                "tflops": tflops,
                "peak_fraction": tflops / peak[str(n)][kind]["tflops"],
            }
        base = rows["fp32/NCHW"]["images_per_s"]
        for label, r in rows.items():
            r["vs_fp32_nchw"] = fastpath.speedup(m["seconds"], label, "fp32/NCHW")
        out[str(n)] = {
            "rows": rows,
            "fastest": max(rows, key=lambda k: rows[k]["images_per_s"]),
            "fp32_nchw_images_per_s": base,
            "rounds": m["rounds"],
            "steps_per_round": m["steps_per_round"],
            "decide_would_choose": fastpath.label(*fastpath.decide(m["seconds"])[:2]),
        }
    return out


def top_operators(step: dict, channels_last: bool, steps: int = 5, top: int = 15) -> dict:
    """torch.profiler over ``steps`` bf16 training steps: the operators by self CPU time."""
    from torch.profiler import ProfilerActivity, profile

    from attnlib.epoch import train_step

    config, _ = make_config("laptop", **step)
    model, loss_fn, opt = build(config, torch.device("cpu"))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt).train()
    x = torch.rand(config.batch_size, 1, config.crop, config.crop).contiguous(memory_format=fmt)
    y = (torch.rand(config.batch_size, config.crop, config.crop) > 0.3).long()
    for _ in range(2):
        train_step(model, x, y, opt, loss_fn, "bf16")
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            train_step(model, x, y, opt, loss_fn, "bf16")
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    rows = [
        {
            "op": e.key,
            "self_ms_per_step": e.self_cpu_time_total / 1e3 / steps,
            "self_fraction": e.self_cpu_time_total / total,
            "calls_per_step": e.count / steps,
        }
        for e in events[:top]
    ]
    return {
        "path": fastpath.label("bf16", channels_last),
        "threads": torch.get_num_threads(),
        "self_ms_per_step_total": total / 1e3 / steps,
        "top": rows,
    }


def worker(args) -> None:
    """One process of the threads comparison: warm up, say "ready", wait for "go" on stdin (all
    workers start together), step for ``--seconds``; print its img/s as JSON."""
    torch.set_num_threads(args.threads)
    config, _ = make_config("laptop", **json.loads(args.step))
    model, loss_fn, opt = build(config, torch.device("cpu"))
    steps = probe._steps(
        model,
        opt,
        loss_fn,
        config.batch_size,
        config.crop,
        torch.device("cpu"),
        [(args.amp, args.channels_last)],
        {},
    )
    step = next(iter(steps.values()))
    for _ in range(3):
        step()
    print("ready", flush=True)
    sys.stdin.readline()
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < args.seconds:
        step()
        n += 1
    print(
        json.dumps({"images_per_s": n * config.batch_size / (time.perf_counter() - t0), "steps": n})
    )


def _workers(
    step: dict, amp: str, channels_last: bool, threads: int, count: int, seconds: float
) -> list[dict]:
    """``count`` worker processes on ``threads`` threads each, started together once all are
    warm."""
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        "--step",
        json.dumps(step),
        "--amp",
        amp,
        "--threads",
        str(threads),
        "--seconds",
        str(seconds),
    ] + (["--channels-last"] if channels_last else [])
    env = os.environ | {"OMP_NUM_THREADS": str(threads)}
    procs = [
        subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(count)
    ]
    for p in procs:
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError("a threads worker failed before it was ready")
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [p.communicate(timeout=seconds + 120)[0] for p in procs]
    return [json.loads(o.strip().splitlines()[-1]) for o in outs]


def threads_section(step: dict, paths: list[tuple[str, bool]], cores: int, seconds: float) -> dict:
    """``cores`` one-thread processes side by side against one process on ``cores`` threads."""
    out = {}
    for amp, cl in paths:
        one = _workers(step, amp, cl, cores, 1, seconds)[0]["images_per_s"]
        side = [w["images_per_s"] for w in _workers(step, amp, cl, 1, cores, seconds)]
        out[fastpath.label(amp, cl)] = {
            f"one_run_{cores}_threads_images_per_s": one,
            f"{cores}_runs_1_thread_images_per_s": side,
            "sum_images_per_s": sum(side),
            "side_by_side_over_one": sum(side) / one,
        }
    return out


def _train(out: Path, sets: list[str], env: dict) -> dict:
    cmd = [sys.executable, "-m", "attnlib", "train", "--profile", "laptop", "--out", str(out)]
    for s in sets:
        cmd += ["--set", s]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
    rec = json.loads((out / "run.json").read_text())
    e = rec["environment"]
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("fast path")), None)
    return {
        "command": " ".join(cmd[1:]),
        "process_seconds": time.perf_counter() - t0,
        "cli_line": line,
        "wall_seconds": e["wall_seconds"],
        "train_seconds": e["train_seconds"],
        "eval_seconds": e["eval_seconds"],
        "train_images_per_s": e["train_images_per_s"],
        "end_to_end_images_per_s": e["end_to_end_images_per_s"],
        "test_mean_iou": rec["summary"]["honest"]["test"]["mean_iou"],
        "fast_path": rec["fast_path"],
    }


def end_to_end(epochs: int, extra: list[str], tmp: Path) -> dict:
    env = os.environ | {
        "ATTNLIB_QUIET": "1",
        probe.CACHE_ENV: str(tmp / "fastpath.json"),
    }  # a new user's cache
    sets = [f"epochs={epochs}", *extra]
    auto = _train(tmp / "auto", sets, env)
    fp32 = _train(tmp / "fp32", [*sets, "amp=off", "channels_last=false"], env)
    cached = _train(
        tmp / "auto_cached", sets, env
    )  # the same run again: the decision from the cache
    return {
        "auto": auto,
        "fp32_nchw": fp32,
        "auto_cached": cached,
        "ratio_end_to_end_images_per_s": auto["end_to_end_images_per_s"]
        / fp32["end_to_end_images_per_s"],
        "ratio_wall": fp32["wall_seconds"] / auto["wall_seconds"],
        "ratio_wall_cached": fp32["wall_seconds"] / cached["wall_seconds"],
    }


def markdown(r: dict) -> str:
    m = r["machine"]
    lines = [
        f"# Fast path on {m['name']} ({', '.join(m['flags'])}; torch {m['torch']}, {m['cores']} "
        "cores)",
        "",
    ]
    if r["quick"]:
        lines += [
            "**--quick: tiny settings, a smoke test of the script; "
            "these numbers measure nothing.**",
            "",
        ]
    s = r["step"]
    for n, c in r["combinations"].items():
        lines += [
            f"Train step, UNet widths {s['widths']}, batch {s['batch_size']}, {s['crop']} x "
            f"{s['crop']}, {n} "
            f"thread(s): fastest {c['fastest']}; decide() -> {c['decide_would_choose']}",
            "",
            "| path | img/s | x fp32/NCHW | TFLOP/s | % peak |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {k} | {v['images_per_s']:.1f} | {v['vs_fp32_nchw']:.2f} | {v['tflops']:.3f} | "
            f"{100 * v['peak_fraction']:.0f} |"
            for k, v in c["rows"].items()
        ]
        lines.append("")
    lines += [
        "| peak TFLOP/s | "
        + " | ".join(
            f"{n} thr bf16 {p['bf16']['tflops']:.3f}, fp32 {p['fp32']['tflops']:.3f}"
            for n, p in r["peak"].items()
        )
        + " |",
        "",
    ]
    e = r.get("end_to_end")
    if e:
        fp = e["auto"]["fast_path"]
        lines += [
            f"End to end: auto {e['auto']['end_to_end_images_per_s']:.1f} img/s "
            f"({e['auto']['wall_seconds']:.0f} s wall) "
            f"vs fp32/NCHW {e['fp32_nchw']['end_to_end_images_per_s']:.1f} "
            f"({e['fp32_nchw']['wall_seconds']:.0f} s): "
            f"{e['ratio_end_to_end_images_per_s']:.2f}x img/s, {e['ratio_wall']:.2f}x wall "
            f"({e['ratio_wall_cached']:.2f}x with the cached decision)",
            "",
            f"Fast path of the auto run: {fp['decided_by']}: {fp['why']}",
            "",
        ]
    if r["probe"] != ((e or {}).get("auto") or {}).get("fast_path"):
        lines += [f"Probe asked directly: {r['probe']['why']}", ""]
    if r.get("choice"):
        lines += [
            f"Chosen {r['choice']['label']}: {100 * r['choice']['of_fastest']:.1f}% of the fastest",
            "",
        ]
    for label, t in r.get("threads", {}).items():
        lines.append(f"Threads, {label}: side by side / one run = {t['side_by_side_over_one']:.2f}")
    lines += [
        "",
        "Top operators of the bf16 step:",
        "",
        "| op | ms/step | share |",
        "|---|---|---|",
    ]
    lines += [
        f"| {o['op']} | {o['self_ms_per_step']:.1f} | {100 * o['self_fraction']:.0f}% |"
        for o in r["profile"]["top"]
    ]
    return "\n".join(lines) + "\n"


def report(args) -> dict:
    step = QUICK if args.quick else LAPTOP
    cores = cpu.usable_cores()
    threads = sorted({cores, 1}, reverse=True)
    r = {"issue": 24, "quick": args.quick, "step": step, "machine": machine()}
    t0 = time.perf_counter()
    r["peak"] = peaks(threads, args.quick)
    r["combinations"] = combinations(step, threads, 3 if args.quick else args.rounds, r["peak"])
    torch.set_num_threads(cores)
    bf16_cl = (
        r["combinations"][str(cores)]["rows"]["bf16/NHWC"]["images_per_s"]
        > r["combinations"][str(cores)]["rows"]["bf16/NCHW"]["images_per_s"]
    )
    r["profile"] = top_operators(step, bf16_cl)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_end_to_end:
            extra = (
                [f"{k}={json.dumps(v)}" for k, v in step.items()] + ["samples_per_epoch=16"]
                if args.quick
                else []
            )
            r["end_to_end"] = end_to_end(1 if args.quick else args.epochs, extra, Path(tmp))
            fast = r["end_to_end"]["auto"]["fast_path"]
        else:
            fast = {"decided_by": "none"}
        if fast["decided_by"] not in (
            "probe",
            "cache",
        ):  # not measured in the run: ask the probe itself
            os.environ[probe.CACHE_ENV] = str(Path(tmp) / "direct.json")
            fast = probe.fast_path_for(make_config("laptop", **step)[0], torch.device("cpu"))
        r["probe"] = fast
    rows = r["combinations"][str(cores)]["rows"]
    label = fastpath.label(fast["amp"], fast["channels_last"])
    r["choice"] = {
        "label": label,
        "of_fastest": rows[label]["images_per_s"] / max(v["images_per_s"] for v in rows.values()),
    }
    if cores > 1 and not args.skip_threads:
        paths = list(dict.fromkeys([("off", False), (fast["amp"], fast["channels_last"])]))
        r["threads"] = threads_section(step, paths, cores, 4 if args.quick else args.thread_seconds)
    r["seconds"] = time.perf_counter() - t0
    return finite(r)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="tiny settings: a smoke test of the script, not a measurement",
    )
    ap.add_argument(
        "--epochs", type=int, default=3, help="epochs of the end-to-end laptop runs (default 3)"
    )
    ap.add_argument(
        "--rounds", type=int, default=8, help="interleaved rounds of the four-combination table"
    )
    ap.add_argument(
        "--thread-seconds", type=float, default=12.0, help="timed seconds of each threads worker"
    )
    ap.add_argument("--skip-end-to-end", action="store_true")
    ap.add_argument("--skip-threads", action="store_true")
    ap.add_argument(
        "--out",
        default=None,
        help="JSON file (default benchmarks/results/fastpath-<cpu>-<date>.json)",
    )
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--step", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--amp", default="off", help=argparse.SUPPRESS)
    ap.add_argument("--channels-last", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, default=10.0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    r = report(args)
    slug = "".join(c if c.isalnum() else "-" for c in r["machine"]["name"]).strip("-").lower()
    out = Path(
        args.out
        or ROOT / "benchmarks" / "results" / f"fastpath-{slug}-{time.strftime('%Y-%m-%d')}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(r, indent=1, allow_nan=False))
    out.with_suffix(".md").write_text(markdown(r))
    print(markdown(r))
    print(f"wrote {out} and {out.with_suffix('.md')} in {r['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
