"""DP releases end to end (issue 20): the command line, the signed privacy statement, what DP mode switches off,
the privacy-budget ledger with its cap, and the ledger's consistency when a release is killed at any stage."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthgov
from synthgov.cli import run
from synthgov.errors import BudgetError
from synthgov.pipeline import generate
from synthgov.pipeline.privacy import SWITCHED_OFF
from synthgov.privacy import budget
from synthgov.privacy.accounting import ACCOUNTANT, cdp_epsilon, cdp_rho
from synthgov.privacy.domains import declare_domains
from synthgov.table.infer import infer_schema

FAST = ["-p", "iterations=100"]  # the estimation's steps: enough for these checks, a second per release


def small_table(seed: int = 0, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 8, n)
    return pd.DataFrame(
        {
            "x": x,
            "y": np.round(x * 10 + rng.normal(0, 3, n), 1),
            "kind": np.where(x > 3, "big", "small"),
            "ok": rng.random(n) < 0.5,
        }
    )


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A ledger of its own for each test."""
    path = tmp_path / "home"
    monkeypatch.setenv("SYNTHGOV_HOME", str(path))
    return path


@pytest.fixture
def source(tmp_path) -> tuple[Path, Path]:
    table = small_table()
    data = tmp_path / "data.csv"
    table.to_csv(data, index=False)
    schema = declare_domains(infer_schema(table), table)
    schema["y"].min, schema["y"].max = -50.0, 150.0
    schema_path = schema.save(tmp_path / "schema.yaml")
    return data, schema_path


def _predicate(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())["statement"]["predicate"]


def test_a_dp_release_states_its_guarantee_and_withholds_what_it_did_not_pay_for(
    home: Path, source: tuple[Path, Path], tmp_path, capsys
) -> None:
    data, schema = source
    folder = tmp_path / "release"
    code = run(["generate", str(data), "-g", "mst", "--epsilon", "0.5", "--delta", "1e-6", "--schema", str(schema),
                "--seed", "2", "--out", str(folder), *FAST])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    p = _predicate(folder)
    privacy = p["privacy"]
    assert privacy["epsilon"] == 0.5 and privacy["delta"] == 1e-6
    assert privacy["accountant"] == ACCOUNTANT and "MST" in privacy["mechanism"]
    assert sum(line["rho"] for line in privacy["lines"]) == pytest.approx(cdp_rho(0.5, 1e-6))
    assert [line["part"] for line in privacy["lines"]] == ["one-way marginals", "tree selection", "two-way marginals"]
    assert set(privacy["domains"]) == {"x", "y", "kind", "ok"}
    # everything the shared pipeline would read from the training rows is listed, and the manifest shows it:
    assert privacy["pipeline"] == SWITCHED_OFF
    assert p["copies"]["measured"] is False  # copies against the training rows: not measured
    assert p["source"]["rows"] is None and p["source"]["sha256"] is None  # withheld / keyed
    assert len(p["source"]["keyed_sha256"]) == 64
    assert p["evaluation"] is None
    assert "(0.5, 1e-06)-differential privacy" in (folder / "datasheet.md").read_text()
    assert run(["verify", str(folder)]) == 0
    # the ledger holds the release, committed, with the same itemised lines
    [charge] = budget.charges(budget.source_key(pd.read_csv(data)))
    assert charge.status == "committed" and charge.release_id == p["release"]["id"]
    assert charge.lines == privacy["lines"]


def test_dp_mode_refuses_what_would_read_training_rows_outside_the_budget(
    home: Path, source: tuple[Path, Path], tmp_path, capsys
) -> None:
    data, schema = source
    cases = [
        (["-g", "ctgan", "--epsilon", "1"], "has no differentially private mode"),
        (["-g", "mst", "--epsilon", "1"], "needs a schema whose domains are declared public"),
        (["-g", "mst", "--epsilon", "0", "--schema", str(schema)], "epsilon must be greater than 0"),
        (["-g", "mst", "--epsilon", "1", "--delta", "0.01", "--schema", str(schema)], "delta must be below 1/n"),
        (["-g", "mst", "--epsilon", "1", "--schema", str(schema), "--evaluate"], "outside its privacy budget"),
        (["-g", "mst", "--epsilon", "1", "-p", "epsilon=2", "--schema", str(schema)], "epsilon is given twice"),
        (["-g", "mst", "--epsilon", "1", "--schema", str(schema), "--privacy-filter"], "voids the differential"),
    ]
    for args, message in cases:
        folder = tmp_path / "never"
        assert run(["generate", str(data), *args, "--out", str(folder)]) == 2, args
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (args, err)
        assert not folder.exists()
    assert budget.sources() == []  # nothing was charged
    inferred = infer_schema(pd.read_csv(data)).save(tmp_path / "inferred.yaml")
    assert run(["generate", str(data), "-g", "mst", "--schema", str(inferred), "--out", str(tmp_path / "n")]) == 2
    assert "no public domain" in capsys.readouterr().err


def test_the_cap_refuses_the_release_that_would_exceed_it(home: Path, source: tuple[Path, Path], tmp_path, capsys):
    """Releases at epsilon 1 compose in zCDP to 1.00, 1.46, 1.82, 2.14, 2.42, 2.68 (delta 1e-5): against a cap of
    2.5 the sixth is refused, with exit code 4, before any work (no folder, no charge)."""
    data, schema = source
    policy = tmp_path / "policy.yaml"
    policy.write_text("max_epsilon: 2.5\nbudget_delta: 1.0e-5\n")
    rho = cdp_rho(1.0, 1e-5)
    for k in range(1, 6):
        args = ["generate", str(data), "-g", "mst", "--epsilon", "1", "--schema", str(schema), "--policy", str(policy)]
        assert run([*args, "--out", str(tmp_path / f"r{k}"), *FAST]) == 0
        assert cdp_epsilon(k * rho, 1e-5) <= 2.5
    assert cdp_epsilon(6 * rho, 1e-5) > 2.5
    refused = tmp_path / "r6"
    capsys.readouterr()
    code = run(["generate", str(data), "-g", "mst", "--epsilon", "1", "--schema", str(schema),
                "--policy", str(policy), "--out", str(refused)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 4 and "above the policy's max_epsilon 2.5" in err and "Traceback" not in err
    assert not refused.exists()
    charges = budget.charges(budget.source_key(pd.read_csv(data)))
    assert [c.status for c in charges] == ["committed"] * 5
    # the same data in another format and row order is the same source
    shuffled = pd.read_csv(data).sample(frac=1.0, random_state=1)[["ok", "kind", "y", "x"]]
    with pytest.raises(BudgetError):
        generate(shuffled, generator="mst", params={"epsilon": 1.0}, schema=schema, policy=policy)
    # a smaller release still fits: epsilon 0.1 adds little rho
    assert run(["generate", str(data), "-g", "mst", "--epsilon", "0.1", "--schema", str(schema),
                "--policy", str(policy), "--out", str(tmp_path / "small"), *FAST]) == 0  # fmt: skip
    capsys.readouterr()
    assert run(["budget", str(data), "--policy", str(policy)]) == 0
    shown = capsys.readouterr().out
    assert "spent epsilon" in shown and len(re.findall(r"committed\s*│", shown)) == 6


def test_a_dp_sgd_release_composes_with_zcdp_releases_in_rdp(
    home: Path, source: tuple[Path, Path], tmp_path, capsys
) -> None:
    """An ``mst`` release (zCDP) then an ``autoregressive`` DP-SGD release (RDP) of the same source: the ledger
    composes them in RDP; Google's dp-accounting, given the same mechanisms as events, finds the same epsilon;
    it is below the sum of the two epsilons (basic composition); a cap between the two refuses a third."""
    pytest.importorskip("opacus")
    pytest.importorskip("dp_accounting")
    from dp_accounting import dp_event
    from dp_accounting.rdp import rdp_privacy_accountant

    from synthgov.privacy import rdp

    data, schema = source
    assert run(["generate", str(data), "-g", "mst", "--epsilon", "1", "--delta", "1e-6", "--schema", str(schema),
                "--out", str(tmp_path / "a"), *FAST]) == 0  # fmt: skip
    code = run(["generate", str(data), "-g", "autoregressive", "--epsilon", "2", "--delta", "1e-6", "--schema",
                str(schema), "--seed", "1", "--out", str(tmp_path / "b"), "-p", "dp_epochs=2"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    privacy = _predicate(tmp_path / "b")["privacy"]
    assert privacy["epsilon"] == 2.0 and "DP-SGD" in privacy["mechanism"] and "opacus" in privacy["accountant"]
    assert [line["part"] for line in privacy["lines"]] == ["one-way marginals", "training (DP-SGD)"]
    assert privacy["ledger"]["composition"].startswith("RDP")
    charges = budget.charges(budget.source_key(pd.read_csv(data)))
    assert [c.status for c in charges] == ["committed", "committed"]
    spent = budget.spent(charges, 1e-5)
    events = [dp_event.GaussianDpEvent(1 / np.sqrt(2 * line["rho"])) for line in charges[0].lines]
    sgd = charges[1].lines[1]
    events += [
        dp_event.GaussianDpEvent(1 / np.sqrt(2 * charges[1].lines[0]["rho"])),
        dp_event.SelfComposedDpEvent(
            dp_event.PoissonSampledDpEvent(sgd["sample_rate"], dp_event.GaussianDpEvent(sgd["noise_multiplier"])),
            sgd["steps"],
        ),
    ]
    accountant = rdp_privacy_accountant.RdpAccountant(list(rdp.ORDERS))
    accountant.compose(dp_event.ComposedDpEvent(events))
    assert spent["epsilon"] == pytest.approx(accountant.get_epsilon(1e-5), rel=0.01)
    alone = [rdp.composed(c.lines, 1e-5) for c in charges]
    assert max(alone) < spent["epsilon"] < sum(alone)  # composition costs something, less than adding epsilons
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"max_epsilon: {spent['epsilon'] + 0.05:.3f}\nbudget_delta: 1.0e-5\n")
    capsys.readouterr()
    refused = tmp_path / "c"
    code = run(["generate", str(data), "-g", "autoregressive", "--epsilon", "1", "--delta", "1e-6", "--schema",
                str(schema), "--policy", str(policy), "--out", str(refused)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 4 and "above the policy's max_epsilon" in err and not refused.exists()
    assert run(["budget", str(data), "--policy", str(policy)]) == 0
    shown = capsys.readouterr().out
    assert "RDP curve" in shown and "composition: RDP" in shown


def killed(script: str, args: list, home: Path, folder: Path) -> None:
    """Run ``script`` with ``args`` in a fresh interpreter that kills itself (SIGKILL) where it says."""
    path = folder / "killer.py"
    path.write_text(script)
    env = {**os.environ, "SYNTHGOV_HOME": str(home)}
    done = subprocess.run([sys.executable, str(path), *map(str, args)], env=env, capture_output=True)
    assert done.returncode == -9, done.stderr.decode()[-2000:]


KILLER = textwrap.dedent(
    """
    import functools, os, signal, sys
    import synthgov.pipeline as pipeline
    from synthgov.pipeline import stages

    data, schema, out, where = sys.argv[1:5]
    name, _, moment = where.partition(":")

    def killing(stage):
        @functools.wraps(stage)
        def wrapper(run):
            if moment == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            stage(run)
            os.kill(os.getpid(), signal.SIGKILL)
        return wrapper

    patch = lambda chain: tuple(killing(s) if s.__name__ == name else s for s in chain)
    pipeline.MODEL_STAGES = patch(pipeline.MODEL_STAGES)
    pipeline.SAMPLE_STAGES = patch(pipeline.SAMPLE_STAGES)
    pipeline.RELEASE_STAGES = patch(pipeline.RELEASE_STAGES)
    pipeline.generate(data, generator="mst", params={"epsilon": 1.0, "iterations": 20}, schema=schema, out=out)
    """
)


@pytest.mark.parametrize(
    ("where", "published"),
    [
        ("charge:after", False),  # the reservation is on disk, nothing else
        ("fit:after", False),
        ("sign:after", False),  # signed in the staging folder, not in place
        ("publish:before", False),
        ("publish:after", True),  # in place, not yet committed: settled as committed
        ("settle:after", True),
    ],
)
def test_a_release_killed_at_any_stage_leaves_the_ledger_consistent(
    home: Path, source: tuple[Path, Path], tmp_path, where: str, published: bool
) -> None:
    data, schema = source
    folder = tmp_path / "release"
    killed(KILLER, [data, schema, folder, where], home, tmp_path)
    assert (folder / "manifest.json").is_file() == published
    charges = budget.charges(budget.source_key(pd.read_csv(data)))  # another process: settles the reservation
    assert len(charges) == 1
    assert charges[0].status == ("committed" if published else "void")
    if published:
        assert _predicate(folder)["release"]["id"] == charges[0].release_id
    assert budget.spent(charges)["rho"] == pytest.approx(cdp_rho(1.0, 1e-5) if published else 0.0)
    # settled for good: the next reader finds the same
    assert [c.status for c in budget.charges(budget.source_key(pd.read_csv(data)))] == [charges[0].status]


def test_a_failed_release_voids_its_reservation(home: Path, source: tuple[Path, Path], tmp_path, monkeypatch):
    data, schema = source
    from synthgov.pipeline import stages

    def broken(run) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(stages, "write", broken)
    import synthgov.pipeline as pipeline

    monkeypatch.setattr(pipeline, "RELEASE_STAGES", tuple(broken if s.__name__ == "write" else s
                                                          for s in pipeline.RELEASE_STAGES))  # fmt: skip
    with pytest.raises(RuntimeError, match="disk on fire"):
        generate(str(data), generator="mst", params={"epsilon": 1.0, "iterations": 20}, schema=schema,
                          out=tmp_path / "r")  # fmt: skip
    [charge] = budget.charges(budget.source_key(pd.read_csv(data)))
    assert charge.status == "void"


def test_fit_charges_the_model_file(home: Path, source: tuple[Path, Path], tmp_path) -> None:
    data, schema = source
    model = tmp_path / "m.synthgov"
    assert run(["fit", str(data), "-g", "mst", "--epsilon", "2", "--schema", str(schema), "--model", str(model),
                *FAST]) == 0  # fmt: skip
    [charge] = budget.charges(budget.source_key(pd.read_csv(data)))
    assert charge.status == "committed" and charge.epsilon == 2.0
    assert synthgov.load(model).privacy()["epsilon"] == 2.0


def test_evaluate_shows_the_declared_guarantee_beside_the_measured_risks(
    home: Path, source: tuple[Path, Path], tmp_path, capsys
) -> None:
    data, schema = source
    folder = tmp_path / "release"
    assert run(["generate", str(data), "-g", "mst", "--epsilon", "1", "--schema", str(schema), "--out", str(folder),
                *FAST]) == 0  # fmt: skip
    holdout = tmp_path / "holdout.csv"
    small_table(seed=9).to_csv(holdout, index=False)
    report = tmp_path / "report"
    capsys.readouterr()
    assert run(["evaluate", str(data), str(folder / "synthetic.parquet"), "-H", str(holdout), "-o", str(report)]) == 0
    shown = capsys.readouterr().out
    privacy = json.loads((report / "report.json").read_text())["privacy"]
    assert privacy["declared"]["epsilon"] == 1.0 and privacy["declared"]["delta"] == 1e-5
    assert "(1, 1e-05)-differential privacy" in " ".join(shown.split())
    assert privacy["mia_auc"] is not None and privacy["close_to_training_share"] is not None
    # an edited release does not verify: its statement is not shown
    (folder / "datasheet.md").write_text("edited")
    assert run(["evaluate", str(data), str(folder / "synthetic.parquet"), "-H", str(holdout), "-o", str(report),
                "--quick"]) == 0  # fmt: skip
    assert "does not verify" in " ".join(capsys.readouterr().out.split())


FIT_KILLER = textwrap.dedent(
    """
    import functools, os, signal, sys
    import synthgov.pipeline as pipeline
    from synthgov.cli import run
    from synthgov.pipeline import stages

    data, schema, model, where = sys.argv[1:5]

    def killer(stage):
        @functools.wraps(stage)
        def wrapper(run_):
            if where == "before-save":
                stage(run_)
            os.kill(os.getpid(), signal.SIGKILL)
        return wrapper

    if where == "before-save":
        pipeline.MODEL_STAGES = tuple(killer(s) if s.__name__ == "fit" else s for s in pipeline.MODEL_STAGES)
    else:
        stages.settle = killer(stages.settle)  # the model file is written, the commit is not
    run(["fit", data, "-g", "mst", "--epsilon", "1", "--schema", schema, "--model", model, "-p", "iterations=20"])
    """
)


@pytest.mark.parametrize(("where", "written"), [("before-save", False), ("after-save", True)])
def test_a_killed_fit_is_charged_exactly_when_its_model_file_exists(
    home: Path, source: tuple[Path, Path], tmp_path, where: str, written: bool
) -> None:
    data, schema = source
    model = tmp_path / "m.synthgov"
    killed(FIT_KILLER, [data, schema, model, where], home, tmp_path)
    assert model.is_file() == written
    [charge] = budget.charges(budget.source_key(pd.read_csv(data)))
    assert charge.status == ("committed" if written else "void")
