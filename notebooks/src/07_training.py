# %% [markdown]
# # 7. Training: one engine for a laptop, a notebook and a GPU batch
#
# This notebook is the course's *run notebook*. You can read it as a chapter, run it yourself
# on a laptop, or let papermill execute it with other parameters: the instructor's batch
# (`python -m attnlib batch experiments/paper.yaml`) runs it once per configuration and seed.
#
# **Learning goals**
#
# - see how one configuration (`attnlib.config.Config`) and three profiles describe
#   every run, and why a profile must never hide what it changed;
# - train a UNet (with or without the paper's attention gate) with a progress bar,
#   atomic checkpoints and resume;
# - read the training curves, and tell the paper's *best epoch on the test slices* protocol
#   from an honest one;
# - reproduce the paper's Figure 5: predictions on the five held-out slices.
#
# ```{admonition} The outputs on this page
# :class: note
# This page is not re-run when the book is built. Its stored outputs come from executing it
# with `ATTNLIB_PROFILE=laptop` on a 2-core CPU: the run it shows is the laptop-profile batch
# run `results/laptop/unet_s0` (same configuration: UNet, no gate, seed 0), whose finished
# checkpoint `fit` found and resumed, so the times printed are that run's. The GPU runs with the
# paper's settings (`experiments/paper.yaml`) have not been made yet.
# ```

# %% [markdown]
# ## Setup
#
# The profile decides the scale: `paper` (the paper's settings: 500 epochs of full slices,
# hours on a CPU), `laptop` (narrow widths and random crops: about 10 minutes on two CPU
# cores), or `smoke` (seconds, for tests). Set it below or with the `ATTNLIB_PROFILE`
# environment variable.

# %%
import dataclasses
import json

import numpy as np
from IPython.display import Markdown, display

from attnlib import data, metrics, plots
from attnlib.config import Config, make_config, resolve_profile
from attnlib.train import export_weights, fit, predict

# %% [markdown]
# ## Parameters
#
# This cell mirrors `attnlib.config.Config` field for field (a test keeps them in
# step), and it carries the tag `parameters`, so papermill can inject other values after it:
# `papermill 07_training.ipynb out.ipynb -p model unetpp -p gate sse`. A value left at its
# default lets the profile decide; a value you change wins over the profile.

# %% tags=["parameters"]
profile: str = ""  # paper | laptop | smoke; "" = $ATTNLIB_PROFILE, else paper
model: str = "unet"  # network: unet | unetpp
gate: str = "none"  # skip-connection gate: none | sse (the paper's attention) | additive (Oktay et al.)
widths: list = [64, 128, 256, 512, 1024]  # channels per level
deep_supervision: str = "mean"  # UNet++ heads: mean (paper: average the 4 heads' logits) | heads (loss per head)
loss: str = "ce"  # ce | seed_dice (the paper's code's Dice) | soft_dice (V-Net) | ce_dice
augmentation: str = "paper"  # paper | none | elastic (U-Net paper)
epochs: int = 500  # paper: 500
batch_size: int = 0  # 0 = the paper's: 4 for UNet, 1 for UNet++
optimizer: str = "adam"  # adam (the paper's code) | sgd (the paper's text; momentum 0.9)
lr: float = 1e-3  # learning rate (paper: 1e-3)
schedule: str = "constant"  # learning-rate schedule: constant (paper) | cosine (decays to 0 at the last epoch)
weight_decay: float = 0.0  # L2 weight decay
crop: int = 0  # random square crop side for training, multiple of 16; 0 = whole 512x512 slices
samples_per_epoch: int = 0  # training items per epoch; 0 = one pass over the training slices
seed: int = 0  # seeds weights, shuffling, crops and augmentation
split: str = "paper"  # paper (train 0-24, test 25-29) | a fold "0".."4" (validation block of 0-24)
eval_interval: int = 1  # evaluate on the held-out slices every N epochs (and at the end)
checkpoint_every: int = 10  # write the checkpoint every N epochs (and at the end)
resume: bool = True  # continue from out_dir/checkpoint.pt when it exists
amp: str = "auto"  # mixed precision: auto (bf16 on CUDA, off on CPU) | bf16 | off
channels_last: bool = False  # NHWC memory format (faster convolutions on GPUs)
compile: bool = False  # torch.compile the model
deterministic: bool = False  # deterministic algorithms (bit-exact resume on CPU)
num_workers: int = 0  # DataLoader worker processes
device: str = "auto"  # auto (cuda, else mps, else cpu) | cpu | cuda | cuda:1 ...
out_dir: str = ""  # run folder (run.json, checkpoint.pt); "" = runs/<model>-<gate>-s<seed>-<config hash>

# %% [markdown]
# ## The effective configuration
#
# Defaults, then the profile, then what you set. The profile's changes are printed and recorded
# in the run's JSON, next to the effective configuration.

# %%
params = {f.name: globals()[f.name] for f in dataclasses.fields(Config)}
config, changes = make_config(profile, **params)
print(f"profile: {resolve_profile(profile)}")
print("the profile changed:", json.dumps(changes))
print("effective config:")
for key, value in config.to_dict().items():
    print(f"  {key:>17} = {value!r}")

# %% [markdown]
# A wrong value gets an error that names the problem and the fix, before any work is done:

# %%
# NBVAL_CHECK_OUTPUT
for bad in [dict(crop=100), dict(model="resnet"), dict(epochs="500")]:
    try:
        make_config("smoke", **bad)
    except (TypeError, ValueError) as err:
        print(f"{type(err).__name__}: {err}")

# %% [markdown]
# ## Train
#
# `attnlib.train.fit` trains, evaluates the held-out slices every `eval_interval`
# epochs with all of `attnlib.metrics`, writes `checkpoint.pt` atomically (to a
# temporary file, then renamed) every `checkpoint_every` epochs, and records everything in
# `run.json`. Interrupt it (the stop button) and run the cell again: it resumes from the last
# checkpoint. The run folder is named after the settings that change results, so a different
# configuration never resumes the wrong run.

# %%
run = fit(config, profile=resolve_profile(profile), profile_changes=changes)
record = run.record
env = record["environment"]
print(f"run folder: {run.path.parent}")
print(f"{len(record['history']['epoch'])} epochs in {env['wall_seconds']:.0f} s on {env['device']} "
      f"({env['device_name']}), {env['train_images_per_s']:.1f} training images/s, torch {env['torch']}")

# %% [markdown]
# ## Curves
#
# The training loss falls; the held-out metrics rise and then wander. The dotted lines mark
# the epochs each protocol picks.

# %%
fig = plots.plot_history(record)

# %% [markdown]
# ## Two protocols
#
# The paper "evaluate[s] model after each epoch with 500 epoches in total, and report[s] best
# score among them" (Sec. 4.3): the epoch is chosen **on the test slices**, so the reported
# number is the maximum of a noisy curve, an optimistic estimate. The honest summary does not
# look at the test slices to choose: it takes the last evaluation, or, when `split` is a fold,
# the epoch with the best *validation* mIoU.

# %%
rows = {f"{k} (epoch {v['epoch']})": v["test"] for k, v in record["summary"].items()}
display(Markdown(metrics.format_table(rows)))
for k, v in record["summary"].items():
    print(f"{k}: {v['rule']}")

# %% [markdown]
# ## Figure 5: predictions on the held-out slices
#
# The model's cell probability for slices 25-29, next to the labels, and where it errs.

# %%
images, labels = data.load_isbi2012()
test = list(data.PAPER_SPLIT.test)
probs = predict(run.model, images[test])
fig5 = plots.plot_predictions(images[test], labels[test], probs, indices=test)
fig5.savefig(run.path.parent / "figure5.png", dpi=60)

# %% [markdown]
# ## Results saved
#
# Everything this notebook showed is in the run folder: `run.json` (effective config,
# profile changes, per-epoch history, every evaluation, both summaries, environment),
# `checkpoint.pt` (weights and optimizer state, to resume), `model.pt` (the weights alone, in
# half precision: small enough to share) and `figure5.png`.

# %%
export_weights(run.path.parent)
print(sorted(p.name for p in run.path.parent.iterdir()))

# %% [markdown]
# ## Summary
#
# - One `attnlib.config.Config`, three profiles; the run records both.
# - `attnlib.train.fit` is the whole loop: augmentation, step, evaluation,
#   atomic checkpoints, resume, one JSON per run.
# - The paper's protocol picks the epoch on the test slices; report the honest number
#   next to it.
#
# ## Exercises
#
# **Exercise 1.** A fairer honest summary averages the last few evaluations instead of
# trusting the last one. Write `mean_of_last(evals, k)` that returns the mean test mIoU of the
# last `k` evaluations, then check it.

# %%
def mean_of_last(evals, k):
    ...  # your code here


# %% tags=["hide-cell"]
# Solution
def mean_of_last(evals, k):
    return float(np.mean([e["test"]["mean_iou"] for e in evals[-k:]]))


# %%
from attnlib import checks  # noqa: E402

checks.check_mean_of_last(mean_of_last)

# %% [markdown]
# **Exercise 2.** How much does choosing on the test slices flatter this run? Compute the
# *optimism*: the paper-protocol mIoU minus the honest mIoU, from `record`.

# %%
optimism = ...  # your code here

# %% tags=["hide-cell"]
# Solution
optimism = record["summary"]["paper_protocol"]["test"]["mean_iou"] - record["summary"]["honest"]["test"]["mean_iou"]

# %%
checks.check_optimism(optimism, record)
