"""Chokepoint passages on simulated tracks whose crossing times can be worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shapely import LineString, Point

from pipeline.geo.crossings import GateSet, detect_crossings, gate_crossings
from pipeline.geo.gaps import detect_gaps
from pipeline.geo.tracks import DetectionError, build_track

from .conftest import CHOKEPOINTS, GATES, T0, along, positions, track

LAT = 35.95  # the test lane through the Gibraltar gates (outer at 5.8 W, inner at 5.3 W)


def minutes(n: int, every: float = 10.0) -> list[float]:
    return [every * i for i in range(n)]


def passages(frame: pd.DataFrame, gates: GateSet, **options) -> pd.DataFrame:
    return detect_crossings(build_track(frame), gates, **options)[0]


def assert_at(actual: pd.Timestamp, minutes_after_t0: float) -> None:
    expected = T0 + pd.Timedelta(minutes=minutes_after_t0)
    assert abs(actual - expected) < pd.Timedelta(milliseconds=1), (actual, expected)
    assert actual.round("s") == expected.round("s")


def eastbound(mmsi: int = 201000001) -> pd.DataFrame:
    # fix i at 6.21 W - 0.04 i every 10 minutes (about 11.7 knots): the outer gate (5.8 W) is
    # a quarter of the way from fix 10 to fix 11, the inner gate (5.3 W) three quarters of the
    # way from fix 22 to fix 23
    return track(mmsi, [-6.21 + 0.04 * i for i in range(36)], LAT, minutes(36))


def westbound(mmsi: int = 201000002) -> pd.DataFrame:
    return track(mmsi, [-4.89 - 0.04 * i for i in range(36)], LAT, minutes(36))


def test_gibraltar_eastbound(gates: GateSet) -> None:
    out = passages(eastbound(), gates)
    assert len(out) == 1
    row = out.iloc[0]
    assert (row.mmsi, row.chokepoint_id, row.direction, row.gate) == (
        201000001, "gibraltar", "eastbound", "inner",
    )  # fmt: skip
    assert_at(row.crossed_at, 227.5)
    assert_at(row.entered_at, 102.5)
    assert row.prev_ts == T0 + pd.Timedelta(minutes=220)
    assert row.next_ts == T0 + pd.Timedelta(minutes=230)
    assert row.confirmed_at == row.next_ts
    assert row.prev_lon == pytest.approx(-5.33) and row.next_lon == pytest.approx(-5.29)
    assert row.lat == pytest.approx(LAT) and row.lon == pytest.approx(-5.3)
    assert not row.inferred and row.gap_id is None


def test_gibraltar_westbound(gates: GateSet) -> None:
    out = passages(westbound(), gates)
    assert out[["direction", "gate"]].values.tolist() == [["westbound", "outer"]]
    assert_at(out.iloc[0].crossed_at, 227.5)
    assert_at(out.iloc[0].entered_at, 102.5)


def test_both_ways_and_several_vessels_at_once(gates: GateSet) -> None:
    frame = positions(eastbound(), westbound(), eastbound(201000003))
    out = passages(frame, gates)
    assert out[["mmsi", "direction"]].values.tolist() == [
        [201000001, "eastbound"],
        [201000002, "westbound"],
        [201000003, "eastbound"],
    ]
    assert out["crossing_id"].is_unique


def test_gate_level_crossings_for_inspection(gates: GateSet) -> None:
    out = gate_crossings(build_track(eastbound()), gates)
    assert out[["gate", "seq", "sign"]].values.tolist() == [["outer", 1, 1], ["inner", 2, 1]]


def test_call_at_algeciras_between_the_gates_is_not_a_transit(gates: GateSet) -> None:
    # in through the outer gate, six hours stopped off Algeciras, back out west
    lon_in, lat_in = along((-6.2, LAT), (-5.43, 36.13), 20)
    stay = 36
    lons = lon_in + [-5.43] * stay + lon_in[::-1]
    lats = lat_in + [36.13] * stay + lat_in[::-1]
    frame = track(201000004, lons, lats, minutes(len(lons)))
    assert passages(frame, gates).empty
    crossings = gate_crossings(build_track(frame), gates)
    assert crossings[["gate", "sign"]].values.tolist() == [["outer", 1], ["outer", -1]]


def test_call_at_algeciras_then_onward_east_is_one_transit(gates: GateSet) -> None:
    lon_in, lat_in = along((-6.2, LAT), (-5.43, 36.13), 20)
    lon_out, lat_out = along((-5.43, 36.13), (-4.8, 36.0), 16)
    lons = lon_in + [-5.43] * 36 + lon_out
    lats = lat_in + [36.13] * 36 + lat_out
    out = passages(track(201000005, lons, lats, minutes(len(lons))), gates)
    assert out[["direction", "gate"]].values.tolist() == [["eastbound", "inner"]]
    assert out.iloc[0].entered_at < T0 + pd.Timedelta(hours=4)
    assert out.iloc[0].crossed_at > T0 + pd.Timedelta(hours=9)


def test_loiterer_on_the_outer_gate_makes_no_passage(gates: GateSet) -> None:
    # drifts back and forth across the outer line ten times, then leaves west again
    approach = [-6.0 + 0.02 * i for i in range(10)]
    wobble = [-5.79 if i % 2 == 0 else -5.81 for i in range(20)]
    lons = approach + wobble + approach[::-1]
    frame = track(201000006, lons, LAT, minutes(len(lons)), sog=2.0)
    assert len(gate_crossings(build_track(frame), gates)) == 20
    assert passages(frame, gates).empty


def test_loiterer_on_the_inner_gate_after_passing_is_one_passage(gates: GateSet) -> None:
    lons = [-6.21 + 0.04 * i for i in range(23)]  # through both gates to 5.33 W... almost
    lons += [-5.29 if i % 2 == 0 else -5.31 for i in range(20)]  # wobbles on the inner line
    lons += [-5.25 + 0.04 * i for i in range(10)]  # then leaves east
    out = passages(track(201000007, lons, LAT, minutes(len(lons))), gates)
    assert out["direction"].tolist() == ["eastbound"]
    # timed by the first arrival on the Mediterranean side, not by the wobbles
    assert_at(out.iloc[0].crossed_at, 227.5)


def test_loiterer_on_a_single_line_gives_one_net_passage(gates: GateSet) -> None:
    # Taiwan Strait, one line; at 120.0 E it lies at 24.1333 N. 0.0333 degrees is 2 nm.
    line_lat = 24.0 + 0.2 * (1.0 / 1.5)
    south = [line_lat - 0.2 + 0.0333 * i for i in range(6)]  # approach from the south
    wobble = [line_lat + (0.01 if i % 2 == 0 else -0.01) for i in range(15)]
    north = [line_lat + 0.02 + 0.0333 * i for i in range(8)]
    lats = south + wobble + north
    out = passages(track(201000008, 120.0, lats, minutes(len(lats))), gates)
    assert out[["chokepoint_id", "direction"]].values.tolist() == [["taiwan", "northbound"]]
    # timed by the last crossing before it drew away north: between wobble 13 (south of the
    # line) and wobble 14 (north of it), half way
    assert_at(out.iloc[0].crossed_at, 10 * (6 + 13) + 5)
    assert out.iloc[0].confirmed_at > out.iloc[0].crossed_at

    back = south + wobble[:-1] + south[::-1]  # same, but it leaves south: no passage
    assert passages(track(201000009, 120.0, back, minutes(len(back))), gates).empty


def test_single_line_passage_is_confirmed_by_the_first_fix_beyond_the_band(
    gates: GateSet,
) -> None:
    line_lat = 24.0 + 0.2 * (1.0 / 1.5)
    lats = [line_lat - 0.105 + 0.01 * i for i in range(25)]  # 0.6 nm per fix, northbound
    out = passages(track(201000010, 120.0, lats, minutes(len(lats), 3.0)), gates)
    assert len(out) == 1
    # line between fix 10 and 11 (0.005 below/above); 2 nm = 0.0333 degrees: fix 14 is 0.035 N
    # of the line after being 0.105 S at fix 0
    assert_at(out.iloc[0].crossed_at, 31.5)
    assert out.iloc[0].confirmed_at == T0 + pd.Timedelta(minutes=42)


def test_passage_through_a_vertex_of_a_polyline_counts_once(gates: GateSet) -> None:
    # the Taiwan line bends at (120.5, 24.2)
    lats = [24.2 - 0.15 + 0.0333 * i for i in range(10)]
    out = gate_crossings(build_track(track(201000011, 120.5, lats, minutes(10))), gates)
    assert out[["gate", "sign"]].values.tolist() == [["main", 1]]


def test_dark_crossing_is_inferred_and_linked_to_its_gap(gates: GateSet) -> None:
    # silent from 6.0 W to 5.0 W for 8 hours (about 6 knots): both gates crossed in the dark
    lons = [-6.4, -6.2, -6.0, -5.0, -4.8, -4.6]
    mins = [0, 60, 120, 600, 660, 720]
    frame = track(201000012, lons, LAT, mins)
    track_ = build_track(frame)
    out = detect_crossings(track_, gates)[0]
    gaps = detect_gaps(track_)
    assert len(out) == 1 and len(gaps) == 1
    row = out.iloc[0]
    assert row.inferred and row.direction == "eastbound"
    assert row.gap_id == gaps.iloc[0].gap_id
    assert_at(row.crossed_at, 120 + 480 * 0.7)  # inner line at 70 % of the segment
    assert_at(row.entered_at, 120 + 480 * 0.2)
    assert row.prev_ts == T0 + pd.Timedelta(minutes=120)
    assert row.next_ts == T0 + pd.Timedelta(minutes=600)


def test_infeasible_dark_jump_crosses_nothing(gates: GateSet) -> None:
    # 4 degrees (194 nm) in 2 hours is 97 knots: the far fix and those after it are rejected
    lons = [-6.6, -6.5, -6.4, -2.4, -2.3]
    out = passages(track(201000013, lons, LAT, [0, 60, 120, 240, 300]), gates)
    assert out.empty


def test_spoofed_jump_across_the_strait_is_no_crossing(gates: GateSet) -> None:
    lons = [-6.5 + 0.02 * i for i in range(12)]
    lons[6] = -4.0  # one fix on the far side of both gates
    frame = track(201000014, lons, LAT, minutes(12))
    track_ = build_track(frame)
    assert list(track_.rejected) == [6]
    assert detect_crossings(track_, gates)[0].empty
    assert gate_crossings(track_, gates).empty


def test_antimeridian_hop_never_crosses_gibraltar(gates: GateSet) -> None:
    frame = track(201000015, [179.95, 179.98, -179.99, -179.96], LAT, minutes(4))
    track_ = build_track(frame)
    assert len(track_.rejected) == 0
    assert gate_crossings(track_, gates).empty


@pytest.mark.parametrize("lon", [179.9, -179.9])
def test_gate_across_the_antimeridian_is_crossed_on_both_sides(gates: GateSet, lon) -> None:
    lats = [9.8 + 0.05 * i for i in range(9)]
    out = passages(track(201000016, lon, lats, minutes(9)), gates)
    assert out[["chokepoint_id", "direction"]].values.tolist() == [["dateline", "northbound"]]
    assert_at(out.iloc[0].crossed_at, 40)


def test_half_suez_transit_that_turns_back_is_no_passage(gates: GateSet) -> None:
    north = [29.8 + 0.03 * i for i in range(25)]  # crosses the south gate (29.95 N) only
    lats = north + north[::-1]
    frame = track(201000017, 32.55, lats, minutes(len(lats)))
    assert len(gate_crossings(build_track(frame), gates)) == 2
    assert passages(frame, gates).empty


def test_full_suez_transit_northbound(gates: GateSet) -> None:
    lats = [29.8 + 0.1 * i for i in range(17)]  # 6 knots in 10-minute fixes... 1 hour apart
    out = passages(track(201000018, 32.55, lats, minutes(17, 60.0)), gates)
    assert out[["chokepoint_id", "direction", "gate"]].values.tolist() == [
        ["suez", "northbound", "north"]
    ]
    assert_at(out.iloc[0].crossed_at, 60 * 14.5)
    assert_at(out.iloc[0].entered_at, 60 * 1.5)


def test_there_and_back_is_two_passages_unless_deduplicated(gates: GateSet) -> None:
    east = eastbound()
    back = westbound().assign(mmsi=201000001, ts=lambda f: f["ts"] + pd.Timedelta(hours=30))
    frame = positions(east, back)
    assert passages(frame, gates)["direction"].tolist() == ["eastbound", "westbound"]
    deduped = passages(frame, gates, min_passage_interval_h=48.0)
    assert deduped["direction"].tolist() == ["eastbound"]


def test_passage_longer_than_the_limit_is_not_counted(gates: GateSet) -> None:
    # into the strait, eight days between the gates, then out east
    lons = [-6.0, -5.9, -5.6, -5.6, -5.2, -5.1]
    mins = [0, 60, 120, 120 + 8 * 1440, 180 + 8 * 1440, 240 + 8 * 1440]
    frame = track(201000019, lons, LAT, mins)
    assert passages(frame, gates).empty
    assert len(passages(frame, gates, max_passage_h=240.0)) == 1


def test_vessel_starting_inside_a_chokepoint_asks_for_history(gates: GateSet) -> None:
    lons = [-5.6 + 0.04 * i for i in range(12)]  # first fix between the Gibraltar gates
    out, wanted = detect_crossings(build_track(track(201000020, lons, LAT, minutes(12))), gates)
    assert out.empty
    assert list(wanted) == [201000020]


def test_gates_from_wkt_and_bad_gates() -> None:
    wkt = GATES.assign(wkt=[g.wkt for g in GATES["geometry"]]).drop(columns="geometry")
    assert len(GateSet.from_frames(CHOKEPOINTS, wkt)) == len(GATES)
    with pytest.raises(DetectionError, match=r"seq must be 1\.\.2"):
        GateSet.from_frames(CHOKEPOINTS, GATES.assign(seq=[1, 3, 1, 2, 1, 1]))
    with pytest.raises(DetectionError, match="suez/north: geometry must be a LineString"):
        bad = GATES.copy()
        bad.loc[3, "geometry"] = Point(32.5, 31.25)
        GateSet.from_frames(CHOKEPOINTS, bad)
    with pytest.raises(DetectionError, match="unknown chokepoint"):
        GateSet.from_frames(CHOKEPOINTS.iloc[1:], GATES)
    with pytest.raises(DetectionError, match="lon/lat degrees"):
        bad = GATES.copy()
        bad.loc[0, "geometry"] = LineString([(500000.0, 4000000.0), (500000.0, 4100000.0)])
        GateSet.from_frames(CHOKEPOINTS, bad)


def test_no_gates_no_crossings() -> None:
    out, wanted = detect_crossings(build_track(eastbound()), GateSet.empty())
    assert out.empty and len(wanted) == 0


def test_crossing_times_lie_between_their_bracketing_fixes(gates: GateSet) -> None:
    rng = np.random.default_rng(7)
    frames = []
    for k in range(30):
        n = 60
        lons = -6.4 + np.cumsum(rng.uniform(0.0, 0.06, n))
        lats = LAT + np.cumsum(rng.normal(0.0, 0.005, n))
        frames.append(track(201100000 + k, lons, lats, np.cumsum(rng.uniform(2, 20, n))))
    out = passages(positions(*frames), gates)
    assert len(out) > 20
    assert (out["prev_ts"] <= out["crossed_at"]).all()
    assert (out["crossed_at"] <= out["next_ts"]).all()
    assert (out["entered_at"] <= out["crossed_at"]).all()
    assert set(out["direction"]) == {"eastbound"}
