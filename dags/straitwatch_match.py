"""straitwatch_match: import new reports, then give every reported departure a verdict.

Runs when detection publishes `straitwatch.events`, when someone announces
`straitwatch.reports` (e.g. through the REST API), and hourly to pick up files dropped in
`<inbox>/reports/`: report CSVs (`import-reports` format) and news articles (`NAME.txt` with a
`NAME.json` beside it holding `{"published": "YYYY-MM-DD", "source": "..."}`). Imported files
move to `done/reports/<day>/`, bad ones to `failed/reports/<day>/` with a `.error` note.
Matching rewrites `departure_matches` for every report, since new positions can change old
verdicts. An hourly run with nothing new does nothing. Emits `straitwatch.matches`.
"""

from __future__ import annotations

from airflow.providers.common.sql.operators.sql import SQLCheckOperator, SQLTableCheckOperator
from airflow.sdk import (
    AssetOrTimeSchedule,
    CronTriggerTimetable,
    dag,
    get_current_context,
    task,
)

from pipeline import orchestration as orch


@dag(
    dag_id="straitwatch_match",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 * * * *", timezone="UTC"),
        assets=orch.EVENTS | orch.REPORTS,
    ),
    start_date=orch.EARLIEST_DATA,
    catchup=False,
    max_active_runs=1,
    default_args=orch.task_defaults(),
    tags=["straitwatch"],
    doc_md=__doc__,
)
def straitwatch_match():
    @task
    def list_files() -> list[str]:
        return orch.list_report_files()

    @task(map_index_template="{{ inbox_file }}")
    def import_file(path: str) -> dict:
        # names the mapped task instance in the UI (map_index_template); Context is a TypedDict
        get_current_context()["inbox_file"] = orch.display_name(path)  # type: ignore[typeddict-unknown-key]
        return orch.import_report_file(path)

    @task(trigger_rule="all_done")
    def match(imported: list[dict], *, dag_run=None) -> dict:
        return orch.run_match(imported, run_type=dag_run.run_type)

    check_verdicts = SQLTableCheckOperator(
        task_id="check_verdicts",
        conn_id=orch.CONN_ID,
        table="straitwatch.departure_matches",
        accept_none=True,
        checks=orch.VERDICT_CHECKS,
    )
    check_every_report = SQLCheckOperator(
        task_id="check_every_report",
        conn_id=orch.CONN_ID,
        sql=orch.CHECK_EVERY_REPORT_HAS_A_VERDICT,
    )

    publish = orch.publish_task(orch.MATCHES)
    report_failed_files = orch.failed_files_task(orch.REPORTS_KIND)

    files = list_files()
    imported = import_file.expand(path=files)
    summary = match(imported)
    summary >> [check_verdicts, check_every_report] >> publish(summary)
    report_failed_files(files, imported)


straitwatch_match()
