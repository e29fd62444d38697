"""Detection on the real gate lines and ports of seeds/ (as `straitwatch load-reference` loads
them), with tracks whose expected events are worked out independently of the core."""

from __future__ import annotations

import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely

from pipeline.geo.crossings import GateSet, detect_crossings
from pipeline.geo.detect import detect_events, detect_window
from pipeline.geo.geofences import load_gates
from pipeline.geo.port_calls import PortSet
from pipeline.geo.ports import load_ports
from pipeline.geo.reference import load_reference
from pipeline.geo.tracks import build_track

from .conftest import T0, load_positions, positions, track


@pytest.fixture(scope="module")
def seeds() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    chokepoints, gates = load_gates()
    return chokepoints, gates, load_ports()


@pytest.fixture(scope="module")
def real_gates(seeds) -> GateSet:
    return GateSet.from_frames(seeds[0], seeds[1])


@pytest.fixture(scope="module")
def real_ports(seeds) -> PortSet:
    return PortSet.from_frame(seeds[2])


def along_line(coords: np.ndarray, step_deg: float = 0.005, extend_nm: float = 20.0) -> np.ndarray:
    """Points every step_deg along a polyline extended by extend_nm at both ends."""

    def beyond(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        d = (p - q) / np.hypot(*(p - q))
        return p + d * np.array([1 / np.cos(np.radians(p[1])), 1.0]) * extend_nm / 60.0

    path = np.vstack([beyond(coords[0], coords[1]), coords, beyond(coords[-1], coords[-2])])
    line = shapely.LineString(path)
    n = max(50, int(line.length / step_deg))
    return shapely.get_coordinates(line.interpolate(np.linspace(0.0, 1.0, n), normalized=True))


def test_every_chokepoint_along_its_fairway_both_ways(seeds, real_gates: GateSet) -> None:
    chokepoints = seeds[0]
    frames, expected = [], {}
    for i, cp in enumerate(chokepoints.itertuples()):
        points = along_line(np.asarray(cp.fairway.coords))
        for k, (pts, direction) in enumerate(
            ((points, cp.first_direction), (points[::-1], cp.second_direction))
        ):
            mmsi = 300_000_000 + 2 * i + k
            frames.append(track(mmsi, pts[:, 0], pts[:, 1], np.arange(len(pts), dtype=float)))
            expected[mmsi] = (cp.chokepoint_id, direction)
    out = detect_crossings(build_track(positions(*frames)), real_gates)[0]
    got = {m: (c, d) for m, c, d in out[["mmsi", "chokepoint_id", "direction"]].itertuples(False)}
    assert len(out) == len(expected) == 2 * len(chokepoints)
    assert got == expected
    assert (out["prev_ts"] <= out["crossed_at"]).all() and (
        out["crossed_at"] <= out["next_ts"]
    ).all()
    assert (out["entered_at"] <= out["crossed_at"]).all()


def expected_crossing(frame: pd.DataFrame, gate: shapely.LineString) -> pd.Timestamp:
    """The time a track crosses a line, by Shapely on each segment and linear interpolation."""
    for i in range(1, len(frame)):
        a, b = frame.iloc[i - 1], frame.iloc[i]
        segment = shapely.LineString([(a.lon, a.lat), (b.lon, b.lat)])
        hit = segment.intersection(gate)
        if not hit.is_empty:
            x, y = shapely.get_coordinates(hit)[0]
            f = np.hypot(x - a.lon, y - a.lat) / segment.length
            return a.ts + (b.ts - a.ts) * f
    raise AssertionError("the track does not cross the gate")


def gibraltar_gate(seeds, name: str) -> shapely.LineString:
    gates = seeds[1]
    row = gates[(gates["chokepoint_id"] == "gibraltar") & (gates["gate"] == name)]
    return row["geometry"].iloc[0]


def test_gibraltar_both_ways_to_the_second(seeds, real_gates: GateSet) -> None:
    lons = np.arange(-6.4, -4.8, 0.043)  # about 2 nm steps every 10 minutes: 12.6 knots
    east = track(201000101, lons, 35.96, np.arange(len(lons)) * 10.0)
    west = track(201000102, lons[::-1], 35.96, np.arange(len(lons)) * 10.0)
    out = detect_crossings(build_track(positions(east, west)), real_gates)[0]
    assert out[["mmsi", "direction", "gate"]].values.tolist() == [
        [201000101, "eastbound", "inner"],
        [201000102, "westbound", "outer"],
    ]
    for row, frame, last, first in (
        (out.iloc[0], east, "inner", "outer"),
        (out.iloc[1], west, "outer", "inner"),
    ):
        for actual, gate in ((row.crossed_at, last), (row.entered_at, first)):
            expected = expected_crossing(frame, gibraltar_gate(seeds, gate))
            assert abs(actual - expected) < pd.Timedelta(milliseconds=1)
            assert actual.floor("s") == expected.floor("s")


def test_call_at_algeciras_is_not_a_transit(seeds, real_gates, real_ports) -> None:
    ports = seeds[2].set_index("port_id")
    port = (ports.loc["ESALG", "lon"], ports.loc["ESALG", "lat"])
    # in from the Atlantic through the outer gate, 12 hours stopped at Algeciras, back out
    approach = np.linspace([-6.5, 35.95], port, 30)
    lonlat = np.vstack([approach, np.repeat([port], 72, axis=0), approach[::-1]])
    sog = np.r_[np.full(29, 12.0), np.zeros(74), np.full(29, 12.0)]
    frame = track(201000103, lonlat[:, 0], lonlat[:, 1], np.arange(len(lonlat)) * 10.0, sog=sog)
    events = detect_events(frame, real_gates, real_ports)
    assert events.crossings.empty
    assert events.port_calls["port_id"].tolist() == ["ESALG"]
    call = events.port_calls.iloc[0]
    assert call.slow_h == pytest.approx(73 * 10 / 60)
    assert not call.ended_by_gap and pd.notna(call.departed_at)


def test_half_suez_transit_that_turns_back(seeds, real_gates: GateSet) -> None:
    chokepoints = seeds[0].set_index("chokepoint_id")
    points = along_line(np.asarray(chokepoints.loc["suez", "fairway"].coords))
    half = points[: len(points) // 2]
    pts = np.vstack([half, half[::-1]])
    frame = track(201000104, pts[:, 0], pts[:, 1], np.arange(len(pts), dtype=float))
    assert detect_crossings(build_track(frame), real_gates)[0].empty
    full = track(201000105, points[:, 0], points[:, 1], np.arange(len(points), dtype=float))
    out = detect_crossings(build_track(full), real_gates)[0]
    assert out[["chokepoint_id", "direction"]].values.tolist() == [["suez", "northbound"]]


def test_reference_tables_drive_detect_window(conn: psycopg.Connection) -> None:
    load_reference(conn)
    lons = np.arange(-6.4, -4.8, 0.043)
    load_positions(conn, track(201000106, lons, 35.96, np.arange(len(lons)) * 10.0))
    result = detect_window(conn)
    assert result.gates > 50 and result.ports > 1000
    rows = conn.execute(
        "SELECT chokepoint_id, direction, gate FROM straitwatch.chokepoint_crossings"
    ).fetchall()
    assert rows == [("gibraltar", "eastbound", "inner")]
    assert str(T0.year) in str(result)
