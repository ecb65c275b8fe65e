"""python -m attnlib train shows the fast-path decision in one line, when it is made."""

import logging


def test_the_cli_prints_the_decision_in_one_line(tmp_path, capsys):
    from attnlib.__main__ import main

    try:
        assert (
            main(
                ["train", "--profile", "smoke", "--set", "epochs=1", "--out", str(tmp_path / "run")]
            )
            == 0
        )
    finally:
        logging.getLogger("attnlib.probe").handlers.clear()
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "fast path" in ln]
    assert len(lines) == 1 and lines[0].startswith("fast path: ")
    assert (
        "fp32/NCHW" in lines[0] and "without measuring" in lines[0]
    )  # smoke: deterministic, not measured
