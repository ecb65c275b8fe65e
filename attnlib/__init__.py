"""attnlib: attention-gated UNet and UNet++ for EM segmentation, the helper package of a course.

The modules follow the course, one idea each, in teaching order:

    data        ISBI 2012 download (checksummed), loading, splits, Dataset
    augment     the paper's augmentation pipeline (albumentations 2.x)
    models      UNet, UNet++, attention gates, describe()
    losses      cross-entropy and the Dice variants
    metrics     pixel accuracy, mIoU, V_rand/V_info (class table and ISBI challenge)
    train       Config, profiles, fit(), predict(), checkpoints
    experiments the papermill batch over the paper's grid
    plots       figures for the notebooks
    checks      exercise checks for the notebooks
"""
import os as _os

# albumentations checks PyPI for updates on import; attnlib never touches the network
# except for the explicit data download, so switch that off before anything imports it.
_os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

__version__ = "0.1.0"
