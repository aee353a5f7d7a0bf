"""The keyed, blind watermark of every release (design and threat model: docs/watermark.md).

``plan`` decides which cells carry the mark (numeric columns with many values) and at which scale; ``embed``
moves each carrier cell onto a keyed lattice (quantisation index modulation with a per-context dither);
``detect`` scores a suspect table against the plans a keystore holds and returns an exact-bound p-value, the
key id and the decoded payload (a 32-bit recipient id).
"""

from synthgov.watermark.detect import Detection, detect
from synthgov.watermark.embed import embed
from synthgov.watermark.plan import WatermarkPlan, make_plan

__all__ = ["Detection", "WatermarkPlan", "detect", "embed", "make_plan"]
