"""The charge and settle stages' work for differentially private releases, and what DP mode switches off.

A release is DP when its generator is private with its parameters (``is_private``: ``mst``, ``bayesnet`` with
``epsilon``). Before the generator reads
the data, ``charge`` checks the options that would read training rows outside the budget, then reserves the
itemised cost in the source's ledger (:mod:`synthgov.privacy.budget`) under the policy's cap; ``settle`` commits
it once the release is in place, and a run that fails voids it. What the shared release pipeline reads from the
training rows, and what DP mode does with it, is :data:`SWITCHED_OFF`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthgov.errors import InputError
from synthgov.generators import registry

if TYPE_CHECKING:
    from synthgov.pipeline.run import ReleaseRun

logger = logging.getLogger(__name__)

# Every step of a release outside the generator that reads the training rows, and what a DP release does with it
# (tests/test_dp_release.py checks each).
SWITCHED_OFF: dict[str, str] = {
    "schema inference": "not run: the schema must be given, with the domains declared public",
    "exact marginals and quantile tables": "not used: the DP generators work on declared domains and noisy counts",
    "category pooling": "not used: rare categories are compressed by their noisy counts",
    "derived-column lookups": "not used: a derived column is modelled like any other",
    "text word model, id formats, fake values": "refused: DP releases take numeric, categorical and boolean columns",
    "copies measured against the training rows": "not measured (the manifest says so); run synthgov evaluate apart",
    "evaluation report in the release": "refused: --evaluate reads the training rows into the release",
    "privacy filter": "refused: --privacy-filter chooses rows by their distance to the training rows",
    "source digest in the manifest": "keyed (HMAC with this issuer's secret): a plain hash lets anyone test a guess",
    "source row count in the manifest": "withheld: the number of rows is a statistic of the data",
    "watermark plan": "unchanged: it reads the released rows only",
}
NOT_MEASURED = (
    "not measured: a DP release states only what its budget covers, and measuring copies reads the training rows "
    "(run synthgov evaluate on the release apart; its report stays with you)"
)


def is_private(generator: str, params: dict[str, Any] | None) -> bool:
    """Whether this generator with these parameters makes a DP release (``mst``; ``bayesnet`` with epsilon)."""
    if not hasattr(registry.get(generator), "budget_lines"):
        return False
    return bool(getattr(registry.synthesizer(generator, **(params or {})), "is_private", False))


def check_options(run: ReleaseRun) -> None:
    """Refuse, before any work, the options that would put figures read from the training rows into a DP
    release."""
    if run.options.mode in ("partial", "hybrid"):
        raise InputError(
            f"--mode {run.options.mode} releases real values, which no privacy budget covers; a DP release is fully "
            "synthetic"
        )
    if run.options.privacy_filter:
        raise InputError(
            "--privacy-filter reads the training rows to decide which rows to release, which voids the differential "
            "privacy guarantee; a DP release needs no filter (its guarantee bounds every row's influence)"
        )
    if run.options.evaluate:
        raise InputError(
            "--evaluate writes a report computed from the training rows into the release, outside its privacy "
            "budget; release without it, then run synthgov evaluate on the release (the report stays with you)"
        )


def charge(run: ReleaseRun) -> None:
    """Reserve the release's itemised privacy cost against its source (refused past the policy's cap)."""
    from synthgov.governance.guard import Policy
    from synthgov.privacy import budget
    from synthgov.privacy import domain_estimation as estimation
    from synthgov.table.schema import Schema

    check_options(run)
    options = run.options
    model = registry.synthesizer(run.generator, seed=options.seed, **(options.params or {}))
    schema = options.schema
    if schema is None:
        raise InputError(
            "a DP generator needs a schema whose domains are declared public (inferring one would read the data "
            "outside the budget): synthgov schema TABLE --domains, check it, then pass it with --schema"
        )
    if not isinstance(schema, Schema):
        schema = Schema.load(schema)
    assert run.table is not None
    schema.check_against(list(run.table.columns))
    model._check_params(len(run.table))  # epsilon, delta (< 1/n) and the other parameters, before any work
    numeric, categorical = estimation.check_schema(schema, estimation.check_share(getattr(model, "domain_share", None)))
    lines = model.budget_lines(len(schema.names), len(numeric), len(categorical))
    policy = options.policy if isinstance(options.policy, Policy) else Policy.load(options.policy)
    cap = None
    if policy.max_epsilon is not None:
        cap = budget.Cap(policy.max_epsilon, policy.budget_delta or budget.DEFAULT_BUDGET_DELTA)
    run.budget_key = budget.source_key(run.table)
    run.budget = budget.reserve(
        run.budget_key,
        release_id=run.release_id,
        generator=run.generator,
        epsilon=float(model.epsilon),
        delta=float(model.delta),
        lines=lines,
        target=run.target or (Path(options.model_path) if options.model_path is not None else None),
        cap=cap,
        target_kind="release folder" if run.target is not None or options.model_path is None else "model",
    )


def settle(run: ReleaseRun) -> None:
    """Commit the release's reservation (the release folder is in place, or the rows were handed over)."""
    from synthgov.privacy import budget

    if run.budget_key is not None:
        budget.close(run.budget_key, run.release_id, "commit")
        run.budget_key = None


def void_unfinished(run: ReleaseRun) -> None:
    """After a failed run: void its reservation, unless its release did get published (then commit it)."""
    from synthgov.privacy import budget

    if run.budget_key is None:
        return
    target = run.target
    if target is not None and budget.published(target, run.release_id):
        budget.close(run.budget_key, run.release_id, "commit", "published before the run failed")
    else:
        budget.close(run.budget_key, run.release_id, "void", "the run failed before publishing")
    run.budget_key = None


def manifest_source(run: ReleaseRun, source: dict[str, Any]) -> dict[str, Any]:
    """The manifest's source section for a DP release: the digest keyed, the row count withheld."""
    import hashlib
    import hmac

    from synthgov.release.keys import Keystore

    secret = Keystore.default().ensure().watermark_secret()
    digest = source.get("sha256")
    keyed = hmac.new(secret, str(digest).encode(), hashlib.sha256).hexdigest() if digest else None
    return {
        **source,
        "sha256": None,
        "keyed_sha256": keyed,
        "rows": None,
        "note": "DP release: the source's digest is keyed with the issuer's secret and its row count withheld",
    }


def manifest_privacy(run: ReleaseRun) -> dict[str, Any]:
    section = dict(run.model.privacy())
    section["ledger"] = {
        "source_spent_epsilon": run.budget["epsilon"] if run.budget else None,
        "at_delta": run.budget["delta"] if run.budget else None,
        "composition": run.budget.get("composition") if run.budget else None,
    }
    section["pipeline"] = SWITCHED_OFF
    return section
