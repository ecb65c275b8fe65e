"""Data augmentation: the paper's pipeline, its parts, none, and the U-Net paper's elastic
deformation.

All pipelines are albumentations 2.x ``Compose`` objects built with ``strict=True``, so a
misspelt or 1.x-only argument is an error, not a silently dropped option. Each takes
``image=`` (uint8 ``(H, W)``) and ``mask=`` (``(H, W)`` in {0, 1}); geometric transforms move
the mask with the image and resample it with nearest neighbour, so it stays in {0, 1}.

The paper's code (``dataloader.py`` of AllenXuuu/CS420-Machine-Learning) used albumentations
1.x; the translation to 2.x:

=====================================  ==========================================================
paper's code (1.x)                     here (2.x)
=====================================  ==========================================================
``RandomRotate90()``                   ``RandomRotate90(p=0.5)`` (same default)
``VerticalFlip(0.5)``, ``Horizontal``  unchanged
``GaussNoise(var_limit=400, p=0.2)``   ``GaussNoise(std_range=(0, 20/255), p=0.2)``: variance up
                                       to 400 on 0-255 is a standard deviation up to 20/255 of
                                       the maximum (2.x draws the std, 1.x drew the variance)
``OneOf(Motion, Median, Gaussian)``    unchanged, p=0.2
``OneOf(GridDistortion(10), Optical)`` unchanged, p=0.2, with 1.x's reflecting border
                                       (2.x would pad with black, i.e. fake membrane)
=====================================  ==========================================================
"""

from __future__ import annotations

import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no PyPI check on import

import albumentations as A  # noqa: E402
import cv2  # noqa: E402

from attnlib import names  # noqa: E402

REFLECT = cv2.BORDER_REFLECT_101  # albumentations 1.x default border for distortions


def _geometric():
    return [A.RandomRotate90(p=0.5), A.VerticalFlip(p=0.5), A.HorizontalFlip(p=0.5)]


def _photometric():
    """The paper's noise, blur and distortion steps (after its flips and rotation)."""
    return [
        A.GaussNoise(std_range=(0.0, 20 / 255), p=0.2),
        A.OneOf([A.MotionBlur(), A.MedianBlur(), A.GaussianBlur()], p=0.2),
        A.OneOf(
            [
                A.GridDistortion(num_steps=10, border_mode=REFLECT),
                A.OpticalDistortion(border_mode=REFLECT),
            ],
            p=0.2,
        ),
    ]


def paper_augmentation(seed: int | None = None) -> A.Compose:
    """The paper's pipeline: rotations, flips, noise, blur and distortion (Sec. 3.3)."""
    return A.Compose([*_geometric(), *_photometric()], strict=True, seed=seed)


def upright_augmentation(seed: int | None = None) -> A.Compose:
    """The paper's pipeline without the steps that turn the vertical direction
    (the vertical flip and the 90-degree rotation); the horizontal flip stays.
    Under it a label drawn above its ridge stays above it."""
    return A.Compose([A.HorizontalFlip(p=0.5), *_photometric()], strict=True, seed=seed)


def photometric_augmentation(seed: int | None = None) -> A.Compose:
    """The paper's noise, blur and distortion steps alone (no flip, no rotation)."""
    return A.Compose(_photometric(), strict=True, seed=seed)


def geometric_augmentation(seed: int | None = None) -> A.Compose:
    """The paper's rotation and flips alone: the 8 views, nothing else."""
    return A.Compose(_geometric(), strict=True, seed=seed)


def no_augmentation(seed: int | None = None) -> A.Compose:
    """Identity (the paper's "without augmentation" ablation)."""
    return A.Compose([], strict=True, seed=seed)


def elastic_augmentation(
    seed: int | None = None, alpha: float = 34.0, sigma: float = 4.0
) -> A.Compose:
    """Flips and rotations plus a smooth elastic deformation, as in the U-Net paper.

    Ronneberger et al. (2015) name elastic deformation the key augmentation for EM with few
    training images. ``alpha`` scales the displacement (pixels), ``sigma`` smooths it.
    """
    return A.Compose(
        [*_geometric(), A.ElasticTransform(alpha=alpha, sigma=sigma, border_mode=REFLECT, p=0.5)],
        strict=True,
        seed=seed,
    )


AUGMENTATIONS = {
    "paper": paper_augmentation,
    "none": no_augmentation,
    "elastic": elastic_augmentation,
    "upright": upright_augmentation,
    "photometric": photometric_augmentation,
    "geometric": geometric_augmentation,
}  # keyed by attnlib.names.AUGMENTATIONS


def build_augmentation(name: str, seed: int | None = None) -> A.Compose:
    """A pipeline by its name in :data:`attnlib.names.AUGMENTATIONS`."""
    names.check_choice("augmentation", name, names.AUGMENTATIONS)
    return AUGMENTATIONS[name](seed=seed)


def paper_steps() -> dict[str, A.BasicTransform]:
    """Each step of the paper's pipeline on its own, always applied (for showing them one by
    one)."""
    return {
        "rotate 90": A.RandomRotate90(p=1.0),
        "vertical flip": A.VerticalFlip(p=1.0),
        "horizontal flip": A.HorizontalFlip(p=1.0),
        "gauss noise": A.GaussNoise(std_range=(20 / 255, 20 / 255), p=1.0),
        "motion blur": A.MotionBlur(p=1.0),
        "median blur": A.MedianBlur(p=1.0),
        "gaussian blur": A.GaussianBlur(p=1.0),
        "grid distortion": A.GridDistortion(num_steps=10, border_mode=REFLECT, p=1.0),
        "optical distortion": A.OpticalDistortion(border_mode=REFLECT, p=1.0),
        "elastic (U-Net)": A.ElasticTransform(alpha=34.0, sigma=4.0, border_mode=REFLECT, p=1.0),
    }
