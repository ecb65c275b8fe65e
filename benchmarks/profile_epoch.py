"""Where a laptop epoch's time goes: data and augmentation, the step, the evaluation.

    python benchmarks/profile_epoch.py [--profile laptop] [--threads N] [--out FILE.json]

Times, for the profile's UNet on this machine, in one process:

* ``data``: one pass over the DataLoader (crops + the paper's augmentation), no model;
* ``step``: the training steps alone on batches fetched beforehand, on the fast path that
  ``fit`` would choose (and on the fp32 path for comparison);
* ``predict``: whole-slice inference of the 5 test slices; ``class_metrics`` and
  ``isbi``: the two halves of one evaluation.

Then a cProfile of one whole epoch plus one evaluation, the top functions by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import time
from pathlib import Path

import torch

from attnlib import fastpath, probe
from attnlib.config import make_config
from attnlib.inference import autocast, predict, resolve_device
from attnlib.isbi_metrics import isbi_scores
from attnlib.metrics import class_scores
from attnlib.builder import build
from attnlib.epoch import train_epoch
from attnlib.preparation import prepare_data
from attnlib.train import held_out_metrics


def _timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def step_seconds(config, device, batches, fast: dict) -> float:
    model, loss_fn, opt = build(config, device)
    if fast["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    fmt = torch.channels_last if fast["channels_last"] else torch.contiguous_format
    t0 = None
    for i, (x, y) in enumerate(batches):
        if i == 2:  # two warm-up steps
            t0 = time.perf_counter()
        with autocast(device, fast["amp"]):
            loss = loss_fn(model(x.contiguous(memory_format=fmt)).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.perf_counter() - t0) / (len(batches) - 2)


def breakdown(config, device) -> dict:
    d = prepare_data(config, device)
    images, labels, split, loader = d.images, d.labels, d.split, d.loader
    loader.sampler.set_epoch(1)
    data_s, batches = _timed(lambda: list(loader))
    fast = probe.fast_path_for(config, device)
    fp32 = fastpath.record(device, "off", False, "the fp32 reference", "set")
    test = list(split.test)
    predict_s, probs = _timed(
        lambda: predict(build(config, device)[0], images[test], amp=fast["amp"])
    )
    class_s, _ = _timed(lambda: class_scores((probs > 0.5).astype("uint8"), labels[test]))
    isbi_s, _ = _timed(lambda: isbi_scores(probs, labels[test]))
    n = len(loader.dataset)
    return {
        "threads": torch.get_num_threads(),
        "fast_path": fast["why"],
        "images_per_epoch": n,
        "data_s_per_epoch": data_s,
        "step_s_per_epoch": step_seconds(config, device, batches, fast) * len(batches),
        "fp32_step_s_per_epoch": step_seconds(config, device, batches, fp32) * len(batches),
        "predict_s": predict_s,
        "class_metrics_s": class_s,
        "isbi_s": isbi_s,
    }


def cprofile_top(config, device, top: int = 15) -> str:
    d = prepare_data(config, device)
    images, labels, split, loader = d.images, d.labels, d.split, d.loader
    model, loss_fn, opt = build(config, device)
    fast = probe.fast_path_for(config, device)
    if fast["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    prof = cProfile.Profile()
    prof.enable()
    loader.sampler.set_epoch(1)
    model.train()
    train_epoch(model, loader, opt, loss_fn, device, fast)
    held_out_metrics(model, images, labels, split, fast["amp"])
    prof.disable()
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(top)
    return text.getvalue()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--profile", default="laptop")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None, help="JSON file for the breakdown")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config, _ = make_config(args.profile, out_dir="/tmp/attnlib-profile")
    device = resolve_device(config.device)
    result = breakdown(config, device)
    print(json.dumps(result, indent=1))
    print(cprofile_top(config, device))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
