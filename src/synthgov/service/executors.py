"""Which executor runs the registry's jobs, by name (``synthgov serve --executor``)."""

from __future__ import annotations

from synthgov.errors import InputError
from synthgov.service.dask_executor import DaskExecutor
from synthgov.service.jobs import Executor, ProcessExecutor


def executor_for(name: str | None) -> Executor:
    """``None`` or ``"process"``: a process per job; ``"dask:local"``: a Dask ``LocalCluster`` started with the
    service; ``"dask:tcp://host:8786"``: an existing Dask cluster's scheduler."""
    if name in (None, "", "process"):
        return ProcessExecutor()
    if name.startswith("dask:"):
        return DaskExecutor(name.removeprefix("dask:"))
    raise InputError(f"unknown job executor {name!r}: use 'process', 'dask:local' or 'dask:tcp://HOST:PORT'")
