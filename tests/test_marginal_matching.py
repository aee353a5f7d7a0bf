"""Marginal matching of the neural samples (generators/neural/marginal_matching.py): the raking solves its
equations, the score map makes a reference sample normal and keeps order, and on Adult the matched sample is
closer to the training marginals than the plain one, for any number of rows, while conditioned rows are left to
their conditional law."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import synthgov
from synthgov.errors import InputError
from synthgov.generators.neural.marginal_matching import (
    NEVER,
    _rake_logits,
    _rake_weights,
    map_scores,
    score_quantiles,
    tilt_offsets,
)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    return x - special.logsumexp(x, axis=1, keepdims=True)


def test_tilt_solves_the_raking_equations_and_keeps_each_rows_preferences() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, size=(3000, 6))
    target = np.array([0.4, 0.3, 0.15, 0.1, 0.05, 0.0])
    offsets = tilt_offsets(logits, target)
    probs = np.exp(_log_softmax(logits + offsets))
    np.testing.assert_allclose(probs.mean(0), target, atol=1e-7)
    np.testing.assert_allclose(probs.sum(1), 1.0)
    assert (probs[:, 5] == 0).all()  # a category the target gives no mass is never drawn
    # a tilt is one offset per category: the log-odds between two categories change by the same amount in every
    # row, so rows keep their order of preference
    shift = np.log(probs[:, 0] / probs[:, 1]) - (logits[:, 0] - logits[:, 1])
    np.testing.assert_allclose(shift, offsets[0] - offsets[1], atol=1e-8)
    # already matched: no tilt
    np.testing.assert_allclose(tilt_offsets(np.zeros((100, 3)), np.ones(3)), 0.0)


@pytest.mark.parametrize("seed", range(4))
def test_tilt_on_weights_equals_the_raking_on_logits(seed: int) -> None:
    """The fast raking (weights exp(b), two matrix-vector products per iteration) and the raking as written on
    the log scale (a softmax per iteration) give the same offsets, with unsupported categories and sharp rows."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 40))
    logits = rng.normal(0, 1 + 4 * seed, size=(2000, k))
    target = rng.dirichlet(np.ones(k)) * (rng.random(k) > 0.2)
    target[0] += 0.05  # at least one category has mass
    target /= target.sum()
    support = target > 0
    supported = np.where(support, logits, -np.inf).max(axis=1, keepdims=True)
    slow = np.maximum(_rake_logits(logits - supported, target, support, 100, 1e-9), NEVER)
    fast = tilt_offsets(logits, target)
    assert ((fast <= NEVER) == ~support).all()
    np.testing.assert_allclose(fast[support], slow[support], atol=1e-9)


def test_tilt_falls_back_to_logits_when_a_rows_mass_underflows() -> None:
    """Half the rows put the second category 800 nats below the first; the target needs its odds raised by
    about 801 nats, so the first category's weight exp(-801) is zero in float64 and those rows' tilted mass
    with it. The raking on weights gives up and the log-scale raking solves the equations."""
    logits = np.array([[0.0, -800.0]] * 10 + [[0.0, 0.0]] * 10)
    target = np.array([0.1, 0.9])
    support = np.ones(2, dtype=bool)
    assert _rake_weights(logits, target, support, 2000, 1e-9) is None
    offsets = tilt_offsets(logits, target, iterations=2000)
    assert offsets[1] - offsets[0] > 800
    probs = np.exp(_log_softmax(logits + offsets))
    np.testing.assert_allclose(probs.mean(0), target, atol=1e-7)


def test_score_map_makes_the_reference_law_normal_and_keeps_the_order() -> None:
    rng = np.random.default_rng(1)
    reference = np.exp(rng.normal(size=32_768))  # the model's scores: any continuous law
    quantiles = score_quantiles(reference)
    fresh = np.exp(rng.normal(size=5000))  # a new sample from the same law, of any size
    mapped = map_scores(fresh, quantiles)
    assert (np.argsort(mapped) == np.argsort(fresh)).all()
    assert stats.kstest(mapped, "norm").pvalue > 1e-3
    assert stats.kstest(fresh, "norm").pvalue < 1e-10  # the unmapped scores are far from normal
    # a lone value maps the same way as inside a batch
    assert map_scores(fresh[:1], quantiles)[0] == mapped[0]
    # ties in the reference (clamped scores) still give a map
    tied = score_quantiles(np.r_[np.full(1000, 3.0), rng.normal(size=1000)])
    assert np.all(np.diff(tied) > 0) and np.isfinite(map_scores(np.array([3.0, 5.0, -9.0]), tied)).all()


def _total_variation(a: pd.Series, b: pd.Series) -> float:
    pa, pb = a.value_counts(normalize=True), b.value_counts(normalize=True)
    return 0.5 * pa.subtract(pb, fill_value=0).abs().sum()


@pytest.mark.parametrize("name", ["tvae", pytest.param("ctgan", marks=pytest.mark.slow)])
def test_matched_samples_follow_the_training_marginals(name: str, adult: pd.DataFrame) -> None:
    frame = adult.sample(6000, random_state=0)
    epochs = {"tvae": 20, "ctgan": 10}[name]
    model = synthgov.synthesizer(name, seed=0, epochs=epochs).fit(frame)
    matched = model.sample(6000, seed=1)
    plain = model.set_params(match_marginals=False).sample(6000, seed=1)
    categorical = ["workclass", "education", "marital-status", "occupation", "relationship", "race", "sex", "income"]
    tv_matched = np.mean([_total_variation(matched[c], frame[c]) for c in categorical])
    tv_plain = np.mean([_total_variation(plain[c], frame[c]) for c in categorical])
    assert tv_matched < 0.02 < tv_plain and tv_matched < tv_plain / 2  # sampling noise of 6,000 rows: ~0.01
    numeric = ["age", "hours-per-week", "fnlwgt", "education-num"]
    for column in numeric:
        ks_matched = stats.ks_2samp(matched[column], frame[column]).statistic
        ks_plain = stats.ks_2samp(plain[column], frame[column]).statistic
        assert ks_matched < 0.03 and ks_matched < ks_plain
    # numbers go through an increasing map of the same draws: their rank correlations are the model's (for
    # columns with few values, such as education-num, ties split the draws at other places and move them by 0.03)
    continuous = ["age", "fnlwgt"]
    assert matched[continuous].corr("spearman").iloc[0, 1] == pytest.approx(
        plain[continuous].corr("spearman").iloc[0, 1], abs=0.01
    )
    # conditioned rows follow their conditional law: matching leaves them exactly as the plain sampler draws them
    model.set_params(match_marginals=True)
    conditioned = model.sample(500, seed=2, conditions={"income": ">50K", "sex": "Female"})
    pd.testing.assert_frame_equal(
        conditioned,
        model.set_params(match_marginals=False).sample(500, seed=2, conditions={"income": ">50K", "sex": "Female"}),
    )
    assert (conditioned["income"] == ">50K").all()


def test_match_marginals_must_be_a_boolean(mixed: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="match_marginals must be true or false"):
        synthgov.synthesizer("tvae", epochs=1, match_marginals="yes").fit(mixed)


def test_autoregressive_calibration_matches_marginals_for_any_number_of_rows(adult: pd.DataFrame) -> None:
    """The default generator tilts each column by fixed offsets found after training on a reference sample, so
    the marginals come out right on average and one-row samples keep the model's dependence (a tilt found on
    the batch being sampled would make a lone row follow the marginals column by column)."""
    frame = adult.sample(6000, random_state=0)
    model = synthgov.synthesizer("autoregressive", seed=0, epochs=3, patience=None).fit(frame)
    matched = model.sample(6000, seed=1)
    plain = model.set_params(match_marginals=False).sample(6000, seed=1)
    categorical = ["workclass", "education", "marital-status", "occupation", "relationship", "race", "sex", "income"]
    tv_matched = np.mean([_total_variation(matched[c], frame[c]) for c in categorical])
    tv_plain = np.mean([_total_variation(plain[c], frame[c]) for c in categorical])
    assert tv_matched < 0.015 and tv_matched < 0.7 * tv_plain  # seen: 0.009 and 0.019
    model.set_params(match_marginals=True)
    lone = pd.concat([model.sample(1, seed=s) for s in range(300)])
    husbands = lone[lone["relationship"] == "Husband"]
    assert len(husbands) > 60 and (husbands["sex"] == "Male").mean() > 0.9  # in Adult: all but one
    # conditioned rows keep their conditional law: the offsets leave them as the plain sampler draws them
    conditions = {"income": ">50K", "sex": "Female"}
    pd.testing.assert_frame_equal(
        model.sample(500, seed=2, conditions=conditions),
        model.set_params(match_marginals=False).sample(500, seed=2, conditions=conditions),
    )
