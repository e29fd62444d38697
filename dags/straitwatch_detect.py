"""straitwatch_detect: AIS gaps, chokepoint crossings and port calls for one time window.

Scheduled daily over the previous UTC day (its data interval; backfill with `airflow backfill
create --dag-id straitwatch_detect --from-date D1 --to-date D2 --max-active-runs 1`; the rows do
not depend on the order the days run in, one at a time only keeps each run's reads to its own
day), and triggered by the
`straitwatch.positions` asset, in which case it re-detects the whole UTC days of the positions
just loaded. A manual run may name its own window: `--conf '{"start": ..., "end": ...}'`.
Detection replaces the window's events, so reruns and overlapping windows never double-count.
Emits `straitwatch.events` once the events pass their checks.
"""

from __future__ import annotations

from airflow.providers.common.sql.operators.sql import SQLCheckOperator, SQLColumnCheckOperator
from airflow.sdk import AssetOrTimeSchedule, CronDataIntervalTimetable, Param, dag, task

from pipeline import orchestration as orch

WINDOW = {
    "start": "{{ ti.xcom_pull(task_ids='window')['start'] }}",
    "end": "{{ ti.xcom_pull(task_ids='window')['end'] }}",
}


@dag(
    dag_id="straitwatch_detect",
    schedule=AssetOrTimeSchedule(
        timetable=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
        assets=orch.POSITIONS,
    ),
    start_date=orch.EARLIEST_DATA,
    catchup=False,
    # Windows of concurrent runs may overlap (a late file and the daily run): one at a time.
    max_active_runs=1,
    default_args=orch.task_defaults(),
    params={
        "start": Param(None, type=["null", "string"], description="window start, ISO 8601"),
        "end": Param(None, type=["null", "string"], description="window end (exclusive)"),
    },
    tags=["straitwatch"],
    doc_md=__doc__,
)
def straitwatch_detect():
    @task
    def window(
        *,
        params=None,
        triggering_asset_events=None,
        data_interval_start=None,
        data_interval_end=None,
    ) -> dict:
        return orch.detect_window_for_run(
            params=params,
            triggering_asset_events=triggering_asset_events,
            data_interval_start=data_interval_start,
            data_interval_end=data_interval_end,
        )

    @task
    def detect(window: dict) -> dict:
        return orch.run_detect(window)

    check_crossings = SQLCheckOperator(
        task_id="check_crossings",
        conn_id=orch.CONN_ID,
        sql=orch.CHECK_CROSSINGS.format(**WINDOW),
    )
    check_gaps = SQLColumnCheckOperator(
        task_id="check_gaps",
        conn_id=orch.CONN_ID,
        table="straitwatch.ais_gaps",
        partition_clause="ended_at >= '{start}' AND ended_at < '{end}'".format(**WINDOW),
        column_mapping={
            "distance_nm": {"min": {"geq_to": 0}},
            "implied_speed_kn": {"min": {"geq_to": 0}},
        },
    )

    publish = orch.publish_task(orch.EVENTS)

    result = detect(window())
    result >> [check_crossings, check_gaps] >> publish(result)


straitwatch_detect()
