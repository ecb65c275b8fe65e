"""attnlib.checkpoints: durable atomic writes."""

import json
import os

import torch

from attnlib import checkpoints


def test_atomic_writes_are_fsynced_before_the_rename(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(checkpoints.os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(
        checkpoints.os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))
    )
    checkpoints.save_atomic({"w": torch.ones(2)}, tmp_path / "c.pt")
    assert (
        calls[:2] == ["fsync", "replace"] and calls.count("fsync") == 2
    )  # the file, then its folder
    checkpoints.write_json_atomic({"a": 1}, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 1}
    assert not list(tmp_path.glob("*.tmp"))
    assert torch.equal(checkpoints.load_checkpoint(tmp_path / "c.pt")["w"], torch.ones(2))
