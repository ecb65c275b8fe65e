"""Where the labels sit against the image: the sub-pixel offset, measured and undone.

The ISBI 2012 annotators drew each membrane line a fraction of a pixel off the
dark ridge it marks, on every slice in the same direction. This module measures
that offset and, as a named preprocessing of a run (``Config.register``), moves
the images by it::

    dy_dx = slice_offsets(images[:25], labels[:25])     # (25, 2), one per slice
    offset = volume_offset(images, labels, split.train) # (2,), labels of split.train only
    moved = shift_images(images, offset)                # every slice alike, labels untouched

The estimator: for each slice, the cross-correlation between the image's
darkness (``255 - image``, mean removed) shifted by whole pixels (up to
``max_shift`` each way) and the membrane mask (label 0, mean removed), read on
the interior, where no shift wraps around; the best whole-pixel shift is refined
per axis by the vertex of the parabola through it and its two neighbours. The
result ``(dy, dx)`` is the shift that moves the image's ridges onto the label's
lines: a negative ``dy`` means the labels sit above the ridges.

Registration (``register="offset"``) shifts every image by the volume's offset,
measured on the run's training slices only (never a label of the validation fold
or of the test slices 25-29), with bilinear interpolation. The control
``register="opposite"`` shifts them by the negative offset: the same
interpolation, so the same smoothing, but the labels end twice as far off.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from attnlib import names

MAX_SHIFT = 2  # whole pixels searched each way before the sub-pixel refinement


def _zero_mean(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x - x.mean()


def correlation(image, membrane, max_shift: int = MAX_SHIFT) -> np.ndarray:
    """Cross-correlation of one slice's darkness with its membrane mask.

    Args:
        image: uint8 or float ``(H, W)``, dark membranes.
        membrane: ``(H, W)``, 1 on membrane pixels.
    Returns:
        ``(2m+1, 2m+1)`` for ``m = max_shift``: entry ``[m + sy, m + sx]`` is
        the mean product of the darkness moved by ``(sy, sx)`` and the mask.
    """
    m = int(max_shift)
    dark = _zero_mean(255.0 - np.asarray(image, dtype=np.float64))  # (H, W)
    mask = _zero_mean(membrane)[m:-m, m:-m]  # (H - 2m, W - 2m): the interior
    h, w = mask.shape
    out = np.empty((2 * m + 1, 2 * m + 1))
    for sy in range(-m, m + 1):
        for sx in range(-m, m + 1):
            # darkness moved by (sy, sx): its pixel p - s lands on p
            moved = dark[m - sy : m - sy + h, m - sx : m - sx + w]
            out[m + sy, m + sx] = np.mean(moved * mask)
    return out


def _vertex(left: float, mid: float, right: float) -> float:
    """Offset in (-0.5, 0.5) of the peak of the parabola through three values."""
    curve = left - 2 * mid + right
    return 0.0 if curve >= 0 else 0.5 * (left - right) / curve


def peak(corr) -> np.ndarray:
    """The sub-pixel ``(dy, dx)`` of a correlation's maximum (centre = 0)."""
    corr = np.asarray(corr)
    m = corr.shape[0] // 2
    iy, ix = np.unravel_index(np.argmax(corr), corr.shape)
    dy = dx = 0.0
    if 0 < iy < corr.shape[0] - 1:
        dy = _vertex(corr[iy - 1, ix], corr[iy, ix], corr[iy + 1, ix])
    if 0 < ix < corr.shape[1] - 1:
        dx = _vertex(corr[iy, ix - 1], corr[iy, ix], corr[iy, ix + 1])
    return np.array([iy - m + dy, ix - m + dx])


def slice_offsets(images, labels, max_shift: int = MAX_SHIFT) -> np.ndarray:
    """``(N, 2)``: each slice's ``(dy, dx)`` from image ``(N, H, W)`` to label
    ``(N, H, W)`` (1 = cell, 0 = membrane). Reads every label it is given."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3 or images.shape != labels.shape:
        raise ValueError(
            f"images {images.shape} and labels {labels.shape} "
            "must both be (N, H, W) with the same shape."
        )
    return np.stack([peak(correlation(im, lab == 0, max_shift)) for im, lab in zip(images, labels)])


def volume_offset(images, labels, slices) -> np.ndarray:
    """The volume's ``(dy, dx)``: the mean of :func:`slice_offsets` over
    ``slices`` (the run's training slices), reading no other label."""
    idx = [int(i) for i in slices]
    if not idx:
        raise ValueError(
            "no slices to measure the offset on: give the training slices (e.g. split.train)."
        )
    return slice_offsets(np.asarray(images)[idx], np.asarray(labels)[idx]).mean(0)


def shift_images(images, shift) -> np.ndarray:
    """Every slice of uint8 ``(N, H, W)`` moved by ``shift`` = ``(dy, dx)``
    pixels (bilinear, edges repeated), rounded back to uint8."""
    images = np.asarray(images)
    moved = np.stack(
        [
            ndimage.shift(im.astype(np.float32), tuple(shift), order=1, mode="nearest")
            for im in images
        ]
    )
    return np.clip(np.rint(moved), 0, 255).astype(np.uint8)


def _runs(membrane) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertical runs of membrane pixels in ``(H, W)``: column, centre row and
    length of each (a run crosses the membrane from top to bottom)."""
    m = np.pad(np.asarray(membrane, dtype=bool), ((1, 1), (0, 0)))  # (H + 2, W)
    step = np.diff(m.astype(np.int8), axis=0).T  # (W, H + 1): +1 a start, -1 an end
    col, start = np.nonzero(step == 1)  # row-major on (W, H): sorted by column
    _, end = np.nonzero(step == -1)
    return col, (start + end - 1) / 2, end - start


def membrane_profile(
    images, labels, slices, reach: float = 4.0, max_run: int = 8, step: float = 0.25
) -> dict:
    """The mean image intensity across the labelled membranes, beside the label's.

    For every vertical run of membrane pixels (label 0) no longer than
    ``max_run`` in the given slices, the image column and the membrane mask are
    sampled (linear interpolation) at ``t`` pixels below the run's centre, for
    ``t`` from ``-reach`` to ``reach``. Returns ``t``, the mean ``image`` and
    ``label`` (membrane fraction) at each ``t``, the number of ``runs`` and
    ``ridge``: where the image is darkest (parabola through the minimum), in
    pixels below the label's centre. Reads the labels of ``slices`` only.
    """
    t = np.arange(-reach, reach + step / 2, step)  # (T,)
    image_sum, label_sum, count = np.zeros(len(t)), np.zeros(len(t)), 0
    for i in slices:
        image = np.asarray(images[i], dtype=np.float64)
        membrane = (np.asarray(labels[i]) == 0).astype(np.float64)
        col, centre, length = _runs(membrane)
        keep = (length <= max_run) & (centre >= reach + 1) & (centre <= image.shape[0] - reach - 2)
        rows = centre[keep, None] + t  # (R, T)
        cols = np.broadcast_to(col[keep, None], rows.shape)
        image_sum += ndimage.map_coordinates(image, [rows, cols], order=1).sum(0)
        label_sum += ndimage.map_coordinates(membrane, [rows, cols], order=1).sum(0)
        count += int(keep.sum())
    image_mean, label_mean = image_sum / max(count, 1), label_sum / max(count, 1)
    k = int(np.clip(np.argmin(image_mean), 1, len(t) - 2))
    ridge = t[k] + step * _vertex(-image_mean[k - 1], -image_mean[k], -image_mean[k + 1])
    return {"t": t, "image": image_mean, "label": label_mean, "runs": count, "ridge": float(ridge)}


def register(images, labels, slices, mode: str) -> tuple[np.ndarray, dict | None]:
    """The images a run trains and is scored on, and what ``run.json`` records.

    Args:
        images, labels: the whole volume, ``(N, H, W)``.
        slices: the run's training slices: the only labels read.
        mode: ``"none"`` (images as they are), ``"offset"`` (moved onto the
            labels) or ``"opposite"`` (the control: moved away, by as much).
    Returns:
        ``(images, record)``; ``record`` is None for ``"none"``, else the mode,
        the measured ``offset`` and the ``shift`` applied (both ``[dy, dx]``),
        and the ``slices`` whose labels were read.
    """
    names.check_choice("register", mode, names.REGISTRATIONS)
    if mode == "none":
        return images, None
    offset = volume_offset(images, labels, slices)  # (2,)
    shift = offset if mode == "offset" else -offset
    record = {
        "mode": mode,
        "offset": [float(v) for v in offset],
        "shift": [float(v) for v in shift],
        "slices": [int(i) for i in slices],
        "interpolation": "bilinear",
    }
    return shift_images(images, shift), record
