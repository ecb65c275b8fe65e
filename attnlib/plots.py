"""Figures for the notebooks: slices with label overlays, training curves, Figure 5, attention maps.

Every function draws with matplotlib and returns the ``Figure``; nothing is shown or saved
here (notebooks display the figure, ``fig.savefig`` saves it).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

MEMBRANE_RGBA = (1.0, 0.25, 0.1, 0.45)  # membrane (class 0) drawn in translucent red


def overlay(ax, image, mask=None, title=None):
    """Draw a grayscale slice, and its membrane pixels (mask == 0) in red on top."""
    ax.imshow(image, cmap="gray", vmin=0, vmax=255 if np.asarray(image).dtype == np.uint8 else 1)
    if mask is not None:
        rgba = np.zeros((*np.shape(mask), 4))
        rgba[np.asarray(mask) == 0] = MEMBRANE_RGBA
        ax.imshow(rgba)
    if title:
        ax.set_title(title, fontsize=9)
    ax.set_axis_off()
    return ax


def show_slices(images, masks=None, titles=None, ncols=5, size=2.4):
    """A grid of slices, with membrane overlays when ``masks`` is given."""
    n = len(images)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n:
            overlay(ax, images[i], None if masks is None else masks[i], None if titles is None else titles[i])
        else:
            ax.set_axis_off()
    fig.tight_layout()
    return fig


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
    styles = {"paper_protocol": ("tab:red", "best on test (paper)"), "honest": ("tab:green", "honest")}
    for key, (color, label) in styles.items():
        if key in summary:
            b.axvline(summary[key]["epoch"], color=color, ls=":", label=f"{label}: epoch {summary[key]['epoch']}")
    b.set(xlabel="epoch", ylabel="score on slices 25-29", title="held-out metrics")
    b.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_predictions(images, labels, probs, indices=None, threshold=0.5):
    """The paper's Figure 5: image, label, prediction and errors for each held-out slice.

    Errors: red = membrane missed (false cell), blue = membrane invented (false membrane).
    """
    n = len(images)
    idx = list(range(n)) if indices is None else list(indices)
    fig, axes = plt.subplots(4, n, figsize=(2.3 * n, 9.4), squeeze=False)
    for j in range(n):
        pred = (np.asarray(probs[j]) > threshold).astype(np.uint8)
        err = np.zeros((*pred.shape, 3))
        err[(pred == 1) & (labels[j] == 0)] = (1, 0, 0)
        err[(pred == 0) & (labels[j] == 1)] = (0, 0.4, 1)
        acc = (pred == labels[j]).mean()
        for i, (img, title) in enumerate([(images[j], f"slice {idx[j]}"), (labels[j], "label"),
                                          (probs[j], "P(cell)"), (err, f"errors (acc {acc:.3f})")]):
            ax = axes[i, j]
            ax.imshow(img, cmap="gray", vmin=0, vmax=255 if i == 0 else 1)
            ax.set_title(title, fontsize=8)
            ax.set_axis_off()
    fig.tight_layout()
    return fig


def plot_attention(image, maps, ncols=4, size=2.4):
    """A slice and every gate's attention map (name -> ``(B, 1, h, w)`` or ``(h, w)``), first item."""
    names = list(maps)
    n = len(names) + 1
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    overlay(axes.flat[0], image, title="input")
    for ax, name in zip(list(axes.flat)[1:], names):
        a = np.asarray(maps[name].float() if hasattr(maps[name], "float") else maps[name])
        a = a.reshape(-1, *a.shape[-2:])[0]
        im = ax.imshow(a, cmap="magma", vmin=0, vmax=1)
        ax.set_title(f"{name} {a.shape[0]}x{a.shape[1]}", fontsize=8)
        ax.set_axis_off()
    for ax in list(axes.flat)[n:]:
        ax.set_axis_off()
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.6, label="alpha")
    return fig


def plot_seed_spread(rows, metric="mean_iou", paper=None):
    """Per-configuration dots (one per seed) under both protocols, with the paper's value as a bar.

    Args:
        rows: dicts with ``config``, ``protocol``, ``seed`` and the metric (``experiments.collect``).
        paper: optional ``{config: value}`` of the paper's reported numbers.
    """
    configs = list(dict.fromkeys(r["config"] for r in rows))
    fig, ax = plt.subplots(figsize=(1.4 * len(configs) + 2, 3.6))
    for k, (protocol, color, dx) in enumerate([("paper_protocol", "tab:red", -0.12), ("honest", "tab:green", 0.12)]):
        for i, c in enumerate(configs):
            v = [r[metric] for r in rows if r["config"] == c and r["protocol"] == protocol]
            ax.scatter([i + dx] * len(v), v, color=color, s=18, label=protocol.replace("_", " ") if i == 0 else None)
            if v:
                ax.hlines(np.mean(v), i + dx - 0.08, i + dx + 0.08, color=color)
    if paper:
        for i, c in enumerate(configs):
            if c in paper:
                ax.hlines(paper[c], i - 0.3, i + 0.3, color="k", ls="--", label="paper" if i == 0 else None)
    ax.set_xticks(range(len(configs)), configs, rotation=20)
    ax.set(ylabel=metric, title=f"{metric} per seed on slices 25-29")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
