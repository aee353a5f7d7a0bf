"""The lineage graph of the dashboard: where each release comes from, laid out in layers for an SVG drawing.

Layer 0 holds the sources (real tables, by fingerprint); a release sits in layer ``generation_depth + 1``, so a
release trained on real data is one step right of its source and a release trained on synthetic parents is one step
right of the deepest of them. Edges go from a release's parents (or, for a release of real data, from its source)
to the release. A parent that the visitor may not read, or that is not in the registry, is drawn as a dashed box
with its id only (its id is already in the child's manifest, which the visitor can read). Within a layer the boxes
are ordered by the mean position of their predecessors (one barycentre pass, ties by upload order), which keeps
chains straight and crossings few for the small graphs a registry holds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

BOX_WIDTH = 190
BOX_HEIGHT = 40
COLUMN_STEP = 250
ROW_STEP = 60
MARGIN = 12


@dataclass(frozen=True)
class Box:
    key: str
    kind: str  # "source", "release" or "missing" (a parent not in the visitor's registry)
    label: str
    detail: str
    title: str
    href: str | None
    layer: int
    x: int
    y: int


@dataclass(frozen=True)
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True)
class Graph:
    boxes: list[Box]
    edges: list[Edge]
    width: int
    height: int


def _short(text: str, length: int = 12) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _barycentre(item: tuple[int, str], incoming: dict[str, list[str]], row: dict[str, float]) -> tuple[float, int]:
    """Where a box goes in its layer: the mean row of its predecessors already placed (else its upload order)."""
    position, key = item
    known = [row[p] for p in incoming.get(key, []) if p in row]
    return (sum(known) / len(known) if known else float(position), position)


def layout(nodes: list[dict[str, Any]]) -> Graph:
    """``nodes``: one dict per readable release, in upload order, with ``id``, ``source`` (fingerprint),
    ``parents`` (release ids), ``depth`` (generation depth), ``generator`` and ``epsilon``."""
    releases = {str(n["id"]): n for n in nodes}
    specs: dict[str, dict[str, Any]] = {}  # key -> kind, label, detail, title, href, layer
    incoming: dict[str, list[str]] = {}
    for node in nodes:
        release_key = "release:" + str(node["id"])
        depth = max(0, int(node.get("depth") or 0))
        epsilon = node.get("epsilon")
        detail = str(node.get("generator") or "") + (f", ε {float(epsilon):.3g}" if epsilon is not None else "")
        specs[release_key] = {
            "kind": "release",
            "label": _short(str(node["id"])),
            "detail": _short(detail, 26),
            "title": f"release {node['id']} ({detail}), generation depth {depth}",
            "href": f"/releases/{node['id']}",
            "layer": depth + 1,
        }
        parents = [str(p) for p in node.get("parents") or []]
        if parents:
            incoming[release_key] = []
            for parent in parents:
                if parent in releases:
                    incoming[release_key].append("release:" + parent)
                    continue
                missing_key = "missing:" + parent
                incoming[release_key].append(missing_key)
                layer = max(0, depth)  # one step left of the child
                if missing_key in specs:
                    specs[missing_key]["layer"] = min(specs[missing_key]["layer"], layer)
                else:
                    specs[missing_key] = {
                        "kind": "missing",
                        "label": _short(parent),
                        "detail": "not in your registry",
                        "title": f"parent release {parent}, not in the releases you may read",
                        "href": None,
                        "layer": layer,
                    }
        else:
            source_key = "source:" + str(node["source"])
            specs.setdefault(
                source_key,
                {
                    "kind": "source",
                    "label": _short(str(node["source"]), 14),
                    "detail": "real table",
                    "title": f"source table, fingerprint {node['source']}",
                    "href": None,
                    "layer": 0,
                },
            )
            incoming[release_key] = [source_key]

    layers: dict[int, list[str]] = {}
    for key, spec in specs.items():
        layers.setdefault(spec["layer"], []).append(key)
    row: dict[str, float] = {}
    for layer in sorted(layers):
        placed = sorted(enumerate(layers[layer]), key=lambda item: _barycentre(item, incoming, row))
        for index, (_, key) in enumerate(placed):
            row[key] = index

    boxes: dict[str, Box] = {}
    for key, spec in specs.items():
        x = MARGIN + spec["layer"] * COLUMN_STEP
        y = MARGIN + int(row[key]) * ROW_STEP
        boxes[key] = Box(key=key, x=x, y=y, **spec)
    edges = []
    for child, parents in incoming.items():
        target = boxes[child]
        for parent in parents:
            source = boxes[parent]
            edges.append(Edge(source.x + BOX_WIDTH, source.y + BOX_HEIGHT // 2, target.x, target.y + BOX_HEIGHT // 2))
    width = MARGIN * 2 + (max((s["layer"] for s in specs.values()), default=0)) * COLUMN_STEP + BOX_WIDTH
    height = MARGIN * 2 + max((len(k) for k in layers.values()), default=1) * ROW_STEP - (ROW_STEP - BOX_HEIGHT)
    logger.debug("lineage graph: %d boxes, %d edges, %d layers", len(boxes), len(edges), len(layers))
    return Graph(boxes=list(boxes.values()), edges=edges, width=width, height=height)
