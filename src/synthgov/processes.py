"""Whether a process still runs: the privacy ledger settles the reservations of runs that died, the registry fails
the jobs whose worker died."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def alive(pid: Any) -> bool:
    """Whether the process ``pid`` runs on this machine (a zombie, dead but not yet reaped, does not)."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux): the signal test is all there is
    return state != "Z"
