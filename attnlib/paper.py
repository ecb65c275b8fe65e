"""The paper's reported numbers and its claims, to set our runs beside them.

Xu, Bai, Wang, "Attention-based Forward Passing for Enhancing UNet Segmentation on
Microscopy Images", Tables 1 and 2 (best epoch of 500, chosen on the 5 test slices, one run
each). Keys are the configuration names of ``experiments/paper.yaml``.
"""
from __future__ import annotations

import numpy as np

METRICS4 = ("pixel_accuracy", "mean_iou", "vrand_class", "vinfo_class")

PAPER_RESULTS = {  # Table 1 and Table 2: pixel acc, mIoU, V_rand, V_info
    "unet": (0.9278, 0.8028, 0.9018, 0.5153),
    "unetpp": (0.9268, 0.7976, 0.9013, 0.5071),
    "unet_sse": (0.9282, 0.8043, 0.9021, 0.5181),
    "unetpp_sse": (0.9267, 0.8009, 0.9016, 0.5118),
    "unet_sse_noaug": (0.9247, 0.7966, 0.8976, 0.5034),
    "unet_sse_dice": (0.9270, 0.8014, 0.9006, 0.5125),
}
TABLE1 = ("unet", "unetpp", "unet_sse", "unetpp_sse")
TABLE2 = ("unet_sse", "unet", "unet_sse_noaug", "unet_sse_dice")

# (claim, better configuration, worse configuration): each says "better > worse" in mIoU.
CLAIMS = (
    ("attention improves UNet", "unet_sse", "unet"),
    ("attention improves UNet++", "unetpp_sse", "unetpp"),
    ("UNet beats UNet++", "unet", "unetpp"),
    ("UNet + attention beats UNet++ + attention", "unet_sse", "unetpp_sse"),
    ("augmentation helps", "unet_sse", "unet_sse_noaug"),
    ("cross-entropy beats the (seed) Dice loss", "unet_sse", "unet_sse_dice"),
)


def paper_value(config: str, metric: str = "mean_iou") -> float:
    return PAPER_RESULTS[config][METRICS4.index(metric)]


def check_claims(rows: list[dict], protocol: str, metric: str = "mean_iou") -> list[dict]:
    """Test each claim on our per-seed rows (``experiments.collect``) under one protocol.

    The verdict compares the mean difference over seeds with its standard error
    ``sqrt(sd_a^2/n_a + sd_b^2/n_b)``: "holds" when the difference is positive and more than two
    standard errors, "reversed" when it is negative by more than two, "within noise" otherwise.
    With fewer than two seeds on either side there is no noise estimate: "untested (1 seed)".
    """
    out = []
    for claim, better, worse in CLAIMS:
        a = np.array([r[metric] for r in rows if r["config"] == better and r["protocol"] == protocol])
        b = np.array([r[metric] for r in rows if r["config"] == worse and r["protocol"] == protocol])
        row = {"claim": claim, "paper_diff": paper_value(better, metric) - paper_value(worse, metric)}
        if len(a) == 0 or len(b) == 0:
            out.append(row | {"our_diff": float("nan"), "se": float("nan"), "seeds": (len(a), len(b)), "verdict": "not run"})
            continue
        diff = float(a.mean() - b.mean())
        if min(len(a), len(b)) < 2:
            se, verdict = float("nan"), "untested (1 seed)"
        else:
            se = float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)))
            verdict = "holds" if diff > 2 * se else "reversed" if diff < -2 * se else "within noise"
        out.append(row | {"our_diff": diff, "se": se, "seeds": (len(a), len(b)), "verdict": verdict})
    return out


def claims_table(claims: list[dict], digits: int = 4) -> str:
    """Markdown table of :func:`check_claims` rows."""
    lines = ["| claim | paper Δ mIoU | our Δ mIoU | ± SE | seeds | verdict |", "|---|---|---|---|---|---|"]
    for c in claims:
        lines.append(f"| {c['claim']} | {c['paper_diff']:+.{digits}f} | {c['our_diff']:+.{digits}f} | "
                     f"{c['se']:.{digits}f} | {c['seeds'][0]} vs {c['seeds'][1]} | {c['verdict']} |")
    return "\n".join(lines)
