"""attnlib.plots: the claims figure and the ISBI curves draw what they are given."""

import matplotlib

matplotlib.use("Agg")

from attnlib import paper, plots  # noqa: E402


def _claims():
    rows = [
        {
            "config": c,
            "seed": s,
            "protocol": p,
            "mean_iou": 0.80 + 0.001 * s + (0.002 if c == "unet_sse" else 0),
        }
        for c in paper.PAPER_RESULTS
        for s in range(3)
        for p in ("honest", "paper_protocol")
    ]
    return [
        c | {"protocol": p}
        for p in ("honest", "paper_protocol")
        for c in paper.check_claims(rows, p)
    ]


def test_plot_claims_draws_one_row_per_claim_an_interval_per_protocol_and_the_papers_mark():
    fig = plots.plot_claims(_claims())
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [c[0] for c in paper.CLAIMS]
    assert len(ax.collections) == 2 * len(paper.CLAIMS)  # one interval per claim and protocol
    marks = [line for line in ax.lines if line.get_marker() == "x"]
    assert len(marks) == len(paper.CLAIMS)


def test_plot_claims_without_intervals_draws_dots_only():
    rows = [
        {"config": c, "seed": 0, "protocol": "honest", "mean_iou": 0.8} for c in paper.PAPER_RESULTS
    ]
    fig = plots.plot_claims(
        [c | {"protocol": "honest"} for c in paper.check_claims(rows, "honest")]
    )
    assert not fig.axes[0].collections


def test_plot_isbi_curves_one_line_per_configuration_labelled_with_its_seeds():
    curve = {"thresholds": [0.1, 0.5, 0.9], "isbi_vrand": [0.2, 0.9, 0.95]}
    fig = plots.plot_isbi_curves({"unet": [curve, curve], "unet_sse_dice": [curve]})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["unet (n=2)", "unet_sse_dice (n=1)"]


def test_every_figure_has_a_caller():
    """A figure no notebook draws is dead code (plot_seed_spread was one)."""
    import inspect
    from pathlib import Path

    here = Path(plots.__file__).resolve().parent  # attnlib/plots/
    root = here.parent.parent
    users = "\n".join(
        p.read_text()
        for p in [*root.glob("notebooks/src/*.py"), *root.glob("attnlib/**/*.py")]
        if here not in p.parents
    )
    public = [
        n
        for n, f in inspect.getmembers(plots, inspect.isfunction)
        if f.__module__.startswith(f"{plots.__name__}.") and not n.startswith("_")
    ]
    assert len(public) == 10 and set(public) == set(plots.__all__) - {
        "MEMBRANE_RGBA",
        "ERROR_COLOURS",
    }
    assert "plot_claims" in public and "plot_seed_spread" not in public
    assert [n for n in public if f"{n}(" not in users] == []


def test_plot_selection_one_row_per_candidate_a_dot_per_seed_and_the_choice_in_bold():
    rows = [
        {"candidate": c, "seed": s, "val_mean_iou": 0.79 + 0.01 * (c == "b") + 0.001 * s}
        for c in ("a", "b")
        for s in (0, 1)
    ]
    fig = plots.plot_selection(rows, chosen="b")
    ax = fig.axes[0]
    ticks = ax.get_yticklabels()
    assert [t.get_text() for t in ticks] == ["a", "b"]
    assert [t.get_fontweight() for t in ticks] == ["normal", "bold"]
    dots = [line.get_xdata() for line in ax.lines]
    assert [list(d) for d in dots] == [[0.79, 0.791], [0.80, 0.801]]
    bars = [seg[0][0] for c in ax.collections for seg in c.get_segments()]
    assert len(bars) == 2 and all(abs(a - b) < 1e-9 for a, b in zip(bars, [0.7905, 0.8005]))
