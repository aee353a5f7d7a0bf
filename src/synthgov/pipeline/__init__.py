"""One call from a table (or a rules spec) to a release folder: what ``synthgov generate`` runs, as named
stages over one :class:`~synthgov.pipeline.run.ReleaseRun` (see :mod:`synthgov.pipeline.stages`)."""

from __future__ import annotations

import uuid
from typing import Any

from synthgov.pipeline import stages
from synthgov.pipeline.run import ReleaseOptions, ReleaseRun, is_rules_spec
from synthgov.release.folder import Release
from synthgov.table.io import TableLike

__all__ = ["ReleaseOptions", "ReleaseRun", "generate", "is_rules_spec", "run_stages"]

MODEL_STAGES = (stages.guard, stages.rules, stages.fairness, stages.charge, stages.fit)
SAMPLE_STAGES = (stages.sample,)
RELEASE_STAGES = (
    stages.privacy_filter,
    stages.watermark,
    stages.measure,
    stages.write,
    stages.evaluate,
    stages.sign,
    stages.record,
    stages.publish,
    stages.settle,
)

# a partitioned release: sampling, watermark, measuring and writing in one pass over the partitions
PARTITIONED_STAGES = (stages.stream, stages.sign, stages.record, stages.publish, stages.settle)


def generate(source: TableLike, **options: Any) -> Release:
    """Fit a generator on ``source`` (a table, or a rules spec for ``rules``) and sample ``rows`` rows (default:
    as many as the input has). With ``out``, write the release folder there: the rows carry the keyed watermark
    (unless ``watermark=False``; ``recipient`` names who receives this copy), exact copies of training rows are
    measured (and, with ``holdout``, the DCR share), ``evaluate=True`` writes the full report into the release
    (``holdout``, ``target``, ``sensitive``), and the manifest signed by the local keystore states those
    figures. Before fitting, the synthetic-data guard checks the table (:mod:`synthgov.governance.guard`): one
    of this issuer's releases is refused unless ``allow_synthetic``, within ``policy``. The options are the
    fields of :class:`ReleaseOptions`."""
    from synthgov.pipeline import streaming

    run = ReleaseRun(source, ReleaseOptions.of(options), release_id=str(uuid.uuid4()))
    streaming.check(run.options)
    chosen = [*((stages.claim, stages.keys) if run.options.out is not None else ()), *MODEL_STAGES]
    if streaming.wanted(run.options):
        chosen += [*PARTITIONED_STAGES]
    elif run.options.out is not None:
        chosen += [*SAMPLE_STAGES]
        chosen += [s for s in RELEASE_STAGES if s is not stages.evaluate or run.options.evaluate]
    else:
        chosen += [*SAMPLE_STAGES, stages.settle]  # the rows are handed over in memory
    try:
        run_stages(run, chosen)
    finally:
        run.close()
    return run.release()


def run_stages(run: ReleaseRun, chosen: list | tuple) -> ReleaseRun:
    """Run ``chosen`` stages in order, each timed under its name (signing and recording after the figures)."""
    for stage in chosen:
        with run.meter.stage(stage.__name__, lambda: run.model):
            stage(run)
    return run
