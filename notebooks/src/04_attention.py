# %% [markdown]
# # 4. Attention forward passing: the sSE gate and an additive alternative
#
# The paper's contribution {cite}`xu2021attention` is one small module. Before
# an encoder feature is copied along a
# {term}`skip connection <Skip connection>`, a 1×1 convolution and a sigmoid
# turn it into a one-channel map $\alpha \in (0, 1)$, and the feature is
# multiplied by it (the paper's Sec. 3.2, Fig. 3 and 4). The paper calls this
# {term}`attention forward passing <Attention forward passing>` and reports that
# it lifts the test {term}`mIoU` of UNet from 0.8028 to 0.8043 and of UNet++
# from 0.7976 to 0.8009 (its Table 1). This notebook writes the gate in a few
# lines, finds it in the models, asks what it can and cannot learn, compares it
# with the additive attention gate of Attention U-Net
# {cite}`oktay2018attention`, and looks at the maps of trained models on a real
# slice.
#
# **Learning goals**
#
# - write the paper's gate in plain torch and check that
#   `attnlib.models.SSEGate` computes the same;
# - recognise it as the spatial squeeze-and-excitation ({term}`sSE`) branch of
#   scSE {cite}`roy2018scse`;
# - count the gates and the parameters they add to UNet and UNet++ (964 and
#   2,708 at the paper's widths);
# - say what one 1×1 convolution can learn, what it cannot, and why a *constant*
#   gate adds nothing;
# - write Oktay et al.'s
#   {term}`additive attention gate <Additive attention gate>` from its equations
#   and tell how its context differs;
# - read the attention maps of trained models, with numbers rather than
#   impressions.

# %% [markdown]
# ## Setup

# %%
import copy
import inspect
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from attnlib import data, plots
from attnlib.models import PAPER_WIDTHS, AdditiveGate, SSEGate, build_model
from attnlib.checkpoints import load_run

torch.manual_seed(0)
images, labels = (
    data.load_isbi2012()
)  # uint8 (30, 512, 512); labels 0 = membrane, 1 = cell


def n_params(module):
    return sum(p.numel() for p in module.parameters())


# %% [markdown]
# ## The gate in five lines of torch
#
# Let $x$ be an encoder feature of shape $(B, C, H, W)$. The paper's Fig. 3, for
# every pixel $p$:
#
# $$
# \alpha(p) = \sigma\Big(\sum_{c=1}^{C} w_c\, x_c(p) + b\Big), \qquad
# \hat{x}_c(p) = \alpha(p)\, x_c(p)
# $$
#
# with one weight $w_c$ per channel and one bias $b$: a 1×1 convolution from $C$
# channels to one. Drawn as a block diagram:
#
# ```text
# x (B,C,H,W) ─┬───────────────────────────────────────► × ──► x·α (B,C,H,W)
#              └─► Conv 1×1 (C→1) ─► sigmoid ─► α (B,1,H,W) ┘
# ```
#
# In plain torch, with the weights as a vector `w` of length $C$ and a number
# `b`:


# %%
def sse_gate(x, w, b):
    """x (B, C, H, W), w (C,), b scalar -> x * alpha, alpha (B, 1, H, W)."""
    score = (x * w.view(1, -1, 1, 1)).sum(
        dim=1, keepdim=True
    ) + b  # (B, 1, H, W)
    alpha = torch.sigmoid(score)  # (B, 1, H, W), values in (0, 1)
    return x * alpha, alpha  # (B, C, H, W): the same alpha for every channel


# %% [markdown]
# `attnlib.models.SSEGate` holds the same computation as an
# `nn.Conv2d(C, 1, kernel_size=1)`. Copy its weights into `w`, `b` and compare
# on a random feature:

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
C = 8
gate = SSEGate(C)
x = torch.randn(2, C, 16, 16)  # a stand-in for an encoder feature
w, b = (
    gate.conv.weight.detach().view(C),
    gate.conv.bias.detach().item(),
)  # (1, C, 1, 1) -> (C,)
ours, alpha = sse_gate(x, w, b)
with torch.no_grad():
    theirs = gate(x)
print(
    f"conv weight {tuple(gate.conv.weight.shape)}, bias "
    f"{tuple(gate.conv.bias.shape)}: "
    f"{n_params(gate)} parameters = C + 1"
)
print(f"alpha {tuple(alpha.shape)}, output {tuple(theirs.shape)}")
assert torch.allclose(ours, theirs, atol=1e-6) and torch.allclose(
    alpha, gate.last_alpha, atol=1e-6
)
print("plain torch == SSEGate:", torch.allclose(ours, theirs, atol=1e-6))

# %% [markdown]
# ```{admonition} The paper's code
# :class: note
# The paper's repository (GitHub AllenXuuu/CS420-Machine-Learning,
# `models/AttentionUNet.py`) first had `nn.Conv2d(C, C, kernel_size=1)` +
# sigmoid: one map *per channel*, a different gate with $C^2 + C$ parameters
# per skip. Its final version, which Fig. 3 describes ("only of single
# channel"), is `nn.Conv2d(C, 1, kernel_size=1)` + sigmoid: the gate above, and
# the one `attnlib` builds.
# ```
#
# ## It is sSE: the spatial half of scSE
#
# Roy et al. {cite}`roy2018scse` recalibrate a feature map in two ways and
# combine them (scSE):
#
# - **cSE** (channel SE): squeeze space by global average pooling to a vector of
#   $C$ numbers, pass it through two small fully connected layers and a sigmoid,
#   and scale each *channel* by its value: one weight per channel, the same at
#   every pixel;
# - **sSE** (spatial SE): squeeze channels by a 1×1 convolution to one map, a
#   sigmoid, and scale each *pixel*: one weight per pixel, the same for every
#   channel.
#
# The paper's gate is exactly sSE, alone. The two are complementary, and the
# outputs show it: divide the gated feature by the input and see along which
# axis the factor changes.

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(1)
fc1, fc2 = (
    nn.Linear(C, C // 2),
    nn.Linear(C // 2, C),
)  # cSE with reduction ratio 2
with torch.no_grad():
    s = torch.sigmoid(
        fc2(F.relu(fc1(x.mean(dim=(2, 3)))))
    )  # (B, C): one factor per channel
    cse = x * s[:, :, None, None]  # (B, C, H, W)
    sse = gate(x)  # (B, C, H, W)
for name, out in [("sSE", sse), ("cSE", cse)]:
    factor = out / x  # (B, C, H, W)
    same_over_channels = torch.allclose(
        factor, factor[:, :1].expand_as(factor), atol=1e-5
    )
    same_over_pixels = torch.allclose(
        factor, factor[:, :, :1, :1].expand_as(factor), atol=1e-5
    )
    print(
        f"{name}: factor same for all channels of a pixel: "
        f"{same_over_channels!s:5}  "
        f"same at all pixels of a channel: {same_over_pixels}"
    )

# %% [markdown]
# ## What one 1×1 convolution can and cannot learn
#
# - **A per-pixel linear score.** $\alpha(p)$ is a logistic function of a linear
#   combination of the $C$ channels *of that same pixel*. It sees no neighbour:
#   the only spatial context is what the gated feature already carries, i.e. the
#   receptive field of the encoder block that produced it (measured below).
#   Shuffling the pixels before or after the gate gives the same result.
# - **No channel gating.** Every channel of a pixel gets the same factor
#   (above). Choosing *which features* to pass is cSE's job, not sSE's.
# - **It can only scale down.** $0 < \alpha < 1$, so $|\hat{x}| < |x|$
#   everywhere. It cannot amplify a pixel, only suppress some pixels *relative
#   to* others.

# %%
# NBVAL_CHECK_OUTPUT
perm = torch.randperm(16 * 16, generator=torch.Generator().manual_seed(0))
# the same pixel permutation for every channel
shuffle = lambda t: t.flatten(2)[:, :, perm].view_as(t)  # noqa: E731
with torch.no_grad():
    print(
        "gate(shuffle(x)) == shuffle(gate(x)):",
        torch.allclose(gate(shuffle(x)), shuffle(gate(x)), atol=1e-6),
    )
    print(
        "|gate(x)| < |x| at every entry:", bool((gate(x).abs() < x.abs()).all())
    )
    print(f"alpha ranges over [{alpha.min():.4f}, {alpha.max():.4f}]")

# %% [markdown]
# **A constant gate is absorbed by the next convolution.** In UNet the gated
# skip is concatenated with the up-sampled tensor,
# $z = [\mathrm{Up}(\cdot),\ \alpha \odot x]$, and the first 3×3 convolution of
# the decoder block reads $z$. A convolution is linear in each input channel, so
# if $\alpha$ were one constant, multiplying the weights that read the skip
# channels by $\alpha$ would give exactly the same network without a gate.
# BatchNorm and ReLU come *after* that convolution and see identical values, so
# they change nothing; a constant gate only changes the optimisation (the scale
# of those weights' gradients), not what the network can represent. Check it on
# a whole UNet: set every gate's weights to zero, so $\alpha = \sigma(b)$
# everywhere, and fold $\sigma(b)$ into the decoder.

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
small = (4, 8, 16, 32, 64)  # narrow widths, for speed
gated = build_model("unet", gate="sse", widths=small).eval()
plain = build_model("unet", widths=small).eval()
with torch.no_grad():
    for g in gated.gates:
        g.conv.weight.zero_()  # alpha = sigmoid(bias), the same at every pixel
        g.conv.bias.fill_(-1.0)
    plain.load_state_dict(
        {
            k: v
            for k, v in gated.state_dict().items()
            if not k.startswith("gates.")
        }
    )
    for i, g in enumerate(gated.gates):
        c = small[i]
        plain.decoder[i].conv1.weight[:, c:] *= torch.sigmoid(
            g.conv.bias
        )  # concat is [up, skip]: skip = last c
    xi = torch.rand(2, 1, 64, 64)
    print(
        "constant alpha = sigmoid(-1) = "
        f"{torch.sigmoid(torch.tensor(-1.0)):.4f}"
    )
    print(
        "gated UNet == plain UNet with folded weights:",
        torch.allclose(gated(xi), plain(xi), atol=1e-5),
    )

# %% [markdown]
# So whatever the gate contributes must come from $\alpha$ **varying from pixel
# to pixel with the input**: a multiplicative interaction
# $x_c(p)\,\sigma(w^\top x(p) + b)$ that a convolution, whose weights are the
# same at every pixel, cannot express. Whether a trained gate actually uses that
# freedom is a question for data; we measure it at the end of this notebook.
#
# ## Where the gate sits: UNet (Fig. 4) and UNet++
#
# In `attnlib.models.UNet` with `gate="sse"` each decoder level $i$ computes
# $\mathrm{dec}_i = \mathrm{DoubleConv}\big(\mathrm{concat}[
# \mathrm{Up}(\mathrm{below}),\ \mathrm{gate}_i(\mathrm{enc}_i)]\big)$:
# the gate sits on the skip, between the encoder and the concatenation, and
# nowhere else. The blocks in forward order, and one level recomputed by hand:

# %%
# NBVAL_CHECK_OUTPUT
print(" -> ".join(name for name, _ in gated.named_blocks()))
torch.manual_seed(0)
net = build_model("unet", gate="sse", widths=small).eval()
with torch.no_grad():
    seen = net.inspect(xi)  # the pass: features and this pass's maps
    f = seen.features
    z = torch.cat(
        [net.up[1](f["dec2"]), net.gates[1](f["enc1"])], dim=1
    )  # level 1: [Up(dec2), gate(enc1)]
    same = torch.allclose(net.decoder[1](z), f["dec1"], atol=1e-6)
    print(f"concat {tuple(z.shape)} -> dec1 equal to the model's:", same)
print({name: tuple(a.shape) for name, a in seen.attention.items()})

# %% [markdown]
# UNet has one gate per level, 4 in all. UNet++ gates *every* skip input of
# every node, "densely replacing each skip connection with an attention
# mechanism" (Sec. 3.2): node $X^{i,j}$ receives $j$ same-level inputs, so it
# holds $j$ gates. Each gate on a skip of width $C$ costs $C + 1$ parameters.
# Building the models on the meta device (shapes only, no memory) and
# subtracting:

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):
    models = {
        (m, g): build_model(m, gate=g)
        for m in ("unet", "unetpp")
        for g in (None, "sse", "additive")
    }
print("model    gates   plain params    +sSE gates   sSE share")
for m in ("unet", "unetpp"):
    n_gates = sum(
        isinstance(mod, SSEGate) for mod in models[m, "sse"].modules()
    )
    extra = n_params(models[m, "sse"]) - n_params(models[m, None])
    base = n_params(models[m, None])
    print(
        f"{m:<7} {n_gates:>6}  {base:>13,}  {extra:>12,}  {extra / base:>9.4%}"
    )
assert n_params(models["unet", "sse"]) - n_params(models["unet", None]) == 964
assert (
    n_params(models["unetpp", "sse"]) - n_params(models["unetpp", None])
    == 2_708
)
per_level = {}
for name, node in models["unetpp", "sse"].nodes.items():
    level = int(name.split("_")[1])
    per_level[level] = per_level.get(level, 0) + len(node.gates)
print(
    "UNet++ gates per level i (width C_i):",
    {f"{i} ({PAPER_WIDTHS[i]})": k for i, k in per_level.items()},
)
print(
    f"UNet: sum(C_i + 1) = {sum(c + 1 for c in PAPER_WIDTHS[:4])}; the earlier "
    "Conv2d(C, C, 1) version: "
    f"sum(C_i^2 + C_i) = {sum(c * c + c for c in PAPER_WIDTHS[:4]):,}"
)

# %% [markdown]
# The paper's gates add **964 parameters to UNet** ($65 + 129 + 257 + 513$) and
# **2,708 to UNet++** (20 gates: 10 of width 64, 6 of 128, 3 of 256, 1 of 512),
# less than a hundredth of a percent of either network. Whatever the gates
# change, they do it with almost no parameters of their own.
#
# ## The additive attention gate of Attention U-Net
#
# Oktay et al. {cite}`oktay2018attention` gate the skip $x$ (level $i$, $C_x$
# channels) with help from a **gating signal** $g$: the coarser decoder tensor
# at level $i + 1$ that is about to be up-sampled and concatenated with $x$.
# With $F_\text{int}$ intermediate channels:
#
# $$
# q = \psi^\top\, \mathrm{ReLU}\big(\theta(x) + \phi(g)\big) + b_\psi, \qquad
# \alpha = \mathrm{Up}\big(\sigma(q)\big), \qquad
# \hat{x} = W(\alpha \odot x)
# $$
#
# - $\theta$: a 2×2 convolution with stride 2 and no bias,
#   $C_x \to F_\text{int}$, which brings $x$ to the grid of $g$;
# - $\phi$: a 1×1 convolution with bias, $C_g \to F_\text{int}$;
# - the sum, a ReLU, then $\psi$: a 1×1 convolution $F_\text{int} \to 1$ and a
#   sigmoid: the map at half resolution;
# - $\mathrm{Up}$: bilinear resampling of $\alpha$ to $x$'s grid;
# - $W$: a 1×1 convolution $C_x \to C_x$ and BatchNorm on the gated skip (as in
#   the authors' code).
#
# The `forward` of `attnlib.models.AdditiveGate`:

# %%
print(inspect.getsource(AdditiveGate.forward).split('"""')[-1].strip())

# %% [markdown]
# The same in plain torch with the gate's weights, on a skip $x$ of 8 channels
# at 16×16 and a gating signal $g$ of 16 channels at 8×8 (the UNet layout:
# $C_g = 2C_x$, $F_\text{int} = C_x / 2$):


# %%
# NBVAL_CHECK_OUTPUT
def additive_alpha(gate, x, g):
    """The map alpha (B, 1, H, W) of an AdditiveGate, with F.conv2d."""
    t = F.conv2d(x, gate.theta.weight, stride=2)  # (B, F_int, H/2, W/2)
    p = F.conv2d(g, gate.phi.weight, gate.phi.bias)  # (B, F_int, H/2, W/2)
    q = F.conv2d(
        F.relu(t + p), gate.psi.weight, gate.psi.bias
    )  # (B, 1, H/2, W/2)
    return F.interpolate(
        torch.sigmoid(q),
        size=x.shape[-2:],
        mode="bilinear",
        align_corners=False,
    )


torch.manual_seed(0)
add = AdditiveGate(x_channels=C, g_channels=2 * C).eval()
g = torch.randn(2, 2 * C, 8, 8)
with torch.no_grad():
    a = additive_alpha(add, x, g)
    mine = add.W(a * x)
    theirs = add(x, g)
print(
    f"theta {tuple(add.theta.weight.shape)}, phi "
    f"{tuple(add.phi.weight.shape)}, psi {tuple(add.psi.weight.shape)}, "
    f"W {tuple(add.W[0].weight.shape)}"
)
print(
    "plain torch == AdditiveGate: output",
    torch.allclose(mine, theirs, atol=1e-5),
    "map",
    torch.allclose(a, add.last_alpha, atol=1e-6),
)
print(
    f"parameters: {n_params(add)} = (2 C + 1)^2 = {(2 * C + 1) ** 2} for C = "
    f"{C}"
)

# %% [markdown]
# With $C_g = 2C$ and $F_\text{int} = C/2$ one additive gate costs $2C^2$
# ($\theta$) $+\ C^2 + C/2$ ($\phi$) $+\ C/2 + 1$ ($\psi$) $+\ C^2 + 3C$ ($W$
# and BatchNorm) $= (2C + 1)^2$ parameters, against $C + 1$ for sSE. At the
# paper's widths:

# %%
# NBVAL_CHECK_OUTPUT
print("model    gate       parameters     added")
for m in ("unet", "unetpp"):
    for gname in (None, "sse", "additive"):
        total = n_params(models[m, gname])
        print(
            f"{m:<7}  {gname or 'none':<9}  {total:>11,}  "
            f"{total - n_params(models[m, None]):>9,}"
        )
formula = sum(
    (2 * c + 1) ** 2 for c in PAPER_WIDTHS[:4]
)  # (2C + 1)^2 per UNet skip
assert (
    n_params(models["unet", "additive"]) - n_params(models["unet", None])
    == formula
)
deepest = (2 * PAPER_WIDTHS[3] + 1) ** 2
print(
    f"UNet's deepest additive gate (C = {PAPER_WIDTHS[3]}): {deepest:,} "
    "parameters, "
    f"{deepest / formula:.1%} of the added ones"
)

# %% [markdown]
# The additive gates add about 1.4 million parameters to UNet and 2.4 million to
# UNet++ (printed above), three orders of magnitude more than sSE; in UNet three
# quarters of them sit in the deepest gate, and half of each gate is $\theta$.
# The real difference, though, is **what the map may depend on**. sSE sees only
# the skip feature itself; the additive gate also sees $g$, a coarser and more
# semantic decoder feature that has seen a much larger part of the image: "where
# to look" is decided with context. Measure it: the pixels of the input on which
# the map's centre value depends (the support of its gradient; eval mode, so
# that BatchNorm mixes no pixels), for a narrow UNet on a 256×256 input.


# %%
# NBVAL_CHECK_OUTPUT
def alpha_support(model, level, size=256):
    """Height x width of the input region that alpha at the centre of skip
    `level` depends on."""
    x = torch.rand(1, 1, size, size, requires_grad=True)
    f = model.inspect(x).features
    gate = model.gates[level]
    if isinstance(gate, SSEGate):
        a = torch.sigmoid(gate.conv(f[f"enc{level}"]))
    else:
        below = (
            f[f"dec{level + 1}"]
            if level + 1 < model.depth
            else f[f"enc{model.depth}"]
        )
        a = additive_alpha(gate, f[f"enc{level}"], below)
    h = a.shape[-1] // 2
    (grad,) = torch.autograd.grad(a[0, 0, h, h], x)
    rows, cols = (
        grad[0, 0].abs().sum(1).nonzero(),
        grad[0, 0].abs().sum(0).nonzero(),
    )
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


torch.manual_seed(0)
nets = {
    kind: build_model("unet", gate=kind, widths=small).eval()
    for kind in ("sse", "additive")
}
print(
    "skip   map size   sSE depends on   additive depends on   (input 256x256)"
)
for level in range(4):
    (hs, ws), (ha, wa) = (
        alpha_support(nets["sse"], level),
        alpha_support(nets["additive"], level),
    )
    print(
        f"skip{level}  {256 >> level:>4}x{256 >> level:<4}  {hs:>7}x{ws:<7}  "
        f"{ha:>10}x{wa:<10}"
    )

# %% [markdown]
# At the finest skip, where the paper's gate decides about the thin membranes,
# sSE looks at a 5×5 patch of the input (two 3×3 convolutions); its coarsest
# gate sees 68×68. Every additive gate sees far more through $g$: from 156×156
# to 220×220 pixels of the 256×256 input here, and the finer skips, whose $g$
# has passed through more decoder blocks, see the most: the reverse of sSE.
# Neither is "right" a priori: a small receptive field is a strong prior for
# thin, local structures, a large one lets the gate use the surroundings. That
# is a question for experiments (notebook 8), not for the drawing.
#
# ## Attention maps of trained models (laptop profile)
#
# The runs below were trained with the **laptop** profile (widths 16-256,
# 128×128 random crops, see notebook 7), one with each gate, seed 0; set their
# folders here, from the course's root (the folder that holds `results/`,
# found from wherever the notebook runs). Their numbers belong to that
# profile, not to the paper's 500-epoch setting.

# %% tags=["parameters"]
# run folders with run.json and checkpoint.pt (or model.pt)
sse_run = "results/laptop/unet_sse_s0"
additive_run = "results/laptop/unet_additive_s0"
# the mean-map experiment over the laptop grid's seeds (see below)
mean_map_file = "results/laptop/sse_mean_map.json"

# %%
here = Path.cwd()
root = next(p for p in [here, *here.parents] if (p / "results").is_dir())
sse_run, additive_run = root / sse_run, root / additive_run
mean_map_file = root / mean_map_file
runs = {}
for kind, folder in [("sse", sse_run), ("additive", additive_run)]:
    if not (Path(folder) / "run.json").is_file():
        raise FileNotFoundError(
            f"no trained run in {Path(folder).resolve()} (looked for "
            "run.json). This section needs the "
            f"laptop-profile UNet with gate={kind!r}: train it with "
            "attnlib.train.train('laptop', "
            f"gate={kind!r}, out_dir=...) and set {kind}_run to that folder."
        )
    record, model = load_run(folder)
    runs[kind] = (record, model)
    cfg = record["config"]
    print(
        f"{kind:>8}: profile {record['profile']}, {cfg['model']} "
        f"gate={cfg['gate']}, widths {cfg['widths']}, "
        f"crop {cfg['crop']}, {cfg['epochs']} epochs, seed {cfg['seed']}; "
        "test mIoU (honest: last evaluation) "
        f"{record['summary']['honest']['test']['mean_iou']:.4f}"
    )

# %% [markdown]
# Test slice 25, the first held-out slice of the paper's split: the image, its
# label, and each model's probability of "cell".

# %%
idx = 25
x25 = torch.from_numpy(images[idx] / 255.0).float()[
    None, None
]  # (1, 1, 512, 512)
outputs = {}
with torch.no_grad():
    for kind, (record, model) in runs.items():
        model.eval()
        seen = model.inspect(x25)  # the logits and this pass's maps
        prob = seen.logits.softmax(dim=1)[0, 1]  # (512, 512), P(cell)
        outputs[kind] = (prob, seen.attention)  # maps: name -> (1, 1, h, w)
fig, axes = plt.subplots(1, 4, figsize=(9, 2.5))
plots.overlay(axes[0], images[idx], title=f"slice {idx}")
plots.overlay(
    axes[1], images[idx], labels[idx], title="label (membrane in red)"
)
for ax, (kind, (prob, _)) in zip(axes[2:], outputs.items()):
    ax.imshow(prob, cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"P(cell), gate={kind}", fontsize=9)
    ax.set_axis_off()
fig.tight_layout()

# %% [markdown]
# Every gate's map for the sSE model (skip3 is the coarsest, skip0 the finest;
# bright = passed, dark = suppressed):

# %%
fig = plots.plot_attention(images[idx], outputs["sse"][1], ncols=5, size=2.0)
title = fig.suptitle("sSE gates (the paper's)", fontsize=10)

# %% [markdown]
# and for the additive gates (computed at half resolution and resampled, so they
# are smoother):

# %%
fig = plots.plot_attention(
    images[idx], outputs["additive"][1], ncols=5, size=2.0
)
title = fig.suptitle("additive gates (Oktay et al.)", fontsize=10)

# %% [markdown]
# On the common 0-1 scale small variations vanish. The finest maps on a 128×128
# corner of the slice, each stretched to its own 1st-99th percentile range (the
# colour bar gives the values):

# %%
crop = (slice(0, 128), slice(0, 128))
fig, axes = plt.subplots(1, 3, figsize=(8.4, 2.6))
plots.overlay(
    axes[0],
    images[idx][crop],
    labels[idx][crop],
    title="corner, membrane in red",
)
for ax, kind in zip(axes[1:], outputs):
    a = outputs[kind][1]["skip0"][0, 0][crop]
    lo, hi = torch.quantile(a.flatten(), torch.tensor([0.01, 0.99])).tolist()
    im = ax.imshow(a, cmap="magma", vmin=lo, vmax=hi)
    ax.set_title(f"{kind}: skip0, stretched", fontsize=9)
    ax.set_axis_off()
    fig.colorbar(im, ax=ax, shrink=0.8, format="%.3f")
fig.tight_layout()

# %% [markdown]
# A picture invites stories; numbers keep them honest. For each map, bring the
# label to the map's size (the fraction of cell pixels in each block, by average
# pooling; a block counts as {term}`membrane <Membrane>` when less than half of
# it is cell) and compare the mean $\alpha$ on membrane and on cell blocks. The
# spread of $\alpha$ over the pixels tells how far the gate is from the constant
# that the next convolution could absorb.

# %%
label = torch.from_numpy(labels[idx]).float()[
    None, None
]  # (1, 1, 512, 512), 1 = cell
gate_stats = {}
print("gate      map    size      mean   std    p5     p95    membrane  cell")
for kind, (_, maps) in outputs.items():
    for name, a in maps.items():
        a = a[0, 0]  # (h, w)
        cell_fraction = F.adaptive_avg_pool2d(label, a.shape)[0, 0]  # (h, w)
        membrane = cell_fraction < 0.5
        on_mem, on_cell = a[membrane].mean().item(), a[~membrane].mean().item()
        gate_stats[kind, name] = (on_mem, on_cell, a.std().item())
        p5, p95 = torch.quantile(
            a.flatten(), torch.tensor([0.05, 0.95])
        ).tolist()
        print(
            f"{kind:<8}  {name}  {a.shape[0]:>3}x{a.shape[1]:<4}  "
            f"{a.mean():.3f}  {a.std():.3f}  {p5:.3f}  "
            f"{p95:.3f}  {on_mem:.3f}     {on_cell:.3f}"
        )
for kind in outputs:
    on_mem, on_cell, spread = gate_stats[kind, "skip0"]
    ratio = max(on_mem, on_cell) / min(on_mem, on_cell)
    more = "membrane" if on_mem > on_cell else "cell interior"
    verdict = (
        f"it passes relatively more of the {more}"
        if ratio >= 1.05
        else "it hardly tells membrane from cell (less than 5% apart)"
    )
    print(
        f"{kind}, finest gate (skip0): mean alpha {on_mem:.3f} on membrane vs "
        f"{on_cell:.3f} on cell: "
        f"{verdict} (ratio {ratio:.2f}); spread over pixels (std) {spread:.3f}"
    )

# %% [markdown]
# Read the table with the caveats it deserves. It is one slice and one seed of a
# small model trained briefly; a gate's map is only meaningful relative to the
# weights after it (a gate that passes less of a region can be compensated by
# larger weights in the next convolution, as shown above), so "the gate attends
# to the membranes" is a claim about the *contrast* between regions, which the
# last lines print, not about the absolute values. A small spread means the gate
# is close to a constant and, by the argument above, close to doing nothing the
# decoder could not do alone. Whether the gates change the test score beyond
# seed-to-seed noise is the subject of notebook 8.
#
# ## Does the map matter, or only its mean?
#
# The argument above gives an experiment, inference only. Take each trained
# model with the sSE gate, replace every gate's map $\alpha$ by one constant,
# its mean over the training slices 0-24 (a constant the next convolution could
# absorb), and score the test slices 25-29 again. If the scores hold, the
# spatial selection is not what the trained network uses; if they drop, it is.
# `experiments/sse_mean_map.py` did this for every seed of the laptop grid
# while the weights existed, into `mean_map_file` (nothing is chosen on
# 25-29: the threshold is 0.5, and the ISBI threshold comes from slices
# 20-24).

# %%
import json  # noqa: E402

from attnlib import stats, tables  # noqa: E402

mean_map = json.loads(Path(mean_map_file).read_text())["runs"]
print("run              mIoU trained -> constant   V_rand trained -> constant")
for r in mean_map:
    t, c = r["trained"], r["constant_map"]
    print(
        f"{r['run']:<16} {t['mean_iou']:.4f} -> {c['mean_iou']:.4f}        "
        f"{t['isbi_vrand']:.4f} -> {c['isbi_vrand']:.4f}"
    )
for model_name in ("unet", "unetpp"):
    for metric in ("mean_iou", "isbi_vrand"):
        mine = [r for r in mean_map if r["model"] == model_name]
        d = stats.paired_difference(
            {r["seed"]: r["constant_map"][metric] for r in mine},
            {r["seed"]: r["trained"][metric] for r in mine},
        )
        diff = tables.fmt_mean_sd(d["mean"], d["sd"], sign=True)
        reading = {
            "reversed": "below 0: the map is used",
            "holds": "above 0: the constant scores better",
            "too small to tell at this scale": "holds 0: cannot tell",
        }.get(stats.verdict(d), "no interval")
        print(
            f"{model_name} + sSE, constant - trained {metric} "
            f"(laptop, n={d['n']}): {diff}, 95% interval "
            f"{tables.fmt_interval(d['lo'], d['hi'])}, {reading}"
        )

# %% [markdown]
# Read the intervals with the rule of notebook 8: an interval below 0 says the
# constant maps score lower on every reading of the noise, so the trained
# networks do use where their gates pass more and where less; an interval
# that holds 0 says this experiment cannot tell. Either way it says nothing
# about whether a network *trained* with the gate beats one trained without it:
# a network that relies on its gate's map may have learned the same thing
# differently without one. That comparison is notebook 8's first claim.
#
# ## Summary
#
# - The paper's attention forward passing is
#   $\hat{x} = x \odot \sigma(W * x + b)$ with a 1×1 convolution from $C$
#   channels to one: exactly the sSE branch of scSE {cite}`roy2018scse`, $C + 1$
#   parameters per skip. `attnlib.models.SSEGate` computes the same as five
#   lines of torch.
# - UNet gets 4 gates (+964 parameters at the paper's widths), UNet++ 20, one
#   per skip input of every node (+2,708).
# - The gate scores each pixel linearly from that pixel's own channels, sees no
#   more context than the gated feature (5×5 input pixels at the finest skip),
#   scales all channels alike, and only scales down. A constant gate is absorbed
#   exactly by the next convolution: only a map that varies with the pixel and
#   the input can add anything.
# - Oktay et al.'s additive gate also uses the coarser decoder feature $g$
#   ("where to look", with far more context), at $(2C + 1)^2$ parameters per
#   skip: about 1.4 million for UNet.
# - Trained maps must be read against numbers (membrane vs cell means, spread),
#   and relative to the weights that follow; replacing each map by its mean in
#   the trained models, over the grid's seeds, measures whether the spatial
#   selection is used.

# %% [markdown]
# ## Questions
#
# **Question 4.1.** What would a trained sSE gate with all weights $w_c = 0$
# (and any bias $b$) change about the network?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# Nothing the network could not do without it: the gate multiplies the skip by
# the constant $\sigma(b)$, and the next convolution is linear in its input
# channels, so scaling the weights that read the skip by $\sigma(b)$ gives the
# same output (Exercise 4.3 builds that convolution). A gate adds something
# only when its map varies from pixel to pixel and with the input.
# :::

# %% [markdown]
# **Question 4.2.** Why can the paper's gate not decide "this pixel lies on a
# membrane between two cells" from a wider view, while the additive gate can?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# The sSE score of a pixel is a weighted sum of that pixel's own $C$ channels
# (a 1×1 convolution): it sees only the context already in the gated feature,
# 5×5 input pixels at the finest skip. The additive gate also reads the
# coarser decoder feature $g$, whose receptive field is much larger, so its
# map at a pixel can depend on the surroundings ("where to look").
# :::

# %% [markdown]
# **Question 4.3.** The gate's values lie in $(0, 1)$: it can only scale a
# feature down. Does that limit what the network can learn?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# Hardly in magnitude: the convolution after the gate can scale its weights up
# as much as needed, so only the *relative* values of $\alpha$ across pixels
# matter. What the gate cannot do is treat channels differently at a pixel (it
# scales all of them alike) or change the sign of a feature.
# :::

# %% [markdown]
# **Question 4.4.** What would change with the first version in the paper's
# repository, `nn.Conv2d(C, C, kernel_size=1)` + sigmoid?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# Each channel would get its own map: a per-pixel, per-channel gate with
# $C^2 + C$ parameters per skip instead of $C + 1$ (349,120 instead of 964 for
# the paper's UNet, as computed above). It can suppress some channels at a
# pixel and keep others, which sSE cannot; it is then no longer the sSE block
# the paper's text and Fig. 3 describe.
# :::

# %% [markdown]
# **Question 4.5.** Why read an attention map through numbers (means on
# membrane and cell, spread) rather than from its picture?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# A colour map stretches whatever range it is given: a map between 0.48 and
# 0.52 looks as contrasted as one between 0 and 1. And by Question 4.1 a
# constant part of the map means nothing, since the next convolution absorbs
# it: what matters is how much the map varies, and whether it varies with the
# structures in the image.
# :::

# %% [markdown]
# ## Exercises
#
# In the student edition (`notebooks/student/04_attention.ipynb`) each
# exercise is a stub that raises `NotImplementedError`: replace its body with
# your code, then run the check below it.
#
# **Exercise 4.1.** Write `sse_forward(x, w, b)`: the output of the sSE gate
# for a feature `x` of shape $(B, C, H, W)$, a weight vector `w` of length $C$
# and a bias `b` (a number), without `nn.Conv2d`. The check compares it with
# `SSEGate` on random inputs of several shapes.


# %% tags=["task"]
def sse_forward(x, w, b):
    raise NotImplementedError(
        "Exercise 4.1: return x * sigmoid(sum_c w[c] * x[:, c] + b)"
    )


# %% tags=["solution", "hide-cell"]
# Solution
def sse_forward(x, w, b):
    score = torch.einsum("bchw,c->bhw", x, w)[:, None] + b  # (B, 1, H, W)
    return x * torch.sigmoid(score)


# %%
from attnlib import checks  # noqa: E402

checks.check_sse_forward(sse_forward)

# %% [markdown]
# **Exercise 4.2.** Write `unetpp_sse_params(widths)`: the number of
# parameters the sSE gates add to a UNet++ with these widths (depth $L$ =
# `len(widths) - 1`, the top level first). The check builds both models, with
# and without gates, for several widths and depths.


# %% tags=["task"]
def unetpp_sse_params(widths):
    raise NotImplementedError(
        "Exercise 4.2: sum C_i + 1 over every skip input of every node"
    )


# %% tags=["solution", "hide-cell"]
# Solution
def unetpp_sse_params(widths):
    L = len(widths) - 1
    # level i has nodes x_i_j, j = 1 .. L - i; node x_i_j gates j skips of
    # width C_i, at C_i + 1 each
    return sum(
        (widths[i] + 1) * j for i in range(L) for j in range(1, L - i + 1)
    )


# %%
checks.check_unetpp_sse_params(unetpp_sse_params)

# %% [markdown]
# **Exercise 4.3.** A gate with zero weights and bias $b$ multiplies its skip
# by the constant $\alpha = \sigma(b)$. Write
# `absorb_constant_gate(conv, alpha, C)`: given the convolution `conv` that
# reads the concatenation $[\mathrm{up},\ \mathrm{skip}]$ (the skip is the
# *last* `C` input channels), return a **new** convolution that gives on the
# ungated input what `conv` gives on the input whose skip was multiplied by
# `alpha`. Leave `conv` unchanged.


# %% tags=["task"]
def absorb_constant_gate(conv, alpha, C):
    raise NotImplementedError(
        "Exercise 4.3: copy conv and scale its weights on the last C inputs"
    )


# %% tags=["solution", "hide-cell"]
# Solution
def absorb_constant_gate(conv, alpha, C):
    new = copy.deepcopy(conv)
    with torch.no_grad():
        # weight (out, in, k, k): scale the weights that read the skip
        new.weight[:, -C:] *= alpha
    return new


# %%
checks.check_absorb_constant_gate(absorb_constant_gate)
