"""attnlib: attention-gated UNet and UNet++ for EM segmentation, the helper package of a course.

The modules follow the course, one idea each, in teaching order:

    data          ISBI 2012 download (checksummed), loading, splits, Dataset
    augment       the paper's augmentation pipeline (albumentations 2.x)
    models        UNet, UNet++ (one base class, one decoder cell), attention gates, describe()
    losses        cross-entropy and the Dice variants
    metrics       pixel accuracy, mIoU, V_rand/V_info (class table); isbi_metrics: the challenge's
    label_errors  merges, splits, thicker and thinner membranes built into a label (chapter 06)
    config        Config, its checks, the profiles
    train         fit() in named steps; builder (Config -> model, loss, optimizer), records
                  (run.json), checkpoints (atomic files, resume, load_run), inference (predict),
                  fastpath (bf16, channels_last, compile), protocols (the two summaries)
    batch         the batch over the paper's grid: grid, jobs, executors (papermill, submitit),
                  run, summary
    paper         the paper's numbers and claims
    plots, diagrams  figures for the notebooks
    checks        exercise checks for the notebooks

and two that every other may use: ``names`` (the vocabulary of a run's settings) and
``tables`` (the one Markdown table writer).
"""
import os as _os

# albumentations checks PyPI for updates on import; attnlib never touches the network
# except for the explicit data download, so switch that off before anything imports it.
_os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

__version__ = "0.1.0"
