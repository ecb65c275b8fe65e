"""attnlib.config: profiles, precedence, and clear errors for bad parameters."""
import pytest

from attnlib.config import PROFILES, Config, make_config


def test_defaults_are_the_papers():
    c = Config()
    assert (c.model, c.gate, c.loss, c.augmentation, c.epochs, c.lr) == ("unet", "none", "ce", "paper", 500, 1e-3)
    assert c.widths == [64, 128, 256, 512, 1024]
    assert c.effective_batch_size == 4 and Config(model="unetpp").effective_batch_size == 1


def test_precedence_default_profile_explicit():
    c, changes = make_config("smoke", epochs=3, gate="sse")
    assert c.epochs == 3 and c.gate == "sse"  # explicit beats the profile
    assert c.crop == PROFILES["smoke"]["crop"]  # the profile beats the default
    assert "epochs" not in changes and changes["crop"] == PROFILES["smoke"]["crop"]  # recorded, not hidden


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("ATTNLIB_PROFILE", "laptop")
    assert make_config()[0].widths == PROFILES["laptop"]["widths"]
    monkeypatch.setenv("ATTNLIB_PROFILE", "")
    assert make_config()[0].widths == [64, 128, 256, 512, 1024]


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"model": "vgg"}, ValueError, "unknown model 'vgg'.*unet"),
        ({"gate": "cbam"}, ValueError, "unknown gate"),
        ({"loss": "focal"}, ValueError, "unknown loss"),
        ({"augmentation": "mixup"}, ValueError, "unknown augmentation"),
        ({"crop": 100}, ValueError, "not divisible by 16"),
        ({"split": "9"}, ValueError, "fold 9 is out of range"),
        ({"epochs": "5"}, TypeError, "'epochs' must be int, got str"),
        ({"lr": "0.001"}, TypeError, "'lr' must be float"),
        ({"widths": [16, 32.0, 64, 128, 256]}, TypeError, "list of ints"),
        ({"deterministic": "yes"}, TypeError, "'deterministic' must be bool"),
        ({"colour": 1}, ValueError, "unknown parameter"),
    ],
)
def test_bad_parameters(params, error, match):
    with pytest.raises(error, match=match):
        make_config("smoke", **params)


def test_unknown_profile():
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        make_config("fast")


def test_lenient_where_harmless():
    c, _ = make_config("smoke", lr=1, split=2, widths=(8, 16, 32, 64, 128))
    assert c.lr == 1.0 and c.split == "2" and c.widths == [8, 16, 32, 64, 128]


def test_run_dir_tracks_settings():
    a, b = Config(seed=1), Config(seed=1, epochs=7)
    assert a.run_dir() == b.run_dir()  # resumable fields do not change the folder
    assert Config(seed=1, lr=0.1).run_dir() != a.run_dir()
    assert str(Config(out_dir="x/y").run_dir()) == "x/y"
