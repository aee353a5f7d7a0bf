"""Configuration that every part of synthgov reads, in one neutral module (imported by ``release``,
``watermark`` and ``governance`` alike, importing none of them).

``$SYNTHGOV_HOME`` (default ``~/.synthgov``) holds the keystore (``keys/``), the watermark plans
(``watermarks/``), the release ledger (``releases/``), seed commitments and the guard's ``audit.jsonl``.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_VARIABLE = "SYNTHGOV_HOME"


def home() -> Path:
    """The folder of this issuer's keys and records."""
    return Path(os.environ.get(HOME_VARIABLE) or Path.home() / ".synthgov")
