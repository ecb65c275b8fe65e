"""Choosing on validation only: attnlib.selection reads validation scores and refuses the rest."""

from __future__ import annotations

import json

import pytest

from attnlib import selection
from attnlib.selection import SelectionError


def record(seed=0, split="4", val=(20, 21, 22, 23, 24), miou=0.8, wall=600.0, threads=1):
    evals = [
        {
            "epoch": e,
            "val": {"mean_iou": miou - 0.01 * (e < 8), "isbi_vrand": 0.97},
            "test": {"mean_iou": 0.99, "isbi_vrand": 0.99},
        }
        for e in (4, 8)
    ]
    return {
        "config": {"seed": seed, "split": split},
        "split": {"val": list(val)},
        "evals": evals,
        "summary": {"honest": {"test": {"mean_iou": 0.99}}},
        "environment": {
            "wall_seconds": wall,
            "cpu_threads": threads,
            "device": "cpu",
            "device_name": "Some CPU",
        },
        "complete": True,
    }


def write(folder, name, rec):
    (folder / name).mkdir(parents=True)
    (folder / name / "run.json").write_text(json.dumps(rec))


def test_a_row_holds_the_last_validation_scores_never_a_test_number():
    row = selection.val_row(record(miou=0.8), "base")
    assert row["val_mean_iou"] == 0.8 and row["val_isbi_vrand"] == 0.97
    assert 0.99 not in row.values()  # the test numbers of the record are not read
    assert (row["minutes"], row["core_minutes"]) == (10.0, 10.0)


@pytest.mark.parametrize("split, val", [("paper", ()), ("4", ())])
def test_a_record_without_a_validation_fold_is_refused(split, val):
    with pytest.raises(SelectionError, match="no validation fold.*split=4"):
        selection.val_row(record(split=split, val=val), "base", "runs/x/run.json")


def test_choose_takes_the_best_mean_with_two_seeds_within_the_budget(tmp_path):
    write(tmp_path, "a_s0", record(0, miou=0.80))
    write(tmp_path, "a_s1", record(1, miou=0.81))
    write(tmp_path, "b_s0", record(0, miou=0.82))  # one seed only
    write(tmp_path, "c_s0", record(0, miou=0.83, wall=1500))  # 25 core-minutes
    write(tmp_path, "c_s1", record(1, miou=0.83, wall=1500))
    rows = selection.val_rows(tmp_path)
    assert selection.choose(rows) == "c"
    assert selection.choose(rows, budget=20) == "a"
    table = selection.selection_table(rows, budget=20)
    assert "(over budget)" in table and "s0 0.8000, s1 0.8100" in table
    with pytest.raises(SelectionError, match="no candidate has 3 seeds"):
        selection.choose(rows, min_seeds=3)


def test_a_paper_split_record_in_the_folder_stops_the_selection(tmp_path):
    write(tmp_path, "a_s0", record(0))
    write(tmp_path, "final_s0", record(0, split="paper", val=()))
    with pytest.raises(SelectionError, match="final_s0"):
        selection.val_rows(tmp_path)


def test_the_committed_laptop_selection_reads():
    rows = selection.val_rows("results/laptop_selection")
    assert rows and all(r["val_slices"] == [20, 21, 22, 23, 24] for r in rows)
