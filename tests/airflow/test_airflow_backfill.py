"""A real backfill: `airflow backfill create` executed by a running Airflow 3 scheduler.

The other Airflow tests run DAGs with `airflow dags test`, in one process. Here the module
starts the deployment's components in the background (api-server, whose execution API the
task processes talk to; scheduler with the LocalExecutor; dag-processor), on a throwaway
PostgreSQL metadata database and a temporary AIRFLOW_HOME, over a warehouse holding the demo
scenario's positions. It then backfills straitwatch_detect over every day of February 2025 in
the data (the Sparta passages of 9 February among them) with the command the README gives,
and checks that:

- the backfill made one run per day, each over [D, D+1), run one after another, all succeeded;
- the events are those of one detection over the whole span, on a copy of the same warehouse,
  and include the Sparta and Sparta II westbound Gibraltar passages of 9 February;
- a second backfill over part of the span with `--reprocess-behavior completed` re-runs those
  days in the same dag runs and changes no row: nothing is counted twice.

Every process started here is stopped (its whole process group) when the module ends; the
temporary directory and databases are removed.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pipeline import db
from pipeline.config import REPO_DIR

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

ADMIN_URL = os.environ.get(
    "STRAITWATCH_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DAG_ID = "straitwatch_detect"
DETECT_TASKS = {"window", "detect", "check_crossings", "check_gaps", "publish"}
# February 2025 as far as the demo scenario goes (its positions span 20 Jan - 23 Feb).
FIRST_DAY, LAST_DAY = date(2025, 2, 1), date(2025, 2, 23)
# Re-backfilled with --reprocess-behavior completed: the days around the Gibraltar passages.
RERUN_FIRST_DAY, RERUN_LAST_DAY = date(2025, 2, 8), date(2025, 2, 10)
# The demo test's scenario: the story ships and a little background traffic.
BACKGROUND_VESSELS = 40
# (mmsi, chokepoint, direction, crossed_at) of the ships the seed article names, on 9 Feb.
SPARTA_GIBRALTAR = [
    (273394890, "gibraltar", "westbound", datetime(2025, 2, 9, 5, 50, 11, 727204, tzinfo=UTC)),
    (273351920, "gibraltar", "westbound", datetime(2025, 2, 9, 6, 5, 11, 667301, tzinfo=UTC)),
]
START_TIMEOUT_S = 300
BACKFILL_TIMEOUT_S = 1200
CLI_TIMEOUT_S = 300


def _days(first: date, last: date) -> list[datetime]:
    return [
        datetime(first.year, first.month, first.day, tzinfo=UTC) + timedelta(days=i)
        for i in range((last - first).days + 1)
    ]


def _url(dbname: str) -> str:
    return psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=dbname)


def _sqlalchemy_url(dbname: str) -> str:
    """The metadata database as Airflow's SQLAlchemy URL (psycopg2, as Airflow documents)."""
    from sqlalchemy.engine import URL

    parts = psycopg.conninfo.conninfo_to_dict(_url(dbname))
    return URL.create(
        "postgresql+psycopg2",
        username=parts.get("user"),
        password=parts.get("password"),
        host=parts.get("host"),
        port=int(parts["port"]) if parts.get("port") else None,
        database=dbname,
    ).render_as_string(hide_password=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path.name}: no such file)"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return f"--- {path.name} (last {min(lines, len(text))} lines)\n" + "\n".join(text[-lines:])


@dataclass
class Airflow:
    """Airflow components running in the background against one AIRFLOW_HOME."""

    home: Path
    env: dict[str, str]
    meta_url: str
    api_port: int
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    cli_logs: list[Path] = field(default_factory=list)

    @property
    def logs(self) -> Path:
        return self.home / "test-logs"

    def start(self, name: str, *args: str) -> None:
        self.logs.mkdir(exist_ok=True)
        with (self.logs / f"{name}.log").open("w") as log:
            # A session (process group) of its own: stop() ends it with every child it forked
            # (LocalExecutor workers, task supervisors and tasks, api-server workers).
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "airflow", name, *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def stop(self) -> None:
        """SIGTERM to each process group, then SIGKILL to whatever is left of it."""
        for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            for proc in self.procs.values():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
            deadline = time.monotonic() + wait_s
            for proc in self.procs.values():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))

    def cli(self, *args: str, log_name: str) -> tuple[int, str]:
        """Run `airflow ARGS...` in a new process; exit status and output."""
        self.logs.mkdir(exist_ok=True)
        log_path = self.logs / f"cli-{len(self.cli_logs) + 1:02d}-{log_name}.log"
        self.cli_logs.append(log_path)
        with log_path.open("w") as log:
            proc = subprocess.run(
                [sys.executable, "-m", "airflow", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=CLI_TIMEOUT_S,
                check=False,
            )
        return proc.returncode, log_path.read_text(encoding="utf-8", errors="replace")

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.meta_url, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def diagnostics(self) -> str:
        """Component log tails, the detect runs and tasks, and the failed tasks' logs."""
        parts = []
        for name, proc in self.procs.items():
            parts.append(f"{name}: pid {proc.pid}, exit status {proc.poll()}")
        for name in self.procs:
            parts.append(_tail(self.logs / f"{name}.log"))
        if self.cli_logs:
            parts.append(_tail(self.cli_logs[-1], 20))
        try:
            runs = self.query(
                "SELECT run_id, run_type, state, backfill_id, clear_number FROM dag_run "
                "WHERE dag_id = %s ORDER BY logical_date NULLS LAST",
                (DAG_ID,),
            )
            parts.append("dag runs:\n" + "\n".join(map(str, runs)))
            unfinished = self.query(
                "SELECT run_id, task_id, state, try_number FROM task_instance "
                "WHERE dag_id = %s AND state IS DISTINCT FROM 'success' ORDER BY run_id, task_id",
                (DAG_ID,),
            )
            parts.append("task instances not successful:\n" + "\n".join(map(str, unfinished)))
            for run_id, task_id, state, try_number in unfinished:
                if state in ("failed", "upstream_failed", "up_for_retry"):
                    task_logs = self.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}"
                    log = task_logs / f"task_id={task_id}" / f"attempt={try_number}.log"
                    parts.append(_tail(log, 30))
        except psycopg.Error as exc:
            parts.append(f"(metadata database unreadable: {exc})")
        return "\n\n".join(parts)

    def wait_for(self, what: str, check: Callable[[], Any], timeout_s: float) -> Any:
        """Poll `check` until it returns something true; fail with diagnostics otherwise."""
        deadline = time.monotonic() + timeout_s
        while True:
            exited = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
            if exited:
                pytest.fail(f"{what}: Airflow component(s) exited {exited}\n{self.diagnostics()}")
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not after {timeout_s:.0f} s\n{self.diagnostics()}")
            time.sleep(2)

    def api_healthy(self) -> bool:
        url = f"http://127.0.0.1:{self.api_port}/api/v2/monitor/health"
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def backfill(self, first: date, last: date, *extra: str) -> int:
        """`airflow backfill create` as the README gives it; waits until the scheduler has run
        every run of the backfill and marked it complete. Returns the backfill's id."""
        code, out = self.cli(
            "backfill", "create", "--dag-id", DAG_ID,
            "--from-date", first.isoformat(), "--to-date", last.isoformat(),
            "--max-active-runs", "1", *extra,
            log_name="backfill-create",
        )  # fmt: skip
        assert code == 0, f"airflow backfill create failed ({code}):\n{out[-4000:]}"
        ((backfill_id,),) = self.query("SELECT max(id) FROM backfill WHERE dag_id = %s", (DAG_ID,))
        assert backfill_id is not None, out[-4000:]

        def finished() -> bool:
            states = dict(
                self.query(
                    "SELECT state, count(*) FROM dag_run WHERE backfill_id = %s GROUP BY state",
                    (backfill_id,),
                )
            )
            if states.get("failed"):
                pytest.fail(f"backfill {backfill_id}: runs failed {states}\n{self.diagnostics()}")
            # The scheduler marks a backfill complete (every ~30 s) once none of its runs is
            # left; only then may another backfill of the DAG be created.
            ((completed_at,),) = self.query(
                "SELECT completed_at FROM backfill WHERE id = %s", (backfill_id,)
            )
            return completed_at is not None

        self.wait_for(f"backfill {backfill_id} of {first}..{last}", finished, BACKFILL_TIMEOUT_S)
        return backfill_id

    def detect_runs(self) -> list[dict[str, Any]]:
        cols = (
            "id, run_id, run_type, state, logical_date, data_interval_start, data_interval_end, "
            "start_date, end_date, backfill_id, clear_number"
        )
        rows = self.query(
            f"SELECT {cols} FROM dag_run WHERE dag_id = %s ORDER BY logical_date, id", (DAG_ID,)
        )
        names = [c.strip() for c in cols.split(",")]
        runs = [dict(zip(names, row, strict=True)) for row in rows]
        tasks = self.query(
            "SELECT run_id, task_id, state, try_number FROM task_instance WHERE dag_id = %s",
            (DAG_ID,),
        )
        for run in runs:
            run["tasks"] = {t: (s, n) for r, t, s, n in tasks if r == run["run_id"]}
        return runs


@dataclass
class Backfilled:
    airflow: Airflow
    warehouse_url: str  # the warehouse the backfill wrote to
    span_url: str  # the same positions, detected in one run over the span
    backfill_id: int
    runs: list[dict[str, Any]]  # the detect runs right after the backfill


def _load_scenario(url: str, work: Path) -> None:
    """Reference data and the demo scenario's positions (no events), through the library."""
    from pipeline.geo.reference import load_reference
    from pipeline.ingest.load import ingest_file
    from pipeline.simulate import DemoScenario, write_scenario

    default = DemoScenario()
    config = replace(default, fleet=replace(default.fleet, vessels=BACKGROUND_VESSELS))
    files = write_scenario(work / "scenario", config)
    with db.connect(url) as conn:
        load_reference(conn)
        conn.commit()
        for path in files.ais_files:
            ingest_file(conn, path, fmt="noaa")


def _airflow_env(home: Path, pycache: Path, meta_db: str, api_port: int, warehouse_url: str):
    from pipeline.orchestration import airflow_connection_uri

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW_", "AIRFLOW__")) and k != "DATABASE_URL"
    }
    # Airflow imports some two thousand modules in every process (each task's too): keep their
    # bytecode between processes, outside the source tree (the cache airflow_home uses).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_DIR / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _sqlalchemy_url(meta_db),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            # Shared by the api-server (signs task tokens) and the scheduler (asks for them).
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            # Unpausing straitwatch_detect would otherwise start its latest daily run (today,
            # after the data), and asset events would start runs: only backfill runs run here.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW_CONN_STRAITWATCH_DB": airflow_connection_uri(warehouse_url),
            # A failing task should fail the test at once, not back off for minutes.
            "STRAITWATCH_TASK_RETRIES": "0",
            "PYTHONWARNINGS": "ignore",
        }
    )
    return env


@pytest.fixture(scope="module")
def backfilled(databases, request) -> Iterator[Backfilled]:
    for module in ("pipeline.geo.reference", "pipeline.ingest.load", "pipeline.simulate"):
        pytest.importorskip(module)
    from pipeline.geo.detect import detect_window

    work = Path(tempfile.mkdtemp(prefix="sw_backfill_"))
    airflow: Airflow | None = None
    try:
        loaded = databases.create(template=databases.migrated_template())
        _load_scenario(_url(loaded), work)
        warehouse_url = _url(databases.create(template=loaded))
        span_url = _url(databases.create(template=loaded))
        days = _days(FIRST_DAY, LAST_DAY)
        with db.connect(span_url) as conn:
            detect_window(conn, days[0], days[-1] + timedelta(days=1))

        home = work / "airflow"
        home.mkdir()
        meta_db = databases.create()
        port = _free_port()
        pycache = Path(request.config.cache.mkdir("airflow-pycache"))
        env = _airflow_env(home, pycache, meta_db, port, warehouse_url)
        airflow = Airflow(home=home, env=env, meta_url=_url(meta_db), api_port=port)
        code, out = airflow.cli("db", "migrate", log_name="db-migrate")
        assert code == 0, f"airflow db migrate failed:\n{out[-4000:]}"
        airflow.start("api-server")
        airflow.start("scheduler")
        airflow.start("dag-processor")
        airflow.wait_for("the api-server answering", airflow.api_healthy, START_TIMEOUT_S)
        airflow.wait_for(
            f"{DAG_ID} parsed by the dag-processor",
            lambda: airflow.query("SELECT 1 FROM serialized_dag WHERE dag_id = %s", (DAG_ID,)),
            START_TIMEOUT_S,
        )
        airflow.wait_for(
            "the scheduler heartbeating",
            lambda: airflow.query(
                "SELECT 1 FROM job WHERE job_type = 'SchedulerJob' AND state = 'running' "
                "AND latest_heartbeat > now() - interval '30 seconds'"
            ),
            START_TIMEOUT_S,
        )
        # Backfill runs of a paused DAG are created but never started.
        code, out = airflow.cli("dags", "unpause", DAG_ID, log_name="unpause")
        assert code == 0, f"airflow dags unpause failed:\n{out[-4000:]}"

        backfill_id = airflow.backfill(FIRST_DAY, LAST_DAY)
        yield Backfilled(airflow, warehouse_url, span_url, backfill_id, airflow.detect_runs())
    finally:
        if airflow is not None:
            airflow.stop()
        shutil.rmtree(work, ignore_errors=True)


def test_backfill_runs_one_run_per_day_in_order(backfilled) -> None:
    days = _days(FIRST_DAY, LAST_DAY)
    runs = backfilled.runs
    # Only the backfill's runs exist: no scheduled run, no asset-triggered run.
    assert [r["backfill_id"] for r in runs] == [backfilled.backfill_id] * len(days)
    assert [r["run_type"] for r in runs] == ["backfill"] * len(days)
    assert [r["logical_date"] for r in runs] == days
    assert [(r["data_interval_start"], r["data_interval_end"]) for r in runs] == [
        (d, d + timedelta(days=1)) for d in days
    ]
    for run in runs:
        assert run["state"] == "success", run
        assert run["clear_number"] == 0, run
        assert run["tasks"] == dict.fromkeys(DETECT_TASKS, ("success", 1)), run
    # One at a time, in time order: each run started after the day before had finished.
    for before, after in itertools.pairwise(runs):
        assert after["start_date"] >= before["end_date"], (before["run_id"], after["run_id"])


def test_backfill_writes_the_rows_of_one_run_over_the_span(backfilled, snapshot) -> None:
    tables = snapshot.of(*snapshot.EVENT_TABLES)
    daily = snapshot(backfilled.warehouse_url, tables)
    assert daily["chokepoint_crossings"][0] > 0 and daily["port_calls"][0] > 0
    assert daily == snapshot(backfilled.span_url, tables)
    with db.connect(backfilled.warehouse_url) as conn:
        rows = conn.execute(
            "SELECT mmsi, chokepoint_id, direction, crossed_at "
            "FROM straitwatch.chokepoint_crossings "
            "WHERE mmsi = ANY(%s) AND chokepoint_id = 'gibraltar' ORDER BY crossed_at",
            ([mmsi for mmsi, *_ in SPARTA_GIBRALTAR],),
        ).fetchall()
    assert rows == SPARTA_GIBRALTAR


def test_backfilling_days_again_changes_no_row(backfilled, snapshot) -> None:
    airflow = backfilled.airflow
    before = snapshot(backfilled.warehouse_url, snapshot.of(*snapshot.EVENT_TABLES))
    again = airflow.backfill(RERUN_FIRST_DAY, RERUN_LAST_DAY, "--reprocess-behavior", "completed")
    assert again != backfilled.backfill_id

    rerun_days = _days(RERUN_FIRST_DAY, RERUN_LAST_DAY)
    runs = airflow.detect_runs()
    # The same dag runs, cleared and run again by the new backfill: no run was added.
    assert [r["id"] for r in runs] == [r["id"] for r in backfilled.runs]
    for run in runs:
        if run["logical_date"] in rerun_days:
            assert (run["backfill_id"], run["clear_number"], run["state"]) == (
                again,
                1,
                "success",
            ), run
            assert run["tasks"] == dict.fromkeys(DETECT_TASKS, ("success", 2)), run
        else:
            assert (run["backfill_id"], run["clear_number"]) == (backfilled.backfill_id, 0), run
    assert snapshot(backfilled.warehouse_url, snapshot.of(*snapshot.EVENT_TABLES)) == before
