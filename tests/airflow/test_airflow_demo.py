"""`make demo` end to end: the demo scenario through the four DAGs, on a throwaway warehouse.

The module runs scripts/airflow_demo.py once (reference, ingest, detect and match through
`airflow dags test`), then checks what each DAG wrote against the library run directly on the
same scenario, reruns every DAG with the same logical date (nothing may change), and checks
that daily detect runs over five days, as a backfill creates them, equal one run over the span.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from pipeline import db
from pipeline.config import REPO_DIR

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

DEMO_SCRIPT = REPO_DIR / "scripts" / "airflow_demo.py"
DAG_IDS = ("straitwatch_reference", "straitwatch_ingest", "straitwatch_detect", "straitwatch_match")
# The story ships (Sparta, Sparta II, ...) and a little of the background traffic, to keep the
# suite quick: the DAGs' work per file is the same.
BACKGROUND_VESSELS = 40


@dataclass
class DemoRun:
    url: str
    work: Path
    stdout: str
    airflow: object  # conftest.AirflowHome: the session's, which the demo ran in
    runs: dict[str, tuple[str, dict | None]]  # per DAG: logical date and conf of its demo run


@pytest.fixture(scope="module")
def demo_run(airflow_home, databases, tmp_path_factory) -> DemoRun:
    for module in (
        "pipeline.geo.reference",
        "pipeline.ingest.load",
        "pipeline.geo.detect",
        "pipeline.reports.match",
        "pipeline.reports.present",
        "pipeline.simulate",
        "pipeline.demo",
    ):
        pytest.importorskip(module)
    work = tmp_path_factory.mktemp("demo")
    # The demo's Airflow home is the session's (already migrated): the reruns below then go
    # through the session's warm runner instead of starting another.
    (work / "airflow").symlink_to(airflow_home.home, target_is_directory=True)
    (airflow_home.home / ".migrated").write_text(importlib.metadata.version("apache-airflow"))
    url = _new_database(databases)
    env = {**airflow_home.env, "DATABASE_URL": url, "STRAITWATCH_CACHE_DIR": str(work / "cache")}
    env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW")}
    proc = subprocess.run(
        [
            sys.executable,
            str(DEMO_SCRIPT),
            "--work-dir",
            str(work),
            "--background-vessels",
            str(BACKGROUND_VESSELS),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"airflow_demo.py failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    runs = {}
    with sqlite3.connect(airflow_home.metadata_db) as meta:
        for dag_id in DAG_IDS:
            logical_date, conf = meta.execute(
                "SELECT logical_date, conf FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1",
                (dag_id,),
            ).fetchone()
            runs[dag_id] = (logical_date.replace(" ", "T"), json.loads(conf) if conf else None)
    return DemoRun(url=url, work=work, stdout=proc.stdout, airflow=airflow_home, runs=runs)


def _new_database(databases, template: str | None = None) -> str:
    admin = os.environ.get(
        "STRAITWATCH_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    return psycopg.conninfo.make_conninfo(admin, dbname=databases.create(template=template))


def _scenario_config():
    from pipeline.simulate import DemoScenario

    default = DemoScenario()
    return replace(default, fleet=replace(default.fleet, vessels=BACKGROUND_VESSELS))


def _library_demo(url: str, work: Path):
    """The same scenario through `straitwatch demo`'s library path, for comparison."""
    import io

    from pipeline.demo import run_demo

    with db.connect(url) as conn:
        return run_demo(conn, work, config=_scenario_config(), out=io.StringIO())


def test_demo_prints_progress_verdicts_and_how_to_query(demo_run) -> None:
    out = demo_run.stdout
    for n, dag_id in enumerate(DAG_IDS, start=1):
        assert f"[{n}/4] {dag_id}" in out
    assert "ingest_file [AIS_" in out  # a line per mapped file, named by the file
    assert "Verdicts (through Airflow" in out
    assert "SPARTA" in out.upper() and "SPARTA II" in out.upper()
    assert 'psql "' in out and "FROM straitwatch.departure_matches" in out


def test_demo_dags_write_what_the_library_writes(demo_run, databases, snapshot) -> None:
    library_url = _new_database(databases, template=databases.migrated_template())
    _library_demo(library_url, demo_run.work)  # same scenario files: reused, not regenerated
    # Everything but the migrations table (the library run's database was migrated apart).
    assert snapshot(demo_run.url, snapshot.data) == snapshot(library_url, snapshot.data)


def _truth(demo_run) -> pd.DataFrame:
    """The scenario's ground truth (the files are already written: reused, not regenerated)."""
    from pipeline.simulate import write_scenario

    return write_scenario(demo_run.work / "scenario", _scenario_config()).truth


def test_the_sparta_voyages_come_out_of_the_dags(demo_run) -> None:
    """Every passage and port call the scenario gives Sparta and Sparta II is detected."""
    truth = _truth(demo_run)
    subjects = truth[truth["role"] == "subject"]
    assert set(subjects["name"]) == {"SPARTA", "SPARTA II"}
    with db.connect(demo_run.url) as conn:
        crossings = db.read_frame(
            conn,
            "SELECT mmsi, chokepoint_id, direction, crossed_at "
            "FROM straitwatch.chokepoint_crossings WHERE mmsi = ANY(%s)",
            (subjects["mmsi"].unique().tolist(),),
        )
        calls = db.read_frame(
            conn,
            "SELECT mmsi, port_id, arrived_at, departed_at FROM straitwatch.port_calls "
            "WHERE mmsi = ANY(%s)",
            (subjects["mmsi"].unique().tolist(),),
        )
    slack = pd.Timedelta(hours=3)  # AIS sampled every few minutes to hours near a gate
    for passage in subjects[subjects["kind"] == "passage"].itertuples():
        found = crossings[
            (crossings["mmsi"] == passage.mmsi)
            & (crossings["chokepoint_id"] == passage.place_id)
            & (crossings["direction"] == passage.direction)
            & crossings["crossed_at"].between(
                passage.window_start - slack, passage.window_end + slack
            )
        ]
        assert len(found) == 1, passage
    for call in subjects[subjects["kind"] == "port_call"].itertuples():
        found = calls[
            (calls["mmsi"] == call.mmsi)
            & (calls["port_id"] == call.place_id)
            & calls["arrived_at"].between(call.started_at - slack, call.started_at + slack)
        ]
        assert len(found) == 1, call
        assert found["departed_at"].isna().all() == pd.isna(call.ended_at), call


def test_sparta_verdicts_come_out_of_the_dags(demo_run) -> None:
    """The seed article's two claims: each named ship found, and its Gibraltar passage two days
    before the claimed Tuesday (Sunday 9 February 2025), hence date_mismatch."""
    truth = _truth(demo_run)
    mmsi = truth[truth["role"] == "subject"].groupby("name")["mmsi"].first().to_dict()
    with db.connect(demo_run.url) as conn:
        rows = conn.execute(
            "SELECT upper(r.vessel_name), m.mmsi, m.verdict "
            "FROM straitwatch.departure_matches m JOIN straitwatch.reported_departures r "
            "USING (report_id) WHERE r.report_id LIKE 'art-%' ORDER BY 1"
        ).fetchall()
    assert rows == [
        ("SPARTA", mmsi["SPARTA"], "date_mismatch"),
        ("SPARTA II", mmsi["SPARTA II"], "date_mismatch"),
    ]


def test_rerunning_every_dag_on_the_same_logical_date_changes_nothing(demo_run, snapshot) -> None:
    before = snapshot(demo_run.url)
    for dag_id, (logical_date, conf) in demo_run.runs.items():
        run = demo_run.airflow.dags_test(
            dag_id,
            logical_date,
            warehouse_url=demo_run.url,
            inbox=demo_run.work / "inbox",
            conf=conf,
        )
        assert run.succeeded
        assert run.run["logical_date"].replace(" ", "T") == logical_date
    assert snapshot(demo_run.url) == before


def test_daily_detect_runs_equal_one_run_over_the_span(demo_run, databases, snapshot) -> None:
    """What `airflow backfill create` does day by day gives the rows of one run over the span."""
    with db.connect(demo_run.url) as conn:
        first = conn.execute("SELECT min(ts) FROM straitwatch.positions").fetchone()[0]
    days = [
        datetime(first.year, first.month, first.day, tzinfo=UTC) + timedelta(days=i)
        for i in range(5)
    ]
    # Two copies of the loaded warehouse without any events.
    with psycopg.connect(demo_run.url, autocommit=True) as conn:
        template = conn.info.dbname
    daily_url = _new_database(databases, template=template)
    span_url = _new_database(databases, template=template)
    for url in (daily_url, span_url):
        with db.connect(url) as conn:
            conn.execute(
                "TRUNCATE "
                + ", ".join(f"straitwatch.{t}" for t in snapshot.EVENT_TABLES)
                + " CASCADE"
            )
            conn.commit()

    meta = demo_run.airflow
    code, log = meta.cli(
        "backfill", "create", "--dag-id", "straitwatch_detect",
        "--from-date", days[0].date().isoformat(), "--to-date", days[-1].date().isoformat(),
        "--dry-run", log_name="backfill-dry-run",
    )  # fmt: skip
    assert code == 0, log.read_text()[-3000:]
    planned = [d.date().isoformat() for d in days]
    listed = [line for line in log.read_text().splitlines() if line.startswith("| 20")]
    assert [line.split()[1] for line in listed] == planned

    for day in days:
        # A manual run at D+1 covers the interval the backfill run of D covers: [D, D+1).
        run = meta.dags_test(
            "straitwatch_detect", (day + timedelta(days=1)).isoformat(), warehouse_url=daily_url
        )
        assert run.run["data_interval_start"].startswith(day.strftime("%Y-%m-%d 00:00:00"))
    meta.dags_test(
        "straitwatch_detect",
        (days[-1] + timedelta(days=1)).isoformat(),
        warehouse_url=span_url,
        conf={"start": days[0].isoformat(), "end": (days[-1] + timedelta(days=1)).isoformat()},
    )
    tables = snapshot.of(*snapshot.EVENT_TABLES)
    daily, span = snapshot(daily_url, tables), snapshot(span_url, tables)
    assert daily["chokepoint_crossings"][0] + daily["port_calls"][0] > 0
    assert daily == span
