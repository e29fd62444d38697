"""Port calls: arrival and departure fixes, slowness, hysteresis, gaps, open calls, overlaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.geo.port_calls import PortSet, calls_from_visits, detect_port_calls, port_visits
from pipeline.geo.tracks import DetectionError, build_track

from .conftest import PORTS, T0, along, track

PSD = (32.30, 31.26)  # Port Said, radius 4 nm: 0.0667 degree of latitude


def visit(mmsi: int, stay: int, *, leave: bool = True, every: float = 10.0, **kw) -> pd.DataFrame:
    """From 0.3 degree south of Port Said in 10 steps, `stay` fixes stopped at the port, out."""
    lon_in, lat_in = along((PSD[0], PSD[1] - 0.3), PSD, 10)
    lons = lon_in + [PSD[0]] * stay + (lon_in[::-1] if leave else [])
    lats = lat_in + [PSD[1]] * stay + (lat_in[::-1] if leave else [])
    sog = [12.0] * 9 + [0.0] * (stay + 2) + ([12.0] * 9 if leave else [])
    sog = sog[: len(lons)]
    return track(mmsi, lons, lats, [every * i for i in range(len(lons))], sog=sog, **kw)


def calls(frame: pd.DataFrame, ports: PortSet, **kw) -> pd.DataFrame:
    return detect_port_calls(build_track(frame), ports, **kw)


def test_call_with_arrival_and_departure_fixes(ports: PortSet) -> None:
    out = calls(visit(1, 30), ports)
    assert len(out) == 1
    c = out.iloc[0]
    assert c.port_id == "EGPSD"
    # 0.3 degree in 9 steps: fix 8 is 0.0333 degree (2 nm) out, fix 7 is 4.0003 nm out, just
    # beyond the 4 nm radius. Out again, fix 42 is 4 nm away, still within the exit radius
    # (6 nm), fix 43 is 6.0004 nm: the last fix inside is 42.
    assert c.arrived_at == T0 + pd.Timedelta(minutes=80)
    assert c.departed_at == T0 + pd.Timedelta(minutes=420)
    assert not c.ended_by_gap and not c.track_start
    assert c.last_seen_at == c.departed_at
    assert c.slow_h == pytest.approx(31 * 10 / 60)
    assert c.min_distance_nm == pytest.approx(0.0)


def test_passing_through_at_speed_is_no_call(ports: PortSet) -> None:
    frame = visit(1, 30).assign(sog=12.0)
    assert calls(frame, ports).empty


def test_short_stop_is_no_call(ports: PortSet) -> None:
    assert calls(visit(1, 6), ports).empty  # 70 minutes stopped < 2 hours
    assert len(calls(visit(1, 6), ports, min_slow_h=1.0)) == 1


def test_missing_sog_uses_implied_speed(ports: PortSet) -> None:
    frame = visit(1, 30).assign(sog=np.nan)
    assert len(calls(frame, ports)) == 1


def test_drifting_at_the_edge_makes_one_call(ports: PortSet) -> None:
    # stopped 3.9 to 4.5 nm from the port for ten hours: in and out of the 4 nm radius but
    # always within the 6 nm exit radius
    north = [PSD[1] + (3.9 if i % 2 == 0 else 4.5) / 60.0 for i in range(60)]
    frame = track(2, PSD[0], north, [10.0 * i for i in range(60)], sog=0.3)
    out = calls(frame, ports)
    assert len(out) == 1
    assert out.iloc[0].arrived_at == T0
    assert out.iloc[0].departed_at is pd.NaT or pd.isna(out.iloc[0].departed_at)


def test_call_ending_in_a_gap_departs_at_last_fix_inside(ports: PortSet) -> None:
    frame = visit(3, 30)
    # silent for 10 hours after the last stopped fix, next seen far outside
    cut = 10 + 30
    frame.loc[cut:, "ts"] = frame.loc[cut:, "ts"] + pd.Timedelta(hours=10)
    frame = frame.drop(index=range(cut, cut + 5)).reset_index(drop=True)
    out = calls(frame, ports)
    assert len(out) == 1
    c = out.iloc[0]
    assert c.ended_by_gap
    assert c.departed_at == T0 + pd.Timedelta(minutes=10 * (cut - 1))


def test_gap_while_still_in_port_does_not_end_the_call(ports: PortSet) -> None:
    frame = visit(4, 30)
    frame.loc[25:, "ts"] = frame.loc[25:, "ts"] + pd.Timedelta(days=2)
    out = calls(frame, ports)
    assert len(out) == 1 and not out.iloc[0].ended_by_gap
    assert out.iloc[0].departed_at == T0 + pd.Timedelta(days=2, minutes=420)


def test_call_still_open_at_the_end_of_the_track(ports: PortSet) -> None:
    out = calls(visit(5, 30, leave=False), ports)
    assert len(out) == 1
    c = out.iloc[0]
    assert pd.isna(c.departed_at)
    assert c.last_seen_at == T0 + pd.Timedelta(minutes=10 * 39)


def test_track_starting_in_port_is_marked(ports: PortSet) -> None:
    frame = visit(6, 30).iloc[12:].reset_index(drop=True)
    out = calls(frame, ports)
    assert out["track_start"].tolist() == [True]


def test_overlapping_ports_keep_one_call(ports: PortSet) -> None:
    # Algeciras (3 nm) and Gibraltar (2 nm) circles overlap; stopped between both centres
    spot = (-5.40, 36.135)
    frame = track(7, spot[0], spot[1], [10.0 * i for i in range(30)], sog=0.0)
    out = calls(frame, ports)
    assert out["port_id"].tolist() == ["ESALG"]


def test_bad_ports_raise() -> None:
    with pytest.raises(DetectionError, match="ESALG"):
        PortSet.from_frame(PORTS.assign(radius_nm=[0.0, 2.0, 4.0]))
    with pytest.raises(DetectionError, match="lacks column"):
        PortSet.from_frame(PORTS.drop(columns="radius_nm"))
    assert len(PortSet.empty()) == 0


def test_carried_call_continues_from_its_last_fix(ports: PortSet) -> None:
    frame = visit(8, 60)
    whole = calls(frame, ports).iloc[0]
    # an earlier run saw fixes up to 30 (inside, stopped) and wrote the call as open
    first = calls(frame.iloc[:31], ports).iloc[0]
    assert pd.isna(first.departed_at)
    carried = pd.DataFrame([first])[
        ["mmsi", "port_id", "arrived_at", "last_seen_at", "slow_h", "min_distance_nm"]
    ]
    # this run reads from fix 25 only: without the carried state the stay would start here
    rest = frame.iloc[25:].reset_index(drop=True)
    assert calls(rest, ports)["track_start"].tolist() == [True]
    track_ = build_track(rest)
    visits = port_visits(track_, ports, carried=carried)
    out = calls_from_visits(visits)
    assert len(out) == 1
    c = out.iloc[0]
    assert (c.port_call_id, c.arrived_at, c.departed_at) == (
        whole.port_call_id, whole.arrived_at, whole.departed_at,
    )  # fmt: skip
    assert c.slow_h == whole.slow_h  # exact: slow time is summed in microseconds
    assert not c.track_start
