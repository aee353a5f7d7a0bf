"""Marginal matching of ``tvae`` / ``ctgan`` samples (generators/neural/marginal_matching.py): the raking solves
its equations, ranks give exact marginals, and on Adult the matched sample is closer to the training marginals
than the plain one while conditioned rows are left to their conditional law."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import synthgov
from synthgov.errors import InputError
from synthgov.generators.neural.marginal_matching import rank_normal_scores, tilt_offsets, tilted_probabilities


def _log_softmax(x: np.ndarray) -> np.ndarray:
    return x - special.logsumexp(x, axis=1, keepdims=True)


def test_tilt_solves_the_raking_equations_and_keeps_each_rows_preferences() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, size=(3000, 6))
    target = np.array([0.4, 0.3, 0.15, 0.1, 0.05, 0.0])
    probs = tilted_probabilities(_log_softmax(logits), target)
    np.testing.assert_allclose(probs.mean(0), target, atol=1e-7)
    np.testing.assert_allclose(probs.sum(1), 1.0)
    assert (probs[:, 5] == 0).all()  # a category the target gives no mass is never drawn
    # a tilt is one offset per category: the log-odds between two categories change by the same amount in every
    # row, so rows keep their order of preference
    offsets = tilt_offsets(logits, target)
    shift = np.log(probs[:, 0] / probs[:, 1]) - (logits[:, 0] - logits[:, 1])
    np.testing.assert_allclose(shift, offsets[0] - offsets[1], atol=1e-8)
    # already matched: no tilt
    flat = np.zeros((100, 3))
    np.testing.assert_allclose(tilted_probabilities(flat, np.ones(3)), 1 / 3)


def test_rank_normal_scores_are_exactly_normal_and_keep_the_order() -> None:
    rng = np.random.default_rng(1)
    z = np.exp(rng.normal(size=5000))  # any continuous law
    scores = rank_normal_scores(z, rng)
    assert (np.argsort(scores) == np.argsort(z)).all()
    assert stats.kstest(scores, "norm").statistic < 1.5 / np.sqrt(z.size)  # one value per 1/n-quantile cell
    ties = rank_normal_scores(np.zeros(1000), np.random.default_rng(2))
    assert stats.kstest(ties, "norm").pvalue > 1e-3  # ties are broken at random, not stacked
    assert rank_normal_scores(np.zeros(0), rng).size == 0


def _total_variation(a: pd.Series, b: pd.Series) -> float:
    pa, pb = a.value_counts(normalize=True), b.value_counts(normalize=True)
    return 0.5 * pa.subtract(pb, fill_value=0).abs().sum()


@pytest.mark.parametrize("name", ["tvae", pytest.param("ctgan", marks=pytest.mark.slow)])
def test_matched_samples_follow_the_training_marginals(name: str, adult: pd.DataFrame) -> None:
    frame = adult.sample(6000, random_state=0)
    epochs = {"tvae": 20, "ctgan": 3}[name]
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
    # numbers are mapped by rank within the same draws: their rank correlations are the model's (up to the ties
    # that integer columns make)
    np.testing.assert_allclose(
        matched[numeric].corr("spearman").to_numpy(), plain[numeric].corr("spearman").to_numpy(), atol=0.03
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
