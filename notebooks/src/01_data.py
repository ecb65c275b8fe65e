# %% [markdown]
# # 1. The data: ISBI 2012 EM slices, labels, splits and augmentation
#
# Every later chapter trains on the same 30 images. This one looks at them
# closely: what they show, how the labels are coded, how unbalanced the two
# classes are, how the paper splits them, why a validation split must keep
# neighbouring slices together, and what the paper's augmentation does to an
# image *and its mask*.
#
# **Learning goals**
#
# - know what an ssTEM slice of the {term}`ISBI 2012 challenge` shows and how
#   its labels are coded (file value 255 = cell = class 1, 0 = {term}`membrane`
#   = class 0);
# - measure the class balance, and see why it makes {term}`pixel accuracy`
#   flattering;
# - use the paper's split (train 0-24, test 25-29) and contiguous k-fold
#   validation splits, and measure why random folds would leak;
# - measure how far the labels sit from the image's ridges (a sub-pixel
#   offset) and what a flip does to it;
# - apply each step of the paper's augmentation to an image and its mask
#   together, in plain numpy first and then with albumentations 2.x;
# - get `(B, 1, H, W)` float images and `(B, H, W)` long masks out of
#   `attnlib.data.ISBIDataset`.

# %% [markdown]
# ## Setup
#
# The data folder comes from the `ATTNLIB_DATA` environment variable (or a
# checksummed download into the user cache): `attnlib.data.load_isbi2012`
# verifies every file's SHA256 before use.

# %%
import numpy as np
import torch
import albumentations as A
import matplotlib.pyplot as plt

from attnlib import augment, checks, data, plots

np.random.seed(0)
torch.manual_seed(0)
images, labels = data.load_isbi2012()

# %% [markdown]
# ## What the images show
#
# The stack comes from serial-section transmission electron microscopy (ssTEM)
# of the ventral nerve cord of a *Drosophila* first-instar larva
# {cite}`cardona2010drosophila`; it became the training volume of the ISBI 2012
# segmentation challenge {cite}`arganda2015crowdsourcing`. A voxel is about
# $4 \times 4$ nm in the section plane and $50$ nm thick (the section
# thickness), so the data are strongly anisotropic: neighbouring pixels in a
# slice are 4 nm apart, neighbouring slices 50 nm. Each slice cuts across many
# neurites (thin nerve-cell processes): the bright, round-ish regions are their
# interiors, the dark lines between them are cell membranes. Inside the cells
# there are other dark structures (mitochondria, vesicles, cut organelles) that
# are *not* membrane, which is what makes the task harder than thresholding.

# %%
# NBVAL_CHECK_OUTPUT
print(
    "images:",
    images.shape,
    images.dtype,
    f"values {images.min()}..{images.max()}",
)
print(
    "labels:", labels.shape, labels.dtype, "values", np.unique(labels).tolist()
)
nm = np.array([50, 4, 4])  # (z, y, x) voxel size in nm
print(
    "extent (z, y, x) in micrometres:",
    (np.array(images.shape) * nm / 1000).round(3).tolist(),
)

# %% [markdown]
# ## Images and labels side by side
#
# Slice 0 (the first training slice) and slice 25 (the first test slice): the
# image, its label (white = cell, black = membrane), and a zoom on a 128 × 128
# pixel window (about 0.5 µm across) with the membrane label drawn in red on the
# image (`attnlib.plots.overlay`).

# %%
win = np.s_[192:320, 192:320]
panels, masks, titles = [], [], []
for i in (0, 25):
    panels += [images[i], labels[i].astype(float), images[i][win]]
    masks += [None, None, labels[i][win]]
    titles += [
        f"slice {i}",
        f"label {i} (white = cell)",
        "zoom 128 x 128, membrane in red",
    ]
fig = plots.show_slices(panels, masks, titles, ncols=3, size=2.2)

# %% [markdown]
# ## The label convention
#
# The label PNGs store **255 for cell interior and 0 for membrane** (the ISBI
# convention). The paper's code maps them with `np.where(label > 0, 2, 1)` and
# then subtracts 1, so cell becomes **class 1** and membrane **class 0**;
# `attnlib.data.labels_from_png` does the same (and refuses non-binary files).
# By hand on the raw file, then with attnlib:

# %%
# NBVAL_CHECK_OUTPUT
from PIL import Image

raw = np.asarray(Image.open(data.fetch_isbi2012() / "train/label/0.png"))
print("raw label file values:", np.unique(raw).tolist())
by_hand = (raw == 255).astype(np.uint8)  # 255 = cell -> 1, 0 = membrane -> 0
paper_code = np.where(raw > 0, 2, 1) - 1  # the paper's dataloader.py
print(
    "by hand == paper's code == attnlib:",
    np.array_equal(by_hand, paper_code)
    and np.array_equal(by_hand, data.labels_from_png(raw)),
)
print(
    "mean image intensity under membrane:",
    images[labels == 0].mean().round(1),
    " under cell:",
    images[labels == 1].mean().round(1),
)

# %% [markdown]
# Membrane pixels are darker on average, as they should be: the labels line up
# with the images. But the two intensity distributions overlap (the dark
# organelles inside cells), so the network has to use shape and context, not
# brightness alone.
#
# **A quirk of the course files.** The paper's code does not read these PNGs but
# a course folder with the same slices (`dataset/train_img`, `test_img`, ...).
# In that folder, `test_img/0.png` (slice 25) is stored *rotated by 180 degrees*
# while its label is not; the paper's loader therefore rotates that one label by
# 180 degrees (`label[::-1, ::-1]`) so that the pair lines up again. The result
# is slice 25 and its label, both rotated. Here both are stored unrotated, which
# gives the same aligned pair in the original orientation, so attnlib needs no
# special case (details in the data folder's README). Keep `a[::-1, ::-1]` in
# mind: it will reappear below as "vertical flip + horizontal flip".

# %% [markdown]
# ## Class balance
#
# The fraction of membrane pixels, per slice, in plain numpy:

# %%
membrane = (labels == 0).mean(axis=(1, 2))  # one number per slice
train, test = list(data.PAPER_SPLIT.train), list(data.PAPER_SPLIT.test)
fig, ax = plt.subplots(figsize=(10, 2.8))
ax.bar(train, membrane[train], color="tab:blue", label="train (0-24)")
ax.bar(test, membrane[test], color="tab:orange", label="test (25-29)")
ax.axhline(
    membrane.mean(),
    color="k",
    ls="--",
    lw=1,
    label=f"all 30: {membrane.mean():.3f}",
)
ax.set(xlabel="slice", ylabel="membrane fraction", ylim=(0, 0.3))
ax.legend(fontsize=8, ncol=3, loc="lower left")
fig.tight_layout()

# %%
# NBVAL_CHECK_OUTPUT
print("membrane fraction, all 30 slices:", (labels == 0).mean().round(4))
print(
    "  train 0-24:",
    (labels[train] == 0).mean().round(4),
    "  test 25-29:",
    (labels[test] == 0).mean().round(4),
)
print(
    "  per slice: min",
    membrane.min().round(4),
    f"(slice {membrane.argmin()})",
    " max",
    membrane.max().round(4),
    f"(slice {membrane.argmax()})",
)
all_cell_acc = (
    labels[test] == 1
).mean()  # predict "cell" everywhere: right on every cell pixel
iou_cell, iou_membrane = (
    all_cell_acc,
    0.0,
)  # cell: |pred & true| / |pred | true| = cell pixels / all pixels
print(
    "predict 'cell' everywhere on 25-29: pixel accuracy",
    all_cell_acc.round(4),
    " mIoU",
    ((iou_cell + iou_membrane) / 2).round(4),
)

# %% [markdown]
# About a fifth of the pixels are membrane, and the five test slices have fewer
# membrane pixels than the training slices. A "model" that predicts *cell*
# everywhere scores about 0.8 pixel accuracy on the test slices while finding no
# membrane at all; its {term}`mIoU` is only about 0.4 (IoU of the cell class =
# its frequency, IoU of the membrane class = 0). This is why the course reports
# mIoU and the ISBI scores ({term}`V_rand`, {term}`V_info`), and why chapter 5
# discusses losses that are less sensitive to the imbalance.

# %% [markdown]
# ## Where the labels sit: a sub-pixel offset
#
# A label should mark the dark ridge of each membrane. Does it, to the pixel?
# Move the image's darkness by a few rows and see where it matches the
# labelled membranes best, in plain numpy on slice 0 (one of the training
# slices 0-24: nothing here reads a label of 25-29):

# %%
dark = 255.0 - images[0]  # membranes are dark: make them large
mask = (labels[0] == 0) * 1.0  # 1 on the labelled membrane
dark, mask = dark - dark.mean(), mask - mask.mean()
match = {}
for dy in range(-2, 3):
    moved = np.roll(dark, dy, axis=0)  # the image moved dy rows down
    match[dy] = np.mean(moved[4:-4] * mask[4:-4])  # rows that did not wrap
    print(f"image moved {dy:+d} rows: match {match[dy]:6.2f}")

# %% [markdown]
# The best whole-row shift is not 0, and its neighbours are nearly as good:
# the true shift lies between two rows. The vertex of the parabola through the
# best shift and its two neighbours finds it to a fraction of a pixel:

# %%
left, mid, right = match[-2], match[-1], match[0]
print(f"dy = {-1 + 0.5 * (left - right) / (left - 2 * mid + right):+.2f} px")

# %% [markdown]
# `attnlib.registration` does the same in both directions (shifts of up to 2
# pixels each way, read on the interior), per slice. On every training slice:

# %%
from attnlib import registration  # noqa: E402

offsets = registration.slice_offsets(images[train], labels[train])  # (25, 2)
fig, ax = plt.subplots(figsize=(10, 2.6))
ax.plot(train, offsets[:, 0], "o-", label="dy (rows; < 0: labels above)")
ax.plot(train, offsets[:, 1], "s-", label="dx (columns; < 0: labels left)")
ax.axhline(0, color="k", lw=0.8)
ax.set(xlabel="slice", ylabel="shift onto the labels (px)", ylim=(-1, 0.5))
ax.legend(fontsize=8, ncol=2, loc="upper right")
fig.tight_layout()

# %%
# NBVAL_CHECK_OUTPUT
dy, dx = offsets.mean(0)
sd_y, sd_x = offsets.std(0)
print(f"slices 0-24: dy {dy:+.2f} +- {sd_y:.2f}, dx {dx:+.2f} +- {sd_x:.2f} px")
print("dy < 0 on", int((offsets[:, 0] < 0).sum()), "of 25 slices")

# %% [markdown]
# The image must move about 0.6 px *up* to sit on its labels, on every slice:
# the annotators drew each line a little above the dark ridge it marks. Seen
# across the membranes: for every short vertical run of membrane pixels,
# sample the image and the label a few pixels above and below the run's
# centre, and average.

# %%
profile = registration.membrane_profile(images, labels, train)
fig, ax = plt.subplots(figsize=(6.5, 3))
ax.plot(profile["t"], profile["image"], label="image intensity")
ax.set(xlabel="pixels below the label's centre line", ylabel="mean grey value")
ax.axvline(0, color="tab:orange", ls="--", lw=1, label="label centre")
ax.axvline(profile["ridge"], color="tab:blue", ls=":", lw=1,
           label=f"darkest: {profile['ridge']:+.2f} px")
twin = ax.twinx()
twin.plot(profile["t"], profile["label"], color="tab:orange")
twin.set_ylabel("membrane fraction of the label", color="tab:orange")
ax.legend(fontsize=8, loc="lower left")
fig.tight_layout()
print(f"{profile['runs']} membrane crossings in slices 0-24")

# %% [markdown]
# The label's profile is symmetric about its centre; the image is darkest
# about 0.6 px below it. A fraction of a pixel sounds harmless, but the
# metrics of chapter 06 compare pixels, and the membranes are only a few
# pixels wide. Two things follow, which the course tests later: a network
# that learns the labels exactly learns to draw its membranes 0.6 px above the
# ridges; and an augmentation that flips the image upside down turns that
# offset around (Question 1.5). Chapter 08 tests whether this offset explains
# why augmentation *loses* at laptop scale, by training on images moved onto
# their labels (`register="offset"` in the configuration:
# `attnlib.registration.register`, the offset measured on the training slices
# only and applied to every slice alike).

# %% [markdown]
# ## Splits
#
# ### The paper's split
#
# The paper trains on 25 slices and tests on 5 {cite}`xu2021attention` (Sec.
# 4.1); its code and the course folder show which ones: slices 0-24 and 25-29.

# %%
# NBVAL_CHECK_OUTPUT
print(data.PAPER_SPLIT)

# %% [markdown]
# There is no validation set: the paper picks the best of 500 epochs *on the
# test slices* ({term}`test-set selection bias <Test-set selection bias>`). An
# honest protocol needs validation slices taken from 0-24. How to choose them
# depends on one property of a stack.
#
# ### Neighbouring slices correlate
#
# Slices 50 nm apart cut the same neurites, so a slice looks partly like its
# neighbours. The Pearson correlation of the pixel intensities of every pair of
# slices, in plain numpy:

# %%
z = images.reshape(len(images), -1).astype(np.float64)
z = (z - z.mean(1, keepdims=True)) / z.std(
    1, keepdims=True
)  # standardise each slice
corr = z @ z.T / z.shape[1]  # (30, 30) correlation matrix
by_distance = {
    d: np.diag(corr, d).mean() for d in range(1, 30)
}  # mean over all pairs d apart
fig, (a, b) = plt.subplots(
    1, 2, figsize=(10, 3.2), gridspec_kw={"width_ratios": [1, 1.6]}
)
im = a.imshow(corr, cmap="magma", vmin=0, vmax=0.4)
a.set(title="correlation of slices i and j", xlabel="j", ylabel="i")
fig.colorbar(im, ax=a, shrink=0.8)
b.plot(list(by_distance), list(by_distance.values()), marker=".")
b.set(
    xlabel="distance |i - j| (slices of 50 nm)",
    ylabel="mean correlation",
    title="decay with distance",
)
fig.tight_layout()

# %%
# NBVAL_CHECK_OUTPUT
for d in (1, 2, 3, 5, 10, 20):
    print(f"distance {d:2d}: mean correlation {by_distance[d]:.4f}")
print(f"slices 24 (last train) and 25 (first test): {corr[24, 25]:.4f}")

# %% [markdown]
# Adjacent slices correlate at about 0.2, slices ten apart hardly at all. A
# validation slice whose neighbour is in the training set is therefore partly a
# slice the model has already seen, and its score is optimistic. (The paper's
# split has this at one place too: slices 24 and 25.)
#
# ### Contiguous k-fold splits
#
# `attnlib.data.kfold_splits` cuts 0-24 into $k$ **contiguous** blocks; each
# fold validates on one block and trains on the rest, and slices 25-29 stay the
# test set:

# %%
# NBVAL_CHECK_OUTPUT
folds = data.kfold_splits(5)
for f, s in enumerate(folds):
    print(f"fold {f}: val {s.val}, train {len(s.train)} slices, test {s.test}")
print("data.get_split('2') is fold 2:", data.get_split("2") == folds[2])

# %% [markdown]
# How much does the choice matter? For each validation slice, take its highest
# correlation with any training slice of the same fold, and average; compare
# with random folds of the same sizes:


# %%
# NBVAL_CHECK_OUTPUT
def leakage(val_blocks):
    """Mean over validation slices of the max correlation with a training
    slice of their fold."""
    best = [
        corr[v, [t for t in range(25) if t not in blk]].max()
        for blk in val_blocks
        for v in blk
    ]
    adjacent = sum(
        any(abs(v - t) == 1 for t in range(25) if t not in blk)
        for blk in val_blocks
        for v in blk
    )
    return np.mean(best), adjacent


random_blocks = [
    list(b) for b in np.array_split(np.random.default_rng(0).permutation(25), 5)
]
for name, blocks in [
    ("contiguous", [s.val for s in folds]),
    ("random", random_blocks),
]:
    mean_best, adj = leakage(blocks)
    print(
        f"{name:10s} folds: mean max-correlation to training {mean_best:.4f}; "
        f"{adj:2d} of 25 validation slices have a training neighbour"
    )

# %% [markdown]
# With these random folds every validation slice has a direct neighbour in the
# training set, and its best-matching training slice correlates about twice as
# strongly as with contiguous folds, whose blocks touch the training slices only
# at their ends. The course uses the contiguous folds whenever it needs
# validation (`split="0"` ... `"4"` in the configuration).

# %% [markdown]
# ## Augmentation
#
# With only 25 training images, the paper enlarges the data by random transforms
# {cite}`xu2021attention` (Sec. 3.3): 90-degree rotations, flips, Gaussian
# noise, blur and distortion. For segmentation there is one rule: **every
# geometric transform must be applied to the image and to its mask in the same
# way**, and the mask must stay binary.
#
# ### The idea in plain numpy
#
# A rotation by $k$ quarter turns and a mirror, by hand, on a 160 × 160 window
# of slice 0:

# %%
# NBVAL_CHECK_OUTPUT
x, m = images[0, :160, :160], labels[0, :160, :160]
k, flip = 1, True
x_hand, m_hand = np.rot90(x, k), np.rot90(m, k)  # rotate both...
if flip:
    x_hand, m_hand = x_hand[:, ::-1], m_hand[:, ::-1]  # ...and mirror both
print("mask still binary:", np.unique(m_hand).tolist())
print("membrane pixels kept:", (m_hand == 0).sum() == (m == 0).sum())
p = (m == 0).mean()
print(
    "a mask rotated *without* its image agrees with the true mask on "
    f"{(np.rot90(m) == m).mean():.0%} "
    f"of pixels; two unrelated masks with {p:.0%} membrane would agree on "
    f"{p**2 + (1 - p) ** 2:.0%}"
)

# %% [markdown]
# albumentations does the same: `HorizontalFlip` is `a[:, ::-1]`, `VerticalFlip`
# is `a[::-1]`, and both together are the 180-degree rotation `a[::-1, ::-1]` of
# the test-image quirk above:


# %%
# NBVAL_CHECK_OUTPUT
def both(t, x, m):
    out = t(image=x, mask=m)
    return out["image"], out["mask"]


hx, hm = both(A.HorizontalFlip(p=1.0), x, m)
vx, vm = both(A.VerticalFlip(p=1.0), x, m)
print(
    "HorizontalFlip == [:, ::-1]:",
    np.array_equal(hx, x[:, ::-1]) and np.array_equal(hm, m[:, ::-1]),
)
print(
    "VerticalFlip   == [::-1]:   ",
    np.array_equal(vx, x[::-1]) and np.array_equal(vm, m[::-1]),
)
vhx, _ = both(A.Compose([A.VerticalFlip(p=1.0), A.HorizontalFlip(p=1.0)]), x, m)
print("both flips == rot90(., 2):  ", np.array_equal(vhx, np.rot90(x, 2)))

# %% [markdown]
# `RandomRotate90` draws $k$ at random, so we find out which $k$ it drew from
# the image, and check that the mask got the same one:

# %%
# NBVAL_CHECK_OUTPUT
rot = A.Compose([A.RandomRotate90(p=1.0), A.HorizontalFlip(p=1.0)], seed=0)
for call in range(3):
    rx, rm = both(rot, x, m)
    k = next(
        k for k in range(4) if np.array_equal(rx, np.rot90(x, k)[:, ::-1])
    )  # which k was drawn?
    print(
        f"call {call}: drew k={k}; mask got the same k:",
        np.array_equal(rm, np.rot90(m, k)[:, ::-1]),
    )

# %% [markdown]
# ### Each step of the paper's pipeline
#
# `attnlib.augment.paper_steps()` returns each step on its own, forced on
# (`p=1`), so each can be shown on the same window. The red overlay is the
# *transformed mask*: where it still follows the dark lines, image and mask
# moved together. (The last panel is the elastic deformation of the U-Net paper
# {cite}`ronneberger2015unet`, which the paper does not use; it is the course's
# `augmentation="elastic"` alternative.)

# %%
steps = augment.paper_steps()
outs = {"original": (x, m)}
for name, t in steps.items():
    t.set_random_seed(0)  # fixed seed: the same picture on every run
    outs[name] = both(t, x, m)
fig = plots.show_slices(
    [o[0] for o in outs.values()],
    [o[1] for o in outs.values()],
    list(outs),
    ncols=6,
    size=1.6,
)

# %%
# NBVAL_CHECK_OUTPUT
print(
    f"{'step':20s} {'mask binary':>11s} {'membrane':>9s} "
    f"{'mask px changed':>16s} {'mean |image change|':>20s}"
)
for name, (xi, mi) in outs.items():
    print(
        f"{name:20s} {str(set(np.unique(mi).tolist()) <= {0, 1}):>11s} "
        f"{(mi == 0).mean():9.4f} "
        f"{(mi != m).mean():16.4f} {np.abs(xi.astype(int) - x).mean():20.2f}"
    )

# %% [markdown]
# Why each step helps:
#
# - **rotate 90, vertical/horizontal flip** simulate that a section has no
#   preferred orientation: the 4 rotations × 2 mirrors (the 8 symmetries of the
#   square) are equally plausible images. The mask moves with the image; the
#   membrane count does not change.
# - **Gaussian noise** simulates shot and detector noise of the microscope. The
#   mask does not change.
# - **motion / median / Gaussian blur** simulate focus, drift and
#   section-thickness variation. The mask does not change.
# - **grid / optical distortion** simulate sections that stretch, fold or
#   wrinkle when cut, and lens distortion. The mask is resampled with nearest
#   neighbour, so it stays binary.
#
# The geometric steps teach the network that orientation does not matter (8
# times more distinct views of each slice, at no labelling cost); the noise and
# blur steps make it robust to image quality ("polluted images", in the paper's
# words); distortion adds plausible new membrane shapes. The paper's ablation
# reports lower scores without augmentation {cite}`xu2021attention` (Sec. 4.5);
# chapter 8 tests that claim.
#
# ### From albumentations 1.x (the paper's code) to 2.x (this course)
#
# The paper's `dataloader.py` was written for albumentations 1.x. Its pipeline,
# in 2.x (`attnlib.augment.paper_augmentation`; the table is in the module's
# docstring):
#
# | paper's code (1.x) | here (2.x) |
# | --- | --- |
# | `RandomRotate90()` | `RandomRotate90(p=0.5)` (same default) |
# | `VerticalFlip(p=0.5)` | unchanged |
# | `HorizontalFlip(p=0.5)` | unchanged |
# | `GaussNoise(var_limit=400, p=0.2)` | `GaussNoise(std_range=(0, 20/255))` |
# | `OneOf([MotionBlur(), MedianBlur(), GaussianBlur()])` | unchanged |
# | `OneOf([GridDistortion(10), OpticalDistortion()])` | unchanged (*) |
#
# Both `OneOf` groups and the noise keep `p=0.2`; (*) the distortions keep 1.x's
# reflecting border.
#
# The noise is the one argument that had to be translated. 1.x drew a *variance*
# up to 400 in 0-255 units, i.e. a standard deviation up to $\sqrt{400} = 20$
# grey levels; 2.x draws a *standard deviation* as a fraction of the maximum
# value (255 for uint8), so the range becomes $(0, 20/255)$. The borders matter
# too: 2.x's distortions would pad with black, which in an EM image looks like
# membrane. attnlib builds every pipeline with `strict=True`, so a 1.x argument
# is an error instead of a silently ignored option:

# %%
# NBVAL_CHECK_OUTPUT
import warnings

with warnings.catch_warnings():
    warnings.simplefilter(
        "ignore"
    )  # albumentations also warns; the error is what matters here
    try:
        A.Compose([A.GaussNoise(var_limit=400)], strict=True)
    except ValueError as err:
        print("ValueError:", err)

# %% [markdown]
# The noise level, measured on flat images, and the average standard deviation
# each version draws:

# %%
# NBVAL_CHECK_OUTPUT
noise = A.GaussNoise(std_range=(20 / 255, 20 / 255), p=1.0)
for flat, scale in [
    (np.full((256, 256), 0.5, np.float32), 255),
    (np.full((256, 256), 128, np.uint8), 1),
]:
    noise.set_random_seed(0)
    std = noise(image=flat)["image"].astype(float).std() * scale
    print(
        f"std of the added noise on a flat {flat.dtype} image: {std:.1f} grey "
        "levels (1.x: sqrt(400) = 20)"
    )
u = np.random.default_rng(0).uniform(0, 1, 100_000)
print(
    "mean std drawn: 1.x (uniform variance)",
    np.sqrt(400 * u).mean().round(1),
    " 2.x (uniform std)",
    (20 * u).mean().round(1),
)

# %% [markdown]
# So the translation keeps the range, but not the distribution: 1.x's uniform
# variance gave stronger noise on average than 2.x's uniform standard deviation.
# A small difference, but one to state when comparing with the paper. (On a
# uint8 image the noisy result is converted back to whole grey levels, which
# shaves the measured standard deviation a little.)

# %% [markdown]
# ## The Dataset and the DataLoader
#
# A network wants float tensors with a channel axis and integer class targets.
# By hand for slice 3, then with `attnlib.data.ISBIDataset` (no crop, no
# augmentation):

# %%
# NBVAL_CHECK_OUTPUT
img_t = torch.from_numpy(images[3].astype(np.float32) / 255.0)[
    None
]  # (1, H, W) in [0, 1]
mask_t = torch.from_numpy(labels[3].astype(np.int64))  # (H, W) in {0, 1}
plain = data.ISBIDataset(images, labels, indices=[3])
ds_img, ds_mask = plain[0]
print(
    "by hand == ISBIDataset:",
    torch.equal(img_t, ds_img) and torch.equal(mask_t, ds_mask),
)
print(
    "image:",
    tuple(ds_img.shape),
    ds_img.dtype,
    f"range {ds_img.min():.4f}..{ds_img.max():.4f}",
)
print(
    "mask: ",
    tuple(ds_mask.shape),
    ds_mask.dtype,
    "values",
    torch.unique(ds_mask).tolist(),
)

# %% [markdown]
# For training, the dataset takes random square crops (before the augmentation;
# the `laptop` profile trains on 128 × 128 crops, the paper on whole slices) and
# applies the paper's pipeline. All randomness comes from
# `(seed, epoch, index)`, so an item is the same every time it is asked for in
# one epoch, and different in the next:

# %%
# NBVAL_CHECK_OUTPUT
ds = data.ISBIDataset(
    images,
    labels,
    indices=data.PAPER_SPLIT.train,
    crop=128,
    transform=augment.paper_augmentation(),
    samples_per_epoch=8,
    seed=0,
)
img0, mask0 = ds[0]
print(
    f"{len(ds)} items per epoch; item 0: image {tuple(img0.shape)} "
    f"{img0.dtype} "
    f"range {img0.min():.4f}..{img0.max():.4f}, mask {tuple(mask0.shape)} "
    f"{mask0.dtype} "
    f"values {torch.unique(mask0).tolist()}"
)
print("same item again, same epoch:", torch.equal(ds[0][0], img0))
ds.set_epoch(1)
print("same item, next epoch:      ", torch.equal(ds[0][0], img0))
ds.set_epoch(0)

# %% [markdown]
# `attnlib.data.EpochSampler` shuffles the items per epoch and hands the epoch
# to the dataset with each index (so DataLoader worker processes stay in step).
# A batch stacks the items:

# %%
# NBVAL_CHECK_OUTPUT
loader = torch.utils.data.DataLoader(
    ds, batch_size=4, sampler=data.EpochSampler(len(ds), seed=0)
)
xb, yb = next(iter(loader))
print(
    "images:", tuple(xb.shape), xb.dtype, " masks:", tuple(yb.shape), yb.dtype
)
print(
    "membrane fraction in this batch:",
    round((yb == 0).float().mean().item(), 4),
)

# %%
fig = plots.show_slices(
    (xb[:, 0].numpy() * 255).astype(np.uint8),
    yb.numpy(),
    [f"crop {i}" for i in range(len(xb))],
    ncols=4,
    size=2.0,
)

# %% [markdown]
# Each crop is a different slice, position and draw of the pipeline. Note the
# dark organelles inside some cells: they are labelled cell, not membrane,
# although they are dark too.

# %% [markdown]
# ## Summary
#
# - 30 ssTEM slices of 512 × 512 pixels, about 4 × 4 × 50 nm per voxel; labels
#   255 = cell (class 1) and 0 = membrane (class 0).
# - About 22 % of the pixels are membrane (fewer in the test slices 25-29 than
#   in 0-24): pixel accuracy flatters a model, mIoU much less.
# - The labels sit about 0.6 px above the image's membrane ridges, on every
#   training slice (`attnlib.registration`); flips and rotations turn that
#   offset.
# - The paper splits 0-24 / 25-29 and has no validation set; validation folds
#   over 0-24 must be contiguous blocks, because neighbouring slices correlate
#   far more than distant ones.
# - Augmentation moves image and mask together; the paper's pipeline translates
#   to albumentations 2.x with `GaussNoise(std_range=(0, 20/255))` and
#   reflecting borders.
# - `ISBIDataset` + `EpochSampler` give reproducible batches of `(B, 1, H, W)`
#   float images in [0, 1] and `(B, H, W)` int64 masks.

# %% [markdown]
# ## Questions
#
# **Question 1.1.** What pixel accuracy and what mIoU would a "model" score on
# the test slices if it predicted *membrane* everywhere?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# Its pixel accuracy is the membrane fraction of slices 25-29, about 0.2 (see
# the class balance above). Its membrane IoU is that same fraction (every
# membrane pixel is found, but every pixel is called membrane), its cell IoU
# is 0, so its mIoU is about 0.1, a quarter of what "all cell" scores: the
# error of always guessing the smaller class is the larger one.
# :::

# %% [markdown]
# **Question 1.2.** Why must a validation fold be a contiguous block of slices?
# What would a random fold report?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# Neighbouring slices, 50 nm apart, cut the same neurites: adjacent slices
# correlate at about 0.2, slices ten apart hardly at all. In a random fold
# almost every validation slice has a training neighbour, so part of what it
# "validates" has been seen in training and the score is optimistic. A
# contiguous block touches the training slices only at its two ends.
# :::

# %% [markdown]
# **Question 1.3.** What would happen if an augmentation rotated the image but
# not its mask, or resampled the mask with bilinear interpolation?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# Without the mask, the labels no longer belong to the image: above, a rotated
# mask agreed with the true mask hardly more than two unrelated masks do, so
# the network would be trained on largely wrong targets. Bilinear resampling
# produces values between 0 and 1 along every membrane edge, which are not
# classes; the mask must be moved with nearest neighbour so that it stays
# binary.
# :::

# %% [markdown]
# **Question 1.4.** In albumentations 2.x, what would
# `GaussNoise(std_range=(0, 20))` do to a uint8 slice, and why is the course's
# value 20/255?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# 2.x reads `std_range` as a fraction of the image's maximum value (255 for
# uint8), so `(0, 20)` means a standard deviation of up to 20 × 255 grey levels:
# after clipping, the image would be almost pure black-and-white noise. The
# paper's 1.x `var_limit=400` was a *variance* in grey levels, a standard
# deviation of up to $\sqrt{400} = 20$ grey levels, which is $20/255$ of the
# maximum.
# :::

# %% [markdown]
# **Question 1.5.** The labels sit about 0.6 px above the image's ridges. Where
# do they sit after a vertical flip of image and label together? After a
# horizontal flip, and after a 90-degree rotation? What can a network trained
# on all eight views learn about where to draw a membrane?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# A vertical flip turns "above" into "below": in the flipped pair the labels
# sit 0.6 px *below* the ridges. A horizontal flip leaves the vertical offset
# alone and turns the small horizontal one (dx, about -0.1 px) around; a
# 90-degree rotation moves the vertical offset into the horizontal direction.
# Over the eight views of the paper's pipeline the offset points in every
# direction equally often, so it averages to zero: the network cannot learn on
# which side of the ridge the annotator drew the line, and the best it can do
# is to centre its membranes on the ridges, a fraction of a pixel from where
# the test labels (drawn like all the others, above the ridge) put them. A
# network trained on unflipped slices can learn the offset. Chapter 08 tests
# what this costs.
# :::

# %% [markdown]
# ## Exercises
#
# In the student edition (`notebooks/student/01_data.ipynb`) each exercise is
# a stub that raises `NotImplementedError`: replace its body with your code,
# then run the check below it. A check says what is wrong until it prints
# "Correct".
#
# **Exercise 1.1.** Write `membrane_fraction(labels)`: the fraction of membrane
# pixels (class 0) of a label array of any shape (one slice or a stack), as one
# number.


# %% tags=["task"]
def membrane_fraction(labels):
    raise NotImplementedError(
        "Exercise 1.1: return the fraction of membrane (0) pixels"
    )


# %% tags=["solution", "hide-cell"]
# Solution
def membrane_fraction(labels):
    return float(np.mean(np.asarray(labels) == 0))


# %%
checks.check_membrane_fraction(membrane_fraction)

# %% [markdown]
# **Exercise 1.2.** Write `rot_flip(image, mask, k, flip)`: rotate both arrays
# by `k` quarter turns (as `np.rot90(a, k)`), then, if `flip` is true, mirror
# both left-right. Return `(image, mask)`. The check tries all eight
# `(k, flip)` choices on non-square images and verifies that the mask stays
# binary and aligned. Then the cell after it uses your function as a random
# augmentation.


# %% tags=["task"]
def rot_flip(image, mask, k, flip):
    raise NotImplementedError(
        "Exercise 1.2: rotate image and mask by k quarter turns, then flip"
    )


# %% tags=["solution", "hide-cell"]
# Solution
def rot_flip(image, mask, k, flip):
    image, mask = np.rot90(image, k), np.rot90(mask, k)
    if flip:
        image, mask = image[:, ::-1], mask[:, ::-1]
    return image, mask


# %%
checks.check_rot_flip(rot_flip)

# %%
rng = np.random.default_rng(0)
k, flip = int(rng.integers(4)), bool(rng.integers(2))  # one draw for both
xr, mr = rot_flip(x, m, k, flip)
print(
    "random rot_flip keeps the membrane count:",
    (mr == 0).sum() == (m == 0).sum(),
)

# %% [markdown]
# **Exercise 1.3.** Write `contiguous_kfold(n, k)`: a list of `k` pairs
# `(train, val)` of slice indices over `range(n)`, where each `val` is one
# contiguous block, the blocks cover every slice once, and their sizes differ
# by at most one. (`np.array_split` helps.) For `n=25, k=5` it must give the
# same validation blocks as `attnlib.data.kfold_splits`.


# %% tags=["task"]
def contiguous_kfold(n, k):
    raise NotImplementedError(
        "Exercise 1.3: return k (train, val) pairs with contiguous val blocks"
    )


# %% tags=["solution", "hide-cell"]
# Solution
def contiguous_kfold(n, k):
    folds = []
    for block in np.array_split(np.arange(n), k):
        val = block.tolist()
        folds.append(([i for i in range(n) if i not in val], val))
    return folds


# %%
checks.check_contiguous_kfold(contiguous_kfold)
