# %% [markdown]
# # 3. UNet++: nested skip pathways and deep supervision
#
# UNet++ {cite}`zhou2018unetpp` is the paper's second network
# {cite}`xu2021attention`. It keeps the UNet encoder but replaces each long
# {term}`skip connection <Skip connection>` by a pathway of intermediate blocks,
# the nodes $X^{i,j}$, and puts a classifier on every node of the top row. This
# notebook reads the paper's equations next to the code, draws the grid, counts
# what the extra nodes cost, and looks closely at how the paper combines the
# four classifiers.
#
# **Learning goals**
#
# - read the paper's Eq. 1-3 and find every term in `attnlib.models.unetpp`;
# - draw the node grid and tell UNet's skips from the new, dense ones;
# - list the 15 nodes with their inputs and shapes at 512×512;
# - use the deep-supervision heads: four maps, or their mean;
# - compare the parameters and FLOPs of UNet++ and UNet;
# - see why a loss on the *mean* of the heads (the paper's code) is not the
#   per-head loss of the UNet++ paper, and what that means for pruning.

# %% [markdown]
# ## Setup

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from attnlib import data
from attnlib.diagrams import draw_unetpp_grid, unetpp_edges
from attnlib.models import PAPER_WIDTHS, build_model, describe

torch.manual_seed(0)
images, labels = (
    data.load_isbi2012()
)  # uint8 (30, 512, 512); labels 0 = membrane, 1 = cell

# %% [markdown]
# ## The equations and the code
#
# $X^{i,j}$ is a {term}`UNet++ node`: the output of a convolution block at level
# $i$ (resolution $H/2^i$, width $C_i$) and position $j$ along the skip pathway.
# The first column is the UNet encoder, $X^{0,0} = \mathrm{ConvBlock}(x)$ and
# $X^{i,0} = \mathrm{ConvBlock}(\mathrm{pool}(X^{i-1,0}))$. The paper (Sec. 3.1)
# defines every other node by
#
# $$
# Z^{i,j} = \mathrm{concat}\big[\,\mathrm{Up}(X^{i+1,j-1}),\ X^{i,j-1},
#   \ X^{i,j-2},\ \dots,\ X^{i,0}\,\big] \qquad (1)
# $$
#
# $$X^{i,j} = \mathrm{ConvBlock}(Z^{i,j}) \qquad (2)$$
#
# $$j \ge 1 \quad\text{and}\quad i + j \le 3 \qquad (3)$$
#
# The paper's symbols in `attnlib.models.unetpp`:
#
# - $X^{i,0}$, the encoder: `UNetPlusPlus.encoder["x_i_0"]`, a `DoubleConv` for
#   $i = 0$, a `Down` (pool + `DoubleConv`) below;
# - $\mathrm{Up}(X^{i+1,j-1})$: `NestedNode.up`, an `Up` (2×2 transposed conv,
#   $C_{i+1} \to C_i$) owned by each node;
# - the concat of Eq. 1: `torch.cat(z, dim=1)` in `NestedNode.forward`, the
#   up-sampled tensor first, then $X^{i,0}, \dots, X^{i,j-1}$;
# - the ConvBlock of Eq. 2: `NestedNode.conv = DoubleConv((j + 1) * C_i, C_i)`;
# - the range of Eq. 3: the loops `for j in range(1, L + 1)` and
#   `for i in range(L - j + 1)` in `UNetPlusPlus`, i.e. $i + j \le L = 4$;
# - the heads on $X^{0,1}, \dots, X^{0,4}$: `UNetPlusPlus.heads`, four 1×1
#   convs; `deep_supervision` picks their mean or the list.
#
# Two differences between the text and the code, both harmless:
#
# - Eq. 3 as printed ($i + j \le 3$) would stop before $X^{0,4}$, yet the paper
#   puts a head on $X^{0,4}$, and its code, like Zhou et al., builds every node
#   with $i + j \le 4$. We follow the code.
# - Eq. 1 lists the same-level inputs from $X^{i,j-1}$ down to $X^{i,0}$; the
#   code concatenates them in increasing order. That only permutes the input
#   channels of the first convolution, which is learned anyway.
#
# Here is Eq. 1-2 for one node, $X^{0,2}$, in plain torch, using the model's own
# pieces:

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
net = build_model(
    "unetpp", widths=(4, 8, 16, 32, 64)
).eval()  # narrow, for speed
x = torch.rand(1, 1, 64, 64)
with torch.no_grad():
    f = net.inspect(x).features  # {"x_i_j": tensor}
    node = net.nodes["x_0_2"]
    z = torch.cat([node.up(f["x_1_1"]), f["x_0_0"], f["x_0_1"]], dim=1)  # Eq. 1
    x_0_2 = node.conv(z)  # Eq. 2
print(f"Z^(0,2) {tuple(z.shape)} -> X^(0,2) {tuple(x_0_2.shape)}")
print("same as the model's x_0_2:", torch.equal(x_0_2, f["x_0_2"]))

# %% [markdown]
# ## The grid
#
# Draw node $X^{i,j}$ at $(j, -i)$: levels go down, the skip pathway goes right.
# Blue nodes are the ones UNet also has; UNet's single skip from $X^{i,0}$ to
# $X^{i,4-i}$ is replaced by a chain of new nodes. The orange dashed arrows are
# the *dense* skips: every node receives not only its left neighbour but **all**
# earlier nodes of its row, as in DenseNet.

# %%
fig = draw_unetpp_grid(depth=4)
fig.tight_layout()

# %%
# NBVAL_CHECK_OUTPUT
edges = unetpp_edges(4)
for kind in ("down", "up", "skip", "dense"):
    print(f"{kind:>5}: {sum(e[0] == kind for e in edges):>2} arrows")
print(
    "dense skips into x_0_4:",
    [f"x_{a[0]}_{a[1]}" for k, a, b in edges if k == "dense" and b == (0, 4)],
)

# %% [markdown]
# ## The nodes, their inputs and shapes
#
# Node $X^{i,j}$ concatenates $j + 1$ tensors of width $C_i$, so its block reads
# $(j + 1)\,C_i$ channels (the paper's widths give $C_i = 64 \cdot 2^i$). The
# table comes from the model at the paper's widths on a 512×512 slice (shapes
# from `attnlib.models.describe`, on the meta device: no data, no time).

# %%
# NBVAL_CHECK_OUTPUT
unetpp = build_model("unetpp")  # paper widths (64, 128, 256, 512, 1024)
summary = describe(unetpp, (1, 1, 512, 512))
shapes = {r.name: r.output_shape for r in summary.rows}
params = {r.name: r.params for r in summary.rows}
print("node   inputs  block input channels  output shape          params")
for name, block in list(unetpp.encoder.items()) + list(unetpp.nodes.items()):
    conv = getattr(
        block, "conv", block
    )  # Down and NestedNode hold their DoubleConv in .conv
    n_in = int(name.split("_")[2]) + 1 if name in unetpp.nodes else 1
    print(
        f"{name}  {n_in:>6}  {conv.conv1.in_channels:>20}  "
        f"{str(shapes[name]):<20}  {params[name]:>9,}"
    )
print(
    f"heads: {len(unetpp.heads)} x {params['head1']} params; total "
    f"{summary.total_params:,}"
)

# %% [markdown]
# ## Deep supervision: four heads
#
# A 1×1 convolution on each of $X^{0,1}, X^{0,2}, X^{0,3}, X^{0,4}$ gives four
# logit maps: this is the {term}`deep supervision <Deep supervision>` of UNet++.
# The paper's code returns their mean,
# `(score_1 + score_2 + score_3 + score_4) / 4`, for both training and
# prediction. `attnlib` does the same with `deep_supervision="mean"` and returns
# the four maps with `"heads"`, always a list (the model says so:
# `returns_heads`). Same weights, two outputs:

# %%
# NBVAL_CHECK_OUTPUT
twin = build_model(
    "unetpp", widths=(4, 8, 16, 32, 64), deep_supervision="heads"
).eval()
twin.load_state_dict(net.state_dict())  # the same weights as `net` ("mean")
with torch.no_grad():
    heads, mean = twin(x), net(x)
print(
    f"'heads': {len(heads)} maps of shape {tuple(heads[0].shape)}; 'mean': "
    f"{tuple(mean.shape)}"
)
print(
    "mean of the four heads == 'mean' output:",
    torch.allclose(torch.stack(heads).mean(0), mean, atol=1e-6),
)

# %% [markdown]
# ## Cost: UNet++ against UNet
#
# The same `describe` at 512×512 and the paper's widths:

# %%
# NBVAL_CHECK_OUTPUT
unet_summary = describe(build_model("unet"), (1, 1, 512, 512))
assert summary.total_params == 36_171_848
print("model      parameters   GFLOPs")
for name, s in [("UNet", unet_summary), ("UNet++", summary)]:
    print(f"{name:<8}  {s.total_params:>11,}  {s.gflops:>7.2f}")
print(
    f"UNet++ / UNet: {summary.total_params / unet_summary.total_params:.3f} x "
    "parameters, "
    f"{summary.flops / unet_summary.flops:.3f} x FLOPs"
)

# %% [markdown]
# UNet++ has **36,171,848 parameters**, only 16.5% more than UNet, but needs
# about 2.5 times its FLOPs. The new nodes sit mostly in the upper rows: few
# channels (few parameters) but many pixels (much computation, and many
# activations to keep for the backward pass; the paper trains UNet++ with a
# batch of 1 instead of 4 "since the latter in nested architecture requires more
# GPU memory").
#
# ```{admonition} A claim to test
# :class: warning
# The paper explains that UNet-based networks beat UNet++-based ones "mainly
# because UNet++ is densely nested with more parameters then UNet" and overfits
# the small data set (Sec. 4.4). It tests no model of matched size, and the two
# networks differ in wiring, FLOPs and batch size, not only in parameters. We
# take it as a hypothesis that this course does not test: notebook 8 compares
# the two with the same batch over five seeds, so it says whether UNet leads at
# laptop scale, but it has no UNet widened to UNet++'s parameter count, the
# run that could single out the parameters (Question 3.5).
# ```
#
# ## Loss on the mean, or a loss per head?
#
# Two ways to train four heads with logits $s_1, \dots, s_4$ and cross-entropy
# $\mathrm{CE}$:
#
# - the paper's code: **one loss on the mean logits**,
#   $L_\text{mean} = \mathrm{CE}\big(\tfrac14 \sum_k s_k,\ y\big)$;
# - the UNet++ paper {cite}`zhou2018unetpp`: **a loss per head**, averaged,
#   $L_\text{heads} = \tfrac14 \sum_k \mathrm{CE}(s_k,\ y)$.
#
# On one batch (two 128×128 crops of real slices, an untrained narrow UNet++ in
# training mode):

# %%
xb = (
    torch.from_numpy(images[:2, :128, :128]).float().div(255)[:, None]
)  # (2, 1, 128, 128)
yb = torch.from_numpy(labels[:2, :128, :128]).long()  # (2, 128, 128)
torch.manual_seed(0)
model = build_model(
    "unetpp", widths=(4, 8, 16, 32, 64), deep_supervision="heads"
)
s = model(xb)  # four logits (2, 2, 128, 128)


def loss_of_mean(s):  # the paper's code
    return F.cross_entropy(torch.stack(s).mean(0), yb)


def mean_of_losses(s):  # Zhou et al.
    return torch.stack([F.cross_entropy(sk, yb) for sk in s]).mean()


print(f"L_mean  = {loss_of_mean(s):.4f}")
print(
    f"L_heads = {mean_of_losses(s):.4f}   (per head: "
    f"{[round(F.cross_entropy(sk, yb).item(), 4) for sk in s]})"
)

# %% [markdown]
# They are different numbers, and not by accident: cross-entropy is convex in
# the logits, so by Jensen's inequality $L_\text{mean} \le L_\text{heads}$
# always. More telling are the gradients each head receives, and what each loss
# ignores:


# %%
# NBVAL_CHECK_OUTPUT
def head_grads(loss_fn):
    leaves = [sk.detach().requires_grad_() for sk in s]
    loss_fn(leaves).backward()
    return [leaf.grad for leaf in leaves]


print("L_mean <= L_heads:", bool(loss_of_mean(s) <= mean_of_losses(s)))
for name, fn in [("L_mean ", loss_of_mean), ("L_heads", mean_of_losses)]:
    g = head_grads(fn)
    print(
        f"{name}: every head gets the same gradient: "
        f"{all(torch.equal(g[0], gk) for gk in g)}"
    )
shift = torch.zeros_like(s[0])
# head 1 says "cell" much louder, head 2 much quieter: the mean does not move
shift[:, 1] = 5.0
moved = [s[0] + shift, s[1] - shift, s[2], s[3]]
for name, fn in [("L_mean ", loss_of_mean), ("L_heads", mean_of_losses)]:
    print(f"{name}: unchanged by the shift: {torch.allclose(fn(s), fn(moved))}")

# %% [markdown]
# With $L_\text{mean}$ every head receives the same gradient,
# $\tfrac14\,(\mathrm{softmax}(\bar s) - y)$: the error of the *ensemble*, not
# its own. And the loss cannot see how the work is shared among the heads:
# shifting head 1's logits by any amount and head 2's by the opposite leaves it
# unchanged, although head 1 alone now calls every pixel "cell". Nothing in
# $L_\text{mean}$ asks a single head to be a good segmenter on its own.
# $L_\text{heads}$ gives each head its own error and punishes the shift.
#
# ## Pruning: head 1 instead of the mean
#
# That matters for **pruning**. Zhou et al. train every head with its own loss,
# so at inference they can keep only the nodes head $k$ needs (UNet++ $L^k$) and
# drop the rest: a smaller, faster network. The sub-network of head $k$ is
# exactly a UNet++ of depth $k$, so `describe` gives its cost:

# %%
# NBVAL_CHECK_OUTPUT
print("pruned to   nodes   parameters    GFLOPs")
for k in range(1, 5):
    sk = describe(
        build_model("unetpp", widths=PAPER_WIDTHS[: k + 1]), (1, 1, 512, 512)
    )
    n_nodes = sum(r.name.startswith("x_") for r in sk.rows)
    print(
        f"head {k}    {n_nodes:>7}  {sk.total_params:>11,}  {sk.gflops:>8.2f}"
    )

# %% [markdown]
# (Each row keeps heads $1..k$; head $k$ alone needs one 1×1 conv fewer.) Pruned
# to head 1, the network keeps about 1% of the parameters and 12% of the FLOPs.
# With the paper's $L_\text{mean}$, though, head 1 was never trained to be used
# alone. Below, the mean and head 1 of the untrained batch above, and head 1
# after the shift that left $L_\text{mean}$ unchanged: the mean is the same,
# head 1 is useless.

# %%
with torch.no_grad():
    maps = {
        "mean of the heads (the paper's output)": torch.stack(s).mean(0),
        "head 1 alone": s[0],
        "head 1 after the shift (same L_mean)": moved[0],
    }
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.2))
    axes[0].imshow(images[0, :128, :128], cmap="gray")
    axes[0].set_title("input crop (slice 0)", fontsize=9)
    for ax, (title, logit) in zip(axes[1:], maps.items()):
        ax.imshow(logit.softmax(1)[0, 1], cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"P(cell): {title}", fontsize=8)
    for ax in axes:
        ax.set_axis_off()
    fig.tight_layout()
    agree = (s[0].argmax(1) == torch.stack(s).mean(0).argmax(1)).float().mean()
print(f"untrained: head 1 and the mean agree on {agree:.1%} of the pixels")

# %% [markdown]
# Even untrained, head 1 and the mean agree on only about half of the pixels
# (printed above): the heads are separate classifiers. The shift is an extreme
# case built by hand, but training with $L_\text{mean}$ is free to drift along
# such directions, so the heads of the paper's models may disagree by a lot:
# pruning a model trained with $L_\text{mean}$ is not the pruning of the UNet++
# paper, and its pruned outputs carry no guarantee. To prune, train with
# `deep_supervision="heads"` and a loss per head.
#
# ## Summary
#
# - $X^{i,j} = \mathrm{ConvBlock}(\mathrm{concat}[\mathrm{Up}(X^{i+1,j-1}),
#   X^{i,0}, \dots, X^{i,j-1}])$ for $j \ge 1$, $i + j \le 4$ (the code's
#   range; the paper prints $\le 3$): 15 nodes, 5 in the encoder and 10 on
#   the skip pathways, where UNet has 4 decoder blocks.
# - UNet++ has 36,171,848 parameters at the paper's widths, 16.5% more than
#   UNet, but about 2.5 times its FLOPs at 512×512.
# - Four heads on $X^{0,1..4}$; the paper trains and predicts with the mean of
#   their logits.
# - A loss on the mean gives all heads one shared gradient and ignores how they
#   split the work; a loss per head trains each head to stand alone, which
#   pruning needs.
# - "Worse because it has more parameters" is a claim the paper does not test;
#   it needs a model of matched size, which notebook 8's grid does not have.

# %% [markdown]
# ## Questions
#
# **Question 3.1.** UNet++ has only 16.5% more parameters than UNet, but about
# 2.5 times its FLOPs. Why?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# Most of the new nodes sit in the upper rows ($X^{0,1..3}$, $X^{1,1..2}$,
# ...), where the widths are small: a block's weights grow with $C_i^2$, so
# they add few parameters. But those rows run at full or half resolution, and
# a block's multiply-adds are its weights times its pixels, so they add a lot
# of computation (and of activations to keep for the backward pass).
# :::

# %% [markdown]
# **Question 3.2.** Why is the loss on the mean logits, $L_\text{mean}$, never
# larger than the mean of the per-head losses, $L_\text{heads}$?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# Cross-entropy is a convex function of the logits, so by Jensen's inequality
# the loss of the average of four logit maps is at most the average of their
# four losses. Equality holds only when the four heads give the same logits.
# :::

# %% [markdown]
# **Question 3.3.** What would happen if you trained with the paper's
# $L_\text{mean}$ and then pruned the network to head 1 for speed?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# Head 1 was never asked to segment on its own: $L_\text{mean}$ sees only the
# ensemble, and shifting logits from one head to another leaves it unchanged.
# The pruned network can therefore be far worse than the full one, and nothing
# in training bounds how much worse. Pruning needs a loss per head
# (`deep_supervision="heads"`), as in the UNet++ paper.
# :::

# %% [markdown]
# **Question 3.4.** The paper trains UNet++ with a batch of 1 and UNet with a
# batch of 4. Why does that matter when it explains the difference by the
# number of parameters?

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# The batch size changes more than memory: BatchNorm's statistics come from
# one image instead of four, the gradients are noisier, and an epoch has four
# times as many optimizer steps. The two networks therefore differ in wiring,
# FLOPs, parameters *and* training, and a comparison of the two cannot tell
# which of these caused the difference. Notebook 8 compares the two with the
# same batch of 8 (the laptop profile), which removes this one difference.
# :::

# %% [markdown]
# **Question 3.5.** Design the runs that would test "UNet++ is worse because it
# has more parameters".

# %% [markdown] tags=["solution"]
# :::{dropdown} Answer
# Keep everything but the size fixed: the same batch, schedule, epochs and
# seeds for all. Add a UNet widened until it has UNet++'s parameter count
# (parameters grow with the square of the widths, so about
# $\sqrt{1.165} \approx 1.08$ times the widths), or a UNet++ narrowed to
# UNet's. If the widened UNet still beats UNet++, paired by seed and outside
# the noise, the parameters are not the cause; if it falls to UNet++'s level,
# they may be. The FLOPs and the wiring still differ, so even this separates
# only one of the causes.
# :::

# %% [markdown]
# ## Exercises
#
# In the student edition (`notebooks/student/03_unetpp.ipynb`) each exercise
# is a stub that raises `NotImplementedError`: replace its body with your code,
# then run the check below it.
#
# **Exercise 3.1.** Write `node_inputs(i, j)`: the names (`"x_1_0"`, ...) of
# the nodes whose outputs enter node $X^{i,j}$ (for $j \ge 1$, depth 4), the
# up-sampled one included. The check traces the real model's forward pass.


# %% tags=["task"]
def node_inputs(i, j):
    raise NotImplementedError(
        "Exercise 3.1: list the names of the nodes that enter x_i_j"
    )


# %% tags=["solution", "hide-cell"]
# Solution
def node_inputs(i, j):
    return [f"x_{i + 1}_{j - 1}"] + [f"x_{i}_{k}" for k in range(j)]


# %%
from attnlib import checks  # noqa: E402

checks.check_node_inputs(node_inputs)

# %% [markdown]
# **Exercise 3.2.** Write `count_nodes(L)`: the number of nodes $X^{i,j}$
# (encoder included) of a UNet++ of depth $L$ ($L$ poolings). The paper's
# network has $L = 4$.


# %% tags=["task"]
def count_nodes(L):
    raise NotImplementedError(
        "Exercise 3.2: count the nodes x_i_j with i + j <= L"
    )


# %% tags=["solution", "hide-cell"]
# Solution
def count_nodes(L):
    return sum(1 for i in range(L + 1) for j in range(L + 1) if i + j <= L)


# %%
checks.check_count_nodes(count_nodes)

# %% [markdown]
# **Exercise 3.3.** The paper's attention version of UNet++ puts an sSE gate on
# *every* skip input of every node ("densely replacing each skip connection",
# Sec. 3.2). Write `count_skips(L)`: how many gates is that for depth $L$?
# (UNet of the same depth has $L$.)


# %% tags=["task"]
def count_skips(L):
    raise NotImplementedError(
        "Exercise 3.3: count the skip inputs of all the nodes x_i_j, j >= 1"
    )


# %% tags=["solution", "hide-cell"]
# Solution
def count_skips(L):
    # node x_i_j has j skip inputs
    return sum(j for j in range(1, L + 1) for i in range(L - j + 1))


# %%
checks.check_count_skips(count_skips)
