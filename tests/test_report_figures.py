"""The report's distribution figure hides nothing a reader needs (issue 26, case 9): category labels whole (or
shortened in the middle), real and synthetic drawn so they never blend into one colour, a log axis for spiky
columns (capital gain), and a legend on every panel. tests/test_report_browser.py looks at it in Chromium."""

from __future__ import annotations

import pandas as pd
import pytest

import synthgov
from synthgov.evaluation.plots import LABEL_CHARACTERS, distribution_figure, short_label
from synthgov.evaluation.prepare import load_tables


@pytest.fixture(scope="module")
def figure(adult: pd.DataFrame):
    import matplotlib.pyplot as plt

    real = adult.sample(3000, random_state=0)
    synthetic = synthgov.synthesizer("copula", seed=0).fit(real).sample(3000, seed=1)
    fig = distribution_figure(load_tables(real, synthetic))
    yield {ax.get_title().split(" (")[0]: ax for ax in fig.axes if ax.get_title()}
    plt.close(fig)


def test_category_labels_are_whole(figure) -> None:
    labels = [t.get_text() for t in figure["marital-status"].get_yticklabels()]
    assert "Married-civ-spouse" in labels and "Married-spouse-absent" in labels  # cut at 10 characters before


def test_long_labels_keep_both_ends() -> None:
    text = "Self-employed-incorporated-with-a-very-long-name"
    short = short_label(text)
    assert len(short) == LABEL_CHARACTERS and short.startswith("Self-emp") and short.endswith("long-name")
    assert short_label("Private") == "Private"


def test_every_panel_has_a_legend_and_real_and_synthetic_differ_in_style(figure) -> None:
    from matplotlib.patches import Rectangle, StepPatch

    assert all(ax.get_legend() is not None for ax in figure.values())
    steps = [p for p in figure["age"].patches if isinstance(p, StepPatch)]
    assert [p.get_label() for p in steps] == ["real", "synthetic"] and steps[0].get_fill() and not steps[1].get_fill()
    bars = [p for p in figure["sex"].patches if isinstance(p, Rectangle)]
    real, synthetic = bars[: len(bars) // 2], bars[len(bars) // 2 :]
    assert real[0].get_facecolor() != synthetic[0].get_facecolor() and synthetic[0].get_hatch()


def test_spiky_columns_get_a_log_axis(figure) -> None:
    assert figure["capital-gain"].get_yscale() == "log" and figure["capital-loss"].get_yscale() == "log"
    assert figure["age"].get_yscale() == "linear" and figure["hours-per-week"].get_yscale() == "linear"
