"""The simulated tracks: at sea, plausible speeds, and consistent with the planted truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from global_land_mask import globe
from scenario_helpers import haversine_nm

from pipeline.scenario.config import Scenario

SPARTA, SPARTA_II, SPARTA_IV, TRAWLER = 273351920, 273394890, 273413440, 273436180
UTC = "UTC"


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


def _exempt(scenario: Scenario, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Inside a port's radius of one of its berths, or inside a narrow fairway's corridor."""
    ok = np.zeros(len(lon), dtype=bool)
    for port in scenario.ports.values():
        for blon, blat in port.berths:
            ok |= haversine_nm(lat, lon, blat, blon) <= port.radius_nm
    for fairway in scenario.fairways.values():
        if not fairway.narrow:
            continue
        line = np.asarray(fairway.waypoints)
        kx = np.cos(np.radians(line[:, 1].mean())) * 111_120.0
        centre = shapely.LineString(np.column_stack([line[:, 0] * kx, line[:, 1] * 111_120.0]))
        points = shapely.points(lon * kx, lat * 111_120.0)
        ok |= shapely.distance(points, centre) <= fairway.half_width_m
    return ok


def test_every_fix_is_at_sea_except_in_ports_and_narrows(
    fixes: pd.DataFrame, scenario: Scenario
) -> None:
    lon, lat = fixes["LON"].to_numpy(), fixes["LAT"].to_numpy()
    land = globe.is_land(lat, lon)
    assert land.sum() > 0  # quays and canals are ashore on a 1 km mask: the exemptions matter
    ashore = land & ~_exempt(scenario, lon, lat)
    assert ashore.sum() == 0, fixes.loc[ashore, ["MMSI", "BaseDateTime", "LAT", "LON"]].head()


def test_speeds_between_fixes_are_plausible(fixes: pd.DataFrame) -> None:
    same = fixes["MMSI"].to_numpy()[1:] == fixes["MMSI"].to_numpy()[:-1]
    dt_h = np.diff(fixes["ts"].to_numpy()).astype("timedelta64[s]").astype(float)[same] / 3600
    dist = haversine_nm(
        fixes["LAT"].to_numpy()[:-1],
        fixes["LON"].to_numpy()[:-1],
        fixes["LAT"].to_numpy()[1:],
        fixes["LON"].to_numpy()[1:],
    )[same]
    assert (dt_h >= 60 / 3600).all()  # no duplicate or sub-minute fixes
    implied = dist / dt_h
    assert implied.max() < 20.0  # the fastest background ships do 19 kn
    assert fixes["SOG"].max() < 20.0
    mmsi = fixes["MMSI"].to_numpy()[1:][same]
    story = np.isin(mmsi, [SPARTA, SPARTA_II, SPARTA_IV, TRAWLER])
    assert implied[story].max() < 15.5  # the story's ships keep to their speed ranges
    assert (fixes.loc[fixes["MMSI"] == SPARTA, "SOG"] <= 15.5).all()


def test_reporting_intervals_follow_the_state(fixes: pd.DataFrame) -> None:
    sparta = fixes[fixes["MMSI"] == SPARTA]
    gaps = sparta["ts"].diff().dt.total_seconds().iloc[1:]
    status = sparta["Status"].iloc[1:]
    moored = gaps[(status == 5).to_numpy()]
    underway = gaps[((status == 0) & (sparta["SOG"].iloc[1:] > 5)).to_numpy()]
    # 6-12 min moored, 1-3 min under way (longer only across reception dropouts)
    assert moored.median() == pytest.approx(540, abs=60)
    assert underway.median() == pytest.approx(120, abs=20)
    assert (underway >= 60).all()
    assert (underway <= 180).mean() > 0.97


def test_sparta_and_sparta_ii_as_reported(truth: pd.DataFrame) -> None:
    story = truth[truth["mmsi"].isin([SPARTA, SPARTA_II])]
    passages = story[story["kind"] == "passage"]
    for mmsi in (SPARTA, SPARTA_II):
        mine = passages[passages["mmsi"] == mmsi].sort_values("started_at")
        assert list(zip(mine["place_id"], mine["direction"], strict=True)) == [
            ("sicily", "westbound"),
            ("gibraltar", "westbound"),
            ("english_channel", "eastbound"),
            ("dover", "northbound"),
            ("great_belt", "southbound"),
            ("fehmarn_belt", "eastbound"),
        ]
        assert not mine["inferred"].any()
    gib = passages[passages["place_id"] == "gibraltar"].set_index("mmsi")["started_at"]
    assert _ts("2025-02-09 05:45") <= gib[SPARTA_II] < gib[SPARTA] <= _ts("2025-02-09 06:15")
    entered = passages[passages["place_id"] == "gibraltar"].set_index("mmsi")["window_start"]
    assert (gib - entered).between(pd.Timedelta(hours=1), pd.Timedelta(hours=3)).all()
    dover = passages[passages["place_id"] == "dover"].set_index("mmsi")["started_at"]
    assert (dover.dt.strftime("%Y-%m-%d") == "2025-02-13").all()

    calls = story[story["kind"] == "port_call"].set_index(["mmsi", "place_id"])
    assert calls.loc[(SPARTA_II, "SYTTS"), "started_at"] == _ts("2025-01-21 09:00")
    assert calls.loc[(SPARTA_II, "SYTTS"), "ended_at"] == _ts("2025-01-25 04:00")
    assert calls.loc[(SPARTA, "SYTTS"), "ended_at"] == _ts("2025-01-26 07:00")
    assert calls.loc[(SPARTA, "RULED"), "started_at"] == _ts("2025-02-21 16:00")
    assert pd.isna(calls.loc[(SPARTA, "RULED"), "ended_at"])  # still there at the end
    arrived = calls.loc[(SPARTA_II, "RUBLT"), "started_at"]
    assert _ts("2025-02-16") <= arrived < _ts("2025-02-18")

    gap = story[story["kind"] == "ais_gap"]
    assert gap["mmsi"].tolist() == [SPARTA]
    assert _ts("2025-02-01 13:45") <= gap["started_at"].iloc[0] < _ts("2025-02-01 14:00")
    assert _ts("2025-02-02 08:00") <= gap["ended_at"].iloc[0] < _ts("2025-02-02 08:15")


def test_decoys_never_go_where_the_report_says(truth: pd.DataFrame, fixes: pd.DataFrame) -> None:
    iv = fixes[fixes["MMSI"] == SPARTA_IV]
    assert iv["LAT"].between(54.3, 60.5).all() and iv["LON"].between(18.5, 30.5).all()
    trawler = fixes[fixes["MMSI"] == TRAWLER]
    assert trawler["LAT"].min() > 69.5 and trawler["VesselType"].eq(30).all()
    assert trawler["Status"].eq(7).mean() > 0.8  # fishing most of the time
    decoys = truth[truth["mmsi"].isin([SPARTA_IV, TRAWLER])]
    assert set(decoys["kind"]) == {"port_call"}
    iv_calls = decoys.sort_values("started_at")["place_id"].tolist()
    assert iv_calls == ["RUBLT", "RULED", "RUBLT", "RULED", "RUBLT", "RULED", "RUBLT"]


def _left_of(line, fix: pd.Series) -> bool:
    """Whether a fix lies left of a line walked from its first point to its last."""
    (x0, y0), (x1, y1) = line[0], line[-1]
    return (x1 - x0) * (fix["LAT"] - y0) - (y1 - y0) * (fix["LON"] - x0) > 0


def test_planted_passages_are_where_the_fixes_cross(
    truth: pd.DataFrame, fixes: pd.DataFrame, scenario: Scenario
) -> None:
    """Each passage: the fixes just before and after its time lie on either side of its last
    gate, on the side its direction says; a dark one has no fix while it crosses the gates."""
    by_mmsi = dict(tuple(fixes.groupby("MMSI")))
    passages = truth[truth["kind"] == "passage"]
    assert len(passages) > 40
    for ev in passages.itertuples(index=False):
        cp = scenario.chokepoints[ev.place_id]
        track = by_mmsi[ev.mmsi]
        # a fix seconds from the line may lie on either side of it by GPS noise (8 m): take
        # the fixes at least half a minute away (over 100 m at 8 kn)
        margin = pd.Timedelta(seconds=30)
        before = track[track["ts"] < ev.started_at - margin].iloc[-1]
        after = track[track["ts"] > ev.started_at + margin].iloc[0]
        # the passage completes on the last gate it crosses
        first_way = ev.direction == cp.first_direction
        last_gate = cp.gates[-1] if first_way else cp.gates[0]
        assert _left_of(last_gate, before) != _left_of(last_gate, after), ev
        assert _left_of(last_gate, before) == first_way, ev
        if ev.inferred:
            during = track[(track["ts"] >= ev.window_start) & (track["ts"] <= ev.window_end)]
            assert during.empty, ev
            assert (after["ts"] - before["ts"]) > pd.Timedelta(hours=6)
        else:
            assert (after["ts"] - before["ts"]) < pd.Timedelta(minutes=60), ev


def test_planted_port_calls_and_gaps_are_in_the_fixes(
    truth: pd.DataFrame, fixes: pd.DataFrame, scenario: Scenario
) -> None:
    by_mmsi = dict(tuple(fixes.groupby("MMSI")))
    calls = truth[truth["kind"] == "port_call"]
    assert len(calls) >= 12
    for ev in calls.itertuples(index=False):
        track = by_mmsi[ev.mmsi]
        end = ev.ended_at if not pd.isna(ev.ended_at) else pd.Timestamp.max.tz_localize(UTC)
        stay = track[(track["ts"] >= ev.started_at) & (track["ts"] < end)]
        assert len(stay) > 5, ev
        port = scenario.ports[ev.place_id]
        near = np.min(
            [haversine_nm(stay["LAT"], stay["LON"], b[1], b[0]) for b in port.berths], axis=0
        )
        assert (near < 0.1).all(), ev
        assert (stay["SOG"] <= 0.1).all() and (stay["Status"] == 5).all(), ev
    gaps = truth[truth["kind"] == "ais_gap"]
    assert len(gaps) == 3  # SPARTA's dark day and the two dark passages
    for ev in gaps.itertuples(index=False):
        track = by_mmsi[ev.mmsi]
        assert (track["ts"] == ev.started_at).any() and (track["ts"] == ev.ended_at).any()
        inside = track[(track["ts"] > ev.started_at) & (track["ts"] < ev.ended_at)]
        assert inside.empty, ev
        assert ev.ended_at - ev.started_at > pd.Timedelta(hours=6)


def test_background_uses_every_strait_both_ways(truth: pd.DataFrame) -> None:
    bg = truth[(truth["role"] == "background") & (truth["kind"] == "passage")]
    seen = set(zip(bg["place_id"], bg["direction"], strict=True))
    assert {("gibraltar", "eastbound"), ("gibraltar", "westbound")} <= seen
    assert {("dover", "northbound"), ("dover", "southbound")} <= seen
    for cid in ("suez", "bosphorus", "dardanelles", "great_belt", "fehmarn_belt", "oresund"):
        assert any(c == cid for c, _ in seen), cid
    assert bg["inferred"].sum() == 2
    assert set(bg.loc[bg["inferred"], "place_id"]) == {"gibraltar", "dover"}
    calls = truth[(truth["role"] == "background") & (truth["kind"] == "port_call")]
    assert set(calls["place_id"]) == {"ESALG"}
