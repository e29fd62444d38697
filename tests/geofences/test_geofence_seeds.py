"""The geofence seeds: coverage, the direction vocabulary, the gate convention, port sides."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from shapely import LineString

from pipeline.geo.geofences import chokepoint_ports, path_crossings, side_of

# The design notes' table: slug -> (first direction, second direction).
N, S, E, W = "northbound", "southbound", "eastbound", "westbound"
DIRECTIONS = {
    "gibraltar": (E, W),
    "suez": (N, S),
    "panama": (N, S),
    "bosphorus": (N, S),
    "dardanelles": (N, S),
    "bab_el_mandeb": (N, S),
    "hormuz": (W, E),
    "malacca": (E, W),
    "cape_of_good_hope": (E, W),
    "dover": (N, S),
    "oresund": (N, S),
    "great_belt": (N, S),
    "little_belt": (N, S),
    "fehmarn_belt": (E, W),
    "kiel_canal": (E, W),
    "sicily": (E, W),
    "messina": (N, S),
    "otranto": (N, S),
    "kerch": (N, S),
    **{s: (N, S) for s in ("taiwan", "korea", "makassar", "mindoro", "windward", "yucatan")},
    **{s: (N, S) for s in ("mona", "lombok", "sunda", "ombai", "bering")},
    **{s: (E, W) for s in ("tsugaru", "luzon", "torres", "magellan", "balabac", "bohai")},
    # not in the design table: named in its seed, the same way
    "english_channel": (E, W),
}
# ... and the water each side names, from the table's brackets (side A, side B).
SIDE_WORDS = {
    "gibraltar": ("Atlantic", "Mediterranean"),
    "suez": ("Red Sea", "Mediterranean"),
    "panama": ("Pacific", "Caribbean"),
    "bosphorus": ("Marmara", "Black Sea"),
    "dardanelles": ("Aegean", "Marmara"),
    "bab_el_mandeb": ("Gulf of Aden", "Red Sea"),
    "hormuz": ("Gulf of Oman", "Persian Gulf"),
    "malacca": ("Andaman", "Singapore"),
    "cape_of_good_hope": ("Atlantic", "Indian"),
    "dover": ("English Channel", "North Sea"),
    "oresund": ("Baltic", "Kattegat"),
    "great_belt": ("Baltic", "Kattegat"),
    "little_belt": ("Baltic", "Kattegat"),
    "fehmarn_belt": ("Kiel Bay", "Mecklenburg Bay"),
    "kiel_canal": ("Brunsbüttel", "Kiel-Holtenau"),
    "sicily": ("Tyrrhenian", "Ionian"),
    "messina": ("Ionian", "Tyrrhenian"),
    "otranto": ("Ionian", "Adriatic"),
    "kerch": ("Black Sea", "Azov"),
}
PORTWATCH = {
    1: "suez", 2: "panama", 3: "bosphorus", 4: "bab_el_mandeb", 5: "malacca", 6: "hormuz",
    7: "cape_of_good_hope", 8: "gibraltar", 9: "dover", 10: "oresund", 11: "taiwan",
    12: "korea", 13: "tsugaru", 14: "luzon", 15: "lombok", 16: "ombai", 17: "bohai",
    18: "torres", 19: "sunda", 20: "makassar", 21: "magellan", 22: "yucatan", 23: "windward",
    24: "mona", 25: "balabac", 26: "bering", 27: "mindoro", 28: "kerch",
}  # fmt: skip
CANALS = {"suez", "panama", "kiel_canal"}


def gate_lines(gates: pd.DataFrame, chokepoint_id: str) -> list[LineString]:
    rows = gates.loc[gates["chokepoint_id"] == chokepoint_id].sort_values("seq")
    return list(rows["geometry"])


def test_every_portwatch_chokepoint_and_the_added_straits_are_seeded(chokepoints):
    by_pw = chokepoints.dropna(subset=["portwatch_id"]).set_index("portwatch_id")
    assert {f"chokepoint{n}": slug for n, slug in PORTWATCH.items()} == by_pw[
        "chokepoint_id"
    ].to_dict()
    assert set(chokepoints["chokepoint_id"]) == set(DIRECTIONS)
    assert len(chokepoints) == 37


def test_directions_and_kinds_follow_the_design_table(chokepoints):
    got = chokepoints.set_index("chokepoint_id")
    for slug, (first, second) in DIRECTIONS.items():
        assert (got.loc[slug, "first_direction"], got.loc[slug, "second_direction"]) == (
            first,
            second,
        ), slug
        assert got.loc[slug, "kind"] == ("canal" if slug in CANALS else "strait"), slug
    for slug, (a_word, b_word) in SIDE_WORDS.items():
        assert a_word in got.loc[slug, "side_a"], slug
        assert b_word in got.loc[slug, "side_b"], slug


def test_first_direction_is_the_compass_way_from_side_a_to_side_b(chokepoints):
    # The geography, not just the words: side B's point lies that way from side A's.
    for row in chokepoints.itertuples():
        (lon_a, lat_a), (lon_b, lat_b) = row.side_a_point, row.side_b_point
        step = {"northbound": lat_b - lat_a, "southbound": lat_a - lat_b,
                "eastbound": lon_b - lon_a, "westbound": lon_a - lon_b}  # fmt: skip
        assert step[row.first_direction] > 0, row.chokepoint_id


def test_side_a_point_is_left_and_side_b_point_right_of_every_gate(chokepoints, gates):
    points = chokepoints.set_index("chokepoint_id")
    for gate in gates.itertuples():
        a, b = (
            points.loc[gate.chokepoint_id, "side_a_point"],
            points.loc[gate.chokepoint_id, "side_b_point"],
        )
        assert side_of(gate.geometry.coords, [a, b]).tolist() == [1, -1], (
            gate.chokepoint_id,
            gate.gate,
        )
        # A reversed line would put both points on the wrong side.
        reversed_line = np.asarray(gate.geometry.coords)[::-1]
        assert side_of(reversed_line, [a, b]).tolist() == [-1, 1]


def test_gates_are_numbered_from_side_a_and_never_touch(chokepoints, gates):
    for row in chokepoints.itertuples():
        lines = gate_lines(gates, row.chokepoint_id)
        seqs = gates.loc[gates["chokepoint_id"] == row.chokepoint_id, "seq"]
        assert sorted(seqs) == list(range(1, len(lines) + 1))
        for i, line in enumerate(lines):
            for other in lines[i + 1 :]:
                assert not line.intersects(other), row.chokepoint_id
        # Gate k+1 lies wholly on the B side of gate k.
        for near, far in itertools.pairwise(lines):
            assert (side_of(near.coords, far.coords) == -1).all(), row.chokepoint_id
            assert (side_of(far.coords, near.coords) == 1).all(), row.chokepoint_id


def test_each_fairway_passes_its_gates_in_order_and_no_other_chokepoint(chokepoints, gates):
    for row in chokepoints.itertuples():
        fairway = np.asarray(row.fairway.coords)
        along = []
        for gate in gates.itertuples():
            hits = path_crossings(fairway, gate.geometry.coords)
            if gate.chokepoint_id == row.chokepoint_id:
                assert hits["direction"].tolist() == [1], (row.chokepoint_id, gate.gate)
                along.append((gate.seq, hits["along"].iloc[0]))
            else:
                assert hits.empty, (row.chokepoint_id, gate.chokepoint_id, gate.gate)
        assert [s for s, _ in sorted(along, key=lambda t: t[1])] == sorted(s for s, _ in along)


@pytest.mark.parametrize(
    ("strait", "track"),
    [
        # straight tracks from the Baltic side to the Kattegat through each Danish strait
        ("great_belt", [(11.0, 55.15), (10.85, 55.80)]),
        ("oresund", [(12.75, 55.30), (12.70, 55.55), (12.68, 55.75), (12.40, 56.20)]),
        ("little_belt", [(9.80, 55.15), (9.80, 55.45), (9.86, 55.65)]),
    ],
)
def test_danish_straits_are_separable(gates, strait, track):
    crossed = {
        (g.chokepoint_id, g.gate)
        for g in gates.itertuples()
        if not path_crossings(track, g.geometry.coords).empty
    }
    own = {(g.chokepoint_id, g.gate) for g in gates.itertuples() if g.chokepoint_id == strait}
    assert crossed == own


def test_chokepoint_aliases_name_one_chokepoint_each(chokepoints):
    owner = {
        alias.casefold(): row.chokepoint_id
        for row in chokepoints.itertuples()
        for alias in [row.name, *row.aliases]
    }
    expected = {
        "Strait of Gibraltar": "gibraltar",
        "Straits of Gibraltar": "gibraltar",
        "Gibraltar": "gibraltar",
        "Bosporus": "bosphorus",
        "Istanbul Strait": "bosphorus",
        "Dardanelles": "dardanelles",
        "Suez Canal": "suez",
        "Strait of Dover": "dover",
        "Dover Strait": "dover",
        "English Channel": "english_channel",
        "Øresund": "oresund",
        "Oresund": "oresund",
        "Great Belt": "great_belt",
        "Storebælt": "great_belt",
        "Kiel Canal": "kiel_canal",
        "Nord-Ostsee-Kanal": "kiel_canal",
        "Strait of Hormuz": "hormuz",
        "Bab-el-Mandeb": "bab_el_mandeb",
        "Strait of Sicily": "sicily",
    }
    assert {k: owner.get(k.casefold()) for k in expected} == expected
    # The Dover Strait is not the whole Channel, and a flag state is not a canal.
    assert "english channel" not in {a.casefold() for a in chokepoints.set_index(
        "chokepoint_id").loc["dover", "aliases"]}  # fmt: skip
    assert "panama" not in owner


def test_reference_points_are_portwatch_points_unless_corrected(chokepoints):
    got = chokepoints.set_index("chokepoint_id")
    # Transcribed values kept where they fall on the passage ...
    assert got.loc["gibraltar", "ref_lat"] == 35.94227416
    assert got.loc["gibraltar", "ref_lon"] == -5.754895722
    # ... and the two slips corrected, with the reason recorded.
    assert got.loc["bering", "ref_lon"] == pytest.approx(-168.5498286)
    assert got.loc["suez", "ref_lon"] == pytest.approx(32.33688221)
    assert got["ref_note"].notna().sum() == 2
    assert "Seward Peninsula" in got.loc["bering", "ref_note"]


def port_sides(ports: pd.DataFrame, lines: list[LineString], port_id: str) -> list[int]:
    lonlat = ports.loc[[port_id], ["lon", "lat"]].to_numpy()
    return [int(side_of(line.coords, lonlat)[0]) for line in lines]


def test_ports_lie_where_the_seeds_say(chokepoints, gates, ports):
    statements = chokepoint_ports(chokepoints)
    assert len(statements) >= 50
    for row in statements.itertuples():
        sides = port_sides(ports, gate_lines(gates, row.chokepoint_id), row.port_id)
        if row.position == "side_a":
            assert set(sides) == {1}, row
        elif row.position == "side_b":
            assert set(sides) == {-1}, row
        else:
            assert sides[0] == -1 and sides[-1] == 1, row


def test_gibraltar_ports_lie_between_the_outer_and_inner_gates(gates, ports):
    outer, inner = gate_lines(gates, "gibraltar")
    for port_id in ("ESALG", "MAPTM", "ESCEU"):
        # right of the outer gate (past it from the Atlantic), left of the inner one
        assert port_sides(ports, [outer, inner], port_id) == [-1, 1], port_id
    # a call there and back is not a transit: the approach from the Atlantic crosses the
    # outer gate only
    approach = [(-6.6, 35.95), (-5.55, 35.95), (-5.45, 36.10), (-5.43, 36.12)]
    assert not path_crossings(approach, outer.coords).empty
    assert path_crossings(approach, inner.coords).empty
