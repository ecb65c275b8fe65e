"""Summarise the laptop-profile candidates on the validation fold only.

    python experiments/laptop_selection.py [--out results/laptop_selection]

Reads each candidate's ``run.json`` (made by ``experiments/laptop_selection.sh``: trained on
slices 0-19, fold 4 = slices 20-24 held out) and prints, per candidate and seed, the
validation mIoU and ISBI V_rand at the last evaluation and the wall time. It reads
``evals[*]["val"]`` and the environment, never ``evals[*]["test"]`` nor the summaries (which
hold test numbers): nothing here is chosen on slices 25-29.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def val_rows(out: Path) -> list[dict]:
    """One row per complete candidate run: name, seed, validation scores, minutes."""
    rows = []
    for rec_path in sorted(out.glob("*/run.json")):
        rec = json.loads(rec_path.read_text())
        if not rec.get("complete"):
            continue
        last = rec["evals"][-1]["val"]  # the last evaluation: the cosine schedule's end
        name, _, seed = rec_path.parent.name.rpartition("_s")
        env = rec["environment"]
        rows.append({"candidate": name, "seed": int(seed), "val_mean_iou": last["mean_iou"],
                     "val_isbi_vrand": last["isbi_vrand"], "minutes": env["wall_seconds"] / 60,
                     "images_per_s": env["end_to_end_images_per_s"], "threads": env["cpu_threads"]})
    return rows


def table(rows: list[dict]) -> str:
    """Markdown: per candidate the per-seed validation mIoU, their mean, V_rand and minutes."""
    lines = ["| candidate | val mIoU per seed | mean val mIoU | mean val V_rand (ISBI) | minutes per run |",
             "|---|---|---|---|---|"]
    for name in dict.fromkeys(r["candidate"] for r in rows):
        rs = [r for r in rows if r["candidate"] == name]
        per_seed = ", ".join(f"s{r['seed']} {r['val_mean_iou']:.4f}" for r in rs)
        lines.append(f"| {name} | {per_seed} | {statistics.mean(r['val_mean_iou'] for r in rs):.4f} | "
                     f"{statistics.mean(r['val_isbi_vrand'] for r in rs):.4f} | "
                     f"{statistics.mean(r['minutes'] for r in rs):.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="results/laptop_selection")
    args = ap.parse_args(argv)
    rows = val_rows(Path(args.out))
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
