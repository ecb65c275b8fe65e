"""Segmentation errors built into a real label slice, for the metrics notebook (06).

Each function takes a label slice (H, W), 1 = cell and 0 = membrane, and returns
``(pred, changed)``: a prediction with one kind of error built in (same shape and
dtype as the label) and the boolean mask of the pixels it changed.

* ``merge_gap``: cut a one-pixel gap through a membrane, so two cells touch (a merge);
* ``split_line``: draw a one-pixel membrane line across the largest cell at its
  narrowest waist (a split);
* ``thicken`` / ``thin``: grow or shrink the whole membrane by one pixel
  (4-neighbourhood); thinning removes one-pixel-wide membranes entirely.

All are deterministic: no randomness, the same slice always gives the same error.
``merged_and_split`` finds the cells a prediction merges or splits (as the ISBI
scores see them), ``merge_sites`` where it joins them, and ``window`` a crop around
a mask, for the pictures.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.measure import label as connected_components
from skimage.segmentation import watershed

from attnlib.isbi_metrics import ground_truth_cells, thinned_segments

CROSS = ndimage.generate_binary_structure(2, 1)  # the 4-neighbourhood


def _check(label) -> np.ndarray:
    label = np.asarray(label)
    if label.ndim != 2 or ((label != 0) & (label != 1)).any():
        raise ValueError(
            f"expected one (H, W) label slice of 0 (membrane) / 1 (cell), got shape {label.shape}"
        )
    return label


def merge_gap(label, min_cell: int = 1500):
    """Open the shortest horizontal membrane run that separates two cells of >= ``min_cell`` pixels.

    Returns ``(pred, changed)``; the changed pixels are the run (its length is the
    membrane's width there), and the two cells on either side become one 4-connected
    region of ``pred``.
    """
    label = _check(label)
    cells = connected_components(label == 1, connectivity=1)
    sizes = np.bincount(cells.ravel())
    best = None  # (run length, -smaller cell, row, start)
    for row in range(label.shape[0]):
        line, ids = label[row], cells[row]
        x = 1
        while x < label.shape[1] - 1:
            if line[x] == 0 and line[x - 1] == 1:
                end = x
                while end < label.shape[1] and line[end] == 0:
                    end += 1
                if end < label.shape[1]:
                    a, b = ids[x - 1], ids[end]
                    if a != b and min(sizes[a], sizes[b]) >= min_cell:
                        key = (end - x, -min(sizes[a], sizes[b]), row, x)
                        best = key if best is None or key < best else best
                x = end
            x += 1
    if best is None:
        raise ValueError(
            f"no membrane run separates two cells of >= {min_cell} pixels; lower min_cell"
        )
    length, _, row, start = best
    pred, changed = label.copy(), np.zeros(label.shape, bool)
    changed[row, start : start + length] = True
    pred[changed] = 1
    return pred, changed


def _best_row_cut(cell: np.ndarray, min_part: float):
    """(length, row) of the shortest one-run row that leaves >= min_part of ``cell`` on each
    side."""
    per_row = cell.sum(axis=1)
    above = np.cumsum(per_row) - per_row  # cell pixels in the rows above each row
    below = cell.sum() - above - per_row
    best = None
    for row in np.flatnonzero(per_row):
        xs = np.flatnonzero(cell[row])
        if xs[-1] - xs[0] + 1 == len(xs) and min(above[row], below[row]) >= min_part * cell.sum():
            best = (len(xs), row) if best is None or len(xs) < best[0] else best
    return best


def split_line(label, min_part: float = 0.3):
    """Draw a one-pixel membrane line (a row or a column) across the largest cell, at its waist.

    Among the rows and columns that cross the cell in one run and leave at least
    ``min_part`` of it on each side, the shortest wins. Returns ``(pred, changed)``.
    """
    label = _check(label)
    cells = connected_components(label == 1, connectivity=1)
    cell = cells == np.argmax(np.bincount(cells.ravel())[1:]) + 1
    cuts = [
        (cut, axis)
        for axis, view in ((0, cell), (1, cell.T))
        if (cut := _best_row_cut(view, min_part)) is not None
    ]
    if not cuts:
        raise ValueError(
            "the largest cell has no row or column that splits it into two large parts"
        )
    (_, index), axis = min(cuts)
    changed = np.zeros(label.shape, bool)
    if axis == 0:
        changed[index] = cell[index]
    else:
        changed[:, index] = cell[:, index]
    pred = label.copy()
    pred[changed] = 0
    return pred, changed


def thicken(label):
    """Grow the membrane by one pixel (4-neighbourhood). Returns ``(pred, changed)``."""
    label = _check(label)
    membrane = ndimage.binary_dilation(label == 0, CROSS)
    pred = np.where(membrane, 0, 1).astype(label.dtype)
    return pred, pred != label


def thin(label):
    """Shrink the membrane by one pixel (4-neighbourhood; the image edge counts as membrane).

    A membrane only one or two pixels wide disappears here, and its cells merge.
    """
    label = _check(label)
    membrane = ndimage.binary_erosion(label == 0, CROSS, border_value=1)
    pred = np.where(membrane, 0, 1).astype(label.dtype)
    return pred, pred != label


def merged_and_split(pred, label, min_overlap: int = 20):
    """Ground-truth cells that ``pred`` merges with another, and cells it splits, as two masks.

    Predicted segments are those the ISBI score sees (after border thinning). A ground-truth
    cell and a predicted segment count as overlapping when they share >= ``min_overlap``
    pixels (this ignores slivers along the thinned lines). A segment overlapping two or
    more cells merges them; a cell overlapping two or more segments is split.
    """
    label = _check(label)
    gt, seg = ground_truth_cells(label), thinned_segments(np.asarray(pred) == 1)
    both = (gt > 0) & (seg > 0)
    pairs, counts = np.unique(np.stack([gt[both], seg[both]]), axis=1, return_counts=True)
    cell_ids, seg_ids = pairs[:, counts >= min_overlap]
    seg_cells = np.bincount(seg_ids)  # how many cells each segment overlaps
    cell_segs = np.bincount(cell_ids)  # how many segments each cell overlaps
    merged = np.unique(cell_ids[seg_cells[seg_ids] > 1])
    split = np.flatnonzero(cell_segs > 1)
    return np.isin(gt, merged), np.isin(gt, split)


def merge_sites(pred, label, min_cell: int = 0):
    """Pixels where ``pred`` joins two ground-truth cells of >= ``min_cell`` pixels each (a mask).

    The ground-truth cells are grown inside the predicted cell mask (a flood from each
    cell, as far as the prediction lets it go); where two different cells meet, the
    prediction has connected them. Empty when nothing is merged.
    """
    label = _check(label)
    mask = np.asarray(pred) == 1
    cells = ground_truth_cells(label)
    big = np.bincount(cells.ravel()) >= min_cell
    big[0] = False
    grown = watershed(
        np.zeros(mask.shape, np.uint8), np.where(mask, cells, 0), mask=mask, connectivity=1
    )
    sites = np.zeros(mask.shape, bool)
    for axis in (0, 1):
        a, b = np.moveaxis(grown, axis, 0)[1:], np.moveaxis(grown, axis, 0)[:-1]
        meet = (a != b) & big[a] & big[b]
        np.moveaxis(sites, axis, 0)[1:] |= meet
        np.moveaxis(sites, axis, 0)[:-1] |= meet
    return sites


def window(mask, size: int = 96):
    """A ``size`` x ``size`` slice pair centred on the largest 4-connected part of ``mask``."""
    parts = connected_components(np.asarray(mask, bool), connectivity=1)
    if parts.max() == 0:
        raise ValueError("the mask is empty: nothing to centre the window on")
    rows, cols = np.nonzero(parts == np.argmax(np.bincount(parts.ravel())[1:]) + 1)
    h, w = parts.shape
    r0 = int(np.clip((rows.min() + rows.max()) // 2 - size // 2, 0, h - size))
    c0 = int(np.clip((cols.min() + cols.max()) // 2 - size // 2, 0, w - size))
    return np.s_[r0 : r0 + size, c0 : c0 + size]
