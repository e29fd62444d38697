"""Detection on the real Danish Maritime Authority samples (tests/fixtures/dma_*.csv).

The samples are snapshots: one or two fixes per vessel at the same second, plus one vessel
(265410000) seen on both days, 8 February and 1 June 2018, in the Kattegat and the Danish
straits. They allow no passage or port call (a single fix crosses nothing and stays nowhere);
they do exercise the core on real coordinates against the real gates and ports of seeds/, and
give one real AIS gap to check exactly.
The files are read minimally here (the ingest readers own the full format): not-available
positions (91/181) and non-ship MMSIs dropped, one fix per vessel and second kept.
"""

from __future__ import annotations

import pandas as pd
import psycopg
import pytest

from pipeline.geo.crossings import GateSet
from pipeline.geo.detect import detect_events, detect_window
from pipeline.geo.distance import haversine_nm
from pipeline.geo.geofences import load_gates
from pipeline.geo.port_calls import PortSet
from pipeline.geo.ports import load_ports
from pipeline.geo.reference import load_reference
from pipeline.vessels import is_ship_mmsi

from .conftest import FIXTURES_DIR, load_positions


def read_dma(name: str) -> pd.DataFrame:
    raw = pd.read_csv(FIXTURES_DIR / name)
    raw = raw.drop(columns=[c for c in raw.columns if c.startswith("Unnamed")])
    frame = pd.DataFrame(
        {
            "mmsi": raw["MMSI"].astype("int64"),
            "ts": pd.to_datetime(raw["# Timestamp"], format="%d/%m/%Y %H:%M:%S", utc=True),
            "lat": raw["Latitude"].astype(float),
            "lon": raw["Longitude"].astype(float),
            "sog": raw["SOG"].astype(float),
            "cog": raw["COG"].astype(float),
            "heading": pd.array(raw["Heading"].where(raw["Heading"] < 360), dtype="Int16"),
            "nav_status": pd.array([pd.NA] * len(raw), dtype="Int16"),
        }
    )
    usable = (frame["lat"].abs() <= 90) & (frame["lon"].abs() <= 180)
    usable &= is_ship_mmsi(frame["mmsi"])
    return frame[usable].drop_duplicates(["mmsi", "ts"])


@pytest.fixture(scope="module")
def dma() -> pd.DataFrame:
    frame = pd.concat(
        [read_dma("dma_aisdk_2018-02-08_sample.csv"), read_dma("dma_aisdk_2018-06-01_head.csv")]
    )
    return frame.sort_values(["mmsi", "ts"]).reset_index(drop=True)


def test_dma_samples_give_the_one_real_gap(dma: pd.DataFrame) -> None:
    assert len(dma) > 100
    gates = GateSet.from_frames(*load_gates())
    events = detect_events(dma, gates, PortSet.from_frame(load_ports()))
    assert events.crossings.empty and events.port_calls.empty and events.flagged.empty
    assert events.gaps["mmsi"].tolist() == [265410000]
    gap = events.gaps.iloc[0]
    assert gap.started_at == pd.Timestamp("2018-02-08T00:00:00Z")
    assert gap.ended_at == pd.Timestamp("2018-06-01T00:00:00Z")
    expected = haversine_nm(57.677495, 11.805937, 57.568527, 11.405288)
    assert gap.distance_nm == pytest.approx(expected)
    assert 13.0 < gap.distance_nm < 14.5
    assert gap.implied_speed_kn == pytest.approx(expected / (113 * 24))


def test_dma_samples_through_the_database(conn: psycopg.Connection, dma: pd.DataFrame) -> None:
    load_reference(conn)
    load_positions(conn, dma, "dma")
    result = detect_window(conn)
    assert (result.vessels, result.positions) == (dma["mmsi"].nunique(), len(dma))
    assert (result.ais_gaps, result.chokepoint_crossings, result.port_calls) == (1, 0, 0)
    again = detect_window(conn)
    assert again.ais_gaps == 1
    assert conn.execute("SELECT count(*) FROM straitwatch.ais_gaps").fetchone()[0] == 1
