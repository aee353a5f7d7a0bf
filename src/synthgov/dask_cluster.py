"""Connecting to a Dask cluster (``dask.distributed``, the ``synthgov[dask]`` extra): ``local`` starts a
``LocalCluster`` of worker processes on this machine, anything else is a scheduler's address
(``tcp://host:8786``). Used by the registry's Dask job executor and by partitioned sampling."""

from __future__ import annotations

import logging
from typing import Any

from synthgov.errors import InputError

logger = logging.getLogger(__name__)


def connect(address: str, workers: int = 2) -> tuple[Any, Any]:
    """Return ``(client, cluster)``; ``cluster`` is the LocalCluster started here (close it after the client),
    or None for a scheduler's address. Raises :class:`InputError` without the extra or when the scheduler
    cannot be reached."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError("Dask needs the dask extra: pip install 'synthgov[dask]'") from None
    if address == "local":
        if workers < 1:
            raise InputError(f"a local Dask cluster needs at least one worker, not {workers}")
        # one thread per worker process: a task may set its process's environment (SYNTHGOV_HOME), and the
        # generators use the cores through numpy/torch themselves
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
        logger.info("started a local Dask cluster of %d worker(s) at %s", workers, cluster.scheduler_address)
        return client, cluster
    try:
        client = Client(address, timeout=10)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    logger.info("connected to the Dask cluster at %s", address)
    return client, None
