"""attnlib: attention-gated UNet and UNet++ for EM segmentation, the helper package of a course.

The modules, one idea each, roughly in the course's order (``tests/test_structure.py`` checks
that every module is named here, and the packages ``models``, ``batch`` and ``checks`` name
theirs in their own docstrings):

    data/         ISBI 2012 download (checksummed) and loading; splits; the Dataset
    registration  the labels' sub-pixel offset, measured and undone (Config.register)
    augment       the paper's augmentation pipeline (albumentations 2.x)
    models/       UNet, UNet++ (one base class, one decoder cell), attention gates, describe()
    losses        cross-entropy and the Dice variants
    metrics       pixel accuracy, mIoU, V_rand/V_info of the class table
    isbi_metrics  the challenge's V_rand/V_info after border thinning
    label_errors  merges, splits, thicker and thinner membranes built into a label (chapter 06)
    config        Config, its checks, the profiles
    fields        a Config's fields checked: types, harmless conversions, values
    builder       Config -> model, loss, optimizer
    train         fit() in named steps
    preparation   before the first epoch: run folder, device, data and loader, restore
    epoch         one training step and one pass over the loader, on the run's fast path
    ema           the weights' exponential moving average (Config.ema), what a run scores
    records       what a run records (run.json): progress, environment
    checkpoints   atomic files, resume, exported weights, load_run
    fastpath      the dtype and memory format a run computes in (bf16, channels_last, compile)
    probe         the fast path's measurement: the run's own step timed in each combination
    cpu           the CPU this process runs on (/proc/cpuinfo read once)
    inference     predict: device, mixed precision, TTA
    tta           test-time augmentation taken apart, view by view
    quality       quality control: per-slice scores, named errors, thresholds
    protocols     the two summaries of a run: the paper's (chosen on test) and an honest one
    batch/        the instructor's batch: the grid, jobs, executors (papermill, submitit), SLURM,
                  summary
    paper         the paper's numbers and claims
    stats         statistics over seeds: mean and sd, paired differences, t interval, verdict
    contrasts     named contrasts of a grid's configurations, and what each hypothesis predicts
    selection     choosing a recipe on validation only: the validation scores of run records
    plots/        figures for the notebooks: slices, error maps, numbers as lines
    diagrams      schematic drawings of the networks
    checks/       exercise checks for the notebooks
    grade         grading submitted student notebooks (``python -m attnlib grade``)
    __main__      the command line: ``python -m attnlib data | train | batch | grade``

and two that every other may use:

    names         the vocabulary of a run's settings
    tables        the one Markdown table writer and the one number formatter
"""

import os as _os

# albumentations checks PyPI for updates on import; attnlib never touches the network
# except for the explicit data download, so switch that off before anything imports it.
_os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

__version__ = "0.1.0"
