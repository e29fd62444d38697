"""`vessel_daily_tracks`: a table of one line per vessel and UTC day, written by detect.

With PostGIS (the test server) detect rebuilds the lines of the whole UTC days its window
touches, in its transaction; QGIS's bounding-box queries use the GiST index. Without PostGIS
there is no table and detect writes none (tests/analyst/test_geometry.py runs that path).
"""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from pipeline import db
from pipeline.geo.detect import detect_window
from tests.analyst.scenario import GATE_LON, TRACK_LAT, track_west_through_gate

pytestmark = pytest.mark.postgis

DAY1 = datetime(2025, 2, 11, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
WESTBOUND = 273000001  # 05:00-23:00 on day 1, through the Gibraltar gate at 14:00
MIDNIGHT = 273000002  # 21:00 on day 1 to 03:00 on day 2, on the gate at midnight
ANCHORED = 273000003  # eleven fixes at one place on day 1: a day without a line
BOSPHORUS = 273000004  # day 2, far from Gibraltar
SPOOF_AT = DAY1 + timedelta(hours=10)  # WESTBOUND's fix there jumps 6 degrees south

# The view of sql/0062 (what the table replaced), over all positions.
VIEW_0062 = """
    SELECT format('%s/%s', t.mmsi, t.day) AS track_id, t.mmsi, t.day, t.first_ts, t.last_ts,
           t.fixes,
           CASE WHEN ST_NPoints(t.line) >= 2 THEN t.line END::geometry(LineString, 4326) AS geom
    FROM (
        SELECT p.mmsi, (p.ts AT TIME ZONE 'UTC')::date AS day, min(p.ts) AS first_ts,
               max(p.ts) AS last_ts, count(*) AS fixes,
               ST_RemoveRepeatedPoints(
                   ST_SetSRID(ST_MakeLine(ST_MakePoint(p.lon, p.lat) ORDER BY p.ts), 4326)
               ) AS line
        FROM straitwatch.positions AS p
        GROUP BY p.mmsi, (p.ts AT TIME ZONE 'UTC')::date
    ) AS t"""
# What the table holds: that view's rows, with no line where the vessel did not move (the view
# gave an invalid line of two equal points there).
OLD_VIEW = f"""
    SELECT track_id, mmsi, day, first_ts, last_ts, fixes,
           CASE WHEN ST_Length(geom) > 0 THEN geom END AS geom
    FROM ({VIEW_0062}) AS v
    ORDER BY track_id"""
TABLE = "SELECT * FROM straitwatch.vessel_daily_tracks ORDER BY track_id"


def _positions() -> pd.DataFrame:
    westbound = track_west_through_gate(WESTBOUND, DAY1 + timedelta(hours=14))
    westbound.loc[westbound["ts"] == SPOOF_AT, "lat"] = TRACK_LAT - 6.0
    midnight = track_west_through_gate(MIDNIGHT, DAY2, hours=3.0)
    anchored = track_west_through_gate(ANCHORED, DAY1 + timedelta(hours=8), hours=0.5)
    anchored = anchored.assign(lon=GATE_LON + 0.3, sog=0.0)
    bosphorus = track_west_through_gate(BOSPHORUS, DAY2 + timedelta(hours=12), hours=2.0)
    bosphorus = bosphorus.assign(lat=41.1, lon=bosphorus["lon"] + 34.65)
    return pd.concat([westbound, midnight, anchored, bosphorus], ignore_index=True).sort_values(
        ["mmsi", "ts"], ignore_index=True
    )


def _load(conn: psycopg.Connection, frame: pd.DataFrame) -> None:
    """Store positions as the loader does: an ingested_files row, day partitions, COPY."""
    file_id = db.scalar(
        conn,
        "INSERT INTO straitwatch.ingested_files (path, sha256, format, rows_read, rows_loaded, "
        "rows_rejected) VALUES ('test', md5(clock_timestamp()::text), 'csv', %s, %s, 0) "
        "RETURNING file_id",
        (len(frame), len(frame)),
    )
    db.ensure_position_partitions(conn, frame["ts"].dt.date.unique())
    db.copy_frame(conn, "straitwatch.positions", frame.assign(file_id=file_id))
    conn.commit()


def _postgis(conn: psycopg.Connection) -> None:
    if db.scalar(conn, "SELECT straitwatch.postgis_schema()") is None:
        pytest.skip("the test server has no PostGIS (.ci/run installs postgresql-NN-postgis-3)")


@pytest.fixture
def tracks_conn(conn: psycopg.Connection) -> psycopg.Connection:
    """An empty migrated database with PostGIS and the positions above, not yet detected."""
    _postgis(conn)
    _load(conn, _positions())
    return conn


def _rows(conn: psycopg.Connection, query: str = TABLE) -> list[tuple]:
    return conn.execute(query).fetchall()


def test_detect_writes_one_line_per_vessel_and_day(tracks_conn: psycopg.Connection) -> None:
    conn = tracks_conn
    assert _rows(conn) == []
    result = detect_window(conn)
    assert result.daily_tracks == 5
    lines = _rows(
        conn,
        """SELECT track_id, mmsi, day, fixes, ST_NPoints(geom), ST_IsValid(geom), ST_SRID(geom)
           FROM straitwatch.vessel_daily_tracks ORDER BY track_id""",
    )
    assert lines == [
        (f"{WESTBOUND}/2025-02-11", WESTBOUND, DAY1.date(), 181, 181, True, 4326),
        (f"{MIDNIGHT}/2025-02-11", MIDNIGHT, DAY1.date(), 30, 30, True, 4326),
        (f"{MIDNIGHT}/2025-02-12", MIDNIGHT, DAY2.date(), 31, 31, True, 4326),
        (f"{ANCHORED}/2025-02-11", ANCHORED, DAY1.date(), 11, None, None, None),  # no line
        (f"{BOSPHORUS}/2025-02-12", BOSPHORUS, DAY2.date(), 41, 41, True, 4326),
    ]
    first_ts, last_ts = conn.execute(
        "SELECT first_ts, last_ts FROM straitwatch.vessel_daily_tracks WHERE track_id = %s",
        (f"{MIDNIGHT}/2025-02-12",),
    ).fetchone()
    assert (first_ts, last_ts) == (DAY2, DAY2 + timedelta(hours=3))
    # the table holds exactly what the view it replaced computed (geometry included), except
    # for the day without a line, where the view gave an invalid one
    assert _rows(conn) == _rows(conn, OLD_VIEW)
    invalid = _rows(conn, f"SELECT track_id FROM ({VIEW_0062}) AS v WHERE NOT ST_IsValid(geom)")
    assert invalid == [(f"{ANCHORED}/2025-02-11",)]
    # as in that view every fix counts, the ones detect flags as implausible included
    flagged = _rows(conn, "SELECT mmsi, ts FROM straitwatch.flagged_positions")
    assert flagged == [(WESTBOUND, SPOOF_AT)]
    south = db.scalar(
        conn,
        "SELECT ST_YMin(geom) FROM straitwatch.vessel_daily_tracks WHERE mmsi = %s",
        (WESTBOUND,),
    )
    assert south == pytest.approx(TRACK_LAT - 6.0)
    # the table's key is QGIS's feature key: the primary key, on track_id
    key = db.scalar(
        conn,
        """SELECT string_agg(a.attname, ',') FROM pg_index i
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
           WHERE i.indrelid = 'straitwatch.vessel_daily_tracks'::regclass AND i.indisprimary""",
    )
    assert key == "track_id"


def test_rerun_changes_nothing(tracks_conn: psycopg.Connection) -> None:
    conn = tracks_conn
    detect_window(conn)
    first = _rows(conn)
    assert len(first) == 5
    detect_window(conn)
    assert _rows(conn) == first
    # a window of one hour rebuilds its whole day, and only that day
    result = detect_window(conn, DAY1 + timedelta(hours=10), DAY1 + timedelta(hours=11))
    assert result.daily_tracks == 3
    assert _rows(conn) == first
    # a window ending at midnight does not touch the next day
    conn.execute("DELETE FROM straitwatch.vessel_daily_tracks WHERE day = %s", (DAY2.date(),))
    conn.commit()
    assert detect_window(conn, DAY1, DAY2).daily_tracks == 3
    assert [r[0] for r in _rows(conn)] == [r[0] for r in first if r[2] == DAY1.date()]
    assert detect_window(conn, DAY2, DAY2 + timedelta(days=1)).daily_tracks == 2
    assert _rows(conn) == first


def test_a_day_detected_in_two_halves_gives_the_lines_of_one_run(
    conn: psycopg.Connection,
) -> None:
    """Positions arriving in two halves of a day, each half detected as it arrives."""
    _postgis(conn)
    frame = _positions()
    noon = DAY1 + timedelta(hours=12)
    _load(conn, frame[frame["ts"] < noon])
    detect_window(conn, DAY1, noon)
    # the morning's line: 05:00 to 11:54
    morning = "SELECT fixes FROM straitwatch.vessel_daily_tracks WHERE mmsi = %s"
    assert conn.execute(morning, (WESTBOUND,)).fetchall() == [(70,)]
    _load(conn, frame[frame["ts"] >= noon])
    detect_window(conn, noon, DAY2 + timedelta(days=1))
    halves = _rows(conn)
    assert len(halves) == 5
    # one run over everything, from an empty table
    conn.execute("TRUNCATE straitwatch.vessel_daily_tracks")
    conn.commit()
    detect_window(conn)
    assert _rows(conn) == halves
    assert halves == _rows(conn, OLD_VIEW)


def test_bounding_box_query_uses_the_gist_index(tracks_conn: psycopg.Connection) -> None:
    conn = tracks_conn
    detect_window(conn)
    box = (
        "SELECT track_id FROM straitwatch.vessel_daily_tracks "
        "WHERE geom && ST_MakeEnvelope(-6, 35.5, -5, 36.5, 4326) ORDER BY track_id"
    )
    assert [r[0] for r in _rows(conn, box)] == [
        f"{WESTBOUND}/2025-02-11",
        f"{MIDNIGHT}/2025-02-11",
        f"{MIDNIGHT}/2025-02-12",
    ]
    conn.execute("ANALYZE straitwatch.vessel_daily_tracks")
    conn.execute("SET enable_seqscan = off")  # five rows: a scan would be cheaper
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + box))
    assert "vessel_daily_tracks_geom" in plan
    assert "positions" not in plan
    conn.rollback()


def test_upgrade_replaces_the_view_with_a_filled_table(empty_db_url: str, tmp_path: Path) -> None:
    """A warehouse migrated before the table existed: its lines are there after the upgrade."""
    migrations = {m.version: m for m in db.migrations()}
    for version, migration in migrations.items():
        if version < 82:
            shutil.copy(migration.path, tmp_path)
    with db.connect(empty_db_url) as conn:
        db.upgrade(conn, tmp_path)
        _postgis(conn)
        kind = "SELECT relkind FROM pg_class WHERE relname = 'vessel_daily_tracks'"
        assert db.scalar(conn, kind) == "v"
        _load(conn, _positions())
        before = _rows(conn, OLD_VIEW)
        assert len(before) == 5
        shutil.copy(migrations[82].path, tmp_path)  # and only it (later ones are not its subject)
        assert [m.name for m in db.upgrade(conn, tmp_path)] == ["daily_tracks_table"]
        assert db.scalar(conn, kind) == "r"
        assert _rows(conn) == before
        indexes = _rows(
            conn,
            "SELECT indexname FROM pg_indexes WHERE tablename = 'vessel_daily_tracks' ORDER BY 1",
        )
        assert indexes == [
            ("vessel_daily_tracks_day",),
            ("vessel_daily_tracks_geom",),
            ("vessel_daily_tracks_mmsi_day",),
            ("vessel_daily_tracks_pkey",),
        ]
        assert db.scalar(conn, "SELECT straitwatch.geometry_status()") == "enabled"
        # enabling again keeps the table and its rows
        assert db.scalar(conn, "SELECT straitwatch.enable_geometry()") == "enabled"
        assert _rows(conn) == before
        conn.commit()


def test_geometry_enabled_by_a_superuser_for_a_warehouse_its_owner_runs(
    empty_db_url: str, tmp_path: Path
) -> None:
    """The README's path for a server that gets PostGIS later: the pipeline's own role (not a
    superuser) owns and migrates the warehouse, a superuser runs enable_geometry(). Detect, run
    by the owner, must then write the lines, and the owner's later migrations must apply."""
    name = psycopg.conninfo.conninfo_to_dict(empty_db_url)["dbname"]
    owner = f"sw_owner_{uuid.uuid4().hex[:10]}"
    server = psycopg.connect(
        psycopg.conninfo.make_conninfo(empty_db_url, dbname="postgres"), autocommit=True
    )
    admin = psycopg.connect(empty_db_url, autocommit=True)  # a superuser, in the warehouse
    as_owner = psycopg.conninfo.make_conninfo(empty_db_url, user=owner)
    try:
        server.execute(f"CREATE ROLE {owner} LOGIN")
        server.execute(f"ALTER DATABASE {name} OWNER TO {owner}")
        available = "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'"
        if not server.execute(available).fetchone():
            pytest.skip("the test server has no PostGIS (.ci/run installs postgresql-NN-postgis-3)")
        migrations = {m.version: m for m in db.migrations()}
        for version, migration in migrations.items():
            if version < 82:
                shutil.copy(migration.path, tmp_path)
        with db.connect(as_owner) as conn:  # the owner may not create PostGIS: no geometry
            db.upgrade(conn, tmp_path)
            assert db.scalar(conn, "SELECT straitwatch.postgis_schema()") is None
        # a superuser installs PostGIS and enables geometry with the function of 0062
        admin.execute("CREATE EXTENSION postgis")
        assert db.scalar(admin, "SELECT straitwatch.enable_geometry()") == "enabled"

        kind = "SELECT relkind FROM pg_class WHERE relname = 'vessel_daily_tracks'"
        with db.connect(as_owner) as conn:
            # the owner's upgrade applies, though 0062's views are the superuser's ...
            applied = [m.version for m in db.upgrade(conn)]
            assert applied == [v for v in migrations if v >= 82]
            assert db.scalar(conn, kind) == "v"  # ... leaving the view of daily tracks
            _load(conn, _positions())
            assert detect_window(conn).daily_tracks == 0
            conn.commit()

        # the superuser enables geometry again: the table, the owner's
        assert db.scalar(admin, "SELECT straitwatch.enable_geometry()") == "enabled"
        owners = admin.execute(
            "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class AS c "
            "WHERE c.relname IN ('vessel_daily_tracks', 'crossings_map', 'dark_transits_map') "
            "ORDER BY 1"
        ).fetchall()
        assert owners == [
            ("crossings_map", owner),
            ("dark_transits_map", owner),
            ("vessel_daily_tracks", owner),
        ]
        with db.connect(as_owner) as conn:
            assert db.scalar(conn, kind) == "r"
            assert len(_rows(conn)) == 5  # the lines of the positions already loaded
            assert detect_window(conn).daily_tracks == 5
            assert _rows(conn) == _rows(conn, OLD_VIEW)
            conn.commit()
    finally:
        admin.close()
        server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        server.execute(f"DROP ROLE IF EXISTS {owner}")
        server.close()
