"""Views of a signed manifest: W3C PROV-JSON (through the ``prov`` package) and Croissant 1.0 JSON-LD with the
Responsible-AI (RAI) vocabulary and a ``synthgov:`` extension for synthetic-data facts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

PROV_FILE = "provenance.prov.json"
CROISSANT_FILE = "croissant.json"
SYNTHGOV_NS = "https://synthgov.dev/ns#"

_DTYPES = {
    "numeric": "sc:Float",
    "integer": "sc:Integer",
    "categorical": "sc:Text",
    "boolean": "sc:Boolean",
    "datetime": "sc:DateTime",
    "id": "sc:Text",
    "text": "sc:Text",
    "pii": "sc:Text",
}


def prov_json(predicate: dict[str, Any]) -> str:
    from prov.model import ProvDocument

    doc = ProvDocument()
    doc.add_namespace("synthgov", SYNTHGOV_NS)
    rid = predicate["release"]["id"]
    release = doc.entity(
        f"synthgov:release-{rid}",
        {
            "prov:type": "synthgov:SyntheticDataset",
            "synthgov:rows": predicate["release"]["rows"],
            "synthgov:category": predicate["synthetic_category"],
            "synthgov:generationDepth": predicate["lineage"]["generation_depth"],
        },
    )
    source = doc.entity(
        f"synthgov:source-{predicate['source'].get('sha256') or 'none'}",
        {
            "prov:type": "synthgov:SourceDataset",
            "synthgov:sha256": str(predicate["source"].get("sha256")),
            "synthgov:licence": str(predicate["source"].get("licence")),
        },
    )
    activity = doc.activity(
        f"synthgov:generation-{rid}",
        other_attributes={
            "synthgov:generator": predicate["generator"]["name"],
            "synthgov:seedCommitment": predicate["seed_commitment"],
            "synthgov:cpuSeconds": predicate["compute"]["cpu_seconds"],
        },
    )
    software = doc.agent(
        f"synthgov:software-synthgov-{predicate['code']['version']}", {"prov:type": "prov:SoftwareAgent"}
    )
    party = doc.agent(
        "synthgov:party-" + hashlib.sha256(predicate["accountable_party"].encode()).hexdigest()[:16],
        {"prov:type": "prov:Organization", "prov:label": predicate["accountable_party"]},
    )
    doc.wasGeneratedBy(release, activity)
    doc.used(activity, source)
    doc.wasAssociatedWith(activity, software)
    doc.wasAttributedTo(release, party)
    doc.wasDerivedFrom(release, source)
    for parent in predicate["lineage"].get("parents", []):
        name = parent.get("manifest_sha256") or parent.get("release_id") if isinstance(parent, dict) else parent
        doc.wasDerivedFrom(release, doc.entity(f"synthgov:release-{name}", {"prov:label": "parent synthetic release"}))
    return doc.serialize(format="json", indent=2)


def croissant(predicate: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    files = predicate["integrity"]["files"]
    parquet = next((f for f in files if f["path"].endswith(".parquet")), files[0])
    columns = (schema or {}).get("columns", {})
    fields = []
    for name in parquet["columns"]:
        opts = columns.get(name, {})
        kind = "integer" if opts.get("kind") == "numeric" and opts.get("integer") else opts.get("kind", "categorical")
        fields.append(
            {
                "@type": "cr:Field",
                "@id": f"synthetic/{name}",
                "name": name,
                "description": f"synthetic {opts.get('kind', 'column')} column",
                "dataType": _DTYPES.get(kind, "sc:Text"),
                "source": {"fileObject": {"@id": parquet["path"]}, "extract": {"column": name}},
            }
        )
    use = predicate["use"]
    return {
        "@context": {
            "@language": "en",
            "@vocab": "https://schema.org/",
            "sc": "https://schema.org/",
            "cr": "http://mlcommons.org/croissant/",
            "rai": "http://mlcommons.org/croissant/RAI/",
            "dct": "http://purl.org/dc/terms/",
            "prov": "http://www.w3.org/ns/prov#",
            "synthgov": SYNTHGOV_NS,
            "citeAs": "cr:citeAs",
            "column": "cr:column",
            "conformsTo": "dct:conformsTo",
            "data": {"@id": "cr:data", "@type": "@json"},
            "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
            "examples": {"@id": "cr:examples", "@type": "@json"},
            "extract": "cr:extract",
            "field": "cr:field",
            "fileObject": "cr:fileObject",
            "fileProperty": "cr:fileProperty",
            "fileSet": "cr:fileSet",
            "format": "cr:format",
            "includes": "cr:includes",
            "isLiveDataset": "cr:isLiveDataset",
            "jsonPath": "cr:jsonPath",
            "key": "cr:key",
            "md5": "cr:md5",
            "parentField": "cr:parentField",
            "path": "cr:path",
            "recordSet": "cr:recordSet",
            "references": "cr:references",
            "regex": "cr:regex",
            "repeated": "cr:repeated",
            "replace": "cr:replace",
            "separator": "cr:separator",
            "source": "cr:source",
            "subField": "cr:subField",
            "transform": "cr:transform",
            "samplingRate": "cr:samplingRate",
            "equivalentProperty": "cr:equivalentProperty",
        },
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": f"synthetic-release-{predicate['release']['id']}",
        "description": (
            f"{predicate['synthetic_category'].capitalize()} table of {predicate['release']['rows']} rows made by "
            f"synthgov {predicate['code']['version']} ({predicate['generator']['name']} generator). "
            "Signed manifest: manifest.json."
        ),
        "url": f"urn:uuid:{predicate['release']['id']}",
        "version": "1.0.0",
        "datePublished": predicate["release"]["created"][:10],
        "license": predicate["source"].get("licence") or "unspecified",
        "citeAs": f"synthgov release {predicate['release']['id']}",
        "creator": {"@type": "sc:Organization", "name": predicate["accountable_party"]},
        "rai:dataCollection": _collection(predicate),
        "rai:dataCollectionType": "Synthetic data",
        "rai:dataUseCases": use["intended_use"],
        "rai:dataLimitations": " ".join(use["limitations"]),
        "rai:dataBiases": "Group shares and outcome rates may differ from the source; see the evaluation report.",
        "rai:personalSensitiveInformation": (
            "Identifiers are replaced by keyed pseudonyms; the kept columns hold real values."
            if predicate.get("partial")
            else "Identifiers are generated fresh and PII columns are replaced by fake values."
        ),
        "synthgov:isSynthetic": True,
        "synthgov:syntheticCategory": predicate["synthetic_category"],
        "synthgov:generator": predicate["generator"]["name"],
        "synthgov:generationDepth": predicate["lineage"]["generation_depth"],
        "synthgov:sourceSha256": predicate["source"].get("sha256"),
        "synthgov:privacyMechanism": predicate["privacy"]["mechanism"],
        "synthgov:watermarked": bool(predicate["watermark"]["embedded"]),
        "distribution": [
            {
                "@type": "cr:FileObject",
                "@id": f["path"],
                "name": f["path"],
                "contentUrl": f["path"],
                "encodingFormat": "application/x-parquet" if f["path"].endswith(".parquet") else "text/csv",
                "sha256": f["sha256"],
            }
            for f in files
        ],
        "recordSet": [{"@type": "cr:RecordSet", "@id": "synthetic", "name": "synthetic", "field": fields}],
    }


def write_exports(folder: Path, predicate: dict[str, Any], schema: dict[str, Any] | None) -> list[Path]:
    (folder / PROV_FILE).write_text(prov_json(predicate) + "\n", encoding="utf-8")
    (folder / CROISSANT_FILE).write_text(json.dumps(croissant(predicate, schema), indent=2) + "\n", encoding="utf-8")
    return [folder / PROV_FILE, folder / CROISSANT_FILE]


def _collection(predicate: dict[str, Any]) -> str:
    partial, hybrid = predicate.get("partial"), predicate.get("hybrid")
    if hybrid:
        return (
            f"{hybrid['real_rows']} real rows of the source table (drawn without replacement, identifiers regenerated) "
            f"among {hybrid['synthetic_rows']} rows generated by a statistical model fitted on it."
        )
    if not partial:
        return "Generated by a statistical model fitted on a source table; no row was collected."
    return (
        "Real rows of the source table with columns " + ", ".join(partial["replaced"]) + " drawn from a statistical "
        "model given each row's other values; identifiers pseudonymised; the other columns are real values."
    )
