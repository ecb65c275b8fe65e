# %% [markdown]
# # 5. Losses: cross-entropy and Dice
#
# The paper {cite}`xu2021attention` trains with cross-entropy (its Eq. 4) and,
# in the ablation of Table 2, with a Dice loss (its Eq. 5, after V-Net
# {cite}`milletari2016vnet`). Cross-entropy wins by a small margin (0.8043
# against 0.8014 mIoU), and the paper explains it by "the scale of Dice loss is
# much smaller ... the small gradient". This notebook writes both losses down,
# codes them in a few lines of torch, and reads the paper's own code closely.
# The Dice loss of that code turns out not to be V-Net's Dice at all, and the
# gradient-scale explanation does not survive the optimizer the code uses.
#
# **Learning goals**
#
# - write cross-entropy in its standard form, spot the sign error in the paper's
#   Eq. 4, and check that `attnlib.losses.cross_entropy` is
#   `torch.nn.CrossEntropyLoss`;
# - code V-Net's per-class soft {term}`Dice loss` and compare it with
#   `attnlib.losses.soft_dice`;
# - derive that the paper's code's Dice equals one minus the mean probability of
#   the true class (a "soft accuracy"), and verify it;
# - plot each loss and its gradient for one pixel, and see which pixels each
#   loss pushes on;
# - test the paper's "small gradient" explanation on a real image, and see why
#   Adam makes a constant gradient scale irrelevant;
# - use the losses on a list of UNet++ heads, and build them by name.

# %% [markdown]
# ## Setup

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from attnlib import data, losses
from attnlib.models import build_model

torch.manual_seed(0)
torch.set_num_threads(
    1
)  # the tensors here are small: extra threads would cost more than they save
images, labels = (
    data.load_isbi2012()
)  # uint8 (30, 512, 512); labels 0 = membrane, 1 = cell

# %% [markdown]
# Every loss below takes the network's **logits** $z$, shape $(B, C, H, W)$ with
# $C = 2$ classes (0 = {term}`membrane <Membrane>`, 1 = cell), and the
# **target** $y$, shape $(B, H, W)$, integer class indices. The softmax turns
# the logits of pixel $x$ into probabilities
# $p_c(x) = e^{z_c(x)} / \sum_{c'} e^{z_{c'}(x)}$, and $y_c(x) \in \{0, 1\}$ is
# the one-hot target. $N = BHW$ is the number of pixels.
#
# ## Cross-entropy (Eq. 4)
#
# The paper prints its Eq. 4 as
#
# $$
# L_{CE}(\hat{Y}, Y) = \frac{1}{N} \sum_{i=1}^N \sum_{c \in \mathcal{C}_i}
# \Big(Y_{i,c} \log(\hat{Y}_{i,c})
# - (1 - Y_{i,c}) \log(1 - \hat{Y}_{i,c}) \Big),
# $$
#
# with $N$ the number of images and $\mathcal{C}_i$ the pixels of image $i$.
# This is the *binary* form (one probability $\hat{Y} = p_1$ per pixel) with a
# sign error: the first term should be negative too. The standard cross-entropy,
# averaged over the pixels, is
#
# $$
# L_{CE} = -\frac{1}{N} \sum_{x} \sum_{c} y_c(x) \log p_c(x)
# = -\frac{1}{N} \sum_x \log p_{y(x)}(x),
# $$
#
# which for two classes is
# $-\frac1N \sum_x \big[y_1 \log p_1 + (1 - y_1) \log(1 - p_1)\big]$. The
# paper's code does not use Eq. 4 at all: it trains with
# `nn.CrossEntropyLoss()`, which is the standard form (softmax, then the mean
# negative log-probability of the true class over all pixels of the batch). In
# plain torch, against torch's loss and `attnlib.losses.cross_entropy`:

# %%
# NBVAL_CHECK_OUTPUT
g = torch.Generator().manual_seed(0)
logits = 2 * torch.randn(2, 2, 16, 16, generator=g)  # (B, C, H, W)
target = torch.randint(0, 2, (2, 16, 16), generator=g)  # (B, H, W)

log_p = logits.log_softmax(dim=1)  # log p_c(x)
plain = -log_p.gather(1, target[:, None]).mean()  # -mean_x log p_{y(x)}(x)
p_cell, y = log_p[:, 1].exp(), target.float()
binary = -(
    y * p_cell.log() + (1 - y) * (1 - p_cell).log()
).mean()  # the two-class form
print(f"plain torch {plain:.4f}  binary form {binary:.4f}")
print(
    f"nn.CrossEntropyLoss {nn.CrossEntropyLoss()(logits, target):.4f}  "
    f"attnlib.losses.cross_entropy {losses.cross_entropy(logits, target):.4f}"
)

# %% [markdown]
# Why the sign matters: Eq. 4 as printed,
# $\tfrac1N\sum_x [y \log p_1 - (1-y)\log(1-p_1)]$, is *lowest* for a network
# that calls every pixel membrane. Compare a good prediction (probability 0.99
# on the true class everywhere) with a confident "all membrane" one:


# %%
# NBVAL_CHECK_OUTPUT
def eq4_as_printed(p_cell, y):
    return (y * p_cell.log() - (1 - y) * (1 - p_cell).log()).mean()


def bce(p_cell, y):
    return -(y * p_cell.log() + (1 - y) * (1 - p_cell).log()).mean()


y = torch.from_numpy(labels[25]).float()  # a real label, 1 = cell
for name, p in [
    ("good (0.99 on the true class)", 0.01 + 0.98 * y),
    ("all membrane (P(cell) = 0.01)", torch.full_like(y, 0.01)),
]:
    print(
        f"{name:<31} Eq. 4 as printed {eq4_as_printed(p, y):8.4f}   standard "
        f"{bce(p, y):7.4f}"
    )

# %% [markdown]
# Minimising the printed formula would drive every cell pixel to membrane; its
# value is not even bounded below. The standard form ranks the two predictions
# the right way round. (The $\frac1N$ over *images* in Eq. 4 also makes it
# $H W = 262{,}144$ times larger than the per-pixel mean of the code; we come
# back to such constant factors below.)
#
# ## Dice (Eq. 5): V-Net's soft Dice
#
# Eq. 5 is the set form
# $L_{Dice} = 1 - \frac{2|\hat{Y} \cap Y|}{|\hat{Y}| + |Y|}$. V-Net
# {cite}`milletari2016vnet` makes it differentiable by replacing the sets by
# probabilities and one-hot targets. Computed **per class** $c$ and averaged
# over the $C$ classes, with a smoothing constant $s$ (1 here) that keeps an
# empty class at Dice 1 instead of $0/0$:
#
# $$
# D_c = \frac{2\sum_x p_c(x)\, y_c(x) + s}{\sum_x p_c(x) + \sum_x y_c(x) + s},
# \qquad L_{soft} = 1 - \frac1C \sum_c D_c .
# $$
#
# V-Net itself squared the terms of the denominator ($\sum p_c^2 + \sum y_c^2$);
# `attnlib.losses.soft_dice` offers both (`squared=True`).


# %%
# NBVAL_CHECK_OUTPUT
def plain_soft_dice(logits, target, smooth=1.0, squared=False):
    p = logits.softmax(dim=1)
    y = (
        F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).float()
    )  # (B, C, H, W)
    inter = (p * y).sum(dim=(0, 2, 3))  # one number per class
    denom = (p**2 + y**2 if squared else p + y).sum(dim=(0, 2, 3))
    return 1 - ((2 * inter + smooth) / (denom + smooth)).mean()


for squared in (False, True):
    print(
        f"squared={squared!s:<5} plain "
        f"{plain_soft_dice(logits, target, squared=squared):.4f}  "
        f"attnlib {losses.soft_dice(logits, target, squared=squared):.4f}"
    )

# %% [markdown]
# ## The paper's Dice, as its code computes it
#
# The `--loss Dice` option of the paper's code (`losses.py` in the repository
# AllenXuuu/CS420-Machine-Learning) is, in full:
#
# ```python
# prob = self.softmax(score)
# onehot = nn.functional.one_hot(label, 2).permute((0, 3, 1, 2))
# intersection = (prob * onehot).sum()
# A = prob.sum()
# B = onehot.sum()
# dice = 2 * intersection / (A + B)
# return 1 - dice
# ```
#
# Every `.sum()` runs over the batch, **both classes** and all pixels at once:
# there is one ratio, not one per class. `attnlib.losses.seed_dice` reproduces
# it. Since the probabilities of a pixel sum to one and the target is one-hot,
# the three sums simplify:
#
# $$
# \sum_{x,c} p_c(x) = \sum_x 1 = N, \qquad \sum_{x,c} y_c(x) = N, \qquad
# \sum_{x,c} p_c(x)\,y_c(x) = \sum_x p_{y(x)}(x),
# $$
#
# $$
# \text{so}\qquad L_{seed} = 1 - \frac{2 \sum_x p_{y(x)}(x)}{N + N}
# = 1 - \frac1N \sum_x p_{y(x)}(x).
# $$
#
# The paper's Dice loss is **one minus the mean probability of the true class**:
# a "soft pixel accuracy", not V-Net's overlap score. Numerically:


# %%
# NBVAL_CHECK_OUTPUT
def paper_code_dice(
    score, label
):  # the code above, unchanged but for the names
    prob = torch.softmax(score, dim=1)
    onehot = F.one_hot(label, 2).permute(0, 3, 1, 2)
    return 1 - 2 * (prob * onehot).sum() / (prob.sum() + onehot.sum())


p_true = logits.softmax(dim=1).gather(1, target[:, None])  # p_{y(x)}(x)
print(
    f"paper's code {paper_code_dice(logits, target):.4f}  "
    "attnlib.losses.seed_dice "
    f"{losses.seed_dice(logits, target):.4f}  1 - mean p_true "
    f"{1 - p_true.mean():.4f}"
)
print(
    "all three agree to 1e-6:",
    all(
        torch.allclose(v, 1 - p_true.mean(), atol=1e-6)
        for v in (
            paper_code_dice(logits, target),
            losses.seed_dice(logits, target),
        )
    ),
)
print(
    "per-class soft Dice on the same input: "
    f"{losses.soft_dice(logits, target):.4f}"
)

# %% [markdown]
# ## Gradients, one pixel at a time
#
# Where a loss pushes matters more than its value. Take a row of $N = 100$
# pixels, 22 of them membrane (about the ISBI share), every pixel predicted with
# probability 0.9 for its true class, and vary the true-class logit $z$ of
# **one** pixel (the other logit stays 0, so that pixel's true-class probability
# is $p = \sigma(z)$). For cross-entropy and the paper's Dice (whose denominator
# is the constant $2N$) each pixel's term stands alone, and the gradient is
# known in closed form:
#
# - cross-entropy: the pixel contributes $-\frac1N \log p$, so
#   $\frac{\partial L}{\partial z} = -\frac{1 - p}{N}$;
# - the paper's Dice: it contributes $\frac1N (1 - p)$, so
#   $\frac{\partial L}{\partial z} = -\frac{p(1-p)}{N}$.
#
# Per-class soft Dice has no such formula (the ratios couple all pixels), so
# `torch.autograd` computes all three:

# %%
N, n_membrane = 100, 22
row_target = torch.ones(
    1, 1, N, dtype=torch.long
)  # (B, H, W) = (1, 1, 100), 1 = cell
row_target[..., :n_membrane] = 0
base = torch.zeros(1, 2, 1, N).scatter(
    1, row_target[:, None], math.log(9)
)  # p_true = 9 / (9 + 1) = 0.9
z_grid = torch.linspace(-8, 8, 161)
loss_fns = {
    "cross-entropy": losses.cross_entropy,
    "paper's Dice (seed_dice)": losses.seed_dice,
    "per-class soft Dice": losses.soft_dice,
}


def loss_and_grad(loss_fn, k):
    """Loss and d loss / d z along z_grid, z = true-class logit of pixel k."""
    out = []
    for z0 in z_grid:
        z = z0.clone().requires_grad_()
        lg = base.clone()
        lg[0, row_target[0, 0, k], 0, k] = z
        loss = loss_fn(lg, row_target)
        out.append((loss.item(), torch.autograd.grad(loss, z)[0].item()))
    return np.array(out)


curves = {
    (name, k): loss_and_grad(fn, k)
    for name, fn in loss_fns.items()
    for k in (0, 50)
}  # 0 membrane, 50 cell

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for (name, k), c in curves.items():
    color = f"C{list(loss_fns).index(name)}"
    if k == 0:
        axes[0].plot(z_grid, c[:, 0], color=color, label=name)
    axes[1].plot(
        z_grid,
        N * c[:, 1],
        color=color,
        ls="-" if k == 0 else "--",
        label=f"{name}, {'membrane' if k == 0 else 'cell'} pixel",
    )
p = torch.sigmoid(z_grid)
axes[1].plot(z_grid, -(1 - p), "k:", lw=1, label="$-(1-p)$ and $-p(1-p)$")
axes[1].plot(z_grid, -p * (1 - p), "k:", lw=1)
axes[0].set(
    xlabel="true-class logit $z$ of the membrane pixel",
    ylabel="loss",
    title="loss of the row",
)
axes[1].set(
    xlabel="true-class logit $z$ of the pixel",
    ylabel=r"$N \cdot \partial L / \partial z$",
    title="gradient on that pixel (x N)",
)
axes[0].legend(fontsize=8)
axes[1].legend(fontsize=7, loc="lower right")
fig.tight_layout()

# %%
# NBVAL_CHECK_OUTPUT
print("N * dL/dz at z = -4, 0, 4 (true-class probability 0.018, 0.5, 0.982)")
for (name, k), c in curves.items():
    values = [
        N * c[int(np.argmin(np.abs(z_grid.numpy() - z))), 1] for z in (-4, 0, 4)
    ]
    print(
        f"{name:<26} {'membrane' if k == 0 else 'cell':<9}",
        "  ".join(f"{v:+.4f}" for v in values),
    )

# %% [markdown]
# Read the right panel from left (the pixel is confidently wrong) to right
# (confidently right):
#
# - **Cross-entropy** pushes hardest on the worst pixels:
#   $N \cdot \partial L/\partial z \to -1$ as $p \to 0$, and it fades only as
#   the pixel becomes right. Membrane and cell pixels get the same push (the
#   solid and dashed curves coincide).
# - **The paper's Dice** is linear in the probability: every pixel adds
#   $(1 - p)/N$, so in terms of $p$ its gradient $-1/N$ is the same for every
#   pixel, however confident, while cross-entropy's $-1/(Np)$ grows without
#   bound for a wrong pixel. Through the softmax this becomes the bump
#   $-p(1-p)/N$: at most a quarter of cross-entropy's largest push, the same as
#   cross-entropy's once a pixel is right ($p(1-p) \approx 1 - p$ for
#   $p \to 1$), and *vanishing* for confidently wrong pixels, exactly where
#   cross-entropy pushes hardest. A pixel the network has got badly wrong costs
#   at most $1/N$ and is given up on. Again membrane and cell pixels are treated
#   alike.
# - **Per-class soft Dice** has the same bump shape through the softmax, but its
#   height depends on the class: the membrane pixel (solid) is pushed harder
#   than the cell pixel (dashed), because each class's Dice is a ratio over that
#   class's own, smaller sums. This reweighting of the rare class is what
#   V-Net's Dice is used for; the paper's Dice has none of it.
#
# ## What each loss rewards on imbalanced data
#
# A toy with the ISBI imbalance: 10,000 pixels, 22% membrane, and one feature
# per pixel (think of the intensity) that separates the classes only partly
# (membrane $\sim \mathcal{N}(-1, 1)$, cell $\sim \mathcal{N}(+1, 1)$). A
# two-parameter "network" predicts the logit difference
# $a \cdot \text{feature} + b$; we fit it with each loss (Adam, 300 steps) and
# look at what it learned: the feature threshold where it switches class, the
# fraction of pixels it calls membrane, its mean $P(\text{cell})$ (a calibrated
# model gives the true 0.78), and the scores.

# %%
# NBVAL_CHECK_OUTPUT
g = torch.Generator().manual_seed(0)
n = 10_000
toy_y = (torch.rand(n, generator=g) >= 0.22).long()  # 1 = cell (78%)
feature = torch.randn(n, generator=g) + torch.where(toy_y == 1, 1.0, -1.0)


def fit_toy(loss_fn, steps=300):
    a_b = torch.zeros(2, requires_grad=True)
    opt = torch.optim.Adam([a_b], lr=0.05)
    for _ in range(steps):
        d = a_b[0] * feature + a_b[1]  # logit(cell) - logit(membrane)
        loss = loss_fn(
            torch.stack([-d / 2, d / 2])[None, :, None, :], toy_y[None, None]
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    return a_b.detach()


print(
    "loss            slope a  threshold  called membrane  mean P(cell)  pixel "
    "acc  membrane IoU   mIoU"
)
for name in ("cross_entropy", "seed_dice", "soft_dice"):
    a, b = fit_toy(losses.build_loss(name))
    pred = (a * feature + b > 0).long()
    iou = [
        ((pred == k) & (toy_y == k)).sum() / ((pred == k) | (toy_y == k)).sum()
        for k in (0, 1)
    ]
    mean_p = torch.sigmoid(a * feature + b).mean()
    print(
        f"{name:<15} {a:7.4f}  {-b / a:9.4f}  "
        f"{(pred == 0).float().mean():15.4f}  {mean_p:12.4f}"
        f"  {(pred == toy_y).float().mean():9.4f}  {iou[0]:12.4f}  "
        f"{(iou[0] + iou[1]) / 2:6.4f}"
    )

# %% [markdown]
# For these two Gaussians and priors the threshold with the best expected
# accuracy is $\tfrac12 \ln(0.22/0.78) \approx -0.63$, and the calibrated slope
# is $a = 2$. Cross-entropy lands close to both: it fits the probabilities
# themselves, and its mean $P(\text{cell})$ matches the 78% of cell pixels. The
# paper's Dice has the highest pixel accuracy of the three, as a soft accuracy
# should, but it does so by steepening the slope $a$ until most pixels sit near
# 0 or 1 (where its loss approaches the plain error count): its probabilities
# are sharper than the data justify and its mean $P(\text{cell})$ overshoots. It
# calls the fewest pixels membrane. Per-class soft Dice moves the threshold
# towards the cell side and calls more pixels membrane, close to the true 22%:
# it gives up some pixel accuracy for the best membrane IoU. V-Net's Dice
# rewards overlap of the rare class; the paper's Dice rewards what cross-entropy
# rewards, pixel accuracy, with a gradient that gives up on the hardest pixels.
#
# ## The paper's Table 2: is the Dice gradient too small?
#
# Table 2 of the paper reports its Dice run at 0.8014 mIoU against 0.8043 for
# cross-entropy, and Sec. 4.5 guesses that "the scale of Dice loss is much
# smaller ... the small gradient blocks the model in a local optimum". Measure
# the scale on a real batch: an untrained small UNet (widths 4 … 64) on a
# 128×128 crop of training slice 0, gradients with respect to the logits and to
# the weights.

# %%
torch.manual_seed(0)
tiny = build_model(
    "unet", widths=(4, 8, 16, 32, 64)
)  # training mode, as in a training step
crop = np.s_[0, 192:320, 192:320]
xb = (
    torch.from_numpy(images[crop]).float().div(255)[None, None]
)  # (1, 1, 128, 128)
yb = torch.from_numpy(labels[crop]).long()[None]  # (1, 128, 128)
out = tiny(xb)
print(
    f"P(cell) of the untrained net: mean {out.softmax(1)[:, 1].mean():.3f}; "
    f"membrane share {(yb == 0).float().mean():.3f}"
)
print("loss            value   |dL/dlogits|  max per pixel  |dL/dweights|")
norms = {}
for name in ("cross_entropy", "seed_dice", "soft_dice"):
    z = out.detach().requires_grad_()
    loss = losses.build_loss(name)(z, yb)
    g_logits = torch.autograd.grad(loss, z)[0]
    g_w = torch.autograd.grad(
        losses.build_loss(name)(tiny(xb), yb), list(tiny.parameters())
    )
    norms[name] = (g_logits.norm(), torch.sqrt(sum((t**2).sum() for t in g_w)))
    print(
        f"{name:<14} {loss:6.4f}   {norms[name][0]:.3e}     "
        f"{g_logits.abs().max():.3e}    {norms[name][1]:.4f}"
    )
print(
    "seed_dice / cross_entropy: |dL/dlogits| "
    f"{norms['seed_dice'][0] / norms['cross_entropy'][0]:.2f}, "
    f"|dL/dweights| {norms['seed_dice'][1] / norms['cross_entropy'][1]:.2f}"
)

# %% [markdown]
# The paper's Dice does have the smaller loss, and a gradient less than half as
# large, both with respect to the logits and to the weights (at $p \approx 0.5$
# its per-pixel factor is $p(1-p) \approx 0.25$ against cross-entropy's
# $1 - p \approx 0.5$). But a *constant* factor on the gradient is not what an
# adaptive optimizer sees. The paper's text (Sec. 4.3, Alg. 1) says SGD, yet its
# training script builds `torch.optim.Adam(model.parameters(), lr=args.lr)`.
# Adam moves each weight by
# $\text{lr} \cdot \hat m / (\sqrt{\hat v} + \epsilon)$, the running mean of its
# gradient divided by the running root-mean-square: multiply the loss by $c$ and
# both scale by $c$, which cancels (up to $\epsilon = 10^{-8}$). SGD moves by
# $\text{lr} \cdot g$, which scales with $c$. Two steps of each on the tiny
# UNet, with the loss once as it is and once halved:


# %%
def updates(opt_name, scale, steps=2):
    torch.manual_seed(0)
    net = build_model("unet", widths=(4, 8, 16, 32, 64))
    start = [t.detach().clone() for t in net.parameters()]
    opt = (
        torch.optim.Adam(net.parameters(), lr=1e-3)
        if opt_name == "Adam"
        else torch.optim.SGD(net.parameters(), lr=0.1)
    )
    for _ in range(steps):
        loss = scale * losses.seed_dice(net(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return torch.cat(
        [(t.detach() - s).ravel() for t, s in zip(net.parameters(), start)]
    )


for opt_name in ("Adam", "SGD"):
    full, half = updates(opt_name, 1.0), updates(opt_name, 0.5)
    print(
        f"{opt_name:<4}: |update with loss/2| / |update with loss| = "
        f"{half.norm() / full.norm():.3f}, "
        "relative difference of the two updates "
        f"{(half - full).norm() / full.norm():.3f}"
    )

# %% [markdown]
# With SGD, halving the loss about halves the steps (exactly the first one);
# with Adam the steps stay the same size (their small relative difference comes
# from $\epsilon$, which is not negligible for the tiny gradients of the deepest
# weights of an *untrained* net). So "the scale of Dice loss is much smaller"
# cannot by itself explain the paper's result: under Adam a uniformly smaller
# gradient changes nothing. What the paper's Dice does change is the
# *direction*: which pixels get pushed, and how hard, relative to each other
# (the bump above), and Adam does not undo that, since it rescales per weight,
# not per pixel. The loss rewards soft pixel accuracy, close to what
# cross-entropy rewards, so a small difference in mIoU is what one would expect;
# and a 0.003 gap between two runs (one per loss, as far as the paper tells),
# each the best of 500 epochs scored on five test slices, may be no difference
# at all (notebook 8 measures how much such numbers move between seeds).
#
# ## UNet++: a list of heads
#
# UNet++ has four heads. With `deep_supervision="heads"` the model returns their
# four logit maps, and every loss in `attnlib.losses` accepts the list and
# returns the **mean of the per-head losses**, the
# {term}`deep supervision <Deep supervision>` of the UNet++ paper
# {cite}`zhou2018unetpp`. The paper's code instead averages the four logit maps
# inside the model (`deep_supervision="mean"`, the default) and takes one loss
# of the mean; notebook 3 compares the two readings of the paper's "the loss
# computation ... is averaged over these 4 feature maps". They give different
# values:

# %%
# NBVAL_CHECK_OUTPUT
g = torch.Generator().manual_seed(1)
heads = [
    torch.randn(2, 2, 16, 16, generator=g) * (k + 1) for k in range(4)
]  # four heads, (B, C, H, W) each
for name in ("cross_entropy", "seed_dice", "soft_dice"):
    fn = losses.build_loss(name)
    per_head = torch.stack([fn(h, target) for h in heads])
    print(
        f"{name:<14} list -> {fn(heads, target):.4f}  mean of per-head "
        f"{per_head.mean():.4f}  "
        "loss of mean logits (the paper's code) "
        f"{fn(torch.stack(heads).mean(0), target):.4f}"
    )

# %% [markdown]
# ## Losses by name
#
# Training configurations name their loss; `attnlib.losses.build_loss` turns the
# name into a callable. The paper's command-line names work too: `crossentropy`,
# and `dice`, which is the paper's code's Dice, i.e. `seed_dice`. Wrong names
# and misspelt options fail at once, with the fix in the message:

# %%
# NBVAL_CHECK_OUTPUT
print(
    "dice == seed_dice:",
    torch.equal(
        losses.build_loss("dice")(logits, target),
        losses.seed_dice(logits, target),
    ),
)
print(
    "ce_dice(dice_weight=0.5) == CE + 0.5 soft Dice:",
    torch.allclose(
        losses.build_loss("ce_dice", dice_weight=0.5)(logits, target),
        losses.cross_entropy(logits, target)
        + 0.5 * losses.soft_dice(logits, target),
    ),
)
for name, kwargs in [("focal", {}), ("soft_dice", {"smoth": 1.0})]:
    try:
        losses.build_loss(name, **kwargs)
    except ValueError as err:
        print("ValueError:", err)
try:
    losses.cross_entropy(logits, target.float())
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ## Summary
#
# - Cross-entropy is $-\frac1N\sum_x \log p_{y(x)}(x)$; the paper's Eq. 4 is
#   printed with a sign error, but its code uses `nn.CrossEntropyLoss`, which is
#   what `attnlib.losses.cross_entropy` is.
# - V-Net's soft Dice is a per-class overlap ratio, averaged over the classes
#   (`attnlib.losses.soft_dice`); it pushes the rare membrane class harder.
# - The paper's code sums over both classes before its one ratio, which makes
#   its "Dice" exactly $1 - \text{mean}_x\, p_{y(x)}(x)$: a soft pixel accuracy
#   (`attnlib.losses.seed_dice`). Its gradient $-p(1-p)/N$ vanishes for
#   confidently wrong pixels and treats both classes alike.
# - Its loss and gradient are indeed smaller than cross-entropy's, but Adam,
#   which the paper's code uses, cancels a constant scale; the difference
#   between the losses is in the direction.
# - A list of UNet++ heads gives the mean of the per-head losses (the paper's
#   code takes one loss of the mean logits instead).

# %% [markdown]
# ## Questions
#
# **Question 5.1.** What would a network learn if it minimised the paper's
# Eq. 4 exactly as printed?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# With the sign error, the term of a cell pixel is $+\log p_1$, which falls
# without bound as $p_1 \to 0$: the loss is lowest for a network that calls
# every pixel membrane, and it has no minimum at all. The paper's code does
# not use the formula; it trains with `nn.CrossEntropyLoss`.
# :::

# %% [markdown]
# **Question 5.2.** Why is the paper's code's Dice loss a "soft pixel
# accuracy" rather than an overlap score?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# Its sums run over both classes: the probabilities of a pixel sum to one and
# the target is one-hot, so both terms of the denominator are the number of
# pixels $N$, and the loss is $1 - \frac1N \sum_x p_{y(x)}(x)$, one minus the
# mean probability of the true class. Every pixel weighs the same, whatever
# its class, exactly as in pixel accuracy; nothing is a ratio per class any
# more.
# :::

# %% [markdown]
# **Question 5.3.** The paper explains the Dice run's lower score by its
# smaller gradient. Why does that not hold for the optimizer its code uses?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# The code trains with Adam, whose step is
# $\text{lr} \cdot \hat m / (\sqrt{\hat v} + \epsilon)$: multiplying the loss,
# and so every gradient, by a constant $c$ multiplies $\hat m$ and
# $\sqrt{\hat v}$ by $c$, and the step does not change (up to $\epsilon$). A
# uniformly smaller gradient would matter with plain SGD, whose step is
# proportional to it. What the paper's Dice changes is the *direction*: which
# pixels are pushed how hard.
# :::

# %% [markdown]
# **Question 5.4.** What would the per-class soft Dice do on a batch without
# any membrane pixel if the smoothing constant were $s = 0$?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# The membrane class's Dice would be $2 \cdot 0 / (\sum_x p_0(x) + 0) = 0$
# whatever the network predicts: that class adds a constant $1/C$ to the loss
# and no gradient, and the loss can never reach 0, even for a perfect
# prediction (and becomes $0/0$ if $p_0$ underflows to zero). With $s = 1$ the
# empty class scores $s / (\sum_x p_0(x) + s)$, which goes to 1 as the network
# predicts less membrane, the right answer.
# :::

# %% [markdown]
# **Question 5.5.** Which pixels does the paper's Dice "give up on", and why?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# The confidently wrong ones. Through the softmax its gradient for a pixel is
# $-p(1-p)/N$, with $p$ the true-class probability, which vanishes as
# $p \to 0$: a pixel the network has got badly wrong costs at most $1/N$ and is
# hardly pushed any more, where cross-entropy, $-(1-p)/N$, pushes hardest.
# :::

# %% [markdown]
# ## Exercises
#
# In the student edition (`notebooks/student/05_losses.ipynb`) each exercise
# is a stub that raises `NotImplementedError`: replace its body with your code,
# then run the check below it.
#
# **Exercise 5.1.** Write `seed_dice_from(prob, onehot)`: the paper's code's
# Dice loss from the softmax probabilities and the one-hot target, both
# $(B, C, H, W)$ float tensors, as a scalar tensor. Use the sums, not the
# shortcut.


# %% tags=["task"]
def seed_dice_from(prob, onehot):
    raise NotImplementedError(
        "Exercise 5.1: return 1 - 2 I / (A + B), sums over every axis"
    )


# %% tags=["solution", "hide-cell"]
# Solution
def seed_dice_from(prob, onehot):
    return 1 - 2 * (prob * onehot).sum() / (prob.sum() + onehot.sum())


# %%
from attnlib import checks  # noqa: E402

checks.check_seed_dice(seed_dice_from)

# %% [markdown]
# **Exercise 5.2.** Write `soft_dice_from(prob, onehot, smooth=1.0)`: V-Net's
# soft Dice loss, one Dice per class (sums over the batch and the pixels), with
# `smooth` added to numerator and denominator, averaged over the classes.


# %% tags=["task"]
def soft_dice_from(prob, onehot, smooth=1.0):
    raise NotImplementedError(
        "Exercise 5.2: one Dice per class, then 1 - their mean"
    )


# %% tags=["solution", "hide-cell"]
# Solution
def soft_dice_from(prob, onehot, smooth=1.0):
    dims = (0, 2, 3)  # everything but the class axis
    intersection = (prob * onehot).sum(dims)
    total = prob.sum(dims) + onehot.sum(dims)
    dice = (2 * intersection + smooth) / (total + smooth)
    return 1 - dice.mean()


# %%
checks.check_soft_dice(soft_dice_from)

# %% [markdown]
# **Exercise 5.3.** Write `seed_dice_grad(logits, target)`: the gradient of
# `seed_dice` with respect to the logits, $(B, C, H, W)$, *by formula*,
# without autograd. Start from $L = 1 - \frac1N\sum_x p_{y(x)}(x)$ and the
# softmax derivative $\partial p_y / \partial z_c = p_y(\delta_{cy} - p_c)$.


# %% tags=["task"]
def seed_dice_grad(logits, target):
    raise NotImplementedError(
        "Exercise 5.3: return -(1/N) p_y (delta_cy - p_c) for every logit"
    )


# %% tags=["solution", "hide-cell"]
# Solution
def seed_dice_grad(logits, target):
    p = logits.softmax(dim=1)
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(p.dtype)
    p_true = (p * onehot).sum(dim=1, keepdim=True)  # p_{y(x)}(x), (B, 1, H, W)
    # dL/dz_c = -(1/N) p_y (delta_cy - p_c)
    return -p_true * (onehot - p) / target.numel()


# %%
checks.check_seed_dice_grad(seed_dice_grad)
