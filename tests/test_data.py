"""attnlib.data: loading, checksums, splits, the Dataset and its errors."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import attnlib.data as D
from attnlib.augment import no_augmentation, paper_augmentation

ROOT = Path(os.environ["ATTNLIB_DATA"])


@pytest.fixture(scope="module")
def data():
    return D.load_isbi2012()


def test_load_shapes_and_classes(data):
    x, y = data
    assert x.shape == y.shape == (30, 512, 512)
    assert x.dtype == y.dtype == np.uint8
    assert sorted(np.unique(y).tolist()) == [0, 1]
    # membrane (0) is about 22% of pixels (README of the data) and darker than cells
    assert 0.20 < (y == 0).mean() < 0.24
    assert x[y == 0].mean() < x[y == 1].mean()


def test_labels_match_files(data):
    from PIL import Image

    raw = np.asarray(Image.open(ROOT / "train/label/7.png"))
    assert np.array_equal(data[1][7], (raw == 255).astype(np.uint8))


def test_test_volume():
    t = D.load_isbi2012_test()
    assert t.shape == (30, 512, 512) and t.dtype == np.uint8


def test_registry_has_90_files():
    reg = D.registry()
    assert len(reg) == 90 and "train/label/29.png" in reg and "test/0.png" in reg


def test_corrupted_copy_names_the_file(tmp_path):
    copy = tmp_path / "isbi"
    shutil.copytree(ROOT, copy)
    for p in copy.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    bad = copy / "train/image/3.png"
    bad.write_bytes(bad.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(D.DataError, match=r"train/image/3\.png"):
        D.load_isbi2012(copy)


def test_missing_folder_says_how_to_fix(tmp_path):
    with pytest.raises(D.DataError, match="missing.*ATTNLIB_DATA"):
        D.load_isbi2012(tmp_path / "nowhere")


def test_incomplete_folder_lists_a_missing_file(tmp_path):
    copy = tmp_path / "isbi"
    shutil.copytree(ROOT / "train", copy / "train")
    with pytest.raises(D.DataError, match=r"incomplete: 30 of 90 .*test/"):
        D.load_isbi2012(copy)


def test_env_var_is_used(monkeypatch, tmp_path):
    monkeypatch.setenv("ATTNLIB_DATA", str(tmp_path / "empty"))
    with pytest.raises(D.DataError, match="from the ATTNLIB_DATA"):
        D.load_isbi2012()


def test_non_binary_labels():
    with pytest.raises(ValueError, match="not binary"):
        D.labels_from_png(np.array([[0, 128], [255, 255]], np.uint8))
    with pytest.raises(ValueError, match="not binary"):
        D.ISBIDataset(np.zeros((2, 32, 32), np.uint8), np.full((2, 32, 32), 2, np.uint8))


def test_paper_split_and_folds():
    assert D.PAPER_SPLIT.train == tuple(range(25)) and D.PAPER_SPLIT.test == (25, 26, 27, 28, 29)
    folds = D.kfold_splits(5)
    assert len(folds) == 5
    assert sorted(i for f in folds for i in f.val) == list(range(25))  # each slice validated once
    for f in folds:
        assert len(f.val) == 5 and len(f.train) == 20 and not set(f.val) & set(f.train)
        assert f.test == D.PAPER_TEST
    assert D.get_split(2).val == (10, 11, 12, 13, 14)
    with pytest.raises(ValueError, match="out of range"):
        D.get_split(5)
    with pytest.raises(ValueError, match="'paper' or a fold"):
        D.get_split("all")


@pytest.mark.parametrize("augment", [None, "paper"])
@pytest.mark.parametrize("crop", [None, 64, (96, 96)])
def test_dataset_items(data, augment, crop):
    x, y = data
    t = paper_augmentation() if augment else None
    ds = D.ISBIDataset(x, y, indices=range(25), transform=t, crop=crop, samples_per_epoch=6)
    h, w = (512, 512) if crop is None else ((crop, crop) if isinstance(crop, int) else crop)
    assert len(ds) == 6
    for i in range(len(ds)):
        img, mask = ds[i]
        assert img.shape == (1, h, w) and img.dtype == torch.float32
        assert mask.shape == (h, w) and mask.dtype == torch.int64
        assert 0.0 <= img.min() and img.max() <= 1.0
        assert set(mask.unique().tolist()) <= {0, 1}


def test_dataset_is_deterministic_per_epoch(data):
    x, y = data
    ds = D.ISBIDataset(x, y, range(25), paper_augmentation(), crop=64, seed=3)
    a = ds[5][0]
    assert torch.equal(a, ds[5][0])  # same (seed, epoch, index): same item, in any worker
    ds.set_epoch(1)
    assert not torch.equal(a, ds[5][0])


def test_dataset_in_workers(data):
    x, y = data
    ds = D.ISBIDataset(x, y, range(4), paper_augmentation(), crop=32, samples_per_epoch=8)
    main = torch.stack([ds[i][0] for i in range(8)])
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2)
    assert torch.equal(torch.cat([b[0] for b in loader]), main)


def test_no_augmentation_is_identity(data):
    x, y = data
    img, mask = D.ISBIDataset(x, y, [4], no_augmentation())[0]
    assert torch.equal(mask, torch.from_numpy(y[4].astype(np.int64)))
    assert torch.allclose(img[0], torch.from_numpy(x[4] / 255.0).float())


def test_shape_errors():
    with pytest.raises(ValueError, match="same shape"):
        D.ISBIDataset(np.zeros((2, 32, 32), np.uint8), np.zeros((2, 32, 16), np.uint8))
    with pytest.raises(ValueError, match="larger than the images"):
        D.ISBIDataset(np.zeros((2, 32, 32), np.uint8), np.zeros((2, 32, 32), np.uint8), crop=64)
    with pytest.raises(ValueError, match="not square"):
        D.ISBIDataset(
            np.zeros((2, 32, 32), np.uint8), np.zeros((2, 32, 32), np.uint8), crop=(16, 32)
        )


def test_download_fills_only_missing_files(tmp_path, monkeypatch):
    """The pooch download path, served from a loopback HTTP server (no outside network)."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(ROOT))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(D, "BASE_URL", f"http://127.0.0.1:{server.server_port}/")
        cache = tmp_path / "cache"
        shutil.copytree(ROOT / "train", cache / "train")  # 60 files there, 30 to fetch
        before = (cache / "train/image/0.png").stat().st_mtime_ns
        assert D.fetch_isbi2012(cache, download=True) == cache
        assert len(list((cache / "test").glob("*.png"))) == 30
        assert (cache / "train/image/0.png").stat().st_mtime_ns == before  # not re-fetched
        assert D.load_isbi2012_test(cache).shape == (30, 512, 512)
    finally:
        server.shutdown()


def test_failed_download_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(D, "BASE_URL", "http://127.0.0.1:9/")  # the discard port: nothing listens
    with pytest.raises(D.DataError, match=r"Could not download train/image/0\.png.*ATTNLIB_DATA"):
        D.fetch_isbi2012(tmp_path / "cache", download=True)


def test_paper_augmentation_draws_each_step_independently():
    """All 8 flips/rotations occur, mirrors included: each step draws its own random numbers.

    (Seeding the pipeline with set_random_seed gave every step the same seed, so the two flips
    always fired together and a mirrored view never occurred.)"""
    rng = np.random.default_rng(0)
    mask = (rng.random((1, 32, 32)) > 0.5).astype(np.uint8)  # asymmetric: each view is distinct
    views = {
        (k, f): np.fliplr(np.rot90(mask[0], k)) if f else np.rot90(mask[0], k)
        for k in range(4)
        for f in (0, 1)
    }
    ds = D.ISBIDataset(mask * 255, mask, [0], paper_augmentation(), samples_per_epoch=400)
    seen = {}
    for i in range(len(ds)):
        out = ds[i][1].numpy()
        view = next((v for v, m in views.items() if np.array_equal(m, out)), "distorted")
        seen[view] = seen.get(view, 0) + 1
    assert all(seen.get(v, 0) > 0 for v in views), seen  # every view, the four mirrors too
    assert sum(seen.get((k, 1), 0) for k in range(4)) > 100, seen
    assert seen.get((0, 0), 0) < 200, seen  # the identity is not most of the stream
