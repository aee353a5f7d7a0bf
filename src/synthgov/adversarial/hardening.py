"""Adversarial training data, as named steps: split -> fit -> attack -> augment (rounds) -> re-attack -> edge
cases. The test rows (``test``, or a seeded 20% of the table) are never trained on; the augmentation attacks
training rows only, and the re-attack uses a fresh seed."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from synthgov import progress
from synthgov.adversarial.attack import AttackResult, attack
from synthgov.adversarial.classifier import Classifier
from synthgov.adversarial.threat import threat_model
from synthgov.constraints.enforcement import FRESH_KINDS
from synthgov.errors import InputError
from synthgov.fairness.strategies import positive_label
from synthgov.table.io import TableLike, read_table

logger = logging.getLogger(__name__)

TEST_SHARE = 0.2
ATTACK_ROWS = 2000  # test rows attacked (at most): the success rate's denominator is stated
TRAIN_ATTACK_ROWS = 4000  # training rows attacked per augmentation round (at most)
EDGE_POOL = 20  # generator rows drawn per edge case kept


def harden(
    table: TableLike,
    target: str,
    *,
    test: TableLike | None = None,
    rules: Any = None,
    immutable: list[str] | tuple[str, ...] = (),
    budget: float = 0.1,
    max_categorical: int = 1,
    rounds: int = 2,
    attack_class: Any = None,
    edge_cases: int = 200,
    schema: Any = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Attack a gradient-boosting model of ``target`` on ``table``, retrain it with correctly labelled adversarial
    rows, attack again. Returns the report, the adversarial test rows (``_original_row``: their test row), the rows
    added per round, the edge cases, both models and the split."""
    started = time.perf_counter()
    frame = read_table(table)
    if target not in frame.columns:
        raise InputError(f"--target column '{target}' is not in the table")
    kinds = _kinds(frame, schema)
    labels = frame[target]
    classes = labels.dropna().unique()
    if len(classes) != 2:
        raise InputError(f"--target '{target}' has {len(classes)} classes: the attack needs a binary label")
    positive = positive_label(labels)  # the minority class, as the evaluation and --fair
    attacked = labels.value_counts().index[0] if attack_class is None else _class_of(attack_class, classes, target)
    ruleset = _rules(rules, frame)
    rng = np.random.default_rng([seed, 31])
    frame = frame[frame[target].notna()].reset_index(drop=True)
    if test is None:
        order = rng.permutation(len(frame))
        cut = int(len(frame) * TEST_SHARE)
        testing, training = frame.iloc[order[:cut]], frame.iloc[order[cut:]]
        split = f"a seeded {TEST_SHARE:.0%} of the table ({cut:,} rows), never trained on"
    else:
        training, testing = frame, read_table(test)
        testing = testing[testing[target].notna()]
        split = f"the given test table ({len(testing):,} rows)"
    training, testing = training.reset_index(drop=True), testing.reset_index(drop=True)
    threat = threat_model(training, kinds, target, list(immutable), budget, max_categorical, ruleset)
    features = [c for c in frame.columns if c != target and kinds.get(c) not in FRESH_KINDS]
    categories = {c: list(training[c].dropna().unique()) for c in features if kinds.get(c) != "numeric"}
    y_train = (training[target] == positive).to_numpy()
    y_test = (testing[target] == positive).to_numpy()

    def fit(rows: pd.DataFrame, y: np.ndarray) -> Classifier:
        return Classifier(features, categories, seed).fit(rows, y)

    with progress.step("adversarial: fit the model"):
        original = fit(training, y_train)
    targets = _attack_rows(testing, y_test, testing[target] == attacked, rng)
    before = attack(original, testing.iloc[targets], y_test[targets], threat, np.random.default_rng([seed, 32]))
    model, added = original, []
    for round_ in range(rounds):
        pool = _attack_rows(training, y_train, training[target] == attacked, rng, TRAIN_ATTACK_ROWS)
        found = attack(model, training.iloc[pool], y_train[pool], threat, np.random.default_rng([seed, 40 + round_]))
        rows = found.adversarial.copy()
        rows[target] = training[target].iloc[pool].to_numpy()[found.adversarial.index]  # correctly labelled
        added.append(rows)
        augmented = pd.concat([training, *added], ignore_index=True)
        model = fit(augmented, (augmented[target] == positive).to_numpy())
        logger.info("adversarial: round %d added %d rows", round_ + 1, len(rows))
    after = attack(model, testing.iloc[targets], y_test[targets], threat, np.random.default_rng([seed, 33]))
    adversarial = _with_labels(before, testing, targets, target)
    edge = _edge_cases(training, edge_cases, ruleset, schema, seed, [original, model], target, positive)
    auc_before, auc_after = _auc(original, testing, y_test), _auc(model, testing, y_test)
    # checked again from scratch on the rows as returned, against the test rows they came from
    feasible = threat.feasible(adversarial.drop(columns=["_original_row"]), testing.iloc[adversarial["_original_row"]])
    report = {
        "target": target,
        "positive_label": str(positive),
        "attacked_class": str(attacked),
        "model": "scikit-learn HistGradientBoostingClassifier (native categories), decision at probability 0.5",
        "attack": "seeded random search in the threat model's ball, refined greedily per round and shrunk towards "
        "the original; every candidate checked against the threat model before it counts (constrained, "
        "black-box; synthgov.adversarial.attack)",
        "threat_model": threat.describe(),
        "test": split,
        "training_rows": len(training),
        "rounds": rounds,
        "rows_added": [len(rows) for rows in added],
        "before": _figures(before, auc_before),
        "after": _figures(after, auc_after),
        "success_rate_drop": _drop(before.success_rate, after.success_rate),
        "clean_auc_loss": auc_before - auc_after,
        "adversarial_rows_feasible": int(feasible.sum()),
        "adversarial_rows": len(adversarial),
        "edge_cases": edge["summary"],
        "seconds": round(time.perf_counter() - started, 2),
        "seed": seed,
    }
    return {
        "report": report,
        "adversarial": adversarial,
        "added": added,
        "edge_cases": edge["rows"],
        "models": {"before": original, "after": model},
        "split": {"training": training, "test": testing},
    }


def _kinds(frame: pd.DataFrame, schema: Any) -> dict[str, str]:
    from synthgov.table.infer import infer_schema
    from synthgov.table.schema import Schema

    if schema is None:
        schema = infer_schema(frame)
    elif not isinstance(schema, Schema):
        schema = Schema.load(schema)
    return {c.name: c.kind for c in schema.columns}


def _class_of(value: Any, classes: np.ndarray, target: str) -> Any:
    for known in classes:
        if str(known) == str(value):
            return known
    raise InputError(f"--attack-class {value!r} is not a class of '{target}' ({', '.join(map(str, classes))})")


def _rules(rules: Any, frame: pd.DataFrame) -> Any:
    if rules is None:
        return None
    from synthgov.constraints.preflight import check_rules
    from synthgov.constraints.value_rules import load_rules

    ruleset = load_rules(rules)
    check_rules(ruleset, frame)  # unknown columns, unsafe expressions, contradictions: one line, before any work
    return ruleset


def _attack_rows(
    rows: pd.DataFrame, labels: np.ndarray, of_class: pd.Series, rng: np.random.Generator, limit: int = ATTACK_ROWS
) -> np.ndarray:
    candidates = np.flatnonzero(of_class.to_numpy())
    if candidates.size > limit:
        candidates = np.sort(rng.choice(candidates, limit, replace=False))
    return candidates


def _with_labels(result: AttackResult, testing: pd.DataFrame, targets: np.ndarray, target: str) -> pd.DataFrame:
    rows = result.adversarial.copy()
    original = targets[result.adversarial.index]
    rows[target] = testing[target].to_numpy()[original]
    rows["_original_row"] = original
    return rows.reset_index(drop=True)


def _figures(result: AttackResult, auc: float) -> dict[str, Any]:
    return {
        "clean_auc": round(auc, 6),
        "attacked_rows": result.attacked,
        "successes": int(result.succeeded.sum()),
        "success_rate": round(result.success_rate, 6),
        "median_change": round(float(np.median(result.distance)), 6) if result.distance.size else None,
    }


def _drop(before: float, after: float) -> float | None:
    return round(1 - after / before, 6) if before > 0 else None


def _auc(model: Classifier, rows: pd.DataFrame, labels: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, model.positive(rows)))


def _edge_cases(
    training: pd.DataFrame,
    count: int,
    rules: Any,
    schema: Any,
    seed: int,
    models: list[Classifier],
    target: str,
    positive: Any,
) -> dict[str, Any]:
    """Rows of the generator's low-density regions: a copula fitted on the training rows draws ``EDGE_POOL`` rows
    per edge case (satisfying the rules), and the ``count`` farthest from every training row are kept."""
    if count <= 0:
        return {"rows": None, "summary": None}
    from synthgov.evaluation.distances import MixedNeighbors
    from synthgov.evaluation.prepare import Encoding, load_tables
    from synthgov.generators.registry import synthesizer

    with progress.step(f"adversarial: {count:,} edge cases from the copula's low-density rows"):
        generator = synthesizer("copula", seed=seed).fit(training, schema)
        pool_size = EDGE_POOL * count
        if rules is not None:
            from synthgov.constraints.enforcement import sample_satisfying

            pool, _ = sample_satisfying(generator, pool_size, rules, seed=seed)
        else:
            pool = generator.sample(pool_size, seed=seed)
        tables = load_tables(training, pool, None, generator.schema_)
        encoding = Encoding.fit(tables)
        distance = MixedNeighbors(encoding, tables.real).kneighbors(tables.synthetic, k=1)[0][:, 0]
        keep = np.argsort(-distance, kind="stable")[:count]
        rows = pool.iloc[keep].reset_index(drop=True)
    labels = (rows[target] == positive).to_numpy()
    agree = [float(((m.positive(rows) >= 0.5) == labels).mean()) for m in models]
    return {
        "rows": rows,
        "summary": {
            "rows": len(rows),
            "method": f"copula fitted on the training rows, {pool_size:,} rows drawn (rules enforced), the {count:,} "
            "farthest from every training row kept (mixed distance of the evaluation)",
            "nearest_training_distance_median": round(float(np.median(distance[keep])), 6),
            "pool_distance_median": round(float(np.median(distance)), 6),
            "agreement_with_generated_label_before": round(agree[0], 6),
            "agreement_with_generated_label_after": round(agree[1], 6),
        },
    }
