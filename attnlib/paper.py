"""The paper's reported numbers and its claims, to set our runs beside them.

Xu, Bai, Wang, "Attention-based Forward Passing for Enhancing UNet Segmentation on
Microscopy Images", Tables 1 and 2 (best epoch of 500, chosen on the 5 test slices, one run
each). Keys are the configuration names of ``experiments/paper.yaml``. The claims are tested
on our runs with :mod:`attnlib.stats` (paired by seed, t interval,
:data:`attnlib.stats.VERDICT_RULE`).
"""

from __future__ import annotations

from attnlib.metrics import METRICS
from attnlib.stats import VERDICT_RULE, mean_sd, paired_difference, per_seed, verdict
from attnlib.tables import fmt_interval, fmt_mean_sd, fmt_number, markdown_table

METRICS4 = METRICS[
    :4
]  # the paper's four: pixel accuracy, mIoU, V_rand, V_info (of the class table)

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


def check_claims(
    rows: list[dict], protocol: str, metric: str = "mean_iou", scale: str = "laptop"
) -> list[dict]:
    """Test each of :data:`CLAIMS` on per-seed rows (``batch.summary.collect``) under one protocol.

    Returns one dict per claim: each side's mean and sd over its seeds (``better_mean``, ...),
    the paper's difference, our paired difference (mean, sd, 95% t-interval over seeds), the
    verdict (:data:`VERDICT_RULE`), whether the paper's difference lies inside our interval,
    and a label such as ``"laptop, n=5"``."""
    out = []
    for claim, better, worse in CLAIMS:
        per = {cfg: per_seed(rows, cfg, protocol, metric) for cfg in (better, worse)}
        sides = {
            f"{side}_{k}": v
            for side, cfg in (("better", better), ("worse", worse))
            for k, v in zip(("mean", "sd"), mean_sd(per[cfg].values()))
        }
        diff = paired_difference(per[better], per[worse])
        paper_diff = paper_value(better, metric) - paper_value(worse, metric)
        inside = None if diff["lo"] is None else bool(diff["lo"] <= paper_diff <= diff["hi"])
        out.append(
            {
                "claim": claim,
                "better": better,
                "worse": worse,
                **sides,
                "paper_diff": paper_diff,
                **diff,
                "verdict": verdict(diff) if diff["n"] else "not run",
                "paper_inside": inside,
                "label": f"{scale}, n={diff['n']}",
            }
        )
    return out


LABELS = {
    "pixel_accuracy": "pixel acc.",
    "mean_iou": "mIoU",
    "vrand_class": "V_rand (class)",
    "vinfo_class": "V_info (class)",
    "isbi_vrand": "ISBI V_rand",
    "isbi_vinfo": "ISBI V_info",
}


def claims_table(claims: list[dict], digits: int = 4) -> str:
    """Markdown table of :func:`check_claims` rows: A and B (mean ± sd), then A - B paired."""
    rows = []
    for c in claims:
        inside = {None: "n/a", True: "inside", False: "outside"}[c["paper_inside"]]
        rows.append(
            [
                f"{c['claim']}: {c['better']} - {c['worse']} ({c['label']})",
                fmt_mean_sd(c.get("better_mean"), c.get("better_sd"), digits),
                fmt_mean_sd(c.get("worse_mean"), c.get("worse_sd"), digits),
                f"{fmt_number(c['paper_diff'], digits, True)}, {inside}",
                fmt_mean_sd(c["mean"], c["sd"], digits, sign=True),
                fmt_interval(c["lo"], c["hi"], digits),
                c["verdict"],
            ]
        )
    header = [
        "claim: A - B (scale)",
        "A: mean ± sd",
        "B: mean ± sd",
        "paper Δ, in our interval?",
        "our Δ ± sd",
        "95% interval",
        "verdict",
    ]
    return markdown_table(header, rows)


def results_table(
    rows: list[dict], configs, metrics=METRICS4, scale: str = "laptop", digits: int = 4
) -> str:
    """Markdown table of the paper's numbers beside ours (mean ± sd over seeds, both protocols).

    ``rows``: per-seed rows (``batch.summary.collect``). Every row of ours says its scale and
    number of seeds (``"laptop, n=5"``); the paper's says what it is (one run, best on test)."""
    body = []
    for cfg in configs:
        if cfg in PAPER_RESULTS:
            body.append(
                [
                    cfg,
                    "paper (one run, best epoch on test)",
                    *(
                        fmt_number(paper_value(cfg, m), digits) if m in METRICS4 else "n/a"
                        for m in metrics
                    ),
                ]
            )
        for protocol in ("honest", "paper_protocol"):
            mine = [r for r in rows if r["config"] == cfg and r["protocol"] == protocol]
            if mine:
                cells = [fmt_mean_sd(*mean_sd(r[m] for r in mine), digits) for m in metrics]
                body.append(
                    [cfg, f"ours, {protocol.replace('_', ' ')} ({scale}, n={len(mine)})", *cells]
                )
    return markdown_table(["config", "source", *(LABELS.get(m, m) for m in metrics)], body)


def claims_summary(rows: list[dict], scale: str = "laptop") -> tuple[str, list[dict]]:
    """The paired differences of every claim whose two configurations both have runs, under both
    protocols: a Markdown section (the verdict rule first) and the rows, for a batch summary."""
    present = {r["config"] for r in rows}
    out, parts = [], []
    for protocol in ("honest", "paper_protocol"):
        claims = [
            c | {"protocol": protocol}
            for c in check_claims(rows, protocol, scale=scale)
            if c["better"] in present and c["worse"] in present
        ]
        if claims:
            out += claims
            parts += [
                "",
                f"Paired differences in mIoU, {protocol.replace('_', ' ')}:",
                "",
                claims_table(claims),
            ]
    if not out:
        return "", []
    return "\n".join(["", "## The paper's claims", "", VERDICT_RULE, *parts]), out
