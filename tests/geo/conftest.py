"""Fixtures for the detection tests: gates drawn by hand in the documented gates format, ports,
track builders, and a database holding them.

The gates here are simple lines placed where the real ones are (Gibraltar with an outer and an
inner gate and Algeciras between them, a two-gate Suez Canal, a one-line Taiwan Strait, a line
across the antimeridian), so that every expected time can be worked out by hand.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from shapely import LineString

from pipeline import db
from pipeline.geo.crossings import GateSet
from pipeline.geo.port_calls import PortSet

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures"

T0 = pd.Timestamp("2024-03-05T00:00:00Z")

# side_a lies left of each line walking from its first vertex to its last
CHOKEPOINTS = pd.DataFrame(
    {
        "chokepoint_id": ["gibraltar", "suez", "taiwan", "dateline"],
        "name": ["Strait of Gibraltar", "Suez Canal", "Taiwan Strait", "Test line on 180"],
        "kind": ["strait", "canal", "strait", "strait"],
        "first_direction": ["eastbound", "northbound", "northbound", "northbound"],
        "second_direction": ["westbound", "southbound", "southbound", "southbound"],
    }
)
GATES = pd.DataFrame(
    {
        "chokepoint_id": ["gibraltar", "gibraltar", "suez", "suez", "taiwan", "dateline"],
        "gate": ["outer", "inner", "south", "north", "main", "main"],
        "seq": [1, 2, 1, 2, 1, 1],
        "geometry": [
            # walking north, west (the Atlantic, side A) is on the left
            LineString([(-5.8, 35.7), (-5.8, 36.3)]),
            LineString([(-5.3, 35.8), (-5.3, 36.3)]),
            # walking west, south (the Red Sea, side A) is on the left
            LineString([(32.8, 29.95), (32.2, 29.95)]),
            LineString([(32.8, 31.25), (32.2, 31.25)]),
            LineString([(121.5, 24.0), (120.5, 24.2), (119.0, 24.0)]),
            LineString([(-179.5, 10.0), (179.5, 10.0)]),
        ],
        "side_a": ["Atlantic", "Atlantic", "Red Sea", "Red Sea", "South China Sea", "south"],
        "side_b": ["Mediterranean", "Mediterranean", "Mediterranean", "Mediterranean",
                   "East China Sea", "north"],
    }
)  # fmt: skip
PORTS = pd.DataFrame(
    {
        "port_id": ["ESALG", "GIGIB", "EGPSD"],
        "name": ["Algeciras", "Gibraltar", "Port Said"],
        "country": ["ES", "GI", "EG"],
        "lat": [36.13, 36.14, 31.26],
        "lon": [-5.43, -5.36, 32.30],
        "radius_nm": [3.0, 2.0, 4.0],
    }
)


@pytest.fixture(scope="session")
def gates() -> GateSet:
    return GateSet.from_frames(CHOKEPOINTS, GATES)


@pytest.fixture(scope="session")
def ports() -> PortSet:
    return PortSet.from_frame(PORTS)


def track(
    mmsi: int,
    lons: Sequence[float],
    lats: Sequence[float],
    minutes: Sequence[float],
    *,
    sog: float | Sequence[float] = 12.0,
    t0: pd.Timestamp = T0,
) -> pd.DataFrame:
    """A positions frame for one vessel: fixes at t0 + minutes."""
    n = len(minutes)
    return pd.DataFrame(
        {
            "mmsi": np.full(n, mmsi, dtype=np.int64),
            "ts": t0 + pd.to_timedelta(np.asarray(minutes, dtype=float), unit="min"),
            "lat": np.broadcast_to(np.asarray(lats, dtype=float), (n,)).copy(),
            "lon": np.broadcast_to(np.asarray(lons, dtype=float), (n,)).copy(),
            "sog": np.broadcast_to(np.asarray(sog, dtype=float), (n,)).copy(),
            "cog": np.nan,
            "heading": pd.array([pd.NA] * n, dtype="Int16"),
            "nav_status": pd.array([0] * n, dtype="Int16"),
        }
    )


def positions(*frames: pd.DataFrame) -> pd.DataFrame:
    return (
        pd.concat(frames, ignore_index=True)
        .sort_values(["mmsi", "ts"], kind="stable")
        .reset_index(drop=True)
    )


def along(start: tuple[float, float], stop: tuple[float, float], n: int) -> tuple[list, list]:
    """n evenly spaced (lon, lat) points from start to stop, as two lists."""
    f = np.linspace(0.0, 1.0, n)
    return (
        list(start[0] + (stop[0] - start[0]) * f),
        list(start[1] + (stop[1] - start[1]) * f),
    )


# --------------------------------------------------------------------------- database

ADMIN_URL = os.environ.get(
    "STRAITWATCH_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# what these tests write; emptied before each test of the shared database
_TABLES = (
    "chokepoints", "chokepoint_gates", "ports", "positions", "ingested_files",
    "rejected_records", "vessel_identity", "voyage_reports", "ais_gaps",
    "chokepoint_crossings", "port_calls", "flagged_positions", "detect_runs",
)  # fmt: skip


@pytest.fixture(scope="session")
def geo_db_url(databases) -> str:
    """One migrated database for the whole detection suite (creating one per test costs more
    than the tests)."""
    name = databases.create(template=databases.migrated_template())
    return psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=name)


@pytest.fixture
def db_url(geo_db_url: str) -> str:
    """The suite's database, emptied (overrides the per-test database of tests/conftest.py)."""
    with db.connect(geo_db_url) as c:
        # detect's track lines exist only with PostGIS
        tracks = db.scalar(c, "SELECT to_regclass('straitwatch.vessel_daily_tracks')")
        tables = _TABLES + (("vessel_daily_tracks",) if tracks else ())
        c.execute(
            "TRUNCATE "
            + ", ".join(f"straitwatch.{t}" for t in tables)
            + " RESTART IDENTITY CASCADE"
        )
    return geo_db_url


def load_reference(conn: psycopg.Connection) -> None:
    """Write the test gates and ports into the reference tables."""
    db.copy_frame(conn, "straitwatch.chokepoints", CHOKEPOINTS)
    gates = GATES.assign(wkt=[g.wkt for g in GATES["geometry"]]).drop(columns="geometry")
    db.copy_frame(conn, "straitwatch.chokepoint_gates", gates)
    db.copy_frame(conn, "straitwatch.ports", PORTS)
    conn.commit()


def load_positions(conn: psycopg.Connection, frame: pd.DataFrame, path: str = "test") -> None:
    """Store positions as a loader would: an ingested_files row, day partitions, COPY."""
    file_id = conn.execute(
        "INSERT INTO straitwatch.ingested_files (path, sha256, format, rows_read, rows_loaded, "
        "rows_rejected) VALUES (%s, md5(%s || clock_timestamp()::text), 'csv', %s, %s, 0) "
        "RETURNING file_id",
        (path, path, len(frame), len(frame)),
    ).fetchone()[0]
    days = {date(t.year, t.month, t.day) for t in frame["ts"].dt.tz_convert("UTC")}
    db.ensure_position_partitions(conn, days)
    db.copy_frame(
        conn,
        "straitwatch.positions",
        frame.assign(file_id=file_id),
        ["mmsi", "ts", "lat", "lon", "sog", "cog", "heading", "nav_status", "file_id"],
    )
    conn.commit()


@pytest.fixture
def ref_conn(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """A migrated database with the test gates and ports loaded."""
    load_reference(conn)
    yield conn
