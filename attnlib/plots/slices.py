"""Slices: a grayscale slice with its membranes in red, a grid of them, the attention maps.

Every function draws with matplotlib and returns the ``Figure`` (``overlay``: the ``Axes``).
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
            overlay(
                ax,
                images[i],
                None if masks is None else masks[i],
                None if titles is None else titles[i],
            )
        else:
            ax.set_axis_off()
    fig.tight_layout()
    return fig


def plot_attention(image, maps, ncols=4, size=2.4):
    """A slice and every gate's attention map (name -> ``(B, 1, h, w)`` or ``(h, w)``), first
    item."""
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
