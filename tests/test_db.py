"""The migration runner and the partitioned positions table, on the real server."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pandas as pd
import psycopg
import pytest

from pipeline import db
from pipeline.errors import MigrationError


def test_upgrade_applies_every_migration_once(empty_db_url: str) -> None:
    expected = [(m.version, m.name) for m in db.migrations()]
    assert expected[0] == (1, "foundation")
    with db.connect(empty_db_url) as conn:
        first = db.upgrade(conn)
        second = db.upgrade(conn)
        assert [(m.version, m.name) for m in first] == expected
        assert second == []
        assert db.applied_versions(conn) == expected
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema='straitwatch'"
            )
        }
    contract = {
        "ingested_files",
        "positions",
        "rejected_records",
        "vessel_identity",
        "chokepoints",
        "chokepoint_gates",
        "ports",
        "ais_gaps",
        "chokepoint_crossings",
        "port_calls",
        "reported_departures",
        "departure_matches",
        "schema_migrations",
    }
    assert contract <= tables


def test_failed_migration_leaves_nothing_and_is_not_recorded(empty_db_url, tmp_path) -> None:
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE straitwatch.a (x int);")
    (tmp_path / "0002_bad.sql").write_text(
        "CREATE TABLE straitwatch.b (x int);\nSELECT no_such_function();"
    )
    with db.connect(empty_db_url) as conn:
        with pytest.raises(MigrationError, match=r"0002_bad\.sql failed"):
            db.upgrade(conn, tmp_path)
        assert db.applied_versions(conn) == [(1, "good")]
        assert conn.execute("SELECT to_regclass('straitwatch.b')").fetchone()[0] is None


def test_edited_migration_is_refused(empty_db_url, tmp_path) -> None:
    mig = tmp_path / "0001_one.sql"
    mig.write_text("CREATE TABLE straitwatch.a (x int);")
    with db.connect(empty_db_url) as conn:
        db.upgrade(conn, tmp_path)
        mig.write_text("CREATE TABLE straitwatch.a (x bigint);")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            db.upgrade(conn, tmp_path)


def test_positions_partitions_are_made_on_demand(conn: psycopg.Connection) -> None:
    assert db.ensure_position_partitions(conn, [date(2025, 2, 9), date(2025, 2, 9)]) == 1
    assert db.ensure_position_partitions(conn, [date(2025, 2, 9), date(2025, 2, 10)]) == 1
    frame = pd.DataFrame(
        {
            "mmsi": [273351920, 273351920],
            "ts": pd.to_datetime(
                ["2025-02-09 23:59:59.5Z", "2025-02-10 00:00:00.0Z"], format="ISO8601"
            ),
            "lat": [35.95, 35.96],
            "lon": [-5.6, -5.7],
            "sog": [12.1, None],
            "cog": [265.0, None],
            "heading": [266, None],
            "nav_status": [0, 0],
            "file_id": [1, 1],
        }
    )
    frame["heading"] = frame["heading"].astype("Int16")
    assert db.copy_frame(conn, "straitwatch.positions", frame) == 2
    rows = conn.execute(
        "SELECT tableoid::regclass::text, ts, sog FROM straitwatch.positions ORDER BY ts"
    ).fetchall()
    assert [r[0] for r in rows] == ["positions_20250209", "positions_20250210"]
    assert rows[0][1].isoformat() == "2025-02-09T23:59:59.500000+00:00"
    assert rows[1][2] is None
    # no partition for a day that was not prepared: the insert fails instead of landing elsewhere
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO straitwatch.positions (mmsi, ts, lat, lon, file_id) "
            "VALUES (273351920, '2025-03-01T00:00Z', 0.1, 0.1, 1)"
        )


def test_cli_db_upgrade_against_database_url(empty_db_url: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pipeline", "--database-url", empty_db_url, "db", "upgrade"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert f"applied {len(db.migrations())} migration(s)" in run.stdout
    again = subprocess.run(
        [sys.executable, "-m", "pipeline", "--database-url", empty_db_url, "db", "upgrade"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.stdout.strip() == "applied 0 migration(s)"


def test_cli_unreachable_database_is_one_line_error() -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "--database-url",
            "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2",
            "db",
            "status",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2
    assert run.stderr.startswith("straitwatch db: cannot connect to the database")
    assert len(run.stderr.strip().splitlines()) == 1


def test_cli_db_status_lists_migrations(db_url: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pipeline", "--database-url", db_url, "db", "status"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    expected = [f"{m.version:04d} {m.name}" for m in db.migrations()]
    assert lines[: len(expected)] == expected
    # the machine's server has PostGIS: no note about missing geometry
    assert not any(line.startswith("note:") for line in lines)


def test_embedded_server_starts_is_reused_and_stops(tmp_path) -> None:
    from pipeline.config import Settings

    settings = Settings(database_url=None, cache_dir=tmp_path / "cache")
    url = db.embedded_url(settings)
    with db.connect(url) as conn:
        db.upgrade(conn)
        assert conn.execute("SELECT current_database()").fetchone() == ("straitwatch",)
    assert db.embedded_url(settings) == url  # reused, not a second server
    assert db.stop_embedded(settings) is True
    assert not (settings.embedded_pgdata / "postmaster.pid").exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)
    assert db.stop_embedded(settings) is False
    # the data survive a restart
    with db.connect(db.embedded_url(settings)) as conn:
        assert db.applied_versions(conn)[0] == (1, "foundation")
    assert db.stop_embedded(settings) is True
