"""straitwatch_reference: schema migrations, then chokepoints, gate lines and ports from seeds/.

Runs once when first unpaused; trigger it again after changing seeds/ or upgrading straitwatch.
Emits the `straitwatch.reference` asset once the reference tables pass their checks.
"""

from __future__ import annotations

from airflow.providers.common.sql.operators.sql import SQLCheckOperator, SQLTableCheckOperator
from airflow.sdk import dag, task

from pipeline import orchestration as orch


@dag(
    dag_id="straitwatch_reference",
    schedule="@once",
    start_date=orch.EARLIEST_DATA,
    catchup=False,
    max_active_runs=1,
    default_args=orch.task_defaults(),
    tags=["straitwatch"],
    doc_md=__doc__,
)
def straitwatch_reference():
    @task
    def migrate() -> dict:
        return orch.run_migrations()

    @task
    def load_reference() -> dict:
        return orch.run_load_reference()

    check_gates = SQLTableCheckOperator(
        task_id="check_gates",
        conn_id=orch.CONN_ID,
        table="straitwatch.chokepoint_gates",
        checks={
            "gate_is_a_line": {"check_statement": "wkt LIKE 'LINESTRING%'"},
            "sides_differ": {"check_statement": "side_a <> side_b"},
        },
    )
    check_chokepoints = SQLCheckOperator(
        task_id="check_chokepoints",
        conn_id=orch.CONN_ID,
        sql=orch.CHECK_EVERY_CHOKEPOINT_HAS_GATES,
    )

    publish = orch.publish_task(orch.REFERENCE)

    counts = load_reference()
    migrate() >> counts >> [check_gates, check_chokepoints] >> publish(counts)


straitwatch_reference()
