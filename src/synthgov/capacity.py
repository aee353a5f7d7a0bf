"""Whether a request fits this machine, checked before any work: ``--rows 10**12`` is refused in one line
instead of fitting for minutes and then failing with a MemoryError."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from synthgov.errors import InputError

logger = logging.getLogger(__name__)

BYTES_PER_VALUE = 8  # a float64 or an object pointer per cell of the generated table
WORKING_COPIES = 4  # the generators hold the uniforms, the decoded columns and the frame at once


def physical_memory() -> int | None:
    """Bytes of physical memory, or None where the system does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def check_rows_fit(rows: int, columns: int) -> None:
    """Refuse ``rows`` x ``columns`` when generating them in memory would need more than this machine has."""
    memory = physical_memory()
    if memory is None:
        logger.debug("physical memory unknown: the size of %d rows is not checked", rows)
        return
    need = rows * max(columns, 1) * BYTES_PER_VALUE * WORKING_COPIES
    if need > memory:
        raise InputError(
            f"{rows:,} rows x {columns} columns need about {need / 2**30:,.0f} GiB of memory to generate; this "
            f"machine has {memory / 2**30:,.0f} GiB: ask for at most {memory // (need // rows):,} rows"
        )


BYTES_ON_DISK_PER_VALUE = 0.5  # Parquet partitions: Adult takes 0.67 bytes per value; at least half a byte, say


def check_rows_on_disk(rows: int, columns: int, folder: Path) -> None:
    """Refuse ``rows`` x ``columns`` written as partitions (one in memory at a time: memory does not bound them)
    when they would need more disk than ``folder``'s file system has free, at a low estimate per value."""
    place = Path(folder).expanduser().resolve()
    while not place.exists() and place != place.parent:
        place = place.parent
    try:
        free = shutil.disk_usage(place).free
    except OSError:
        logger.debug("free disk space at %s unknown: the size of %d rows is not checked", place, rows)
        return
    per_row = max(columns, 1) * BYTES_ON_DISK_PER_VALUE
    need = rows * per_row
    if need > free:
        raise InputError(
            f"{rows:,} rows x {columns} columns need at least about {need / 2**30:,.0f} GiB of disk as Parquet "
            f"partitions; {place} has {free / 2**30:,.0f} GiB free: ask for at most {int(free // per_row):,} rows"
        )
