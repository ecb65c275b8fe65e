"""Chapter 04's experiment: does the sSE gate's *spatial* map matter, or only its mean?

    python experiments/sse_mean_map.py [--results results/laptop]
        [--out results/laptop/sse_mean_map.json]

For every trained run with the sSE gate (``*_sse_s<seed>``, not the ablations), inference
only: score slices 25-29 as trained, then with each gate's map ``alpha`` (B, 1, h, w) replaced
by one constant per gate, the mean of that gate's map over the training slices 0-24. A
constant map is a per-skip scale that the next convolution can absorb (chapter 04), so if
the scores do not drop, the gate's spatial selection is not what the trained network uses.
The test slices are scored once per variant and nothing is chosen on them. The class-table
metrics at threshold 0.5 and the ISBI scores (their threshold chosen on training slices
20-24, as the honest summary does) are reported. Needs each run's ``checkpoint.pt`` or
``model.pt``: run it where the grid's weights exist, as runs land; runs already in the JSON
are kept, so it can be run again after each part of the grid.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import numpy as np
import torch

from attnlib import data
from attnlib.checkpoints import load_run
from attnlib.inference import predict
from attnlib.metrics import evaluate
from attnlib.models.attention import SSEGate
from attnlib.protocols import THRESHOLD_SLICES, at_threshold, best_threshold


def gate_means(model, images) -> dict[str, float]:
    """Mean of each sSE gate's map over ``images`` (one forward per slice), keyed by the gate's
    module name (``gates.0``, ``nodes.x_0_1.gates.0``, as :func:`constant_maps` takes them)."""
    skip_of = {
        id(gate): skip for skip, gate in model.gated_skips()
    }  # module -> "skip0" / "x_i_k->x_i_j"
    gates = {name: skip_of[id(m)] for name, m in model.named_modules() if isinstance(m, SSEGate)}
    sums: dict[str, list[float]] = {name: [] for name in gates}
    with torch.no_grad():
        for img in images:
            maps = model.inspect(
                torch.as_tensor(img).float().div(255)[None, None]
            ).attention  # (1, 1, H, W) in
            for name, skip in gates.items():
                sums[name].append(float(maps[skip].mean()))  # alpha (1, 1, H/2^i, W/2^i)
    return {name: float(np.mean(v)) for name, v in sums.items()}


def constant_maps(model, means: dict[str, float]) -> list:
    """Forward hooks that make each gate return ``x * mean`` instead of ``x * alpha``."""
    handles = []
    for name, gate in model.named_modules():
        if isinstance(gate, SSEGate):
            c = means[name]
            handles.append(gate.register_forward_hook(lambda mod, inputs, out, c=c: inputs[0] * c))
    return handles


def score(model, images, labels, amp: str) -> dict:
    """Test metrics; the ISBI thresholds chosen on training slices 20-24."""
    test, pick = list(data.PAPER_SPLIT.test), list(THRESHOLD_SLICES)
    m, curve = evaluate(predict(model, images[test], amp=amp), labels[test], curves=True)
    _, choice = evaluate(predict(model, images[pick], amp=amp), labels[pick], curves=True)
    for metric in ("isbi_vrand", "isbi_vinfo"):
        m[metric] = at_threshold(curve, metric, best_threshold(choice, metric))
    return m


def one_run(folder: Path, images, labels) -> dict:
    rec, model = load_run(folder)
    amp = rec.get("fast_path", {}).get("amp", "off")
    trained = score(model, images, labels, amp)
    means = gate_means(model, images[list(data.PAPER_SPLIT.train)])
    handles = constant_maps(model, means)
    constant = score(model, images, labels, amp)
    for h in handles:
        h.remove()
    return {
        "run": folder.name,
        "model": rec["config"]["model"],
        "seed": rec["config"]["seed"],
        "trained": trained,
        "constant_map": constant,
        "gate_means": means,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--results", default="results/laptop")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    images, labels = data.load_isbi2012()
    folders = sorted(
        p.parent
        for p in Path(args.results).glob("*_sse_s*/run.json")
        if (p.parent / "checkpoint.pt").exists() or (p.parent / "model.pt").exists()
    )
    folders = [f for f in folders if f.name.rpartition("_s")[0] in ("unet_sse", "unetpp_sse")]
    out = Path(args.out or Path(args.results) / "sse_mean_map.json")
    done = json.loads(out.read_text())["runs"] if out.exists() else []  # weights of landed runs go
    have = {r["run"] for r in done}  # away with the machine: keep what was computed, add the rest
    runs = done + [one_run(f, images, labels) for f in folders if f.name not in have]
    runs.sort(key=lambda r: (r["model"], r["seed"]))
    commit = (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
        or "unknown"
    )
    made = {
        "doc": __doc__.strip().splitlines()[0],
        "code": f"experiments/sse_mean_map.py at {commit}",
        "weights": str(args.results),
    }
    out.write_text(json.dumps(made | {"runs": runs}, indent=1))
    for r in runs:
        print(
            f"{r['run']}: mIoU {r['trained']['mean_iou']:.4f} -> "
            f"{r['constant_map']['mean_iou']:.4f} (constant maps)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
