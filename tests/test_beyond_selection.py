"""experiments/beyond_selection.py (chapter 09): the page of the choice, from validation only."""

import importlib.util
from pathlib import Path

from test_selection import record, write

_path = Path(__file__).resolve().parent.parent / "experiments" / "beyond_selection.py"
_spec = importlib.util.spec_from_file_location("beyond_selection", _path)
beyond_selection = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(beyond_selection)


def candidate(seed, miou, **config):
    rec = record(seed, miou=miou)
    rec["config"] |= {"gate": "sse", "lr": 0.002, **config}
    return rec


def test_the_page_names_each_change_and_the_choice(tmp_path):
    runs, md = tmp_path / "runs", tmp_path / "sel.md"
    for seed in (0, 1):
        write(runs, f"base_s{seed}", candidate(seed, 0.79))
        write(runs, f"fast_s{seed}", candidate(seed, 0.80 + seed / 100, lr=0.004))
    assert beyond_selection.main(["--out", str(runs), "--md", str(md)]) == 0
    page = md.read_text()
    assert "| fast | lr=0.004 |" in page and "| base | none (the reference) |" in page
    assert "s0 0.8000, s1 0.8100" in page and "**fast** (lr=0.004)" in page
    assert "0.99" not in page  # the records' test numbers are never read


def test_a_paper_split_record_stops_it_with_one_line(tmp_path, capsys):
    runs = tmp_path / "runs"
    write(runs, "base_s0", candidate(0, 0.79))
    write(runs, "final_s0", record(0, split="paper", val=()))
    assert beyond_selection.main(["--out", str(runs), "--md", str(tmp_path / "x.md")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "final_s0" in err and err.count("\n") == 1
    assert not (tmp_path / "x.md").exists()


def test_one_seed_is_not_enough(tmp_path, capsys):
    runs = tmp_path / "runs"
    write(runs, "base_s0", candidate(0, 0.79))
    assert beyond_selection.main(["--out", str(runs), "--md", str(tmp_path / "x.md")]) == 2
    assert "2 seeds" in capsys.readouterr().err


def test_the_committed_page_is_the_scripts_output(monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    text, chosen = beyond_selection.report(Path("results/beyond_candidates"), 20.0)
    assert Path("experiments/beyond_selection.md").read_text() == text, (
        "experiments/beyond_selection.md is stale: run python experiments/beyond_selection.py"
    )
    assert chosen in Path("experiments/beyond.yaml").read_text()  # the recipe file runs it
