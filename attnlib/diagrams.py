"""Schematic drawings of the networks (matplotlib), for the notebooks.

``draw_unetpp_grid`` draws the UNet++ node grid of Zhou et al. 2018 in the notation of
Xu, Bai, Wang (Eq. 1-3): node ``x_i_j`` sits at ``(j, -i)``; level i goes down, column j
goes right. Every function returns the ``Figure`` and shows or saves nothing.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

ARROWS = {  # kind -> (colour, line style, legend text)
    "down": ("0.45", "-", "down: 2x2 max-pool + ConvBlock"),
    "up": ("tab:blue", "-", "up: transposed conv of $x^{i+1,j-1}$"),
    "skip": ("black", "-", "skip from $x^{i,j-1}$"),
    "dense": ("tab:orange", "--", "dense skip from $x^{i,k}$, $k < j-1$"),
}


def unetpp_edges(depth: int = 4) -> list[tuple[str, tuple[int, int], tuple[int, int]]]:
    """Every connection of a UNet++ of the given depth L, as ``(kind, (i, j) from, (i, j) to)``.

    kinds: ``"down"`` (x_{i,0} -> x_{i+1,0}), ``"up"`` (x_{i+1,j-1} -> x_{i,j}),
    ``"skip"`` (x_{i,j-1} -> x_{i,j}) and ``"dense"`` (x_{i,k} -> x_{i,j}, k < j - 1).
    """
    edges = [("down", (i, 0), (i + 1, 0)) for i in range(depth)]
    for j in range(1, depth + 1):
        for i in range(depth - j + 1):
            edges.append(("up", (i + 1, j - 1), (i, j)))
            edges += [("skip" if k == j - 1 else "dense", (i, k), (i, j)) for k in range(j)]
    return edges


def draw_unetpp_grid(depth: int = 4, highlight_unet: bool = True, ax=None):
    """Draw the UNet++ grid: nodes at ``(j, -i)``, arrows for down, up, skip and dense skip.

    Args:
        depth: L, the number of poolings; the nodes are x_i_j with i + j <= L.
        highlight_unet: fill the nodes UNet also has (x_{i,0} and x_{i,L-i}) in blue.
        ax: an Axes to draw on; a new ``(8, 4.8)`` figure when None.

    Returns:
        the ``Figure``.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.8))
    for kind, (i0, j0), (i1, j1) in unetpp_edges(depth):
        colour, style, _ = ARROWS[kind]
        bend = -0.22 if kind == "dense" else 0.0  # dense skips arc above the row
        ax.annotate(
            "",
            xy=(j1, -i1),
            xytext=(j0, -i0),
            arrowprops=dict(
                arrowstyle="-|>",
                color=colour,
                ls=style,
                lw=1.2,
                shrinkA=13,
                shrinkB=13,
                connectionstyle=f"arc3,rad={bend}",
            ),
        )
    for i in range(depth + 1):
        for j in range(depth - i + 1):
            in_unet = highlight_unet and (j == 0 or j == depth - i)
            ax.scatter(
                j,
                -i,
                s=900,
                zorder=3,
                edgecolors="black",
                facecolors="lightsteelblue" if in_unet else "white",
            )
            ax.text(j, -i, f"$x^{{{i},{j}}}$", ha="center", va="center", fontsize=9, zorder=4)
    for j in range(1, depth + 1):  # the deep-supervision heads on x_0_1 .. x_0_L
        ax.annotate(
            f"head {j}",
            xy=(j, 0.0),
            xytext=(j + 0.28, 0.55),
            ha="center",
            fontsize=8,
            color="tab:green",
            arrowprops=dict(arrowstyle="<|-", color="tab:green", lw=1.2, shrinkA=2, shrinkB=13),
        )
    handles = [Line2D([], [], color=c, ls=s, label=t) for c, s, t in ARROWS.values()]
    handles.append(Line2D([], [], color="tab:green", label="1x1 conv head (deep supervision)"))
    if highlight_unet:
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="o",
                ms=9,
                mfc="lightsteelblue",
                mec="black",
                label="node UNet also has",
            )
        )
    ax.legend(handles=handles, loc="lower right", fontsize=8, frameon=False)
    ax.set_xlim(-0.5, depth + 0.5)
    ax.set_ylim(-depth - 0.5, 0.85)
    ax.set_xlabel("column $j$ (position along the skip pathway)")
    ax.set_ylabel("level $i$ (resolution $H/2^i$)")
    ax.set_xticks(range(depth + 1))
    ax.set_yticks([-i for i in range(depth + 1)], [str(i) for i in range(depth + 1)])
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax.figure
