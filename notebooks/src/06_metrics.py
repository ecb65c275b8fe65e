# %% [markdown]
# # 6. Metrics: pixel scores, the class table and the ISBI segment scores
#
# The paper {cite}`xu2021attention` reports four numbers per model:
# {term}`pixel accuracy <Pixel accuracy>`, {term}`mIoU`, {term}`V_rand` and
# {term}`V_info` (its Eq. 6-9). All four come from one 2×2 table of pixel
# counts. The {term}`ISBI 2012 challenge` {cite}`arganda2015crowdsourcing`,
# whose data the paper uses, scores V_rand and V_info differently: over *cells*
# (connected regions), after {term}`border thinning <Border thinning>`. This
# notebook computes both kinds by hand, then builds predictions with one
# deliberate error each (a gap in a membrane, a line through a cell, a thicker
# or thinner membrane) and watches which scores notice.
#
# **Learning goals**
#
# - count the 2×2 confusion table with one `np.bincount`, and compute the
#   paper's four scores from it, by hand on a 4×4 example and with
#   `attnlib.metrics`;
# - compute the challenge's segment scores on the same example, and say what
#   they measure that the class table does not;
# - see on a real slice that a three-pixel gap merging two cells barely moves
#   the pixel scores but costs the segment scores, while a thicker membrane does
#   the opposite;
# - explain why pixel accuracy flatters (the trivial "all cell" prediction
#   scores about 0.80);
# - relate `isbi_vrand` to `skimage.metrics.adapted_rand_error`, pool or average
#   over images, and know what an evaluation costs.

# %% [markdown]
# ## Setup

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from scipy import ndimage
from skimage.metrics import adapted_rand_error

from attnlib import data, label_errors, metrics, plots
from attnlib.isbi_metrics import ground_truth_cells, thinned_segments

images, labels = (
    data.load_isbi2012()
)  # uint8 (30, 512, 512); labels 0 = membrane, 1 = cell
test = list(data.PAPER_SPLIT.test)  # slices 25-29, the paper's test set

# %% [markdown]
# ## The 2×2 confusion table
#
# Every class score starts from the counts $n_{ij}$ = number of pixels
# **predicted** as class $i$ whose **label** is class $j$ (rows = prediction,
# columns = label, the layout of the paper's code). With two classes a pixel has
# four possible (prediction, label) pairs; code each pair as one number
# $2i + j \in \{0, 1, 2, 3\}$ and count the codes with `np.bincount`. Here on a
# 4×4 example, whose prediction misses two membrane pixels and adds one:

# %%
# NBVAL_CHECK_OUTPUT
label = np.array(
    [[1, 1, 0, 1], [1, 1, 0, 1], [0, 0, 0, 0], [1, 1, 0, 1]]
)  # 0 = membrane, 1 = cell
pred = np.array([[1, 1, 1, 1], [1, 1, 0, 1], [1, 0, 0, 0], [1, 1, 0, 0]])
cm = np.bincount((2 * pred + label).ravel(), minlength=4).reshape(
    2, 2
)  # cm[i, j]: predicted i, label j
print("np.bincount:\n", cm)
print(
    "attnlib.metrics.confusion equal:",
    np.array_equal(cm, metrics.confusion(pred, label)),
)
print(
    "per image, shape:",
    metrics.confusion(
        np.stack([pred, label]), np.stack([label, label]), per_image=True
    ).shape,
)

# %% [markdown]
# ## The paper's four scores, by hand
#
# Divide by the total to get $p_{ij} = n_{ij}/n$, with marginals
# $s_i = \sum_j p_{ij}$ (the prediction) and $t_j = \sum_i p_{ij}$ (the label).
# Here $n = 16$, $p = \frac{1}{16}\begin{pmatrix}5 & 1\\ 2 & 8\end{pmatrix}$,
# $s = (6, 10)/16$ and $t = (7, 9)/16$. The paper's Eq. 6-9 (with
# $\alpha = 0.5$) are then:
#
# - **pixel accuracy** (Eq. 6), the diagonal:
#   $p_{00} + p_{11} = \frac{5 + 8}{16} = \frac{13}{16} = 0.8125$;
# - **mIoU** (Eq. 7), per class the diagonal count over the union
#   $n_{k\cdot} + n_{\cdot k} - n_{kk}$:
#   $\mathrm{IoU}_0 = \frac{5}{6 + 7 - 5} = \frac58$,
#   $\mathrm{IoU}_1 = \frac{8}{10 + 9 - 8} = \frac{8}{11}$, mean
#   $\frac{119}{176} \approx 0.6761$;
# - **V_rand** (Eq. 8):
#   $\dfrac{\sum_{ij} p_{ij}^2}{\frac12\sum_i s_i^2 + \frac12\sum_j t_j^2}
#   = \dfrac{(25 + 1 + 4 + 64)/256}
#   {\frac12 (36 + 100)/256 + \frac12 (49 + 81)/256}
#   = \dfrac{94}{133} \approx 0.7068$;
# - **V_info** (Eq. 9): the mutual information $I = H(s) + H(t) - H(p)$ over the
#   mean entropy $\frac12 H(s) + \frac12 H(t)$, natural logs:

# %%
# NBVAL_CHECK_OUTPUT
p = cm / cm.sum()
s, t = p.sum(axis=1), p.sum(axis=0)  # prediction and label marginals


def entropy(q):
    q = q[q > 0]
    return -(q * np.log(q)).sum()


by_hand = {
    "pixel_accuracy": np.trace(p),
    "mean_iou": np.mean(
        [cm[k, k] / (cm[k].sum() + cm[:, k].sum() - cm[k, k]) for k in (0, 1)]
    ),
    "vrand_class": (p**2).sum() / (0.5 * (s**2).sum() + 0.5 * (t**2).sum()),
    "vinfo_class": (entropy(s) + entropy(t) - entropy(p.ravel()))
    / (0.5 * entropy(s) + 0.5 * entropy(t)),
}
print(
    f"H(s) = {entropy(s):.4f}, H(t) = {entropy(t):.4f}, H(p) = "
    f"{entropy(p.ravel()):.4f}"
)
print(
    metrics.format_table(
        {
            "by hand": by_hand,
            "attnlib.metrics": metrics.class_scores(pred, label),
        }
    )
)

# %% [markdown]
# So $V^{info} = (0.6616 + 0.6853 - 1.1433) / 0.6734 \approx 0.3023$. (`attnlib`
# keeps the paper's code's $\epsilon = 10^{-7}$ inside the logarithms; it
# changes nothing at 4 decimals.)
#
# V_rand and V_info were made to compare two *segmentations*: partitions of the
# pixels into groups, whatever the groups are called. Applied to the class table
# they treat "membrane" and "cell" as the only two groups. They then ask whether
# two pixels are put together alike, not which class they got: a prediction with
# the two classes swapped is perfect for them.

# %%
# NBVAL_CHECK_OUTPUT
print(
    metrics.format_table(
        {"classes swapped": metrics.class_scores(1 - label, label)}
    )
)

# %% [markdown]
# ## The ISBI challenge's scores on the same prediction
#
# The challenge {cite}`arganda2015crowdsourcing` compares **cells**, not
# classes. For each slice:
#
# 1. the ground-truth cells are the 4-connected regions of the cell class; the
#    membrane is not a cell;
# 2. the prediction (for a probability map: `prob > t`, for each threshold
#    $t = 0.0, 0.1, \dots, 0.9$) is split into its 4-connected cells, and its
#    membrane is thinned to one-pixel lines by a watershed from those cells
#    ({term}`border thinning <Border thinning>`), so a thick membrane is not
#    penalised; the line pixels count as single-pixel segments;
# 3. only ground-truth cell pixels are counted ("foreground-restricted"); from
#    the table $n_{ij}$ = pixels in ground-truth cell $i$ and predicted segment
#    $j$, with row sums $a_i$ and column sums $b_j$:
#    $V^{rand} = \dfrac{2\sum_{ij} n_{ij}^2}{\sum_i a_i^2 + \sum_j b_j^2}$ and
#    $V^{info} = \dfrac{2\,I(A;B)}{H(A) + H(B)}$;
# 4. the slice scores are averaged, and the best threshold is reported.
#
# `attnlib.isbi_metrics` implements this (`isbi_vrand`, `isbi_vinfo`). On the
# 4×4 example the label has four cells; the two missed membrane pixels open gaps
# that join three of them, and the fourth (the single pixel at the bottom right)
# is predicted as membrane, which thinning floods from the only predicted cell:

# %%
# NBVAL_CHECK_OUTPUT
gt_cells, segments = ground_truth_cells(label), thinned_segments(pred == 1)
print("ground-truth cells:\n", gt_cells)
print("predicted segments after thinning:\n", segments)
a = np.bincount(gt_cells[gt_cells > 0])[
    1:
]  # cell sizes (4, 2, 2, 1); all in segment 1, so n_ij = a_i
print(
    f"V_rand = 2 sum n^2 / (sum a^2 + sum b^2) = 2 * {(a**2).sum()} / "
    f"({(a**2).sum()} + {a.sum() ** 2}) "
    f"= {2 * (a**2).sum() / ((a**2).sum() + a.sum() ** 2):.4f}"
)
print(
    f"isbi_vrand {metrics.isbi_vrand(pred, label):.4f}   isbi_vinfo "
    f"{metrics.isbi_vinfo(pred, label):.4f}   "
    f"(class table: vrand {metrics.vrand_class(pred, label):.4f}, vinfo "
    f"{metrics.vinfo_class(pred, label):.4f})"
)

# %% [markdown]
# The same three wrong pixels cost much more here: everything became one
# segment, so the prediction carries no information about which cell a pixel
# belongs to ($V^{info} = 0$), and $V^{rand} = 50/106 \approx 0.47$ against 0.71
# in the class table.
#
# ## Merges, splits and thick membranes on a real slice
#
# Now the real test slice 25 and its label, with one error built in each time
# (`attnlib.label_errors`):
#
# - **(a) merge**: a one-pixel gap cut through the membrane between two large
#   cells, at the narrowest place;
# - **(b) split**: a one-pixel membrane line drawn across the largest cell at
#   its waist;
# - **(c) thicker**: the whole membrane grown by one pixel;
# - **(c') thinner**: the whole membrane shrunk by one pixel (where it was one
#   or two pixels wide, it disappears).
#
# The pictures show a 96×96 window around the damage. Top: the image with the
# predicted membrane in red and the changed pixels in yellow. Bottom: the
# prediction (membrane black), with the ground-truth cells that it merges in
# blue and those it splits in orange (as the ISBI scores see them, after
# thinning), and in yellow the places where two merged cells meet.

# %%
lab25, gt25 = labels[25], ground_truth_cells(labels[25])
cases = {
    "(a) merge": label_errors.merge_gap(lab25),
    "(b) split": label_errors.split_line(lab25),
    "(c) thicker": label_errors.thicken(lab25),
    "(c') thinner": label_errors.thin(lab25),
}
colors = ListedColormap(
    ["black", "0.85", "tab:blue", "tab:orange", "yellow"]
)  # membrane, cell, merged, split, site
fig, axes = plt.subplots(2, 4, figsize=(11, 5.6))
for col, (name, (pred25, changed)) in enumerate(cases.items()):
    merged, split = label_errors.merged_and_split(pred25, lab25)
    sites, big_sites = (
        label_errors.merge_sites(pred25, lab25),
        label_errors.merge_sites(pred25, lab25, min_cell=1000),
    )
    win = label_errors.window(
        big_sites if big_sites.any() else changed if col < 2 else split
    )  # where to look
    plots.overlay(
        axes[0, col],
        images[25][win],
        pred25[win],
        title=f"{name}: {changed.sum()} pixels changed",
    )
    axes[0, col].imshow(
        np.ma.masked_where(~changed[win], changed[win]),
        cmap=ListedColormap(["yellow"]),
    )
    kind = np.select(
        [pred25 == 0, sites, split, merged], [0, 4, 3, 2], default=1
    )  # drawn on the prediction
    axes[1, col].imshow(
        kind[win], cmap=colors, vmin=0, vmax=4, interpolation="nearest"
    )
    axes[1, col].set_title(
        f"slice: {len(np.unique(gt25[merged]))} cells merged, "
        f"{len(np.unique(gt25[split]))} split",
        fontsize=8,
    )
    axes[1, col].set_axis_off()
fig.tight_layout()


# %% [markdown]
# And the six scores for each, next to the label itself and the trivial
# prediction "all cell":

# %%
# NBVAL_CHECK_OUTPUT
rows = {"label itself": metrics.evaluate(lab25, lab25)}
for name, (pred25, changed) in cases.items():
    rows[name] = {
        **metrics.evaluate(pred25, lab25),
        "changed": int(changed.sum()),
    }
rows["all cell"] = metrics.evaluate(np.ones_like(lab25), lab25)
print(metrics.format_table(rows, name="slice 25"))

# %% [markdown]
# Read the columns:
#
# - **(a)** changes 3 pixels of 262,144: pixel accuracy, mIoU and the
#   class-table V_rand do not move at 4 decimals. But two large cells became
#   one, and the segment V_rand loses 0.05, about as much as (c) costs pixel
#   accuracy.
# - **(b)** changes 96 pixels; the picture is the same: the pixel scores drop in
#   the fourth decimal, the segment scores by 0.05 and 0.01.
# - **(c)** changes thirteen thousand pixels, about 5%: pixel accuracy falls to
#   0.95 and the class-table V_info to 0.70. Border thinning puts the thick
#   membrane back on one-pixel lines and the cells stay the same cells, so the
#   segment scores hardly move (the three cells it cuts at narrow necks cost
#   almost nothing).
# - **(c')** changes about as many pixels at about the same pixel-score cost,
#   but where the membrane was thin it disappears, and twelve cells end up
#   merged with a neighbour: the segment scores notice.
#
# The class-table "V_rand" and "V_info" behave like the pixel scores, not like
# the challenge's: they count pixels in two classes and cannot see that a
# membrane has a gap. A model comparison in the paper's Table 1, decided in the
# third or fourth decimal of these scores, says little about what the challenge
# measures: whether the cells come out as cells.
#
# ## Why pixel accuracy flatters
#
# The last row above is the trivial prediction "all cell", with no membrane at
# all. On the five test slices, pooled as in the paper:

# %%
# NBVAL_CHECK_OUTPUT
all_cell = np.ones_like(labels[test])
print(
    metrics.format_table(
        {"all cell, slices 25-29": metrics.evaluate(all_cell, labels[test])}
    )
)
print(f"cell fraction of the test slices: {labels[test].mean():.4f}")

# %% [markdown]
# Pixel accuracy is about 0.80 for a prediction that finds nothing: it equals
# the cell fraction. The class-table V_rand (0.81) rewards it too, since the
# two-segment table is dominated by the big cell class. mIoU halves, because the
# membrane IoU is 0. The class-table V_info is 0 (no mutual information: one
# side has a single class), and the segment scores are near 0: all cells are one
# segment. For scale, the paper's best model (its Table 1) reports 0.9282 pixel
# accuracy and 0.9021 V_rand: about 0.13 and 0.09 above this trivial baseline.
#
# ## `isbi_vrand` and scikit-image's adapted Rand error
#
# `skimage.metrics.adapted_rand_error` is often used for the same purpose. Given
# the ground-truth cells and the predicted segments after thinning, it also
# ignores the ground-truth membrane, but it counts pairs of *distinct* pixels
# ($\sum n_{ij}^2 - n$ instead of $\sum n_{ij}^2$, likewise for $a$ and $b$) and
# it treats all line pixels together as one segment (label 0) instead of one
# segment each. It returns an *error*; the F-score is one minus the error:

# %%
# NBVAL_CHECK_OUTPUT
examples = {
    "4x4 example": (pred, label),
    **{name: (p25, lab25) for name, (p25, _) in cases.items()},
}
print(
    f"{'':<14} {'isbi_vrand':>10} {'1 - skimage error':>18} {'difference':>11}"
)
for name, (pr, lb) in examples.items():
    ours = metrics.isbi_vrand(pr, lb)
    theirs = (
        1
        - adapted_rand_error(ground_truth_cells(lb), thinned_segments(pr == 1))[
            0
        ]
    )
    print(f"{name:<14} {ours:10.4f} {theirs:18.4f} {ours - theirs:11.1e}")

# %% [markdown]
# On the 4×4 example, with cells of one to four pixels, the "$- n$" makes a big
# difference ($16/44 \approx 0.36$ instead of $50/106$); on real cells of
# thousands of pixels it is below the fourth decimal. The two agree at a perfect
# score and rank these predictions the same way, but scikit-image does not
# threshold, does not thin, and does not average slices: it is a building block,
# not the challenge's protocol.
#
# ## Pooled or per image
#
# The paper's code concatenates the five test slices and fills *one* table.
# Averaging one score per slice is the other choice, and it gives another number
# whenever the slices differ. Take a prediction that is perfect on four test
# slices and "all cell" on the fifth:

# %%
# NBVAL_CHECK_OUTPUT
mixed = labels[test].copy()
mixed[-1] = 1  # slice 29: no membrane found
pooled = metrics.class_scores(mixed, labels[test])
per_image = metrics.class_scores(mixed, labels[test], per_image=True)
print(
    metrics.format_table(
        {
            "pooled (the paper)": pooled,
            "mean of per-image": {
                k: float(v.mean()) for k, v in per_image.items()
            },
        }
    )
)
print("per-image mIoU:", np.round(per_image["mean_iou"], 4).tolist())

# %% [markdown]
# Pixel accuracy is the same either way (the slices have equal sizes, so the
# mean of the per-slice fractions is the pooled fraction). mIoU, V_rand and
# V_info are ratios, and a mean of ratios is not the ratio of the sums: here
# per-image averaging lowers mIoU and raises the class-table V_rand and V_info.
# The ISBI scores are per slice by definition (then averaged), so they have no
# pooled variant.
#
# ## What an evaluation costs
#
# Training evaluates the five test slices after every epoch
# (`attnlib.metrics.evaluate`). For a class map that is one table plus one
# watershed per slice; for a probability map the segment scores run the
# watershed for each of the ten thresholds. Timed here on a smoothed label as a
# stand-in for a probability map (timings vary with the machine; not checked):

# %%
prob = np.stack(
    [
        ndimage.gaussian_filter(lab.astype(np.float32), 1.5)
        for lab in labels[test]
    ]
)
for name, pr in [
    (
        "class map (label, membrane thickened)",
        np.stack([label_errors.thicken(lab)[0] for lab in labels[test]]),
    ),
    ("probability map (10 thresholds)", prob),
]:
    t0 = time.perf_counter()
    result = metrics.evaluate(pr, labels[test])
    print(
        f"{name:<38} {time.perf_counter() - t0:.2f} s   isbi_vrand "
        f"{result['isbi_vrand']:.4f}"
    )

# %% [markdown]
# ## Summary
#
# - The paper's four scores come from one 2×2 table: $n_{ij}$ = pixels predicted
#   $i$ with label $j$, one `np.bincount` away (`attnlib.metrics.confusion`).
# - Its V_rand and V_info compare two "segments", membrane and cell: they ignore
#   which class is which, and they cannot see a gap in a membrane.
# - The challenge's V_rand and V_info compare cells, after border thinning, on
#   the ground-truth cell pixels: a three-pixel gap or a one-pixel line costs
#   about 0.05 V_rand, while a membrane one pixel thicker everywhere costs
#   almost nothing.
# - Pixel accuracy flatters: "all cell" scores about 0.80 on the test slices,
#   and the class V_rand about 0.81.
# - `skimage.metrics.adapted_rand_error` counts distinct pairs and one line
#   segment; on real slices it agrees with `isbi_vrand` to 4 decimals, on tiny
#   examples it does not.
# - Pooling pixels and averaging per-image scores give different numbers; say
#   which you report.

# %% [markdown]
# ## Questions
#
# **Question 6.1.** Why does a prediction with the two classes swapped score a
# perfect 1.0 on the paper's class-table V_rand and V_info, but 0 on mIoU?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# The Rand and information scores compare two *groupings* of the pixels: they
# ask whether two pixels grouped together in the label are grouped together in
# the prediction, not what the groups are called. Swapping the classes keeps
# the grouping, so the table is a permutation of a perfect one. mIoU compares
# class with class, and every pixel is in the wrong one.
# :::

# %% [markdown]
# **Question 6.2.** A model misses three pixels of one membrane and so merges
# two cells. Which scores notice, and why?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# Three pixels of 262,144 do not move pixel accuracy, mIoU or the class-table
# scores at four decimals. The challenge's segment scores compare cells: two
# large cells became one, every pair of pixels across them is now wrongly
# grouped, and the segment V_rand loses about 0.05. What matters for
# reconstructing neurons is exactly such gaps.
# :::

# %% [markdown]
# **Question 6.3.** Why do the pooled scores of the five test slices differ
# from the mean of their per-slice scores?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# mIoU and the V scores are ratios of counts, and the ratio of the summed
# counts (pooled) is not the mean of the per-slice ratios: pooling weighs each
# slice by its pixel counts per class, averaging weighs every slice alike. Only
# pixel accuracy, whose denominator is the same for every slice, gives the same
# number both ways. Neither choice is wrong; a paper has to say which it
# reports.
# :::

# %% [markdown]
# **Question 6.4.** What would happen to the segment scores if border thinning
# were left out and a prediction had membranes twice as thick as the label's?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# The extra membrane pixels lie on ground-truth cell pixels, which are the
# ones scored; without thinning each of them would count as a wrongly
# segmented pixel, and a prediction with the right cells would be punished for
# a drawing style. Thinning puts every predicted border back on a one-pixel
# line, so only the topology (which pixels end up in which cell) is scored.
# :::

# %% [markdown]
# ## Exercises
#
# In the student edition (`notebooks/student/06_metrics.ipynb`) each exercise
# is a stub that raises `NotImplementedError`: replace its body with your code,
# then run the check below it.
#
# **Exercise 6.1.** Write `miou_from_confusion(cm)` for a 2×2 table `cm[i, j]`
# (predicted $i$, label $j$): the mean over the two classes of
# $\mathrm{IoU}_k$. A class absent from both the prediction and the label
# (union 0) counts as IoU 1.0.


# %% tags=["task"]
def miou_from_confusion(cm):
    raise NotImplementedError(
        "Exercise 6.1: mean over k of cm[k, k] / (row k + col k - cm[k, k])"
    )


# %% tags=["solution", "hide-cell"]
# Solution
def miou_from_confusion(cm):
    ious = []
    for k in (0, 1):
        union = cm[k].sum() + cm[:, k].sum() - cm[k, k]
        ious.append(cm[k, k] / union if union > 0 else 1.0)
    return float(np.mean(ious))


# %%
from attnlib import checks  # noqa: E402

checks.check_miou_from_confusion(miou_from_confusion)

# %% [markdown]
# **Exercise 6.2.** Write `vrand_from_confusion(cm)`: the paper's Eq. 8 with
# $\alpha = 0.5$, from the counts.


# %% tags=["task"]
def vrand_from_confusion(cm):
    raise NotImplementedError(
        "Exercise 6.2: sum p^2 / (0.5 sum s^2 + 0.5 sum t^2), p = cm / total"
    )


# %% tags=["solution", "hide-cell"]
# Solution
def vrand_from_confusion(cm):
    p = cm / cm.sum()
    s, t = p.sum(axis=1), p.sum(axis=0)
    return float((p**2).sum() / (0.5 * (s**2).sum() + 0.5 * (t**2).sum()))


# %%
checks.check_vrand_from_confusion(vrand_from_confusion)

# %% [markdown]
# **Exercise 6.3.** Write `rand_fscore(gt_cells, segments)`, the challenge's
# V_rand of one slice *after* thinning: `gt_cells` holds ground-truth cell ids
# (0 = membrane, not counted) and `segments` predicted segment ids (0 = a
# thinned line: each such pixel is a segment of its own). Count only pixels
# with `gt_cells > 0`. Hint: `np.unique(..., return_counts=True)` on the pairs
# gives the non-zero $n_{ij}$.


# %% tags=["task"]
def rand_fscore(gt_cells, segments):
    raise NotImplementedError(
        "Exercise 6.3: 2 sum n_ij^2 / (sum a_i^2 + sum b_j^2) on gt_cells > 0"
    )


# %% tags=["solution", "hide-cell"]
# Solution
def rand_fscore(gt_cells, segments):
    fg = gt_cells > 0
    gt, seg = gt_cells[fg], segments[fg]
    line = seg == 0  # single-pixel segments
    pairs = np.stack([gt[~line], seg[~line]])
    _, n_ij = np.unique(pairs, axis=1, return_counts=True)
    _, a = np.unique(gt, return_counts=True)
    _, b = np.unique(seg[~line], return_counts=True)
    ones = line.sum()  # each line pixel adds 1^2 to sum n_ij^2 and to sum b_j^2
    return 2 * ((n_ij**2).sum() + ones) / ((a**2).sum() + (b**2).sum() + ones)


# %%
checks.check_rand_fscore(rand_fscore)
