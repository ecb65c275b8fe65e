"""Numbers as lines: a run's training curves, scores against the threshold, the paper's claims.

Every function draws with matplotlib and returns the ``Figure``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def plot_history(record, metrics=("mean_iou", "isbi_vrand")):
    """Training loss and held-out metrics per epoch, with both protocols' chosen epochs marked."""
    hist, evals, summary = record["history"], record["evals"], record.get("summary", {})
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.4))
    a.plot(hist["epoch"], hist["loss"], color="tab:blue")
    a.set(xlabel="epoch", ylabel="training loss", title=f"loss ({record['config']['loss']})")
    epochs = [e["epoch"] for e in evals]
    for m in metrics:
        b.plot(epochs, [e["test"][m] for e in evals], marker=".", label=f"test {m}")
        if evals and "val" in evals[0]:
            b.plot(epochs, [e["val"][m] for e in evals], ls="--", label=f"val {m}")
    styles = {
        "paper_protocol": ("tab:red", "best on test (paper)"),
        "honest": ("tab:green", "honest"),
    }
    for key, (color, label) in styles.items():
        if key in summary:
            b.axvline(
                summary[key]["epoch"],
                color=color,
                ls=":",
                label=f"{label}: epoch {summary[key]['epoch']}",
            )
    b.set(xlabel="epoch", ylabel="score on slices 25-29", title="held-out metrics")
    b.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_threshold_sweep(sweeps, slices_name="the choice slices"):
    """mIoU and ISBI V_rand against the threshold, one line per map, best marked.

    ``sweeps``: ``{name: attnlib.quality.threshold_sweep(...)}``; ``slices_name`` for the
    titles (the slices the sweeps were computed on).
    """
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.0))
    for ax, metric, title in zip(axes, ("mean_iou", "isbi_vrand"), ("mIoU", "ISBI V_rand")):
        for name, sw in sweeps.items():
            (line,) = ax.plot(sw["thresholds"], sw[metric], marker=".", label=name)
            best = sw["best"][metric]
            ax.plot(
                best,
                sw[metric][sw["thresholds"].index(best)],
                "o",
                ms=8,
                mfc="none",
                color=line.get_color(),
            )
        ax.axvline(0.5, color="0.6", ls=":", lw=1)
        ax.set_xlabel("threshold on P(cell)", fontsize=9)
        ax.set_title(f"{title} on {slices_name}", fontsize=9)
        ax.tick_params(labelsize=9)
    axes[0].legend(fontsize=9)
    fig.tight_layout()
    return fig


def plot_claims(claims, xlabel="A - B in mIoU (paired by seed)"):
    """One row per claim: our paired difference with its 95% interval, per protocol, and the
    paper's.

    ``claims``: :func:`attnlib.paper.check_claims` rows, each with a ``protocol`` key added.
    A claim without an interval (one seed) is drawn as a dot alone.
    """
    names = list(dict.fromkeys(c["claim"] for c in claims))
    styles = {"honest": ("tab:green", -0.13), "paper_protocol": ("tab:red", 0.13)}
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(names) + 1.2))
    for c in claims:
        color, dy = styles[c["protocol"]]
        y = names.index(c["claim"]) + dy
        if c["lo"] is not None:
            ax.hlines(y, c["lo"], c["hi"], color=color, lw=2)
        first = c["claim"] == names[0]
        ax.plot(
            c["mean"], y, "o", color=color, label=c["protocol"].replace("_", " ") if first else None
        )
    for i, name in enumerate(names):
        paper_diff = next(c["paper_diff"] for c in claims if c["claim"] == name)
        ax.plot(paper_diff, i, "kx", ms=8, label="paper (one run)" if i == 0 else None)
    ax.axvline(0, color="0.5", lw=1)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel, fontsize=9)
    ax.legend(fontsize=8, ncol=3, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def plot_isbi_curves(curves, metric="isbi_vrand", slices_name="slices 25-29"):
    """An ISBI score against the threshold, one line per configuration (mean over seeds, range
    shaded).

    ``curves``: ``{config: [curve, ...]}``, one curve per seed, each ``{"thresholds", metric}``
    (a run's ``evals[i]["isbi_curves"]["test"]`` or its ``threshold_curve``).
    """
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    for config, cs in curves.items():
        t = cs[0]["thresholds"]
        v = np.array([c[metric] for c in cs])  # (seeds, thresholds)
        (line,) = ax.plot(t, v.mean(0), marker=".", label=f"{config} (n={len(cs)})")
        ax.fill_between(t, v.min(0), v.max(0), color=line.get_color(), alpha=0.15)
    ax.set(
        xlabel="threshold on P(cell)",
        ylabel=metric,
        title=f"{metric} on {slices_name}, last evaluation",
    )
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def plot_selection(rows, metric="val_mean_iou", chosen=None, label="validation mIoU (fold 4)"):
    """One row per candidate: each seed's validation score as a dot, their mean as a bar;
    ``chosen`` in bold. ``rows``: :func:`attnlib.selection.val_rows` (validation only)."""
    names = list(dict.fromkeys(r["candidate"] for r in rows))
    fig, ax = plt.subplots(figsize=(7.5, 0.4 * len(names) + 1.2))
    for i, name in enumerate(names):
        values = [r[metric] for r in rows if r["candidate"] == name]
        ax.plot(values, [i] * len(values), "o", color="tab:blue", alpha=0.7)
        mean = sum(values) / len(values)
        ax.vlines(mean, i - 0.3, i + 0.3, color="k", lw=2)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    for tick in ax.get_yticklabels():
        tick.set_fontweight("bold" if tick.get_text() == chosen else "normal")
    ax.invert_yaxis()
    ax.set_xlabel(f"{label}: seeds (dots) and their mean (bar)", fontsize=9)
    fig.tight_layout()
    return fig
