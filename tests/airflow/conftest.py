"""Real Airflow for the DAG tests.

One AIRFLOW_HOME per test session (SQLite metadata database, `airflow db migrate` once,
examples off, DAGs folder = the repository's dags/). Each DAG runs with `airflow dags test`
in a subprocess, with the Connection `straitwatch_db` (AIRFLOW_CONN_STRAITWATCH_DB) pointing at
a throwaway warehouse database from tests/conftest.py, and the test reads back the rows.

The subprocess is scripts/airflow_runner.py, kept warm for the session: it runs each
`airflow dags test ...` through Airflow's own CLI parser and command function, so Airflow's
start-up (imports, the in-process execution API) is paid once, not once per run. Tests that
need a process of their own (`fresh=True`) start the `airflow` executable itself.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pipeline import db
from pipeline.config import REPO_DIR

DAGS_DIR = REPO_DIR / "dags"
DAGS_TEST_TIMEOUT_S = 600

# Importing airflow (pipeline.orchestration does) writes under $AIRFLOW_HOME, by default
# ~/airflow: point it at a private directory before any test module imports it.
_IN_PROCESS_HOME = tempfile.mkdtemp(prefix="sw_airflow_inproc_")
os.environ["AIRFLOW_HOME"] = _IN_PROCESS_HOME
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_DIR)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_IN_PROCESS_HOME, ignore_errors=True)


@dataclass
class DagRunOutcome:
    """One `airflow dags test` run: exit code, log, and what the metadata DB recorded."""

    dag_id: str
    returncode: int
    log_path: Path
    run: dict[str, object]
    tasks: dict[str, str]  # "task_id" or "task_id[map_index]" -> state
    asset_events: list[dict[str, object]] = field(default_factory=list)
    tries: dict[str, int] = field(default_factory=dict)  # same keys -> try_number

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0 and self.run.get("state") == "success"

    def log_tail(self, lines: int = 80) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])


def _load_runner_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "airflow_runner", REPO_DIR / "scripts" / "airflow_runner.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class AirflowHome:
    """A migrated AIRFLOW_HOME and the environment to run the airflow CLI in it."""

    home: Path
    env: dict[str, str]
    runs: int = 0
    warm: Any = None  # airflow_runner.WarmAirflow, started on first use

    @property
    def metadata_db(self) -> Path:
        return self.home / "airflow.db"

    def cli(
        self,
        *args: str,
        extra_env: Mapping[str, str] | None = None,
        log_name: str = "cli",
        fresh: bool = False,
    ) -> tuple[int, Path]:
        """Run `airflow ARGS...`: in the warm runner, or in a new process when `fresh`."""
        self.runs += 1
        log_path = self.home / "test-logs" / f"{self.runs:03d}-{log_name}.log"
        log_path.parent.mkdir(exist_ok=True)
        if not fresh:
            if self.warm is None:
                self.warm = _load_runner_module().WarmAirflow(self.env)
            code = self.warm.run(
                list(args), log=log_path, env=extra_env, timeout_s=DAGS_TEST_TIMEOUT_S
            )
            return code, log_path
        with log_path.open("w", encoding="utf-8") as log:
            proc = subprocess.run(
                [sys.executable, "-m", "airflow", *args],
                env={**self.env, **(extra_env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=DAGS_TEST_TIMEOUT_S,
                check=False,
            )
        return proc.returncode, log_path

    def close(self) -> None:
        if self.warm is not None:
            self.warm.close()
            self.warm = None

    def dags_test(
        self,
        dag_id: str,
        logical_date: str | None = None,
        *,
        warehouse_url: str,
        inbox: Path | None = None,
        conf: Mapping[str, object] | None = None,
        extra_env: Mapping[str, str] | None = None,
        expect_success: bool = True,
        fresh: bool = False,
    ) -> DagRunOutcome:
        """Run `airflow dags test DAG_ID [DATE]` against a warehouse database."""
        from pipeline.orchestration import airflow_connection_uri

        env = {"AIRFLOW_CONN_STRAITWATCH_DB": airflow_connection_uri(warehouse_url)}
        if inbox is not None:
            env["STRAITWATCH_INBOX"] = str(inbox)
            env["STRAITWATCH_INBOX_MIN_AGE_S"] = "0"
        env.update(extra_env or {})
        args = ["dags", "test", dag_id]
        if logical_date is not None:
            args.append(logical_date)
        if conf is not None:
            args += ["--conf", json.dumps(conf)]
        returncode, log_path = self.cli(*args, extra_env=env, log_name=dag_id, fresh=fresh)
        outcome = self._outcome(dag_id, returncode, log_path)
        if expect_success and not outcome.succeeded:
            pytest.fail(
                f"airflow dags test {dag_id} failed (exit {returncode}, run {outcome.run}, "
                f"tasks {outcome.tasks}); log {log_path}:\n{outcome.log_tail()}"
            )
        return outcome

    def _outcome(self, dag_id: str, returncode: int, log_path: Path) -> DagRunOutcome:
        with sqlite3.connect(self.metadata_db) as meta:
            meta.row_factory = sqlite3.Row
            row = meta.execute(
                "SELECT run_id, state, run_type, logical_date, data_interval_start, "
                "data_interval_end, conf FROM dag_run WHERE dag_id = ? "
                "ORDER BY id DESC LIMIT 1",
                (dag_id,),
            ).fetchone()
            if row is None:
                return DagRunOutcome(dag_id, returncode, log_path, {}, {})
            run = dict(row)
            instances = meta.execute(
                "SELECT task_id, map_index, state, try_number FROM task_instance "
                "WHERE dag_id = ? AND run_id = ?",
                (dag_id, run["run_id"]),
            ).fetchall()
            key = {
                t: t["task_id"] if t["map_index"] < 0 else f"{t['task_id']}[{t['map_index']}]"
                for t in instances
            }
            tasks = {key[t]: t["state"] for t in instances}
            tries = {key[t]: t["try_number"] for t in instances}
            events = [
                {"asset": e["name"], "extra": json.loads(e["extra"] or "{}")}
                for e in meta.execute(
                    "SELECT a.name, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
                    "WHERE e.source_dag_id = ? AND e.source_run_id = ? ORDER BY e.id",
                    (dag_id, run["run_id"]),
                )
            ]
        return DagRunOutcome(dag_id, returncode, log_path, run, tasks, events, tries)


def _subprocess_env(home: Path, pycache: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW_", "AIRFLOW__")) and k not in ("DATABASE_URL",)
    }
    # The airflow CLI imports some two thousand modules: keep their bytecode between runs
    # (outside the source tree) instead of compiling them again in every subprocess.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            # Retries back off for real in production; a failing test should fail at once.
            "STRAITWATCH_TASK_RETRIES": "0",
            "PYTHONWARNINGS": "ignore",
        }
    )
    return env


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory, request) -> Iterator[AirflowHome]:
    """A migrated AIRFLOW_HOME shared by the session (SQLite; migrating takes ~15 s)."""
    home = tmp_path_factory.mktemp("airflow_home")
    pycache = Path(request.config.cache.mkdir("airflow-pycache"))
    af = AirflowHome(home=home, env=_subprocess_env(home, pycache))
    returncode, log_path = af.cli("db", "migrate", log_name="db-migrate", fresh=True)
    if returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{log_path.read_text()[-4000:]}")
    yield af
    af.close()


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """An empty inbox with its ais/ and reports/ folders."""
    root = tmp_path / "inbox"
    for kind in ("ais", "reports"):
        (root / kind).mkdir(parents=True)
    return root


def _table_counts(url: str, *tables: str) -> dict[str, int]:
    with db.connect(url) as conn:
        return {
            t: conn.execute(f"SELECT count(*) FROM straitwatch.{t}").fetchone()[0] for t in tables
        }


@pytest.fixture
def table_counts():
    """`table_counts(url, *tables)`: row counts of straitwatch tables in a warehouse."""
    return _table_counts


@pytest.fixture
def other_db_url(databases) -> str:
    """A second migrated, empty warehouse (to compare a DAG's rows with the library's)."""
    import psycopg

    admin = os.environ.get(
        "STRAITWATCH_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    name = databases.create(template=databases.migrated_template())
    return psycopg.conninfo.make_conninfo(admin, dbname=name)


EVENT_TABLES = ("ais_gaps", "chokepoint_crossings", "port_calls", "flagged_positions")
# Per table, the columns that say what a row means: not when it was written, nor the file_id
# (files get their ids in the order their mapped tasks happen to run).
SNAPSHOT_COLUMNS = {
    "schema_migrations": "version, sha256",
    "chokepoints": "*",
    "chokepoint_gates": "*",
    "ports": "*",
    "ingested_files": "sha256, format, rows_read, rows_loaded, rows_rejected",
    "positions": "mmsi, ts, lat, lon, sog, cog, heading, nav_status",
    "rejected_records": "line_no, raw, reason, detail",
    "vessel_identity": "mmsi, imo, name, callsign, ship_type, valid_from, valid_to",
    "ais_gaps": "*",
    "chokepoint_crossings": "*",
    "port_calls": "*",
    "flagged_positions": "*",
    "reported_departures": "report_id, vessel_name, imo, mmsi, departure_port_id, "
    "via_chokepoint_id, via_date, via_direction, destination_port_id",
    "departure_matches": "report_id, mmsi, verdict, evidence, departure_delta, crossing_delta",
}


def _snapshot(url: str, tables: Mapping[str, str] = SNAPSHOT_COLUMNS) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent digest of each table's meaningful columns.

    Floating-point columns count to 9 significant digits: sums taken day by day and over a
    span differ in their last bits (1e-15 relative), which says nothing about the events.
    """
    out = {}
    with db.connect(url) as conn:
        for table, cols in tables.items():
            types = dict(
                conn.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = 'straitwatch' AND table_name = %s "
                    "ORDER BY ordinal_position",
                    (table,),
                ).fetchall()
            )
            names = list(types) if cols == "*" else [c.strip() for c in cols.split(",")]
            exprs = [
                f"round({c}::numeric, 9 - ceil(log(greatest(abs({c}::numeric), 1e-9)))::int)"
                if types[c] in ("double precision", "real")
                else c
                for c in names
            ]
            out[table] = conn.execute(
                f"SELECT count(*), coalesce(md5(string_agg(r, '|' ORDER BY r)), '') "
                f"FROM (SELECT ({', '.join(exprs)})::text AS r FROM straitwatch.{table}) s"
            ).fetchone()
    return out


class Snapshots:
    """`snapshot(url)`: per table, a row count and a digest; `snapshot.of(*tables)` picks."""

    EVENT_TABLES = EVENT_TABLES

    def __call__(self, url: str, tables: Mapping[str, str] | None = None) -> dict:
        return _snapshot(url, SNAPSHOT_COLUMNS if tables is None else tables)

    def of(self, *tables: str) -> dict[str, str]:
        return {t: SNAPSHOT_COLUMNS[t] for t in tables}

    @property
    def data(self) -> dict[str, str]:
        """Every table but schema_migrations (databases migrated apart differ there)."""
        return {t: c for t, c in SNAPSHOT_COLUMNS.items() if t != "schema_migrations"}


@pytest.fixture
def snapshot() -> Snapshots:
    return Snapshots()
