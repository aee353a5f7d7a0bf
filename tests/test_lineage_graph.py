"""The dashboard's lineage graph layout (`synthgov.service.lineage_graph`): layers by generation depth, arrows from
sources and parents, no two boxes on one spot, straight chains, and parents the visitor cannot read drawn apart."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")

from synthgov.service.lineage_graph import BOX_HEIGHT, BOX_WIDTH, COLUMN_STEP, layout


def release(rid: str, source: str = "S", parents: tuple[str, ...] = (), depth: int = 0, epsilon=None) -> dict:
    return {
        "id": rid,
        "source": source,
        "parents": list(parents),
        "depth": depth,
        "generator": "copula",
        "epsilon": epsilon,
    }


def boxes_by_key(graph):
    return {b.key: b for b in graph.boxes}


def test_a_chain_of_generations_is_one_straight_row_of_layers() -> None:
    graph = layout([release("r0"), release("r1", parents=("r0",), depth=1), release("r2", parents=("r1",), depth=2)])
    boxes = boxes_by_key(graph)
    assert [boxes[k].layer for k in ("source:S", "release:r0", "release:r1", "release:r2")] == [0, 1, 2, 3]
    assert {b.y for b in graph.boxes} == {boxes["source:S"].y}  # one row
    assert len(graph.edges) == 3
    assert all(e.x2 - e.x1 == COLUMN_STEP - BOX_WIDTH and e.y1 == e.y2 for e in graph.edges)
    # the drawing holds every box
    assert all(b.x + BOX_WIDTH <= graph.width and b.y + BOX_HEIGHT <= graph.height for b in graph.boxes)
    assert boxes["release:r1"].href == "/releases/r1" and boxes["source:S"].href is None


def test_boxes_never_overlap_and_children_follow_their_parents_rows() -> None:
    # uploaded in an order that would cross the arrows if each layer kept upload order
    nodes = [
        release("b", source="B"),
        release("a", source="A"),
        release("a-child", source="A", parents=("a",), depth=1),
        release("b-child", source="B", parents=("b",), depth=1),
        release("c", source="A"),
    ]
    graph = layout(nodes)
    spots = [(b.x, b.y) for b in graph.boxes]
    assert len(spots) == len(set(spots)) == 2 + 5
    boxes = boxes_by_key(graph)
    assert boxes["release:b-child"].y == boxes["release:b"].y
    assert boxes["release:a-child"].y == boxes["release:a"].y
    assert len(graph.edges) == 5 and all(e.x2 > e.x1 for e in graph.edges)


def test_a_hybrid_of_two_parents_gets_an_arrow_from_each_and_a_missing_parent_is_drawn_apart() -> None:
    nodes = [
        release("p1"),
        release("p2", epsilon=1.0),
        release("mix", parents=("p1", "p2"), depth=1),
        release("orphan", parents=("not-readable",), depth=3),
    ]
    graph = layout(nodes)
    boxes = boxes_by_key(graph)
    mix = boxes["release:mix"]
    into_mix = [e for e in graph.edges if (e.x2, e.y2 - BOX_HEIGHT // 2) == (mix.x, mix.y)]
    assert len(into_mix) == 2
    missing = boxes["missing:not-readable"]
    assert missing.kind == "missing" and missing.href is None
    assert missing.layer == 3 == boxes["release:orphan"].layer - 1
    assert "ε 1" in boxes["release:p2"].detail
    assert layout([]).boxes == []
