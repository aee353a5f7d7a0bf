"""The one object that the stages of a release pass along: what was asked (:class:`ReleaseOptions`) and what
each stage made (:class:`ReleaseRun`)."""

from __future__ import annotations

import contextlib
import logging
import shutil
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from synthgov.errors import InputError
from synthgov.pipeline.cost import Meter
from synthgov.release.folder import Release

logger = logging.getLogger(__name__)

SPEC_SUFFIXES = (".yaml", ".yml")


def is_rules_spec(source: Any) -> bool:
    return isinstance(source, (str, Path)) and str(source).lower().endswith(SPEC_SUFFIXES)


@dataclass(frozen=True)
class ReleaseOptions:
    """Everything ``generate`` can be asked (see :func:`synthgov.pipeline.generate`)."""

    generator: str | None = None
    rows: int | None = None
    seed: int | None = None
    out: str | Path | None = None
    csv: bool = False
    schema: Any = None
    conditions: Any = None
    params: dict[str, Any] | None = None
    party: str | None = None
    source_licence: str | None = None
    watermark: bool = True
    recipient: str | None = None
    allow_synthetic: bool = False
    policy: Any = None
    evaluate: bool = False
    holdout: Any = None
    target: str | None = None
    sensitive: tuple[str, ...] | list[str] = ()
    overwrite: bool = False  # replace a non-empty folder at ``out`` that is not a synthgov release
    save_model: bool = False  # also save the fitted model (model.synthgov) in the release, covered by the signature
    privacy_filter: bool = False  # draw again (then drop) released rows unusually close to a training row
    mode: str = "full"  # "partial": real rows, the ``replace`` columns drawn from the model, identifiers pseudonymised
    replace: tuple[str, ...] | list[str] = ()
    real_share: float | None = None  # --mode hybrid: the share of released rows that are real rows
    model_path: str | Path | None = None  # where `synthgov fit` writes the model (a DP model's charge names it)
    rules: Any = None  # value rules every released row satisfies: a file, a list of rules, or a RuleSet
    fair: tuple[str, ...] | list[str] = ()  # sensitive groups of bias mitigation: 'sex', 'age>=25'
    strategy: str | None = None  # rebalance | parity | counterfactual (default: parity with a target, else rebalance)
    shares: Any = None  # rebalance: {group: share} or 'Female=0.5,Male=0.5' (default: equal shares)
    descendants: tuple[str, ...] | list[str] = ()  # counterfactual: the columns the sensitive attribute causes
    partition_rows: int | None = None  # write synthetic/part-*.parquet of this many rows (default above 1M rows)
    dask: str | None = None  # draw the partitions on Dask: "local" (a LocalCluster) or a scheduler's address
    workers: int = 2  # the workers of a local Dask cluster

    @classmethod
    def of(cls, options: dict[str, Any]) -> ReleaseOptions:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise InputError(f"unknown option(s) of generate: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**options)


@dataclass
class ReleaseRun:
    """One release in the making. Stages read the options and fill the rest, in order."""

    source: Any
    options: ReleaseOptions
    generator: str = ""
    release_id: str = ""
    meter: Meter = field(default_factory=Meter)
    table: pd.DataFrame | None = None  # the training table (None for rules)
    verdict: Any = None  # the guard's verdict on the training table
    model: Any = None
    data: pd.DataFrame | None = None
    marking: dict[str, Any] | None = None  # the manifest's watermark section
    copies: dict[str, Any] | None = None  # measured closeness of the released rows to the training rows
    evaluation: dict[str, Any] | None = None  # headline figures of the evaluation, when one ran
    files: list[Path] = field(default_factory=list)  # data files, then schema
    report_files: list[Path] = field(default_factory=list)
    signed_files: list[Path] = field(default_factory=list)  # manifest, datasheet, exports
    manifest: dict[str, Any] | None = None
    budget_key: str | None = None  # the source's privacy-budget ledger, while this run's reservation is open
    budget: dict[str, float] | None = None  # the source's spending with this release (DP releases)
    filtering: dict[str, Any] | None = None  # the privacy filter's section of the manifest, when it ran
    partial: dict[str, Any] | None = None  # a partially synthetic release's columns (the manifest's section)
    hybrid: dict[str, Any] | None = None  # a hybrid release's ratio (the manifest's section)
    rules: Any = None  # the value rules (a RuleSet), when the release has some
    rule_check: Any = None  # what the real table said about them before fitting (None for a DP release)
    rules_drawn: dict[str, Any] | None = None  # what enforcing them took when rows were drawn
    fair: Any = None  # the bias-mitigation plan (a FairPlan), when --fair was given
    real_rows: Any = None  # a hybrid release: the boolean mask of its real rows (never written anywhere)
    partitions: dict[str, Any] | None = None  # a partitioned release: the manifest's section (pipeline.streaming)
    data_entries: list[dict[str, Any]] | None = None  # ... its files' integrity records, made as they were written
    sketch: Any = None  # ... the ledger's row sketch, added partition by partition
    released_rows: int | None = None  # ... its rows (``data`` is then None: never whole in memory)
    rule_violations: dict[str, int] | None = None  # ... each value rule's violations, summed over the partitions
    workdir: Path | None = None  # the staging folder the release is built in, until it is swapped into place
    held: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)  # the lock on the target folder

    @property
    def target(self) -> Path | None:
        """Where the release ends up (``out``, with ``~`` expanded)."""
        return Path(self.options.out).expanduser() if self.options.out is not None else None

    @property
    def folder(self) -> Path | None:
        """Where the stages write now: the staging folder until the release is published, then the target."""
        return self.workdir or self.target

    def close(self) -> None:
        """Remove an unpublished staging folder, void an open privacy-budget reservation (or commit it if the
        release did get published) and release the lock (after success or failure alike)."""
        if self.budget_key is not None:
            from synthgov.pipeline.privacy import void_unfinished

            void_unfinished(self)
        if self.workdir is not None and self.workdir.exists():
            logger.info("removing the unfinished release in %s", self.workdir)
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir = None
        self.held.close()

    def release(self) -> Release:
        """The result handed to callers (the CLI prints it)."""
        return Release(
            folder=self.folder or Path(),
            data=self.data,  # type: ignore[arg-type]
            files=[*self.files, *self.report_files, *self.signed_files],
            generator=self.generator,
            seed=self.model.seed_,
            fit_seconds=self.meter.seconds("fit"),
            sample_seconds=self.meter.seconds("sample") or self.meter.seconds("stream"),
            manifest=self.manifest,
            model=self.model,
            rows=self.rows,
        )

    @property
    def rows(self) -> int | None:
        """The rows released: in memory, or written partition by partition."""
        return self.released_rows if self.data is None else len(self.data)
