"""The DAG files: they import cleanly, stay light at parse time, and are wired as documented."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest

from pipeline.config import REPO_DIR

pytestmark = pytest.mark.airflow

DAGS_DIR = REPO_DIR / "dags"
DAG_IDS = ("straitwatch_reference", "straitwatch_ingest", "straitwatch_detect", "straitwatch_match")

HEAVY_MODULES = (
    "pandas",
    "numpy",
    "shapely",
    "psycopg",
    "psycopg2",
    "pyarrow",
    "pyais",
    "rapidfuzz",
    "searoute",
    "matplotlib",
)

# Imports every DAG file the way the DAG processor does, after Airflow and the operators
# the DAG files use are loaded, and prints what the DAG files themselves pulled in.
_PARSE_PROBE = """
import json, runpy, sys
from pathlib import Path
import airflow.sdk
from airflow.providers.common.sql.operators.sql import SQLCheckOperator
before = set(sys.modules)
for path in sorted(Path(sys.argv[1]).glob("*.py")):
    runpy.run_path(str(path), run_name=path.stem)
print(json.dumps({
    "before": sorted(before),
    "added": sorted(set(sys.modules) - before),
}))
"""


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_dagbag_imports_without_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == sorted(DAG_IDS)


def test_dag_files_import_nothing_heavy_at_parse_time(airflow_home) -> None:
    # Even with the warehouse connection pointing nowhere, parsing must not touch it.
    env = {**airflow_home.env, "AIRFLOW_CONN_STRAITWATCH_DB": "postgres://nobody@127.0.0.1:1/x"}
    proc = subprocess.run(
        [sys.executable, "-c", _PARSE_PROBE, str(DAGS_DIR)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    modules = json.loads(proc.stdout.strip().splitlines()[-1])
    loaded = set(modules["before"]) | set(modules["added"])
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY_MODULES)
    assert heavy == []
    ours = sorted(m for m in modules["added"] if m.split(".")[0] == "pipeline")
    assert ours == ["pipeline", "pipeline.orchestration"]


def test_every_dag_is_one_stage_with_retries_on_database_errors(dagbag) -> None:
    from pipeline.orchestration import TransientDatabaseErrors

    for dag_id in DAG_IDS:
        dag = dagbag.dags[dag_id]
        assert dag.max_active_runs == 1, dag_id
        assert dag.catchup is False, dag_id
        # Runs dated before start_date get no tasks: it must allow backfilling any AIS year.
        assert dag.start_date.year <= 2002, dag_id
        for task in dag.tasks:
            assert task.retries == 4, (dag_id, task.task_id)
            assert task.retry_exponential_backoff == 2.0, (dag_id, task.task_id)
            assert task.retry_delay == timedelta(seconds=30)
            assert task.max_retry_delay == timedelta(minutes=30)
            assert isinstance(task.retry_policy, TransientDatabaseErrors), (dag_id, task.task_id)


def test_assets_chain_the_dags(dagbag) -> None:
    def outlets(dag_id: str) -> set[str]:
        return {a.name for t in dagbag.dags[dag_id].tasks for a in t.outlets}

    assert outlets("straitwatch_reference") == {"straitwatch.reference"}
    assert outlets("straitwatch_ingest") == {"straitwatch.positions"}
    assert outlets("straitwatch_detect") == {"straitwatch.events"}
    assert outlets("straitwatch_match") == {"straitwatch.matches"}

    def triggers(dag_id: str) -> set[str]:
        timetable = dagbag.dags[dag_id].timetable
        assert type(timetable).__name__ == "AssetOrTimeSchedule", dag_id
        return _asset_names(timetable.asset_condition)

    assert triggers("straitwatch_detect") == {"straitwatch.positions"}
    assert triggers("straitwatch_match") == {"straitwatch.events", "straitwatch.reports"}


def _asset_names(condition) -> set[str]:
    """Names of the assets in an asset condition (an asset, or any/all of several)."""
    if hasattr(condition, "objects"):
        return set().union(*(_asset_names(c) for c in condition.objects))
    return {condition.name}


def test_ingest_maps_one_task_per_file(dagbag) -> None:
    ingest = dagbag.dags["straitwatch_ingest"]
    mapped = ingest.get_task("ingest_file")
    assert type(mapped).__name__.endswith("MappedOperator")
    assert mapped.partial_kwargs["max_active_tis_per_dag"] == 4  # files loaded at once
    assert ingest.get_task("summarize").trigger_rule == "all_done"
    assert ingest.get_task("report_failed_files").trigger_rule == "one_failed"


def test_checks_use_the_common_sql_operators_on_the_warehouse(dagbag) -> None:
    kinds = {}
    for dag_id in DAG_IDS:
        for task in dagbag.dags[dag_id].tasks:
            if task.task_id.startswith("check_"):
                assert task.conn_id == "straitwatch_db", (dag_id, task.task_id)
                kinds[(dag_id, task.task_id)] = type(task).__name__
    assert set(kinds.values()) == {
        "SQLCheckOperator",
        "SQLTableCheckOperator",
        "SQLColumnCheckOperator",
    }
    assert kinds[("straitwatch_ingest", "check_counts")] == "SQLTableCheckOperator"
    assert kinds[("straitwatch_match", "check_verdicts")] == "SQLTableCheckOperator"
    assert kinds[("straitwatch_detect", "check_crossings")] == "SQLCheckOperator"
