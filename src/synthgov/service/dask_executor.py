"""Jobs as tasks on a Dask cluster (``synthgov serve --executor dask:local`` or ``dask:tcp://scheduler:8786``).

Each job is one task, :func:`synthgov.service.jobs.run_job` with the service's settings: it runs in a Dask
worker process, writes its progress into the job's row and registers its release exactly as the process
executor's worker does. Dask's scheduler owns the task: when the worker running it dies, the scheduler runs it
again on another worker (up to its ``allowed-failures``, 3 by default), and the job goes on as the same attempt,
with a new ``job-start`` entry in the audit trail; nothing of the lost run is visible (a release is registered
only at the end). The workers must reach the service's database and store folder (the same host, or a shared
file system and a database URL that is not SQLite). ``local`` starts a ``LocalCluster`` of worker processes with
the service (one thread each: a job sets its process's ``SYNTHGOV_HOME``) and closes it with the service.

Needs the ``synthgov[dask]`` extra.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from synthgov.dask_cluster import connect
from synthgov.service.jobs import run_job
from synthgov.service.settings import Settings

logger = logging.getLogger(__name__)


class DaskExecutor:
    """``address``: ``"local"`` (a LocalCluster, ``workers`` worker processes) or a scheduler's address."""

    def __init__(self, address: str, workers: int = 2) -> None:
        self.address = address
        self.workers = workers
        self._client: Any = None
        self._cluster: Any = None
        self._futures: dict[str, Any] = {}  # a future Dask no longer referenced by anyone is cancelled: kept here
        self._lock = threading.Lock()

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client, self._cluster = connect(self.address, self.workers)
                logger.info("jobs run on the Dask cluster %s", self._client.scheduler.address)
            return self._client

    def submit(self, settings: Settings, job_id: str) -> None:
        # a key of its own per submission: a retried job's new attempt must not be answered by the old task
        key = f"synthgov-job-{job_id}-{uuid.uuid4().hex[:8]}"
        future = self.client().submit(run_job, settings, job_id, key=key, pure=False)
        with self._lock:
            self._futures[job_id] = future
        future.add_done_callback(lambda done: self._forget(job_id, done))
        logger.info("job %s submitted to the Dask cluster as %s", job_id, future.key)

    def _forget(self, job_id: str, future: Any) -> None:
        with self._lock:
            if self._futures.get(job_id) is future:
                del self._futures[job_id]
        if future.status == "error":  # the task itself failed (its workers kept dying): the job is reaped as failed
            logger.warning("job %s: its Dask task failed: %s", job_id, future.exception())

    def alive(self, job_id: str, worker: int | None) -> bool:
        """A running job's task is alive while the scheduler still holds it unfinished (Dask reruns it on another
        worker when its worker dies); a job this service did not submit (an earlier server's) is not."""
        with self._lock:
            future = self._futures.get(job_id)
        return future is not None and not future.done()

    def close(self) -> None:
        with self._lock:
            client, cluster = self._client, self._cluster
            self._client = self._cluster = None
            self._futures.clear()
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
