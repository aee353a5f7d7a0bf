"""Audits against a policy of clauses, and the signed audit certificate (issue 22, part 1): the clause tests on
known facts, the shipped policies, the command end to end with its exit codes, and tamper detection."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import synthgov
from synthgov.cli import run
from synthgov.errors import InputError
from synthgov.governance.audit import SHIPPED, AuditPolicy, check_clause, matching, verify_certificate
from synthgov.privacy.domains import declare_domains
from synthgov.table.infer import infer_schema

FACTS = {
    "release.epsilon": 0.5,
    "release.generator": "mst",
    "release.watermarked": True,
    "release.licence": None,
    "privacy.mia_auc": 0.52,
    "bias.sex.bias_amplification": 0.01,
    "bias.race.bias_amplification": 0.09,
}


@pytest.mark.parametrize(
    ("clause", "passed", "measured"),
    [
        ({"id": "a", "fact": "release.epsilon", "max": 1.0}, True, 0.5),
        ({"id": "a", "fact": "release.epsilon", "max": 0.4}, False, 0.5),
        ({"id": "a", "fact": "privacy.mia_auc", "min": 0.6}, False, 0.52),
        ({"id": "a", "fact": "release.watermarked", "equals": True}, True, True),
        ({"id": "a", "fact": "release.generator", "one_of": ["mst", "bayesnet"]}, True, "mst"),
        ({"id": "a", "fact": "release.generator", "one_of": ["ctgan"]}, False, "mst"),
        ({"id": "a", "fact": "release.licence", "required": True}, False, None),  # not stated: fails
        ({"id": "a", "fact": "privacy.dcr_share", "max": 0.6}, False, None),  # not measured: fails
        ({"id": "a", "fact": "release.epsilon", "min": 0.5}, True, 0.5),  # bounds are inclusive
    ],
)
def test_a_clause_tests_one_fact(clause: dict, passed: bool, measured: object) -> None:
    result = check_clause(clause, FACTS)
    assert result["passed"] is passed and result["measured"] == measured


def test_a_wildcard_clause_passes_only_when_every_match_does() -> None:
    assert set(matching(FACTS, "bias.*.bias_amplification")) == {
        "bias.sex.bias_amplification",
        "bias.race.bias_amplification",
    }
    result = check_clause({"id": "b", "fact": "bias.*.bias_amplification", "max": 0.05}, FACTS)
    assert not result["passed"] and "bias.race.bias_amplification" in result["reason"]
    assert check_clause({"id": "b", "fact": "bias.*.bias_amplification", "max": 0.1}, FACTS)["passed"]


def test_the_shipped_policies_load_and_bad_policies_are_one_clear_error(tmp_path: Path) -> None:
    for name in SHIPPED:
        policy = AuditPolicy.load(name)
        assert policy.name == name and len(policy.clauses) >= 5 and len(policy.sha256) == 64
    assert {c["id"] for c in AuditPolicy.load("public-release").clauses} >= {"differential-privacy", "licence"}
    cases = [
        ("name: x\ndescription: y\nclauses:\n  - {id: a, fact: release.epsilon, max: 1, min: 0}\n", "exactly one of"),
        ("name: x\ndescription: y\nclauses:\n  - {id: a, fact: release.epsilon}\n", "exactly one of"),
        ("name: x\ndescription: y\nclauses:\n  - {id: a, fact: f, max: 1, color: red}\n", "unknown option"),
        ("name: x\ndescription: y\nclauses: []\n", "clauses"),
        ("name: x\ndescription: y\nclauses:\n  - {id: a, fact: f, max: 1}\n  - {id: a, fact: g, max: 1}\n", "twice"),
        ("name: [x\n", "not valid YAML"),
    ]
    for k, (text, message) in enumerate(cases):
        path = tmp_path / f"p{k}.yaml"
        path.write_text(text)
        with pytest.raises(InputError, match=message):
            AuditPolicy.load(path)
    with pytest.raises(InputError, match="not a shipped policy"):
        AuditPolicy.load("strictest")


@pytest.fixture(scope="module")
def adult() -> tuple[pd.DataFrame, pd.DataFrame]:
    data = synthgov.load_demo("adult").sample(6000, random_state=0).reset_index(drop=True)
    return data.iloc[:3000].reset_index(drop=True), data.iloc[3000:].reset_index(drop=True)


@pytest.fixture
def files(adult, tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """3,000 training and 3,000 holdout rows of Adult as CSV files, and a keystore home of the test's own."""
    monkeypatch.setenv("SYNTHGOV_HOME", str(tmp_path / "home"))
    train, holdout = adult
    data, hold = tmp_path / "train.csv", tmp_path / "holdout.csv"
    train.to_csv(data, index=False)
    holdout.to_csv(hold, index=False)
    return data, hold


def test_an_audit_signs_what_it_measured_and_its_certificate_detects_edits(files, tmp_path: Path, capsys) -> None:
    data, hold = files
    folder = tmp_path / "release"
    assert run(["generate", str(data), "-g", "bayesnet", "--seed", "1", "--out", str(folder)]) == 0
    cert = tmp_path / "internal.json"
    capsys.readouterr()
    code = run(["audit", str(folder), "--policy", "internal-sharing", "--real", str(data), "--holdout", str(hold),
                "--auditor", "auditor@example.org", "-o", str(cert)])  # fmt: skip
    shown = capsys.readouterr()
    document = json.loads(cert.read_text())
    predicate = document["statement"]["predicate"]
    assert code == (0 if predicate["passed"] else 1), shown.out + shown.err
    assert code == 0, predicate["clauses"]  # a bayesnet release of 3,000 Adult rows meets internal sharing
    assert predicate["audit"]["auditor"] == "auditor@example.org" and predicate["audit"]["key_id"]
    assert predicate["evaluation"]["source"] == "run by this audit" and predicate["evaluation"]["holdout"]
    mia = next(c for c in predicate["clauses"] if c["id"] == "membership-inference")
    assert mia["threshold"] == 0.65 and 0.3 < mia["measured"] <= 0.65
    assert predicate["release"]["verified"] and predicate["policy"]["name"] == "internal-sharing"
    assert run(["verify", str(cert)]) == 0
    # a certificate edited after signing fails
    edited = json.loads(cert.read_text())
    edited["statement"]["predicate"]["clauses"][0]["measured"] = "anything"
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    assert run(["verify", str(tmp_path / "edited.json")]) == 1
    # so does one whose release changed after the audit
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))  # same statement, other bytes
    capsys.readouterr()
    assert run(["verify", str(cert)]) == 1
    assert "not the manifest that was audited" in capsys.readouterr().err
    # the same release against the public-release policy: not DP, no licence, no holdout -> fails, and says why
    capsys.readouterr()
    assert run(["audit", str(folder), "--policy", "public-release", "-o", str(tmp_path / "public.json")]) == 1
    public = json.loads((tmp_path / "public.json").read_text())["statement"]["predicate"]
    clauses = {c["id"]: c for c in public["clauses"]}
    assert clauses["differential-privacy"]["reason"] == "not stated in the release's manifest"
    assert clauses["membership-inference"]["reason"].startswith("not measured in this audit")
    assert public["evaluation"]["source"].startswith("none")
    assert clauses["watermarked"]["passed"]


def test_a_dp_release_meets_the_privacy_clauses_of_public_release(files, adult, tmp_path: Path) -> None:
    data, hold = files
    train = adult[0]
    schema = declare_domains(infer_schema(train), train).save(tmp_path / "schema.yaml")
    folder = tmp_path / "release"
    assert run(["generate", str(data), "-g", "mst", "--epsilon", "1", "--delta", "1e-6", "--schema", str(schema),
                "--source-licence", "CC BY 4.0", "--out", str(folder), "-p", "iterations=300"]) == 0  # fmt: skip
    cert = tmp_path / "public.json"
    code = run(["audit", str(folder), "--policy", "public-release", "--real", str(data), "--holdout", str(hold),
                "-o", str(cert)])  # fmt: skip
    predicate = json.loads(cert.read_text())["statement"]["predicate"]
    clauses = {c["id"]: c for c in predicate["clauses"]}
    for name in ("differential-privacy", "dp-delta", "fully-synthetic", "real-data-only", "licence", "no-copies",
                 "membership-inference", "close-rows", "verified", "watermarked"):  # fmt: skip
        assert clauses[name]["passed"], clauses[name]
    assert clauses["differential-privacy"]["measured"] == 1.0
    assert code == (0 if predicate["passed"] else 1)
    assert verify_certificate(cert) == (True, [])


def test_each_shipped_policy_on_one_release_and_a_copying_release_fails_naming_the_clause(
    files, tmp_path: Path, monkeypatch, capsys
) -> None:
    """Every shipped policy audits the same Adult release (its signed evaluation, with a holdout, a target and a
    sensitive column) and each certificate verifies with the auditor's public key alone (as a third party checks
    it, with another keystore). A release whose rows are 90% real training rows (hybrid) fails internal sharing:
    the copies are flagged by the privacy metrics and the certificate names the clause."""
    data, hold = files
    folder = tmp_path / "release"
    assert run(["generate", str(data), "-g", "bayesnet", "--seed", "1", "--evaluate", "--holdout", str(hold),
                "--target", "income", "--sensitive", "sex", "--out", str(folder)]) == 0  # fmt: skip
    public = tmp_path / "auditor.pub.pem"
    assert run(["keys", "export-public", "-o", str(public)]) == 0
    certificates = []
    for name in SHIPPED:
        cert = tmp_path / f"{name}.json"
        code = run(["audit", str(folder), "--policy", name, "-o", str(cert)])
        predicate = json.loads(cert.read_text())["statement"]["predicate"]
        assert code == (0 if predicate["passed"] else 1) and predicate["policy"]["name"] == name
        assert predicate["evaluation"]["source"].startswith("the release's signed report")
        certificates.append(cert)
    health = {c["id"]: c for c in json.loads(certificates[-1].read_text())["statement"]["predicate"]["clauses"]}
    assert health["utility"]["measured"] > 0.7 and health["bias-amplification"]["measured"]  # target, sensitive
    report = json.loads((folder / "report" / "report.json").read_text())
    internal = json.loads(certificates[0].read_text())["statement"]["predicate"]["clauses"]
    mia = next(c for c in internal if c["id"] == "membership-inference")
    assert mia["measured"] == report["privacy"]["mia_auc"]  # the signed figure, not a new measurement
    monkeypatch.setenv("SYNTHGOV_HOME", str(tmp_path / "third-party"))  # no keystore of the auditor's here
    for cert in certificates:
        assert run(["verify", str(cert), "--public-key", str(public)]) == 0
    monkeypatch.setenv("SYNTHGOV_HOME", str(tmp_path / "home"))
    # a report edited after signing is not read: the release no longer verifies and the audit fails
    report["privacy"]["mia_auc"] = 0.5
    (folder / "report" / "report.json").write_text(json.dumps(report))
    edited = tmp_path / "edited.json"
    assert run(["audit", str(folder), "--policy", "internal-sharing", "-o", str(edited)]) == 1
    predicate = json.loads(edited.read_text())["statement"]["predicate"]
    assert not predicate["release"]["verified"] and predicate["evaluation"]["source"].startswith("none")
    copying = tmp_path / "copying"
    assert run(["generate", str(data), "-g", "bayesnet", "--mode", "hybrid", "--real-share", "0.9", "--no-watermark",
                "--out", str(copying)]) == 0  # fmt: skip
    cert = tmp_path / "copying.json"
    capsys.readouterr()
    assert run(["audit", str(copying), "--policy", "internal-sharing", "--real", str(data), "-o", str(cert)]) == 1
    failed = [c for c in json.loads(cert.read_text())["statement"]["predicate"]["clauses"] if not c["passed"]]
    assert "no-copies" in [c["id"] for c in failed]
    assert next(c for c in failed if c["id"] == "no-copies")["measured"] >= 0.89
    assert "no-copies" in capsys.readouterr().out
