"""attnlib.config: profiles, precedence, and clear errors for bad parameters."""

import pytest

import torch

from attnlib.config import (
    PROFILES,
    Config,
    config_mismatch,
    make_config,
    profile_reason,
    resolve_profile,
)


def test_defaults_are_the_papers():
    c = Config()
    assert (c.model, c.gate, c.loss, c.augmentation, c.epochs, c.lr) == (
        "unet",
        "none",
        "ce",
        "paper",
        500,
        1e-3,
    )
    assert c.widths == [64, 128, 256, 512, 1024]
    assert c.effective_batch_size == 4 and Config(model="unetpp").effective_batch_size == 1


def test_precedence_default_profile_explicit():
    c, changes = make_config("smoke", epochs=3, gate="sse")
    assert c.epochs == 3 and c.gate == "sse"  # explicit beats the profile
    assert c.crop == PROFILES["smoke"]["crop"]  # the profile beats the default
    assert (
        "epochs" not in changes and changes["crop"] == PROFILES["smoke"]["crop"]
    )  # recorded, not hidden


def test_an_explicit_value_wins_even_when_it_equals_a_default():
    c, changes = make_config("laptop", lr=1e-3, schedule="constant")
    assert (c.lr, c.schedule) == (1e-3, "constant")  # was: the profile's 2e-3 and cosine
    assert "lr" not in changes and "schedule" not in changes
    assert make_config("smoke", deterministic=False)[0].deterministic is False


def test_none_means_not_set():
    c, changes = make_config("laptop", lr=None, model=None, gate="sse")
    assert c.lr == PROFILES["laptop"]["lr"] and c.model == "unet" and c.gate == "sse"
    assert changes["lr"] == PROFILES["laptop"]["lr"]


def test_paper_profile_on_cuda_respects_compile_false(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert make_config("paper")[0].compile is True  # the profile's fast path on CUDA
    assert make_config("paper", compile=False)[0].compile is False


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("ATTNLIB_PROFILE", "laptop")
    assert make_config()[0].widths == PROFILES["laptop"]["widths"]
    assert "ATTNLIB_PROFILE" in profile_reason()


def test_default_profile_follows_the_device(monkeypatch):
    monkeypatch.delenv("ATTNLIB_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_profile() == "laptop" and "no CUDA" in profile_reason()
    assert make_config()[0].widths == PROFILES["laptop"]["widths"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_profile() == "paper" and make_config()[0].widths == [64, 128, 256, 512, 1024]
    assert resolve_profile("smoke") == "smoke" and "named by you" in profile_reason("smoke")


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
    a = Config(seed=1)
    assert Config(seed=1, epochs=7).run_dir() != a.run_dir()  # another length is another run
    assert Config(seed=1, eval_interval=5).run_dir() != a.run_dir()  # it changes the summary
    assert (
        Config(seed=1, num_workers=4, checkpoint_every=3).run_dir() == a.run_dir()
    )  # cannot change results
    assert Config(seed=1, lr=0.1).run_dir() != a.run_dir()
    assert str(Config(out_dir="x/y").run_dir()) == "x/y"


def test_config_mismatch_sees_missing_fields():
    a = Config().to_dict()
    assert config_mismatch(a, dict(a)) == []
    assert config_mismatch(a, a | {"epochs": 3, "device": "cuda"}) == [
        "epochs"
    ]  # device may change
    old = {
        k: v for k, v in a.items() if k != "channels_last"
    }  # a checkpoint from before a field existed
    assert config_mismatch(old, a) == ["channels_last"]


def test_optional_fields_accept_none_or_their_type():
    assert (
        Config(channels_last=None).channels_last is None
        and Config(channels_last=True).channels_last
    )
    with pytest.raises(TypeError, match="'channels_last' must be bool"):
        Config(channels_last="yes")
