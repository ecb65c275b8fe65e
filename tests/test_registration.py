"""The labels' offset against the image ridges: the estimator, registration, the setting."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from attnlib import registration, tta
from attnlib.augment import build_augmentation
from attnlib.config import Config, config_mismatch


def membranes(n: int = 3, size: int = 96, seed: int = 0) -> np.ndarray:
    """Labels ``(n, size, size)``: cells (1) parted by curved membranes (0),
    the zero crossings of a smooth random field."""
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.normal(size=(n, size, size)), (0, 5, 5))
    field /= field.std()
    return (np.abs(field) > 0.25).astype(np.uint8)


def ridges(labels, shift) -> np.ndarray:
    """uint8 images whose dark ridges are the labels' membranes moved by ``shift``."""
    out = []
    for lab in labels:
        dark = ndimage.gaussian_filter((lab == 0).astype(float), 1.0)
        dark = ndimage.shift(dark, shift, order=3, mode="nearest")
        out.append(np.clip(210 - 180 * dark, 0, 255))
    return np.stack(out).astype(np.uint8)


@pytest.mark.parametrize(
    "shift", [(0.3, 0.0), (-0.3, 0.0), (0.0, 0.45), (0.0, -0.45), (-0.6, -0.15), (1.2, 0.7)]
)
def test_the_estimator_recovers_a_known_sub_pixel_shift(shift):
    labels = membranes()
    offsets = registration.slice_offsets(ridges(labels, shift), labels)
    # the offset is what moves the ridges back onto the labels: minus the shift
    np.testing.assert_allclose(offsets.mean(0), -np.asarray(shift), atol=0.05)
    assert offsets.shape == (len(labels), 2)


def test_a_registered_image_sits_on_its_labels_and_the_control_twice_as_far():
    labels = membranes()
    images = ridges(labels, (-0.6, 0.2))
    moved, rec = registration.register(images, labels, [0, 1, 2], "offset")
    assert rec["offset"] == pytest.approx([0.6, -0.2], abs=0.05)
    residual = registration.slice_offsets(moved, labels).mean(0)
    np.testing.assert_allclose(residual, 0, atol=0.05)
    away, rec = registration.register(images, labels, [0, 1, 2], "opposite")
    assert rec["shift"] == pytest.approx([-v for v in rec["offset"]])
    np.testing.assert_allclose(
        registration.slice_offsets(away, labels).mean(0), [1.2, -0.4], atol=0.08
    )


def test_registration_moves_every_image_never_a_label_and_reads_only_train_labels():
    labels = membranes(n=6)
    images = ridges(labels, (0.5, 0.0))
    train, held = [0, 1, 2, 3], [4, 5]
    before = labels.copy()
    moved, rec = registration.register(images, labels, train, "offset")
    assert np.array_equal(labels, before)  # the labels are untouched
    assert rec["slices"] == train
    assert all(not np.array_equal(moved[i], images[i]) for i in range(6))
    scrambled = labels.copy()
    scrambled[held] = np.random.default_rng(1).integers(0, 2, labels[held].shape)
    again, rec2 = registration.register(images, scrambled, train, "offset")
    assert rec2["offset"] == rec["offset"]  # held-out labels change nothing
    assert np.array_equal(again, moved)


def test_none_leaves_the_images_alone_and_unknown_modes_fail():
    labels = membranes(n=1)
    images = ridges(labels, (0.0, 0.0))
    same, rec = registration.register(images, labels, [0], "none")
    assert same is images and rec is None
    with pytest.raises(ValueError, match="unknown register 'shift'"):
        registration.register(images, labels, [0], "shift")
    with pytest.raises(ValueError, match="no slices"):
        registration.volume_offset(images, labels, [])


def test_the_setting_is_part_of_the_run_identity():
    plain, moved = Config(), Config(register="offset")
    assert plain.run_dir() != moved.run_dir()
    assert config_mismatch(plain.to_dict(), moved.to_dict()) == ["register"]
    old = {k: v for k, v in plain.to_dict().items() if k != "register"}
    assert config_mismatch(old, plain.to_dict()) == []  # records made before the field
    assert config_mismatch(old, moved.to_dict()) == ["register"]
    with pytest.raises(ValueError, match="unknown register"):
        Config(register="yes")


@pytest.mark.parametrize(
    "name, views",
    [
        ("upright", {"plain", "flip"}),  # the horizontal flip only
        ("photometric", {"plain"}),
        ("geometric", {view for view in map(lambda v: tta.view_name(*v), tta.VIEWS)}),
    ],
)
def test_the_new_pipelines_draw_the_views_they_promise(name, views):
    drawn = tta.training_views(build_augmentation(name), n=240)
    assert {v for v, f in drawn.items() if f > 0} == views


def test_a_config_at_the_old_value_keeps_its_old_folder_name():
    import hashlib
    import json

    from attnlib.config import LATER_FIELDS, RESUMABLE

    keep = {
        k: v for k, v in Config().to_dict().items() if k not in RESUMABLE and k not in LATER_FIELDS
    }
    digest = hashlib.sha1(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:8]
    assert Config().run_dir().name.endswith(digest)


def test_a_registered_run_records_its_offset(tmp_path):
    from attnlib.train import train

    run = train(
        "smoke",
        register="offset",
        epochs=1,
        amp="off",
        channels_last=False,
        out_dir=str(tmp_path / "run"),
    )
    rec = run.record["registration"]
    assert rec["mode"] == "offset" and rec["slices"] == list(range(25))
    assert rec["offset"][0] == pytest.approx(-0.61, abs=0.05)  # the ISBI labels
    assert rec["shift"] == rec["offset"]
    assert json_of(run)["registration"] == rec


def json_of(run) -> dict:
    import json

    return json.loads(run.path.read_text())


@pytest.mark.parametrize("dy", [0.5, -0.35])
def test_the_membrane_profile_finds_the_ridge_below_the_label(dy):
    labels = membranes(n=2, size=128)
    profile = registration.membrane_profile(ridges(labels, (dy, 0.0)), labels, [0, 1])
    assert profile["runs"] > 100
    assert profile["ridge"] == pytest.approx(dy, abs=0.1)
    assert profile["label"].argmax() == len(profile["t"]) // 2  # symmetric label
