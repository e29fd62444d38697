"""Fixtures for the reports tests: reference rows and builders for the event rows the matcher reads.

The reference rows are inserted here (not loaded from seeds/) so these tests do not depend on the
geofence seeds: ports are the NGA World Port Index rows of data/ports_of_interest.csv, Gibraltar
and Dover get one gate line each, drawn by the docs/architecture.md convention (side_a on the
left walking the line).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest

from pipeline import db
from pipeline.reports.gazetteer import (
    CHOKEPOINT_COLUMNS,
    Gazetteer,
    read_destination_aliases,
    read_port_groups,
)

DATA = Path(__file__).parent / "data"

CHOKEPOINTS = pd.DataFrame(
    [
        (
            "gibraltar",
            "Strait of Gibraltar",
            "strait",
            "eastbound",
            "westbound",
            ["Gibraltar Strait"],
            35.94227,
            -5.75490,
        ),
        (
            "dover",
            "Strait of Dover",
            "strait",
            "northbound",
            "southbound",
            ["Dover Strait", "Pas de Calais"],
            51.03022,
            1.50584,
        ),
    ],
    columns=CHOKEPOINT_COLUMNS,
)
GATES = pd.DataFrame(
    [
        # walking north across the strait: the Atlantic (side_a) is on the left, to the west
        ("gibraltar", "main", 1, "LINESTRING(-5.6 35.7, -5.6 36.15)", "Atlantic", "Mediterranean"),
        # drawn from France to England: walking north-west, the Channel (south-west) is on the left
        ("dover", "main", 1, "LINESTRING(1.75 50.95, 1.25 51.15)", "English Channel", "North Sea"),
    ],
    columns=["chokepoint_id", "gate", "seq", "wkt", "side_a", "side_b"],
)


def ports_frame() -> pd.DataFrame:
    wpi = pd.read_csv(DATA / "ports_of_interest.csv")
    wpi["port_id"] = wpi["UN/LOCODE"].str.replace(" ", "", regex=False)
    wpi = wpi.drop_duplicates("port_id")
    alternates = (
        wpi["Alternate Port Name"]
        .fillna("")
        .str.strip()
        .str.split(r"\s*;\s*")
        .map(lambda names: [n for n in names if n])
    )
    return pd.DataFrame(
        {
            "port_id": wpi["port_id"],
            "name": wpi["Main Port Name"],
            "alternate_names": alternates,
            "country": wpi["port_id"].str[:2],
            "lat": wpi["Latitude"],
            "lon": wpi["Longitude"],
            "radius_nm": 3.0,
        }
    ).reset_index(drop=True)


@pytest.fixture(scope="session")
def gazetteer() -> Gazetteer:
    return Gazetteer.build(
        ports_frame(), CHOKEPOINTS, GATES, read_port_groups(), read_destination_aliases()
    )


def insert_reference(conn: psycopg.Connection) -> None:
    ports = ports_frame()
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO straitwatch.ports (port_id, name, alternate_names, country, lat, lon,
                                             radius_nm) VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            list(ports.itertuples(index=False, name=None)),
        )
        cur.executemany(
            """INSERT INTO straitwatch.chokepoints (chokepoint_id, name, kind, first_direction,
                   second_direction, aliases, ref_lat, ref_lon)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
            list(CHOKEPOINTS.itertuples(index=False, name=None)),
        )
        cur.executemany(
            """INSERT INTO straitwatch.chokepoint_gates (chokepoint_id, gate, seq, wkt, side_a,
                   side_b) VALUES (%s, %s, %s, %s, %s, %s)""",
            list(GATES.itertuples(index=False, name=None)),
        )
    conn.commit()


_DATA_TABLES = (
    "reported_departures, departure_matches, vessel_identity, voyage_reports, positions, "
    "port_calls, chokepoint_crossings, ais_gaps, rejected_records, ingested_files"
)


@pytest.fixture(scope="session")
def reports_db_url(databases) -> str:
    """One migrated database with the reference rows for the whole reports session.

    Creating a database per test costs seconds on a busy server; the tests empty the data
    tables instead (`ref_conn`).
    """
    admin = os.environ.get(
        "STRAITWATCH_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    name = databases.create(template=databases.migrated_template())
    url = psycopg.conninfo.make_conninfo(admin, dbname=name)
    with db.connect(url) as conn:
        insert_reference(conn)
    return url


@pytest.fixture
def ref_conn(reports_db_url: str) -> Iterator[psycopg.Connection]:
    """A connection to the reports database, reference rows loaded and data tables empty."""
    with db.connect(reports_db_url) as conn:
        conn.execute(f"TRUNCATE {_DATA_TABLES}")
        conn.commit()
        yield conn


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _id(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


class Events:
    """Writes the rows the matcher reads, as detection and ingest would have."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def identity(
        self,
        mmsi: int,
        name: str,
        *,
        imo: str | None = None,
        ship_type: int = 70,
        valid_from: str = "2024-01-01T00:00",
        valid_to: str | None = None,
    ) -> None:
        from pipeline.vessels import flag_of, imo_is_valid

        self.conn.execute(
            """INSERT INTO straitwatch.vessel_identity
                   (mmsi, imo, imo_valid, name, ship_type, flag, valid_from, valid_to)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
            (
                mmsi,
                imo,
                imo_is_valid(imo) if imo else None,
                name,
                ship_type,
                flag_of(mmsi),
                utc(valid_from),
                utc(valid_to) if valid_to else None,
            ),
        )

    def track(
        self, mmsi: int, waypoints: list[tuple[str, float, float]], *, every_h: float = 3.0
    ) -> int:
        """Positions every `every_h` hours along straight legs between (time, lat, lon) points."""
        times = pd.to_datetime([t for t, _, _ in waypoints], utc=True)
        lats = np.array([p[1] for p in waypoints])
        lons = np.array([p[2] for p in waypoints])
        ts = pd.date_range(times[0], times[-1], freq=pd.Timedelta(hours=every_h))
        x = (ts - times[0]).total_seconds().to_numpy()
        xp = (times - times[0]).total_seconds().to_numpy()
        frame = pd.DataFrame(
            {
                "mmsi": mmsi,
                "ts": ts,
                "lat": np.interp(x, xp, lats),
                "lon": np.interp(x, xp, lons),
                "file_id": 0,
            }
        )
        db.ensure_position_partitions(self.conn, frame["ts"].dt.date.unique())
        return db.copy_frame(self.conn, "straitwatch.positions", frame)

    def port_call(
        self,
        mmsi: int,
        port_id: str,
        arrived: str,
        departed: str | None,
        *,
        ended_by_gap: bool = False,
    ) -> str:
        call_id = "pc-" + _id(mmsi, port_id, arrived)
        self.conn.execute(
            """INSERT INTO straitwatch.port_calls
                   (port_call_id, mmsi, port_id, arrived_at, departed_at, ended_by_gap)
               VALUES (%s, %s, %s, %s, %s, %s)""",
            (
                call_id,
                mmsi,
                port_id,
                utc(arrived),
                utc(departed) if departed else None,
                ended_by_gap,
            ),
        )
        return call_id

    def crossing(
        self,
        mmsi: int,
        chokepoint: str,
        at: str,
        direction: str,
        *,
        inferred: bool = False,
        gap_id: str | None = None,
    ) -> str:
        crossing_id = "cx-" + _id(mmsi, chokepoint, at)
        t = utc(at)
        self.conn.execute(
            """INSERT INTO straitwatch.chokepoint_crossings
                   (crossing_id, mmsi, chokepoint_id, crossed_at, direction, inferred, lat, lon,
                    prev_ts, prev_lat, prev_lon, next_ts, next_lat, next_lon, gap_id)
               VALUES (%s, %s, %s, %s, %s, %s, 35.95, -5.6,
                       %s, 35.95, -5.4, %s, 35.95, -5.8, %s)""",
            (
                crossing_id,
                mmsi,
                chokepoint,
                t,
                direction,
                inferred,
                t - timedelta(minutes=20),
                t + timedelta(minutes=20),
                gap_id,
            ),
        )
        return crossing_id

    def gap(self, mmsi: int, started: str, ended: str) -> str:
        gap_id = "gap-" + _id(mmsi, started)
        self.conn.execute(
            """INSERT INTO straitwatch.ais_gaps (gap_id, mmsi, started_at, ended_at, start_lat,
                   start_lon, end_lat, end_lon, distance_nm, implied_speed_kn)
               VALUES (%s, %s, %s, %s, 36.0, -3.0, 36.5, -8.0, 250.0, 11.0)""",
            (gap_id, mmsi, utc(started), utc(ended)),
        )
        return gap_id

    def voyage_report(self, mmsi: int, at: str, destination: str) -> None:
        self.conn.execute(
            "INSERT INTO straitwatch.voyage_reports (mmsi, reported_at, destination) "
            "VALUES (%s, %s, %s)",
            (mmsi, utc(at), destination),
        )


@pytest.fixture
def events(ref_conn: psycopg.Connection) -> Events:
    return Events(ref_conn)
