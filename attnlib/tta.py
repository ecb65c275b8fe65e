"""Test-time augmentation taken apart: the 8 flips and 90-degree rotations, view by view.

For cell probabilities of a model on slices ``images`` (uint8 ``(N, H, W)``) and labels::

    views = view_probs(model, images)                # (8, N, H, W), one per view
    table = view_table(views, labels)                # scores of each view, and of their mean
    shifts = view_offsets(views)                     # (8, 2): each view against the plain one
    fair = align_views(views, shifts).mean(0)        # TTA of re-aligned views
    training_views(transform)                        # how often a pipeline draws each view

Chapter 07's quality-control section uses it to find out why averaging the views can score
below the plain view (see :mod:`attnlib.quality` for the rest of that section).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.registration import phase_cross_correlation

from attnlib.data import ISBIDataset
from attnlib.inference import VIEWS, predict
from attnlib.quality import membrane_fraction, scores_at


def apply_view(x, k: int, flip: bool) -> np.ndarray:
    """The view ``(k, flip)`` of ``(..., H, W)``: rotate k x 90 degrees, then
    mirror left-right, as :func:`attnlib.inference.predict` does."""
    v = np.rot90(np.asarray(x), k, axes=(-2, -1))
    return np.ascontiguousarray(v[..., ::-1] if flip else v)


def invert_view(x, k: int, flip: bool) -> np.ndarray:
    """Undo :func:`apply_view` on ``(..., H, W)``: mirror back, rotate back."""
    v = np.asarray(x)[..., ::-1] if flip else np.asarray(x)
    return np.ascontiguousarray(np.rot90(v, -k, axes=(-2, -1)))


def view_name(k: int, flip: bool) -> str:
    """``"rot 90 + flip"`` style names of the 8 views (``"plain"`` for (0, F))."""
    if (k, flip) == (0, False):
        return "plain"
    return " + ".join(([f"rot {90 * k}"] if k else []) + (["flip"] * flip))


def view_probs(model, images, amp: str = "auto", batch_size: int = 2):
    """P(cell) of each of the 8 views, mapped back to the input's frame.

    Args:
        model: logits ``(B, 2, H, W)``; images: uint8 ``(N, H, W)``.
        amp: as :func:`attnlib.inference.predict`.
    Returns:
        float32 ``(8, N, H, W)`` in the order of :data:`attnlib.inference.VIEWS`; its mean over
        the first axis is ``predict(model, images, tta=True)``.
    """
    out = []
    for k, flip in VIEWS:
        view = apply_view(images, k, flip)
        p = predict(model, view, batch_size=batch_size, amp=amp)
        out.append(invert_view(p, k, flip))
    return np.stack(out).astype(np.float32)


def view_table(views, labels, threshold: float = 0.5) -> list[dict]:
    """Scores of each view and of their mean, at one fixed threshold.

    ``views``: ``(8, N, H, W)`` from :func:`view_probs`; ``labels``:
    ``(N, H, W)``. Returns one dict per view and a last one for the mean
    (``"view"``, ``"mean_iou"``, ``"isbi_vrand"``, ``"membrane"``: the
    fraction of pixels predicted as membrane).
    """
    rows = []
    named = [(view_name(k, f), v) for (k, f), v in zip(VIEWS, views)]
    for name, p in named + [("mean of 8", np.mean(views, axis=0))]:
        rows.append(
            {
                "view": name,
                **scores_at(p, labels, threshold),
                "membrane": membrane_fraction(p, threshold),
            }
        )
    return rows


def _shift(reference, moving) -> np.ndarray:
    """(dy, dx) that moves ``moving`` onto ``reference`` (both ``(H, W)``),
    by cross-correlation refined to 1/20 pixel; (0, 0) for a flat map."""
    ref = reference - reference.mean()
    mov = moving - moving.mean()
    if not (ref.any() and mov.any()):
        return np.zeros(2)
    shift = phase_cross_correlation(ref, mov, upsample_factor=20, normalization=None)[0]
    return np.asarray(shift, dtype=np.float64)


def view_offsets(views, slices=None) -> np.ndarray:
    """How far each view's membranes sit from the plain view's, in pixels.

    ``views``: ``(8, N, H, W)`` from :func:`view_probs`; ``slices``: indices
    into N to use (default all; no labels are read). Returns ``(8, 2)``: the
    mean over slices of the (dy, dx) that moves view v's membrane map
    ``1 - P(cell)`` onto the plain view's (row 0 is (0, 0)).
    """
    idx = range(views.shape[1]) if slices is None else list(slices)
    return np.array(
        [np.mean([_shift(1.0 - views[0, i], 1.0 - v[i]) for i in idx], axis=0) for v in views]
    )


def align_views(views, offsets) -> np.ndarray:
    """Each view moved by its offset (bilinear, edges repeated).

    ``views``: ``(8, N, H, W)``; ``offsets``: ``(8, 2)`` from
    :func:`view_offsets`. Returns float32 ``(8, N, H, W)``.
    """
    out = np.empty_like(views, dtype=np.float32)
    for v, (dy, dx) in enumerate(offsets):
        for i in range(views.shape[1]):
            out[v, i] = ndimage.shift(views[v, i], (dy, dx), order=1, mode="nearest")
    return out


def _probe(size: int = 64) -> np.ndarray:
    """A uint8 ``(size, size)`` pattern that no flip or rotation leaves alone."""
    probe = np.zeros((size, size), dtype=np.uint8)
    probe[6:20, 6:20] = 255
    probe[6:20, 30:36] = 160
    probe[40:44, 10:50] = 90
    return probe


def training_views(transform, n: int = 1000, seed: int = 0, seeding: str = "dataset") -> dict:
    """How often a training pipeline shows the network each of the 8 views.

    Draws ``n`` items of :class:`attnlib.data.ISBIDataset` (seeded as in
    training) from an asymmetric probe image through ``transform`` (an
    albumentations pipeline, or None), and names each output by the view it
    matches best. ``seeding="set_random_seed"`` instead re-seeds the pipeline per
    item with ``transform.set_random_seed``, as ``ISBIDataset`` did before the fix
    (albumentations 2 then gives every step the same seed). Returns
    ``{view name: fraction}`` over all 8 views.
    """
    probe = _probe()
    legacy = seeding == "set_random_seed"
    stream = ISBIDataset(
        probe[None],
        np.ones((1, *probe.shape), np.uint8),
        transform=None if legacy else transform,
        samples_per_epoch=n,
        seed=seed,
    )
    refs = np.stack([apply_view(probe, k, f) for k, f in VIEWS]).astype(float)
    refs -= refs.mean(axis=(1, 2), keepdims=True)
    rng, counts = np.random.default_rng(seed), np.zeros(len(VIEWS))
    for i in range(n):
        image = np.asarray(stream[i][0])[0]
        if legacy:
            transform.set_random_seed(int(rng.integers(2**31)))
            image = transform(image=(image * 255).astype(np.uint8))["image"] / 255.0
        counts[int(np.argmax((refs * image).sum(axis=(1, 2))))] += 1
    return {view_name(k, f): float(c / n) for (k, f), c in zip(VIEWS, counts)}
