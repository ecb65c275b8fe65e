# %% [markdown]
# # 2. UNet: blocks, shapes and parameters
#
# UNet {cite}`ronneberger2015unet` is the baseline of the paper we reproduce
# {cite}`xu2021attention`, and the skeleton its attention gates are added to.
# This notebook takes the network apart: the three blocks it is built from, the
# shape of a 512×512 slice at every level, where its 31 million parameters sit,
# what an untrained UNet predicts, what the widths cost, and why the input size
# must be a multiple of 16.
#
# **Learning goals**
#
# - build UNet's blocks (`DoubleConv`, `Down`, `Up`) in plain `torch.nn` and
#   check that `attnlib.models` builds the same;
# - follow a 512×512 slice through the five levels, and count the 31,042,434
#   parameters of the paper's network;
# - see where the parameters sit (hint: at the bottom, where the images are
#   smallest);
# - read the output of an untrained UNet, and know why it is a flat 0.5-ish map;
# - estimate what wider or narrower networks cost, and obey the input-size rule.

# %% [markdown]
# ## Setup

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from attnlib import data, plots
from attnlib.models import (
    PAPER_WIDTHS,
    DoubleConv,
    Down,
    Up,
    build_model,
    describe,
)
from attnlib.inference import predict

torch.manual_seed(0)
images, labels = (
    data.load_isbi2012()
)  # uint8 (30, 512, 512); labels 0 = membrane, 1 = cell


def n_params(module):
    return sum(p.numel() for p in module.parameters())


# %% [markdown]
# ## The block: two 3×3 convolutions
#
# Every box of the UNet drawing is the same *block*: a 3×3 convolution,
# BatchNorm, ReLU, twice. With `padding=1` the convolutions keep the height and
# width (the original UNet used no padding and cropped its skips; the paper's
# code pads, and so do we). In plain `torch.nn` the block is one
# `nn.Sequential`:


# %%
# NBVAL_CHECK_OUTPUT
def plain_double_conv(c_in, c_out):
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    )


plain, ours = plain_double_conv(1, 64), DoubleConv(1, 64)
plain.load_state_dict(
    dict(zip(plain.state_dict(), ours.state_dict().values()))
)  # copy the weights, in order
x = torch.rand(2, 1, 32, 32)  # (B, C_in, H, W)
print(
    f"parameters: plain {n_params(plain):,}, attnlib.models.DoubleConv "
    f"{n_params(ours):,}"
)
print(
    f"output {tuple(ours(x).shape)}, same as plain torch: "
    f"{torch.allclose(plain(x), ours(x))}"
)

# %% [markdown]
# The two other pieces change the resolution. `Down` is a 2×2 max-pool (halves H
# and W) followed by a block (doubles the width in the paper); `Up` is a 2×2
# transposed convolution with stride 2: it doubles H and W and halves the width,
# with learned weights.

# %%
# NBVAL_CHECK_OUTPUT
x = torch.rand(1, 64, 64, 64)
down, up = Down(64, 128), Up(128, 64)
print(f"input          {tuple(x.shape)}")
print(f"Down(64, 128)  {tuple(down(x).shape)}  {n_params(down):>7,} parameters")
print(
    f"Up(128, 64)    {tuple(up(down(x)).shape)}  {n_params(up):>7,} parameters"
)

# %% [markdown]
# ## The whole UNet, level by level
#
# `attnlib.models.UNet` stacks them. With widths $C_0, \dots, C_4$ (the paper's
# $64, 128, 256, 512, 1024$):
#
# - **encoder**: $\mathrm{enc}_0 = \mathrm{DoubleConv}(x)$, then
#   $\mathrm{enc}_i = \mathrm{Down}(\mathrm{enc}_{i-1})$ for $i = 1, \dots, 4$;
#   $\mathrm{enc}_4$ is the bottleneck, at 1/16 of the resolution;
# - **decoder**:
#   $\mathrm{dec}_i = \mathrm{DoubleConv}\big(\mathrm{concat}[
#   \mathrm{Up}(\mathrm{dec}_{i+1}), \mathrm{enc}_i]\big)$
#   for $i = 3, \dots, 0$ (with $\mathrm{dec}_4 = \mathrm{enc}_4$): the
#   concatenation is the {term}`skip connection <Skip connection>`, which hands
#   the decoder the fine detail the bottleneck has lost;
# - **head**: a 1×1 convolution maps the $C_0$ channels of $\mathrm{dec}_0$ to 2
#   class scores (logits) per pixel.
#
# `attnlib.models.describe` runs the model on PyTorch's "meta" device: tensors
# there have a shape but no data, so the table below for a full 512×512 slice at
# the paper's widths costs almost nothing. It records every block's output shape
# and parameters, and counts the forward FLOPs (2 per multiply-add, convolutions
# only).

# %%
# NBVAL_CHECK_OUTPUT
unet = build_model(
    "unet"
)  # the paper's widths (64, 128, 256, 512, 1024), 1 input channel, 2 classes
summary = describe(unet, (1, 1, 512, 512))
print(summary)
assert summary.total_params == 31_042_434

# %% [markdown]
# The paper's network has **31,042,434 parameters**. Read the shapes down the
# encoder: each level halves H and W and doubles the channels, so the tensor
# shrinks by a factor 2 per level ($\tfrac14 \times 2$). The decoder mirrors it,
# and each `up` row already has the shape of the skip it is concatenated with.
#
# ## Where the parameters sit
#
# A 3×3 convolution from $C_\text{in}$ to $C_\text{out}$ channels has
# $9\,C_\text{in}C_\text{out}$ weights, whatever the image size. Doubling the
# width per level therefore quadruples the parameters per level, while the
# images get smaller: the parameters pile up at the bottom.

# %%
# NBVAL_CHECK_OUTPUT
rows = {r.name: r.params for r in summary.rows}
enc = [rows[f"enc{i}"] for i in range(5)]
dec = [
    rows.get(f"up{i}", 0) + rows.get(f"dec{i}", 0) for i in range(5)
]  # Up + decoder block of level i
total = summary.total_params
print("level  width  resolution     encoder     decoder   share")
for i in range(5):
    print(
        f"{i:>5}  {PAPER_WIDTHS[i]:>5}  {512 >> i:>4}x{512 >> i:<4}  "
        f"{enc[i]:>10,}  {dec[i]:>10,}  "
        f"{(enc[i] + dec[i]) / total:6.1%}"
    )
print(
    f"encoder {sum(enc):,} ({sum(enc) / total:.1%}), decoder {sum(dec):,} "
    f"({sum(dec) / total:.1%}), "
    f"head {rows['head']:,}"
)

# %%
fig, ax = plt.subplots(figsize=(10, 3.2))
levels = np.arange(5)
ax.bar(levels, np.array(enc) / 1e6, label="encoder block (Down)")
ax.bar(
    levels,
    np.array(dec) / 1e6,
    bottom=np.array(enc) / 1e6,
    label="decoder (Up + block)",
)
ax.set_xticks(
    levels, [f"level {i}\n{PAPER_WIDTHS[i]} ch, {512 >> i}px" for i in levels]
)
ax.set_ylabel("parameters (millions)")
ax.set_title("UNet at the paper's widths: parameters per level")
ax.legend()
fig.tight_layout()

# %% [markdown]
# The bottleneck block alone (level 4, a 32×32 image with 1024 channels) holds
# almost half of the network, and levels 3 and 4 together 87%; the 1×1 head is
# negligible. The *computation* is distributed the other way round: a level-0
# convolution is cheap in parameters but runs at every one of the 512×512
# pixels. Keep both views in mind when the paper argues with parameter counts
# (notebook 3).
#
# ## An untrained UNet on a real slice
#
# A forward pass on slice 0 at full size. To keep it fast on a CPU we use a
# network 4 times narrower (widths 16 … 256, 16 times fewer parameters). The
# image is scaled to [0, 1] and gets a batch and a channel axis; the model is
# put in evaluation mode, as for a prediction.

# %%
torch.manual_seed(0)
small = build_model("unet", widths=(16, 32, 64, 128, 256)).eval()
x = torch.from_numpy(images[:1]).float().div(255)[:, None]  # (1, 1, 512, 512)
with torch.no_grad():
    seen = small.inspect(x)  # the pass, with every block's output
logits, feats = seen.logits, seen.features  # logits (1, 2, 512, 512)
prob = logits.softmax(dim=1)[0, 1].numpy()  # P(cell) per pixel, (512, 512)
print(f"{n_params(small):,} parameters; logits {tuple(logits.shape)}")
print(
    f"P(cell): mean {prob.mean():.4f}, min {prob.min():.4f}, max "
    f"{prob.max():.4f}"
)
print(
    "feature std per block:",
    {k: round(v.std().item(), 4) for k, v in feats.items()},
)
d, b = logits[0, 1] - logits[0, 0], small.head.bias
print(
    f"logit difference cell - membrane: mean {d.mean():.4f}, std "
    f"{d.std():.4f}; "
    f"head bias difference {b[1] - b[0]:.4f}"
)
# attnlib.inference.predict runs this model in fp32: only a model from fit or
# load_run carries a fast path (bf16, say) for predict to reuse
ours = predict(small, images[:1])[0]
print(
    "attnlib.inference.predict, fp32: the same map within 1e-6:",
    np.allclose(ours, prob, rtol=0, atol=1e-6),
    f"(max difference {np.abs(ours - prob).max():.1e})",
)
in_bf16 = predict(small, images[:1], amp="bf16")[0]
print(f"in bf16 the max difference is {np.abs(in_bf16 - prob).max():.1e}")

# %%
fig, axes = plt.subplots(1, 4, figsize=(12, 3.3))
plots.overlay(axes[0], images[0], title="slice 0")
plots.overlay(axes[1], images[0], labels[0], title="label (membrane in red)")
axes[2].imshow(prob, cmap="viridis", vmin=0, vmax=1)
axes[2].set_title("P(cell), scale 0..1", fontsize=9)
im = axes[3].imshow(prob, cmap="viridis")
axes[3].set_title("P(cell), stretched", fontsize=9)
fig.colorbar(im, ax=axes[3], fraction=0.046, format="%.4f")
for ax in axes[2:]:
    ax.set_axis_off()
fig.tight_layout()

# %% [markdown]
# The last two lines compare our `predict` with the plain forward pass. Both
# compute in float32, whose rounding step near 1 is about $10^{-7}$; the same
# operations on the same machine give the same numbers, and an absolute
# tolerance of $10^{-6}$ (probabilities lie in $[0, 1]$) leaves room for a
# different order of the sums on another CPU, and for nothing else. In bf16
# (8 bits of mantissa, a relative step of $2^{-8} \approx 0.004$) the same map
# differs by far more than that: a comparison of two predictions has to name
# the precision they were computed in, and its tolerance follows from it.
#
# The output is a valid probability map of the right shape and nothing more:
# P(cell) is the same value, a little below 0.5, everywhere (on a 0-to-1 scale
# the map is uniform). Stretched, it shows a faint, blurred echo of the image,
# because the random filters do respond to it. Two things make the untrained
# output so flat:
#
# - PyTorch's default initialisation scales each convolution's weights so that
#   the signal *shrinks* from layer to layer (see the feature standard
#   deviations: they fall from `enc0` to the bottleneck `enc4`);
# - in evaluation mode BatchNorm divides by its *running* variance, which starts
#   at 1, so it does not undo the shrinking (in training mode it normalises with
#   the batch statistics).
#
# So the two logits differ by almost the same amount at every pixel (see the
# tiny standard deviation of their difference), and most of that amount is
# simply the difference of the head's two random biases. Nothing here knows what
# a membrane is; training (notebook 7) turns this map into one.
#
# ## What the widths cost
#
# The paper's widths are $C_0 = 64$ doubled at each level. Changing the *base*
# width $C_0$ (keeping the doubling) scales every convolution's input and output
# channels by the same factor $s$, so its $9\,C_\text{in}C_\text{out}$ weights,
# and its multiply-adds per pixel, grow like $s^2$.

# %%
# NBVAL_CHECK_OUTPUT
bases = [4, 8, 16, 32, 64]
cost = {}
for b in bases:
    s = describe(
        build_model("unet", widths=[b * 2**i for i in range(5)]),
        (1, 1, 512, 512),
    )
    cost[b] = (s.total_params, s.gflops)
    print(
        f"base {b:>2}: widths {str([b * 2**i for i in range(5)]):<24} "
        f"{s.total_params:>11,} params "
        f"{s.gflops:>8.2f} GFLOPs"
    )
print(
    "x2 base width ->",
    [f"x{cost[2 * b][0] / cost[b][0]:.2f} params" for b in bases[:-1]],
)

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
params = np.array([cost[b][0] for b in bases]) / 1e6
gflops = np.array([cost[b][1] for b in bases])
ax.loglog(bases, params, "o-", label="parameters (millions)")
ax.loglog(bases, gflops, "s-", label="GFLOPs per 512x512 forward")
ax.loglog(
    bases,
    params[-1] * (np.array(bases) / 64) ** 2,
    "k:",
    label="slope 2 (quadratic)",
)
ax.minorticks_off()
ax.set_xticks(bases, [str(b) for b in bases])
ax.set_xlabel("base width $C_0$")
ax.legend(fontsize=8)
ax.set_title("UNet cost vs width (paper: $C_0$ = 64)")
fig.tight_layout()

# %% [markdown]
# Both curves follow the slope-2 line: halving the base width divides parameters
# and FLOPs by about 4 (slightly less at the narrowest widths, where the terms
# linear in the width, biases and BatchNorm, and the first convolution from 1
# input channel weigh more). The widths 16 … 256 of the forward pass above cost
# 24.12 GFLOPs instead of 384.77: 16 times less work, the trade notebook 7's
# `laptop` profile relies on.
#
# ## The input-size rule
#
# Each max-pool halves the size and *floors* it. The decoder doubles it again,
# and the result must match the skip it is concatenated with. Trace a 500×500
# input with plain torch:

# %%
# NBVAL_CHECK_OUTPUT
t = torch.zeros(1, 1, 500, 500)
sizes = [t.shape[-1]]
for _ in range(4):
    t = nn.functional.max_pool2d(t, 2)
    sizes.append(t.shape[-1])
print("encoder sizes:", sizes)
print("up-sampled back:", [2 * s for s in sizes[1:]], "vs skips", sizes[:-1])
try:
    torch.cat(
        [torch.zeros(1, 8, 124, 124), torch.zeros(1, 8, 125, 125)], dim=1
    )  # dec2 input
except RuntimeError as err:
    print("torch.cat:", err)

# %% [markdown]
# 125 is odd, so the level-3 tensor (62) doubles to 124, not 125, and the
# concatenation fails with an error that does not say why. With four poolings, H
# and W must be multiples of $2^4 = 16$ (512 = 32 × 16 is). `attnlib`'s models
# check this first and say what to do:

# %%
# NBVAL_CHECK_OUTPUT
tiny = build_model("unet", widths=(4, 8, 16, 32, 64)).eval()
for shape in [(1, 1, 64, 64), (1, 1, 48, 80), (1, 1, 500, 500), (1, 3, 64, 64)]:
    try:
        with torch.no_grad():
            print(shape, "->", tuple(tiny(torch.zeros(shape)).shape))
    except ValueError as err:
        print(shape, "-> ValueError:", err)

# %% [markdown]
# ## Summary
#
# - UNet is three blocks: `DoubleConv` (two 3×3 conv + BatchNorm + ReLU), `Down`
#   (pool, then a block) and `Up` (2×2 transposed conv), joined by concatenating
#   skips.
# - At the paper's widths it has 31,042,434 parameters, most of them in the two
#   coarsest levels; the FLOPs, in contrast, are spent at full resolution.
# - Parameters and FLOPs grow about quadratically with the width: a 4× narrower
#   UNet is about 16× cheaper.
# - Untrained, it outputs a nearly constant probability close to 0.5: a correct
#   shape, no knowledge.
# - Inputs must be multiples of $2^{\text{depth}}$ = 16; `attnlib` checks it and
#   names the fix.

# %% [markdown]
# ## Questions
#
# **Question 2.1.** Why do the two coarsest levels hold most of the parameters,
# although their images are the smallest?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# A 3×3 convolution has $9\,C_\text{in}C_\text{out}$ weights whatever the image
# size. The widths double from level to level, so each level holds about four
# times the parameters of the one above it, and levels 3 and 4 together hold
# 87% of them. Computation is another matter: a convolution's multiply-adds
# are its weights times the pixels it runs at, and each level down has a
# quarter of the pixels, so the cheap top levels still cost a large share of
# the FLOPs.
# :::

# %% [markdown]
# **Question 2.2.** What would happen if you removed the skip connections and
# let the decoder see only the bottleneck?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# The decoder would have to rebuild a 512×512 map from a 32×32 tensor: the
# positions of one- to three-pixel-wide membranes are lost after four
# poolings, and the transposed convolutions can only interpolate them, so the
# output would be blurred and the thin membranes misplaced. The skips hand the
# decoder the full-resolution encoder features it needs to localise them (and
# without them each decoder block would read half as many channels).
# :::

# %% [markdown]
# **Question 2.3.** Why is the untrained network's output almost the same
# value everywhere in evaluation mode? Would it be in training mode?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# PyTorch's default initialisation makes the signal shrink from layer to
# layer, and in evaluation mode BatchNorm divides by its running variance,
# which starts at 1 and so does not undo the shrinking: the logits end up
# dominated by the head's two biases. In training mode BatchNorm normalises
# each channel with the batch's own statistics, which restores unit variance at
# every block, so the output varies much more from pixel to pixel (it is still
# meaningless: nothing has been learned).
# :::

# %% [markdown]
# **Question 2.4.** What would doubling the base width (128 instead of 64) do
# to the parameters and to the FLOPs of a 512×512 forward pass?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# Both scale with $C_\text{in}C_\text{out}$, so both grow about fourfold: about
# 124 million parameters and about 1.5 TFLOPs per slice instead of 31 million
# and 385 GFLOPs (slightly less than four times, because the biases, the
# BatchNorms and the first convolution from one channel grow only linearly).
# :::

# %% [markdown]
# ## Exercises
#
# In the student edition (`notebooks/student/02_unet.ipynb`) each exercise is
# a stub that raises `NotImplementedError`: replace its body with your code,
# then run the check below it.
#
# **Exercise 2.1.** Write `doubleconv_params(c_in, c_out)`, the number of
# parameters of a `DoubleConv(c_in, c_out)`, *by formula* (no model). Count the
# weights and biases of both convolutions and the scale and shift of both
# BatchNorms. Test it on the `enc0` row of the table above (37,824).


# %% tags=["task"]
def doubleconv_params(c_in, c_out):
    raise NotImplementedError(
        "Exercise 2.1: count the conv weights and biases and the BatchNorm "
        "parameters of a DoubleConv"
    )


# %% tags=["solution", "hide-cell"]
# Solution
def doubleconv_params(c_in, c_out):
    conv1 = 9 * c_in * c_out + c_out  # 3x3 weights + bias
    conv2 = 9 * c_out * c_out + c_out
    batchnorms = 2 * (2 * c_out)  # scale (gamma) and shift (beta), twice
    return conv1 + conv2 + batchnorms


# %%
from attnlib import checks  # noqa: E402

checks.check_doubleconv_params(doubleconv_params)

# %% [markdown]
# **Exercise 2.2.** Write `pooled_size(n, k)`: the side length of an n×n input
# after k 2×2 max-poolings with stride 2. The cell after the check lists the
# sizes between 500 and 520 that survive four poolings and come back to their
# size after four up-samplings.


# %% tags=["task"]
def pooled_size(n, k):
    raise NotImplementedError(
        "Exercise 2.2: return the side length after k 2x2 poolings"
    )


# %% tags=["solution", "hide-cell"]
# Solution
def pooled_size(n, k):
    for _ in range(k):
        n = n // 2  # each pooling floors: an odd leftover row is dropped
    return n


# %%
checks.check_pooled_size(pooled_size)

# %%
print([n for n in range(500, 521) if pooled_size(n, 4) * 2**4 == n])
