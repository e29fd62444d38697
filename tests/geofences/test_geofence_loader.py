"""`load_gates` on edited copies of the seeds: every kind of bad seed gets a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shapely import LineString

from pipeline.geo.geofences import GeofenceError, load_gates, path_crossings, side_of


def only(seeds: Path, *keep: str) -> Path:
    """Leave only these chokepoints' files in the copied seeds."""
    for path in (seeds / "geofences").glob("*.geojson"):
        if path.stem not in keep:
            path.unlink()
    return seeds


def edit(seeds: Path, chokepoint_id: str, change) -> None:
    path = seeds / "geofences" / f"{chokepoint_id}.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc["features"])
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def feature(features: list, role: str, gate: str | None = None) -> dict:
    return next(
        f
        for f in features
        if f["properties"]["role"] == role and (gate is None or f["properties"]["gate"] == gate)
    )


def refusal(seeds: Path) -> str:
    """The message `load_gates` refuses these seeds with."""
    with pytest.raises(GeofenceError) as info:
        load_gates(seeds)
    return str(info.value)


def test_the_copied_seeds_load(seeds_copy):
    chokepoints, gates = load_gates(only(seeds_copy, "gibraltar", "suez"))
    assert chokepoints["chokepoint_id"].tolist() == ["gibraltar", "suez"]
    assert gates[["chokepoint_id", "gate", "seq"]].values.tolist() == [
        ["gibraltar", "outer", 1],
        ["gibraltar", "inner", 2],
        ["suez", "south", 1],
        ["suez", "north", 2],
    ]
    outer = gates.loc[0]
    assert isinstance(outer["geometry"], LineString)
    assert outer["wkt"] == "LINESTRING (-5.93 35.77, -6.02 36.2)"
    assert (outer["side_a"], outer["side_b"]) == (
        "Atlantic Ocean (Gulf of Cádiz)",
        "Mediterranean Sea (Alboran Sea)",
    )


def test_a_gate_drawn_the_wrong_way_round_is_refused(seeds_copy):
    def reverse(features):
        gate = feature(features, "gate", "outer")
        gate["geometry"]["coordinates"].reverse()

    edit(only(seeds_copy, "gibraltar"), "gibraltar", reverse)
    assert refusal(seeds_copy) == (
        "seeds/geofences/gibraltar.geojson: feature 1 (gate 'outer'): property 'geometry': "
        "side_a_point must lie left and side_b_point right of the gate, walking from its first "
        "vertex to its last (is the line drawn the wrong way round?)"
    )


def test_gates_out_of_order_are_refused(seeds_copy):
    def swap(features):
        feature(features, "gate", "outer")["properties"]["seq"] = 2
        feature(features, "gate", "inner")["properties"]["seq"] = 1

    edit(only(seeds_copy, "gibraltar"), "gibraltar", swap)
    assert "the fairway meets the gates out of seq order" in refusal(seeds_copy)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.pop("seq"), "feature 1 (gate 'outer'): property 'seq': missing"),
        (lambda p: p.update(seq=0), "property 'seq': expected a positive integer, got 0"),
        (lambda p: p.update(colour="red"), "property 'colour': unknown property"),
        (lambda p: p.update(islands="none"), "property 'islands': expected a list of strings"),
        (lambda p: p.update(gate="Outer Gate"), "property 'gate': 'Outer Gate' is not a lower"),
        (lambda p: p.update(chokepoint_id="suez"), "'suez' does not match the file name"),
        (lambda p: p.update(role="line"), "property 'role': expected one of chokepoint, gate"),
    ],
)
def test_bad_gate_properties_are_named(seeds_copy, change, message):
    edit(
        only(seeds_copy, "gibraltar"),
        "gibraltar",
        lambda f: change(feature(f, "gate", "outer")["properties"]),
    )
    assert message in refusal(seeds_copy)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda p: p.update(second_direction="southbound"),
            "property 'second_direction': the opposite of 'eastbound' is 'westbound'",
        ),
        (lambda p: p.update(kind="river"), "property 'kind': expected one of strait, canal"),
        (lambda p: p.update(side_a_point=[-6.6]), "property 'side_a_point': expected [longitude"),
        (lambda p: p.update(side_b_point=[200, 36]), "is outside longitude -180..180"),
        (lambda p: p.update(ports_between=["ES ALG"]), "'ES ALG' does not have the form"),
        (lambda p: p.update(aliases=["Gibraltar", "gibraltar"]), "'gibraltar' is listed twice"),
        (lambda p: p.pop("notes"), "feature 0 (chokepoint): property 'notes': missing"),
    ],
)
def test_bad_chokepoint_properties_are_named(seeds_copy, change, message):
    edit(
        only(seeds_copy, "gibraltar"),
        "gibraltar",
        lambda f: change(feature(f, "chokepoint")["properties"]),
    )
    assert message in refusal(seeds_copy)


def test_a_fairway_that_misses_a_gate_is_refused(seeds_copy):
    def shorten(features):
        # stop short of the inner gate, then jump round it to the Mediterranean point
        fw = feature(features, "fairway")["geometry"]
        fw["coordinates"] = [
            [-6.6, 35.95],
            [-5.6, 35.95],
            [-5.6, 36.4],
            [-4.6, 36.4],
            [-4.6, 36.05],
        ]

    edit(only(seeds_copy, "gibraltar"), "gibraltar", shorten)
    message = "feature 2 (gate 'inner'): property 'geometry': the fairway must cross"
    assert message in refusal(seeds_copy)


def test_geometry_faults_are_named(seeds_copy):
    def bad(features):
        feature(features, "gate", "outer")["geometry"]["coordinates"] = [
            [-5.93, 35.77],
            [-5.93, 35.77],
            [-6.02, 36.2],
        ]

    edit(only(seeds_copy, "gibraltar"), "gibraltar", bad)
    assert "feature 1 (gate 'outer'): the line repeats a vertex" in refusal(seeds_copy)


def test_an_alias_may_name_one_chokepoint_only(seeds_copy):
    only(seeds_copy, "gibraltar", "suez")
    edit(
        seeds_copy,
        "suez",
        lambda f: feature(f, "chokepoint")["properties"]["aliases"].append("Gibraltar"),
    )
    assert "'Gibraltar' also names 'gibraltar'" in refusal(seeds_copy)


def test_invalid_json_names_the_line(seeds_copy):
    path = only(seeds_copy, "gibraltar") / "geofences" / "gibraltar.geojson"
    path.write_text('{"type": "FeatureCollection",\n "features": [}\n', encoding="utf-8")
    assert "seeds/geofences/gibraltar.geojson: line 2: not valid JSON" in refusal(seeds_copy)


def test_side_of_and_crossings_follow_the_convention():
    gate = [(0.0, 0.0), (0.0, 1.0)]  # walking north: west is left (side A)
    assert side_of(gate, [(-1, 0.5), (1, 0.5), (-1, 5), (1, -5)]).tolist() == [1, -1, 1, -1]
    hits = path_crossings([(-1, 0.2), (1, 0.4), (-1, 0.6), (1, 0.8)], gate)
    assert hits["direction"].tolist() == [1, -1, 1]
    assert path_crossings([(-1, 2), (1, 2)], gate).empty
    # a track through the vertex shared by two gate segments crosses once
    bent = [(0.0, 0.0), (0.0, 1.0), (0.5, 2.0)]
    assert path_crossings([(-1, 1.0), (1, 1.0)], bent)["direction"].tolist() == [1]
