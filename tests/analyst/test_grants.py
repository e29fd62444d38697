"""`grant-analyst`: the role reads everything in straitwatch and can change nothing anywhere."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors, sql

from pipeline import db
from pipeline.analyst.grants import grant_analyst, validate_role_name
from pipeline.cli import main
from pipeline.errors import StraitwatchError


@pytest.fixture
def role_names(db_url: str) -> Iterator[list[str]]:
    """Unique role names for a test; the roles are dropped afterwards (roles are cluster-wide)."""
    names: list[str] = []
    yield names
    with psycopg.connect(db_url, autocommit=True) as admin:
        for name in names:
            if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
                admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def _new_role(names: list[str], kind: str = "analyst") -> str:
    name = f"sw_{kind}_{uuid.uuid4().hex[:10]}"
    names.append(name)
    return name


@pytest.fixture
def airflow_metadata(db_url: str, role_names: list[str]) -> str:
    """A stand-in for Airflow's metadata tables in the same database, owned by another role."""
    owner = _new_role(role_names, "airflow")
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(owner)))
        admin.execute(
            sql.SQL("CREATE SCHEMA airflow AUTHORIZATION {}").format(sql.Identifier(owner))
        )
        admin.execute("CREATE TABLE airflow.dag_run (id int PRIMARY KEY, dag_id text, conf bytea)")
        admin.execute(
            sql.SQL("ALTER TABLE airflow.dag_run OWNER TO {}").format(sql.Identifier(owner))
        )
        admin.execute("INSERT INTO airflow.dag_run VALUES (1, 'ingest', 'secret')")
        # Airflow's tables in public (its default schema) are just as private
        admin.execute("CREATE TABLE public.connection (conn_id text, password text)")
        admin.execute(
            sql.SQL("ALTER TABLE public.connection OWNER TO {}").format(sql.Identifier(owner))
        )
    return owner


def _as_role(url: str, role: str) -> psycopg.Connection:
    conn = db.connect(url, autocommit=True)
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    return conn


def _refused(conn: psycopg.Connection, statement: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        conn.execute(statement)


def test_analyst_reads_everything_and_changes_nothing(
    scenario, role_names: list[str], airflow_metadata: str
) -> None:
    role = _new_role(role_names)
    with db.connect(scenario.url) as conn:
        result = grant_analyst(conn, role)
    assert result.created and not result.login
    assert result.warnings == ()

    with _as_role(scenario.url, role) as analyst:
        # reads: tables, views, lookups, a partition directly
        assert analyst.execute("SELECT count(*) FROM positions").fetchone()[0] == len(
            scenario.positions
        )
        assert analyst.execute("SELECT count(*) FROM crossings_with_identity").fetchone()[0] == 8
        assert analyst.execute("SELECT count(*) FROM dark_transits").fetchone()[0] == 1
        assert analyst.execute("SELECT count(*) FROM positions_20250211").fetchone()[0] > 0
        assert analyst.execute("SELECT count(*) FROM departure_matches").fetchone()[0] == 1
        # writes of every kind are refused
        _refused(analyst, "INSERT INTO chokepoints VALUES ('x', 'x', 'strait', 'a', 'b')")
        _refused(analyst, "UPDATE vessel_identity SET name = 'X'")
        _refused(analyst, "DELETE FROM chokepoint_crossings")
        _refused(analyst, "TRUNCATE departure_matches")
        _refused(analyst, "TRUNCATE positions")
        _refused(analyst, "COPY ports FROM STDIN")
        # creating anything in the schema or in public is refused
        _refused(analyst, "CREATE TABLE straitwatch.mine (x int)")
        _refused(analyst, "CREATE VIEW straitwatch.mine AS SELECT 1")
        _refused(analyst, "CREATE TABLE public.mine (x int)")
        _refused(analyst, "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        _refused(analyst, "SELECT straitwatch.ensure_positions_partition('2030-01-01')")
        _refused(analyst, "ALTER TABLE ports ADD COLUMN x int")
        _refused(analyst, "CREATE SCHEMA mine")
        # detect's track lines (PostGIS only): read, but not rebuilt through their function
        if analyst.execute("SELECT to_regclass('vessel_daily_tracks')").fetchone() != (None,):
            assert analyst.execute("SELECT count(geom) FROM vessel_daily_tracks").fetchone()[0] > 0
            _refused(analyst, "DELETE FROM vessel_daily_tracks")
            _refused(
                analyst,
                "SELECT refresh_daily_tracks('2025-02-11T00:00Z', '2025-02-12T00:00Z')",
            )
        # the Airflow metadata stays out of reach
        _refused(analyst, "SELECT * FROM airflow.dag_run")
        _refused(analyst, "SELECT * FROM public.connection")


def test_future_tables_and_partitions_are_readable(scenario, role_names: list[str]) -> None:
    role = _new_role(role_names)
    with db.connect(scenario.url) as conn:
        grant_analyst(conn, role)
        # a later migration and a later load, by the owner
        conn.execute("CREATE TABLE straitwatch.later_events (id int)")
        conn.execute("CREATE VIEW straitwatch.later_view AS SELECT 42 AS answer")
        conn.execute("SELECT straitwatch.ensure_positions_partition('2026-06-01')")
        conn.commit()
    with _as_role(scenario.url, role) as analyst:
        assert analyst.execute("SELECT answer FROM later_view").fetchone() == (42,)
        assert analyst.execute("SELECT count(*) FROM later_events").fetchone() == (0,)
        assert analyst.execute("SELECT count(*) FROM positions_20260601").fetchone() == (0,)
        _refused(analyst, "INSERT INTO later_events VALUES (1)")


def test_grant_is_idempotent_and_login_on_request(
    db_url: str, role_names: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    role = _new_role(role_names)
    assert main(["--database-url", db_url, "grant-analyst", role]) == 0
    assert main(["--database-url", db_url, "grant-analyst", role]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"role {role} (created, NOLOGIN): SELECT on ")
    assert out[1].startswith(f"role {role} (exists, NOLOGIN): SELECT on ")
    with psycopg.connect(db_url) as conn:
        acl = conn.execute(
            """SELECT count(*) FROM information_schema.role_table_grants
               WHERE grantee = %s AND privilege_type <> 'SELECT'""",
            (role,),
        ).fetchone()[0]
        assert acl == 0
        tables = conn.execute(
            """SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'straitwatch' AND c.relkind IN ('r', 'p', 'v')
                 AND NOT has_table_privilege(%s, c.oid, 'SELECT')""",
            (role,),
        ).fetchone()[0]
        assert tables == 0

    # asked for LOGIN: the role can now connect on its own (trust authentication here)
    assert main(["--database-url", db_url, "grant-analyst", role, "--login"]) == 0
    login_url = psycopg.conninfo.make_conninfo(db_url, user=role)
    with db.connect(login_url) as analyst:
        assert analyst.execute("SELECT count(*) FROM chokepoints").fetchone() == (0,)
        with pytest.raises(errors.InsufficientPrivilege):
            analyst.execute("DELETE FROM chokepoints")


def test_warns_about_powers_beyond_reading(db_url: str, role_names: list[str]) -> None:
    role = _new_role(role_names)
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN CREATEDB").format(sql.Identifier(role)))
        admin.execute(
            sql.SQL("GRANT INSERT ON straitwatch.ports TO {}").format(sql.Identifier(role))
        )
    with db.connect(db_url) as conn:
        result = grant_analyst(conn, role)
    assert not result.created
    assert result.warnings == (
        f"role {role} has CREATEDB: it is not read-only",
        f"role {role} may write to ports",
    )


@pytest.mark.parametrize("bad", ["", "Analyst", "1abc", "pg_read", "public", "a;drop"])
def test_rejects_unusable_role_names(bad: str) -> None:
    with pytest.raises(StraitwatchError, match="not usable"):
        validate_role_name(bad)


def test_readme_queries_run_as_the_analyst(scenario, role_names: list[str]) -> None:
    """Every SELECT in the README's "For analysts" section, run by the read-only role."""
    from pipeline.config import REPO_DIR

    readme = (REPO_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split("## For analysts", 1)[1].split("\n## ", 1)[0]
    queries = [
        block.strip()
        for block in re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)
        if block.lstrip().upper().startswith("SELECT")
    ]
    assert len(queries) >= 5
    role = _new_role(role_names)
    with db.connect(scenario.url) as conn:
        grant_analyst(conn, role)
    with _as_role(scenario.url, role) as analyst:
        for query in queries:
            analyst.execute(query).fetchall()
