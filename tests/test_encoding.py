"""The mixed encoding of the models over normal scores (generators/neural/encoding.py) for a numeric column with
gaps: a missing-value flag, and the score of a value's place among the present values. What reads scores back
must use that scale too: CTGAN's early-stopping tokens and the choice among candidates for a given number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synthgov
from synthgov.generators.neural.encoding import ColumnEncoding


def _gappy(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Hours with 30% gaps, an income that follows them, a category."""
    rng = np.random.default_rng(seed)
    hours = np.round(rng.normal(40, 10, n), 1)
    income = hours + rng.normal(0, 5, n)
    hours[rng.random(n) < 0.3] = np.nan
    return pd.DataFrame({"hours": hours, "income": income, "group": rng.choice(["a", "b", "c"], n)})


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, synthgov.Synthesizer]:
    frame = _gappy()
    return frame, synthgov.synthesizer("ctgan", seed=0, epochs=1, match_marginals=False).fit(frame)


def _encoded(model, frame: pd.DataFrame, seed: int = 0):
    enc: ColumnEncoding = model.encoding_
    uniforms = model.transformer_.to_uniforms(frame, np.random.default_rng(seed), columns=model.model_columns_)
    tokens = enc.tokens_of(uniforms)
    z, codes = enc.mixed(uniforms, tokens)
    return enc, uniforms, tokens, z, codes


def test_a_column_with_gaps_has_a_flag_and_scores_among_present_values(fitted) -> None:
    frame, model = fitted
    enc, uniforms, _, z, codes = _encoded(model, frame)
    j = enc.columns.index("hours")
    u, p = uniforms["hours"], enc.missing[j]
    assert p == pytest.approx(frame["hours"].isna().mean())
    np.testing.assert_array_equal(codes[:, -1], u < p)  # the flag block comes after the categories
    k = list(enc.numeric_index).index(j)
    np.testing.assert_array_equal(z[:, k], enc.normal_scores(np.where(u < p, u / p, (u - p) / (1 - p))))
    np.testing.assert_array_equal(z[:, k], enc.place_scores(j, u))
    present = u >= p
    assert abs(z[present, k].mean()) < 0.05 and abs(z[present, k].std() - 1) < 0.05  # the present values fill N(0, 1)


def test_ctgan_reads_sampled_scores_back_as_tokens_on_the_present_scale(fitted, monkeypatch) -> None:
    """The early-stopping distance compares token histograms: rows the network gives as (scores, codes) must
    come back as the tokens they encode (reading a score on the full scale would shift every present value of a
    column with 30% gaps)."""
    frame, model = fitted
    _, _, tokens, z, codes = _encoded(model, frame)
    monkeypatch.setattr(type(model), "_sample_mixed", lambda self, given, rng, match=True: (z, codes))
    back = model._sample_tokens(len(frame), np.random.default_rng(0))
    assert (back == tokens).mean(0).min() > 0.99  # (float32 scores move a few values across a token's edge)


def test_a_given_number_keeps_the_candidate_closest_to_it(fitted, monkeypatch) -> None:
    """For a given number, each row keeps the candidate (of 16) whose score is closest to the number's before the
    value is set exactly; the candidates' scores are places among the present values, so the target's must be
    too."""
    frame, model = fitted
    enc, uniforms, _, z, codes = _encoded(model, frame)
    present = np.flatnonzero(uniforms["hours"] >= enc.missing[enc.columns.index("hours")])[: 16 * 50]
    monkeypatch.setattr(type(model), "_sample_mixed", lambda self, given, rng, match=True: (z[present], codes[present]))
    kept = {}
    monkeypatch.setattr(
        type(model), "_pin", staticmethod(lambda uniforms, intervals, rng: kept.setdefault("u", uniforms) or uniforms)
    )
    for value in (25.0, 40.0, 55.0):
        lo, hi = model.transformer_.marginals["hours"].cdf_interval(np.full(50, value))
        kept.clear()
        model._sample_by_matching(50, np.random.default_rng(0), {"hours": (lo, hi)})
        picked = model.transformer_.marginals["hours"].from_uniform(kept["u"]["hours"])  # (not pinned here)
        candidates = frame["hours"].to_numpy()[present].reshape(50, 16)
        # closest in score, so in value up to the map's bend: within 0.5 hours of the best (a score on the full
        # scale would aim about 4 hours off)
        assert (np.abs(picked - value) <= np.abs(candidates - value).min(1) + 0.5).all()
