"""The named stages of a release, in order: keys -> guard -> fit -> sample -> watermark -> measure -> write ->
evaluate -> sign -> record. Each takes the :class:`~synthgov.pipeline.run.ReleaseRun` and fills its part; ``generate``
runs them all, ``synthgov fit`` the first two, and the service and Dask work reuse them one by one.

The watermark comes before measuring and evaluating, so that what is measured and signed is the rows as
released; the evaluation's report files are written into the release before signing, so the manifest covers
them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from synthgov.errors import InputError
from synthgov.generators import registry
from synthgov.pipeline.run import ReleaseRun, is_rules_spec
from synthgov.table.io import read_table

logger = logging.getLogger(__name__)


def keys(run: ReleaseRun) -> None:
    """Open the keystore before any work (made on first use): a damaged key or a missing passphrase stops the
    run here, before anything is fitted or written."""
    from synthgov.release.keys import Keystore

    keystore = Keystore.default().ensure()
    keystore.signing_key()
    if run.options.watermark:
        keystore.watermark_secret()


def guard(run: ReleaseRun) -> None:
    """Read the training table and ask the synthetic-data guard whether it may be trained on."""
    source, options = run.source, run.options
    if is_rules_spec(source) and options.generator not in (None, "rules"):
        raise InputError(f"{source} is a rules spec; it can only be used with the 'rules' generator")
    run.generator = "rules" if is_rules_spec(source) else options.generator or registry.DEFAULT_GENERATOR
    if run.generator == "rules":
        return  # no real data to guard: the spec (a file or a mapping) is all the rules generator reads
    from synthgov.governance.guard import enforce

    run.table = read_table(source)
    path = source if isinstance(source, (str, Path)) else None
    run.verdict = enforce(run.table, path, allow_synthetic=options.allow_synthetic, policy=options.policy)
    logger.info("guard: %s", run.verdict.describe())


def fit(run: ReleaseRun) -> None:
    run.model = registry.synthesizer(run.generator, seed=run.options.seed, **(run.options.params or {}))
    if run.table is None:
        run.model.fit(run.source)
    else:
        run.model.fit(run.table, run.options.schema)


def sample(run: ReleaseRun) -> None:
    options = run.options
    default = len(run.table) if run.table is not None else (run.model.spec_.rows or 1000)
    rows = options.rows or default
    run.data = run.model.sample(rows, conditions=options.conditions)


def watermark(run: ReleaseRun) -> None:
    """Embed the keyed watermark (when asked and some column can carry it); the manifest's watermark section."""
    from synthgov.pipeline.marking import embed_watermark

    run.marking = embed_watermark(run) if run.options.watermark else None


def measure(run: ReleaseRun) -> None:
    """How close the released rows are to the training rows, measured before anything is signed."""
    from synthgov.pipeline.copies import measure_copies

    if run.table is not None:
        run.copies = measure_copies(run.table, run.data, run.options.holdout, run.model.schema_, run.options.seed)


def write(run: ReleaseRun) -> None:
    from synthgov.release.folder import write_release

    run.files = write_release(run.data, run.folder, schema=getattr(run.model, "schema_", None), csv=run.options.csv)


def evaluate(run: ReleaseRun) -> None:
    """The full evaluation into ``report/`` of the release (before signing, so the manifest covers it)."""
    from synthgov.evaluation import evaluate as assess

    if run.table is None:
        raise InputError("--evaluate needs real data to compare with; a rules release has none")
    options = run.options
    result = assess(
        run.table,
        run.data,
        options.holdout,
        target=options.target,
        sensitive=list(options.sensitive or ()),
        schema=run.model.schema_,
        out=run.folder / "report",
    )
    run.report_files = list(result.files)
    run.evaluation = result.headline()


def sign(run: ReleaseRun) -> None:
    from synthgov.pipeline.signing import sign_run

    sign_run(run)


def record(run: ReleaseRun) -> None:
    """Enter the release in this issuer's ledger (the guard reads it to recognise the rows later)."""
    from synthgov.release import ledger

    depth = run.verdict.generation_depth if run.verdict is not None else 0
    data_files = [p for p in run.files if p.name.startswith("synthetic.")]
    ledger.record(run.release_id, run.folder / "manifest.json", run.data, data_files, depth, run.table)
