"""OpenLineage run events (``openlineage-python``): each release that enters the registry is announced as the
completed run that made it, so it shows up where teams already look (Marquez, DataHub) or in a JSON-lines file.
Inputs: the source dataset (its fingerprint from the signed manifest: the keyed one for a DP release) and the
parent releases; output: the release in the registry; a ``synthgov`` run facet with the generator, the privacy
guarantee, the manifest's digest and the audit result when there is one. The signed manifest stays the evidence;
the events are the index. A failure to emit is logged, never fatal to the action."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attr

logger = logging.getLogger(__name__)

NAMESPACE = "synthgov"
PRODUCER = "https://github.com/synthgov/synthgov"
FACET_SCHEMA = "https://synthgov.dev/openlineage/synthgov-run-facet/v1"


def _facet_class() -> type:
    from openlineage.client.facet_v2 import RunFacet

    @attr.define
    class SynthgovRunFacet(RunFacet):
        generator: str
        epsilon: float | None
        delta: float | None
        manifest_sha256: str
        signing_key_id: str
        audit: dict[str, Any] | None = None

        @staticmethod
        def _get_schema() -> str:
            return FACET_SCHEMA

    return SynthgovRunFacet


class Lineage:
    """Emits to ``target``: an http(s) URL (an OpenLineage endpoint), a file path (JSON lines), or nothing."""

    def __init__(self, target: str | None) -> None:
        self.target = target
        self._client = None
        if target:
            from openlineage.client import OpenLineageClient

            if target.startswith(("http://", "https://")):
                from openlineage.client.transport.http import HttpConfig, HttpTransport

                transport = HttpTransport(HttpConfig(url=target))
            else:
                from openlineage.client.transport.file import FileConfig, FileTransport

                Path(target).parent.mkdir(parents=True, exist_ok=True)
                transport = FileTransport(FileConfig(log_file_path=str(target), append=True))
            self._client = OpenLineageClient(transport=transport)

    def job_changed(
        self, job_id: str, attempt: int, state: str, generator: str, source_id: str, release_id: str | None = None
    ) -> None:
        """A job's run event: START when its worker starts, COMPLETE with its release, FAIL."""
        if self._client is None:
            return
        try:
            self._client.emit(job_event(job_id, attempt, state, generator, source_id, release_id))
        except Exception:  # lineage is an index: its failure must not undo the action
            logger.warning("OpenLineage: the event for job %s could not be emitted to %s", job_id, self.target,
                           exc_info=True)  # fmt: skip

    def release_registered(self, manifest: dict[str, Any], manifest_sha256: str, audit: dict | None = None) -> None:
        if self._client is None:
            return
        try:
            self._client.emit(release_event(manifest, manifest_sha256, audit))
        except Exception:  # lineage is an index: its failure must not undo the action
            logger.warning(
                "OpenLineage: the event for a release could not be emitted to %s", self.target, exc_info=True
            )


def release_event(manifest: dict[str, Any], manifest_sha256: str, audit: dict | None = None) -> Any:
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState

    predicate = manifest["statement"]["predicate"]
    release = predicate["release"]
    source = predicate.get("source") or {}
    fingerprint = source.get("sha256") or source.get("keyed_sha256") or "unknown"
    inputs = [InputDataset(namespace=f"{NAMESPACE}-source", name=f"sha256:{fingerprint}")]
    for parent in (predicate.get("lineage") or {}).get("parents") or []:
        name = parent.get("release_id") if isinstance(parent, dict) else str(parent)
        inputs.append(InputDataset(namespace=f"{NAMESPACE}-release", name=str(name)))
    privacy = predicate.get("privacy") or {}
    facet = _facet_class()(
        generator=str(predicate["generator"]["name"]),
        epsilon=privacy.get("epsilon"),
        delta=privacy.get("delta"),
        manifest_sha256=manifest_sha256,
        signing_key_id=str(predicate.get("signing_key_id")),
        audit=audit,
        producer=PRODUCER,
    )
    return RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=str(release.get("created") or datetime.now(UTC).isoformat()),
        run=Run(
            runId=str(uuid.uuid5(uuid.NAMESPACE_URL, f"synthgov:release:{release['id']}")), facets={"synthgov": facet}
        ),
        job=Job(namespace=NAMESPACE, name=f"generate.{predicate['generator']['name']}"),
        inputs=inputs,
        outputs=[OutputDataset(namespace=f"{NAMESPACE}-registry", name=str(release["id"]))],
        producer=PRODUCER,
    )


def job_event(
    job_id: str, attempt: int, state: str, generator: str, source_id: str, release_id: str | None = None
) -> Any:
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState

    states = {"start": RunState.START, "complete": RunState.COMPLETE, "fail": RunState.FAIL}
    outputs = [OutputDataset(namespace=f"{NAMESPACE}-registry", name=release_id)] if release_id else []
    return RunEvent(
        eventType=states[state],
        eventTime=datetime.now(UTC).isoformat(),
        run=Run(runId=str(uuid.uuid5(uuid.NAMESPACE_URL, f"synthgov:job:{job_id}:{attempt}"))),
        job=Job(namespace=NAMESPACE, name=f"registry-job.{generator}"),
        inputs=[InputDataset(namespace=f"{NAMESPACE}-registry-source", name=f"sha256:{source_id}")],
        outputs=outputs,
        producer=PRODUCER,
    )
