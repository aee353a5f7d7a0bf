"""The named stages of a release, in order: claim -> keys -> guard -> rules -> fairness -> charge -> fit -> sample
-> privacy_filter -> watermark -> measure -> write -> evaluate -> sign -> record -> publish -> settle. A partitioned
release (:mod:`synthgov.pipeline.streaming`) has one ``stream`` stage in place of sample to evaluate.

Each takes the :class:`~synthgov.pipeline.run.ReleaseRun` and fills its part; ``generate``
runs them all, ``synthgov fit`` the first two, and the service and Dask work reuse them one by one.

The watermark comes before measuring and evaluating, so that what is measured and signed is the rows as
released; the evaluation's report files are written into the release before signing, so the manifest covers
them. Everything is written into a staging folder beside the target (claimed and locked first); ``publish`` swaps
it into place in one step, so a crash or a second run never leaves a half-written release or a stale file.
"""

from __future__ import annotations

import logging
from pathlib import Path

from synthgov.errors import InputError
from synthgov.generators import registry
from synthgov.pipeline.run import ReleaseRun, is_rules_spec
from synthgov.table.io import read_table

logger = logging.getLogger(__name__)


def claim(run: ReleaseRun) -> None:
    """Lock the target folder, refuse a target that would destroy an input or a folder that is not a release
    (unless ``overwrite``), and open a staging folder beside it: all before any work."""
    from synthgov.atomic import clean_leftovers, staging_folder
    from synthgov.locks import exclusive

    target = run.target
    assert target is not None
    if target.exists() and not target.is_dir():
        raise InputError(f"output {target} exists and is not a folder")
    for name, value in _input_paths(run):
        if Path(value).expanduser().resolve().is_relative_to(target.resolve()):
            raise InputError(
                f"--out {target} holds the {name} {value}: the new release would replace it; choose another folder"
            )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder {target.parent}: {exc.strerror or exc}") from None
    run.held.enter_context(exclusive(target.parent / f".{target.name}.synthgov-lock", f"the release folder {target}"))
    clean_leftovers(target)
    if target.is_dir() and any(target.iterdir()) and not (target / "manifest.json").is_file():
        if not run.options.overwrite:
            raise InputError(
                f"{target} is a non-empty folder that is not a synthgov release; write to a new or empty folder, "
                "or pass --overwrite to replace its content"
            )
        logger.warning("replacing the content of %s (--overwrite)", target)
    try:
        run.workdir = staging_folder(target)
    except OSError as exc:
        raise InputError(f"cannot write in {target.parent}: {exc.strerror or exc}") from None


def _input_paths(run: ReleaseRun) -> list[tuple[str, str | Path]]:
    options = run.options
    named = [("input", run.source), ("schema", options.schema), ("holdout", options.holdout)]
    named.append(("policy", options.policy))
    return [(name, value) for name, value in named if isinstance(value, (str, Path))]


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
    from synthgov.pipeline.streaming import wanted as partitioned

    if options.rows is not None:  # before any fitting
        from synthgov.capacity import check_rows_fit, check_rows_on_disk

        if partitioned(options):  # one partition in memory at a time: the disk bounds them
            check_rows_on_disk(options.rows, run.table.shape[1], run.target)
        else:
            check_rows_fit(options.rows, run.table.shape[1])
    from synthgov.pipeline import hybrid, partial

    partial.check(run)
    hybrid.check(run)
    path = source if isinstance(source, (str, Path)) else None
    run.verdict = enforce(run.table, path, allow_synthetic=options.allow_synthetic, policy=options.policy)
    logger.info("guard: %s", run.verdict.describe())


def rules(run: ReleaseRun) -> None:
    """Value rules (``--rules``, or ``rules:`` in the schema file) measured on the real table before any fitting:
    a rule over an unknown column, one that nothing satisfies, or rules that contradict each other stop the run."""
    from synthgov.pipeline.streaming import check_rules
    from synthgov.pipeline.value_rules import prepare

    prepare(run)
    check_rules(run)


def fairness(run: ReleaseRun) -> None:
    """Bias mitigation (``--fair``): the sensitive groups, the label and the strategy checked against the real
    table before any fitting, and the figures before mitigation measured on it."""
    from synthgov.pipeline.fairness import prepare

    prepare(run)


def charge(run: ReleaseRun) -> None:
    """A DP generator's itemised privacy cost is reserved in the source's budget ledger before it reads the data
    (refused past the policy's cap, exit code 4); other generators pass through."""
    from synthgov.pipeline.privacy import charge as reserve
    from synthgov.pipeline.privacy import is_private

    if run.generator != "rules" and is_private(run.generator, run.options.params):
        reserve(run)


def fit(run: ReleaseRun) -> None:
    run.model = registry.synthesizer(run.generator, seed=run.options.seed, **(run.options.params or {}))
    if run.table is None:
        run.model.fit(run.source)
    else:
        run.model.fit(run.table, run.options.schema)


def sample(run: ReleaseRun) -> None:
    options = run.options
    if options.mode == "partial":
        from synthgov.pipeline.partial import sample as sample_partial

        run.partial = sample_partial(run)
        return
    if options.mode == "hybrid":
        from synthgov.pipeline.hybrid import sample as sample_hybrid

        run.hybrid = sample_hybrid(run)
        return
    default = len(run.table) if run.table is not None else (run.model.spec_.rows or 1000)
    rows = options.rows or default
    if run.fair is not None:
        from synthgov.pipeline.fairness import sample as sample_fair

        run.data = sample_fair(run, rows)
        return
    from synthgov.pipeline.value_rules import draw

    run.data = draw(run, rows, None, options.conditions)


def stream(run: ReleaseRun) -> None:
    """A partitioned release (more than a million rows, or ``--partition-rows``): sample, watermark, measure and
    write in one pass over the partitions, one in memory at a time (:mod:`synthgov.pipeline.streaming`)."""
    from synthgov.pipeline.streaming import write_partitions

    write_partitions(run)


def privacy_filter(run: ReleaseRun) -> None:
    """With ``--privacy-filter``: rows unusually close to a training row are drawn again, then dropped."""
    from synthgov.pipeline.filtering import apply

    if run.options.privacy_filter:
        if run.table is None:
            raise InputError("--privacy-filter compares with the training rows; a rules release has none")
        run.filtering = apply(run)


def watermark(run: ReleaseRun) -> None:
    """Embed the keyed watermark (when asked and some column can carry it); the manifest's watermark section."""
    from synthgov.pipeline.marking import embed_watermark

    run.marking = embed_watermark(run) if run.options.watermark else None


def measure(run: ReleaseRun) -> None:
    """How close the released rows are to the training rows, measured before anything is signed."""
    from synthgov.pipeline.copies import measure_copies
    from synthgov.pipeline.privacy import NOT_MEASURED

    if run.budget is not None:
        run.copies = {"measured": False, "note": NOT_MEASURED}
    elif run.real_rows is not None:  # a hybrid release: the generated rows are measured, the real ones declared
        generated = run.data.loc[~run.real_rows]
        run.copies = measure_copies(run.table, generated, run.options.holdout, run.model.schema_, run.options.seed)
        run.copies["declared_real_rows"] = int(run.real_rows.sum())
    elif run.table is not None:
        run.copies = measure_copies(run.table, run.data, run.options.holdout, run.model.schema_, run.options.seed)


def write(run: ReleaseRun) -> None:
    from synthgov.release.folder import write_release

    run.files = write_release(run.data, run.folder, schema=getattr(run.model, "schema_", None), csv=run.options.csv)
    if run.options.save_model:
        run.files.append(run.model.save(run.folder / "model.synthgov"))


def evaluate(run: ReleaseRun) -> None:
    """The full evaluation into ``report/`` of the release (before signing, so the manifest covers it)."""
    from synthgov.evaluation import evaluate as assess

    if run.table is None:
        raise InputError("--evaluate needs real data to compare with; a rules release has none")
    from synthgov.pipeline.fairness import section as fairness_section

    options = run.options
    sensitive = list(options.sensitive or ())
    if not sensitive and run.fair is not None:  # a fair release's report compares its groups by default
        sensitive = [spec.column for spec in run.fair.specs]
    result = assess(
        run.table,
        run.data,
        options.holdout,
        target=options.target,
        sensitive=sensitive,
        schema=run.model.schema_,
        out=run.folder / "report",
        mitigation=fairness_section(run),
    )
    run.report_files = list(result.files)
    run.evaluation = result.headline()


def sign(run: ReleaseRun) -> None:
    from synthgov.pipeline.signing import sign_run

    sign_run(run)


def record(run: ReleaseRun) -> None:
    """Enter the release in this issuer's ledger (the guard reads it to recognise the rows later)."""
    from synthgov.pipeline.signing import data_files
    from synthgov.release import ledger

    depth = run.verdict.generation_depth if run.verdict is not None else 0
    released = run.data if run.sketch is None else run.sketch  # the rows, or a partitioned release's sketch of them
    columns = None if run.data_entries is None else run.data_entries[0]["columns"]
    ledger.record(run.release_id, run.folder / "manifest.json", released, data_files(run), depth, run.table,
                  real_rows=run.real_rows, rows=run.rows, columns=columns)  # fmt: skip


def publish(run: ReleaseRun) -> None:
    """Swap the finished release into place (one atomic step on Linux) and point the run's files at it."""
    from synthgov.atomic import swap_in

    staging, target = run.workdir, run.target
    assert staging is not None and target is not None
    swap_in(staging, target)
    run.workdir = None
    for files in (run.files, run.report_files, run.signed_files):
        files[:] = [target / path.relative_to(staging) for path in files]


def settle(run: ReleaseRun) -> None:
    """Commit a DP release's reservation in the budget ledger: its release is in place (or its rows handed over)."""
    from synthgov.pipeline.privacy import settle as commit

    commit(run)
