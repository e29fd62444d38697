"""straitwatch_ingest: load the AIS files waiting in the inbox, one mapped task per file.

Every ten minutes the DAG lists `<inbox>/ais/` (inbox: Airflow Variable `straitwatch_inbox`
or $STRAITWATCH_INBOX), loads each settled file in its own transaction (a file already loaded,
same sha256, is skipped), and moves it to `done/ais/<day>/`, or to `failed/ais/<day>/` with a
`.error` note when the file itself is bad. When the counts check out it emits the
`straitwatch.positions` asset, whose extra names the files and the time span loaded: that
triggers straitwatch_detect over exactly those days.
"""

from __future__ import annotations

from airflow.providers.common.sql.operators.sql import SQLCheckOperator, SQLTableCheckOperator
from airflow.sdk import CronTriggerTimetable, dag, get_current_context, task

from pipeline import orchestration as orch

SETTINGS = orch.TaskSettings.from_env()

# The files this run loaded, as a WHERE clause that Airflow renders when the check runs.
THIS_RUN_FILES = (
    """file_id = ANY('{{ ti.xcom_pull(task_ids="summarize")["file_ids_pg"] }}'::bigint[])"""
)


@dag(
    dag_id="straitwatch_ingest",
    schedule=CronTriggerTimetable("*/10 * * * *", timezone="UTC"),
    start_date=orch.EARLIEST_DATA,
    catchup=False,
    max_active_runs=1,
    default_args=orch.task_defaults(SETTINGS),
    tags=["straitwatch"],
    doc_md=__doc__,
)
def straitwatch_ingest():
    @task
    def list_files() -> list[str]:
        return orch.list_ais_files()

    @task(
        map_index_template="{{ inbox_file }}",
        max_active_tis_per_dag=SETTINGS.ingest_concurrency,
    )
    def ingest_file(path: str) -> dict:
        # names the mapped task instance in the UI (map_index_template); Context is a TypedDict
        get_current_context()["inbox_file"] = orch.display_name(path)  # type: ignore[typeddict-unknown-key]
        return orch.ingest_inbox_file(path)

    @task(trigger_rule="all_done")
    def summarize(results: list[dict]) -> dict:
        return orch.summarize_ingest(results)

    check_counts = SQLTableCheckOperator(
        task_id="check_counts",
        conn_id=orch.CONN_ID,
        table="straitwatch.ingested_files",
        partition_clause=THIS_RUN_FILES,
        accept_none=True,
        checks={"read_is_loaded_plus_rejected": {"check_statement": orch.COUNTS_ADD_UP}},
    )
    check_rejects = SQLCheckOperator(
        task_id="check_rejects",
        conn_id=orch.CONN_ID,
        sql=orch.CHECK_REJECTS_RECORDED.format(files=THIS_RUN_FILES),
    )

    publish = orch.publish_task(
        orch.POSITIONS,
        extra=orch.positions_event_extra,
        nothing_new=lambda summary: not summary["rows_loaded"],
    )
    report_failed_files = orch.failed_files_task(orch.AIS_KIND)

    files = list_files()
    loaded = ingest_file.expand(path=files)
    summary = summarize(loaded)
    summary >> [check_counts, check_rejects] >> publish(summary)
    report_failed_files(files, loaded)


straitwatch_ingest()
