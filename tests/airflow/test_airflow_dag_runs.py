"""Each DAG run for real with `airflow dags test` on a throwaway warehouse, its rows checked.

The end-to-end run on the demo scenario is test_airflow_demo.py (slow); these use the small
real samples in tests/fixtures and run in well under a minute once Airflow is warm.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from pathlib import Path

import psycopg
import pytest

from pipeline import db
from pipeline.config import REPO_DIR, SEEDS_DIR

pytestmark = pytest.mark.airflow

FIXTURES = REPO_DIR / "tests" / "fixtures"
NOAA = FIXTURES / "noaa_marinecadastre_2023-01-11_sample.csv"
DMA = FIXTURES / "dma_aisdk_2018-06-01_head.csv"
REFERENCE_TABLES = ("chokepoints", "chokepoint_gates", "ports")
INGEST_TABLES = ("ingested_files", "positions", "rejected_records", "vessel_identity")


def test_reference_dag_migrates_an_empty_warehouse_and_loads_the_seeds(
    airflow_home, empty_db_url, table_counts
) -> None:
    pytest.importorskip("pipeline.geo.reference")
    from pipeline.geo.geofences import load_gates
    from pipeline.geo.ports import load_ports

    chokepoints, gates = load_gates(SEEDS_DIR)
    seeds = {
        "chokepoints": len(chokepoints),
        "chokepoint_gates": len(gates),
        "ports": len(load_ports(SEEDS_DIR)),
    }
    first = airflow_home.dags_test(
        "straitwatch_reference", "2025-01-01", warehouse_url=empty_db_url
    )
    assert set(first.tasks.values()) == {"success"}, first.tasks
    with db.connect(empty_db_url) as conn:
        applied = [v for v, _ in db.applied_versions(conn)]
    assert applied == [m.version for m in db.migrations()]
    assert table_counts(empty_db_url, *REFERENCE_TABLES) == seeds
    [event] = first.asset_events
    assert event["asset"] == "straitwatch.reference"
    extra = event["extra"]
    assert (extra["chokepoints"], extra["gates"], extra["ports"]) == tuple(seeds.values())
    assert extra["chokepoints_inserted"] == seeds["chokepoints"]

    again = airflow_home.dags_test(
        "straitwatch_reference", "2025-01-01", warehouse_url=empty_db_url
    )
    assert again.run["logical_date"] == first.run["logical_date"]
    assert table_counts(empty_db_url, *REFERENCE_TABLES) == seeds
    [event] = again.asset_events
    changed = {k: v for k, v in event["extra"].items() if k.endswith(("_inserted", "_updated"))}
    assert set(changed.values()) == {0}, changed


def test_a_database_outage_is_retried_with_back_off_then_fails(airflow_home) -> None:
    nowhere = "host=127.0.0.1 port=1 user=straitwatch dbname=straitwatch connect_timeout=2"
    run = airflow_home.dags_test(
        "straitwatch_reference",
        "2025-01-02",
        warehouse_url=nowhere,
        extra_env={"STRAITWATCH_TASK_RETRIES": "2", "STRAITWATCH_RETRY_DELAY_S": "1"},
        expect_success=False,
        fresh=True,  # the `airflow` executable itself, in a process of its own
    )
    assert run.returncode == 1 and run.run["state"] == "failed"
    assert (run.tasks["migrate"], run.tries["migrate"]) == ("failed", 3)  # 1 try + 2 retries
    assert run.tasks["load_reference"] == "upstream_failed"
    log = run.log_path.read_text()
    assert log.count("new_state=up_for_retry") == 2
    assert log.count("action=retry") == 3  # the policy judged every failure transient
    assert "not a transient database error" not in log


def _library_ingest(url: str, paths: list[Path]) -> list[tuple]:
    """What `ingest_file` itself records for these files, for comparison with the DAG."""
    from pipeline.ingest.load import ingest_file

    with db.connect(url) as conn:
        for path in paths:
            mapping = path.with_name(path.name + ".mapping.toml")
            ingest_file(conn, path, mapping=mapping if mapping.exists() else None)
        return _file_rows(conn)


def _file_rows(conn) -> list[tuple]:
    return conn.execute(
        "SELECT format, mapping, rows_read, rows_loaded, rows_rejected, sha256 "
        "FROM straitwatch.ingested_files ORDER BY format"
    ).fetchall()


def _custom_feed(folder: Path) -> Path:
    """A CSV whose columns no reader knows, with the column mapping beside it."""
    feed = folder / "harbour_feed.csv"
    feed.write_text(
        "vessel_id,fix_time,northing_deg,easting_deg\n"
        "219000001,2025-01-05T10:00:00Z,55.7000,12.6000\n"
        "219000001,2025-01-05T10:10:00Z,55.7100,12.6100\n"
        "219000002,2025-01-06T23:50:00Z,55.6000,12.7000\n"
    )
    feed.with_name(feed.name + ".mapping.toml").write_text(
        'name = "harbour-feed"\n[columns]\nmmsi = "vessel_id"\nts = "fix_time"\n'
        'lat = "northing_deg"\nlon = "easting_deg"\n'
    )
    return feed


def test_ingest_dag_loads_each_inbox_file_moves_it_aside_and_announces_positions(
    airflow_home, db_url, other_db_url, inbox, table_counts, tmp_path
) -> None:
    pytest.importorskip("pipeline.ingest.load")
    feed = _custom_feed(tmp_path)
    for path in (NOAA, DMA, feed, feed.with_name(feed.name + ".mapping.toml")):
        shutil.copy(path, inbox / "ais" / path.name)
    (inbox / "ais" / "not_ais.csv").write_text("hello,world\n1,2\n")
    (inbox / "ais" / "still_uploading.csv.part").write_text("partial")

    run = airflow_home.dags_test(
        "straitwatch_ingest", "2025-02-01T00:10:00", warehouse_url=db_url, inbox=inbox,
        extra_env={"STRAITWATCH_TASK_RETRIES": "2", "STRAITWATCH_RETRY_DELAY_S": "1"},
        expect_success=False,
    )  # fmt: skip
    # The bad file fails its own mapped task (and the run), the good ones load regardless.
    assert run.returncode != 0 and run.run["state"] == "failed"
    states = sorted(run.tasks.items())
    # Mapped in name order: dma_..., harbour_feed.csv (its mapping travels with it), noaa_...
    mapped = [s for t, s in states if t.startswith("ingest_file[")]
    assert mapped == ["success", "success", "success", "failed"]
    for task in ("list_files", "summarize", "check_counts", "check_rejects", "publish"):
        assert run.tasks[task] == "success", (task, run.tasks)
    assert run.tasks["report_failed_files"] == "failed"
    assert "1 ais file(s) failed: not_ais.csv." in run.log_path.read_text()
    # A bad file is not retried: retrying would only fail the same way.
    assert run.tries["ingest_file[3]"] == 1

    # Files moved aside: loaded ones to done/, the bad one to failed/ with its reason.
    assert sorted(p.name for p in (inbox / "ais").iterdir()) == ["still_uploading.csv.part"]
    done = sorted(p.name for p in (inbox / "done" / "ais").rglob("*") if p.is_file())
    assert done == sorted([NOAA.name, DMA.name, feed.name, feed.name + ".mapping.toml"])
    [failed] = [p for p in (inbox / "failed" / "ais").rglob("not_ais.csv")]
    assert failed.with_name("not_ais.csv.error").read_text().strip()

    # The DAG records exactly what the library records for the same files.
    with db.connect(db_url) as conn:
        dag_rows = _file_rows(conn)
    assert dag_rows == _library_ingest(other_db_url, [NOAA, DMA, feed])
    by_format = {r[0]: r for r in dag_rows}
    assert by_format["noaa"][2] == 1000  # the sample's data lines
    assert by_format["csv"][1:5] == ("harbour-feed", 3, 3, 0)
    counts = table_counts(db_url, *INGEST_TABLES)
    assert counts["ingested_files"] == 3
    assert counts["positions"] > 0

    [event] = run.asset_events
    assert event["asset"] == "straitwatch.positions"
    assert event["extra"]["rows_loaded"] == sum(r[3] for r in dag_rows)
    assert len(event["extra"]["file_ids"]) == 3
    with db.connect(db_url) as conn:
        first, last = conn.execute("SELECT min(ts), max(ts) FROM straitwatch.positions").fetchone()
    assert (event["extra"]["first_ts"], event["extra"]["last_ts"]) == (
        first.isoformat(),
        last.isoformat(),
    )

    # Rerunning the same logical date finds nothing new and announces nothing.
    again = airflow_home.dags_test(
        "straitwatch_ingest", "2025-02-01T00:10:00", warehouse_url=db_url, inbox=inbox
    )
    assert again.tasks["ingest_file"] == "skipped"  # mapped over no file at all
    assert again.tasks["summarize"] == again.tasks["publish"] == "skipped"
    assert again.asset_events == []
    assert table_counts(db_url, *INGEST_TABLES) == counts

    # The same files delivered again are recognised (sha256) and skipped, not loaded twice.
    for path in (NOAA, DMA, feed):
        shutil.copy(path, inbox / "ais" / f"again_{path.name}")
    shutil.copy(
        feed.with_name(feed.name + ".mapping.toml"),
        inbox / "ais" / f"again_{feed.name}.mapping.toml",
    )
    redelivered = airflow_home.dags_test(
        "straitwatch_ingest", "2025-02-01T00:20:00", warehouse_url=db_url, inbox=inbox
    )
    assert redelivered.tasks["check_counts"] == redelivered.tasks["check_rejects"] == "success"
    assert redelivered.tasks["publish"] == "skipped"
    assert table_counts(db_url, *INGEST_TABLES) == counts
    assert list((inbox / "ais").glob("again_*")) == []


def _days_of_positions(url: str) -> dict[str, str]:
    """The whole UTC days spanned by the loaded positions, as a detect run's conf."""
    from pipeline.orchestration import resolve_window

    with db.connect(url) as conn:
        first, last = conn.execute("SELECT min(ts), max(ts) FROM straitwatch.positions").fetchone()
    window = resolve_window(event_extras=[{"first_ts": first, "last_ts": last}])
    return {"start": window.start.isoformat(), "end": window.end.isoformat()}


# The seed article carries no date; read it as published the day after the Tuesday it names.
ARTICLE_PUBLISHED = date(2025, 2, 12)
ARTICLE_SOURCE = "seed article"


def _stage_reports(inbox: Path) -> None:
    """The seed reports CSV and the seed article (with its publication date) in the inbox."""

    csv = inbox / "reports" / "example_reports.csv"
    shutil.copy(SEEDS_DIR / "reports" / "example_reports.csv", csv)
    article = inbox / "reports" / "tartus_withdrawal_article.txt"
    shutil.copy(SEEDS_DIR / "reports" / "tartus_withdrawal_article.txt", article)
    article.with_suffix(".json").write_text(
        json.dumps({"published": ARTICLE_PUBLISHED.isoformat(), "source": ARTICLE_SOURCE})
    )


def test_detect_and_match_dags_write_what_the_library_writes(
    airflow_home, empty_db_url, databases, inbox, snapshot
) -> None:
    for module in ("pipeline.geo.reference", "pipeline.ingest.load"):
        pytest.importorskip(module)
    detect_window = pytest.importorskip("pipeline.geo.detect").detect_window
    claims = pytest.importorskip("pipeline.reports.claims")
    match_reports = pytest.importorskip("pipeline.reports.match").match_reports

    url = empty_db_url
    airflow_home.dags_test("straitwatch_reference", "2025-03-01", warehouse_url=url)
    for path in (NOAA, DMA):
        shutil.copy(path, inbox / "ais" / path.name)
    airflow_home.dags_test("straitwatch_ingest", "2025-03-01T00:10", warehouse_url=url, inbox=inbox)
    # The library's twin: the same reference data and positions, no events or reports yet.
    with psycopg.connect(url) as conn:
        dbname = conn.info.dbname
    library_url = psycopg.conninfo.make_conninfo(url, dbname=databases.create(template=dbname))

    window = _days_of_positions(url)
    detect = airflow_home.dags_test(
        "straitwatch_detect", "2025-03-02", warehouse_url=url, conf=window
    )
    assert set(detect.tasks.values()) == {"success"}, detect.tasks
    _stage_reports(inbox)
    match = airflow_home.dags_test(
        "straitwatch_match", "2025-03-02", warehouse_url=url, inbox=inbox
    )
    assert set(match.tasks.values()) - {"skipped"} == {"success"}, match.tasks
    assert match.tasks["report_failed_files"] == "skipped"

    with db.connect(library_url) as conn:
        found = detect_window(
            conn, datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"])
        )
        conn.commit()
        claims.import_reports(conn, SEEDS_DIR / "reports" / "example_reports.csv")
        text = claims.read_text_file(SEEDS_DIR / "reports" / "tartus_withdrawal_article.txt")
        claims.extract_claims(conn, text, ARTICLE_PUBLISHED, ARTICLE_SOURCE)
        verdicts = match_reports(conn)
        conn.commit()
    assert snapshot(url, snapshot.data) == snapshot(library_url, snapshot.data)

    [events] = detect.asset_events
    assert events["asset"] == "straitwatch.events"
    assert events["extra"]["chokepoint_crossings"] == found.chokepoint_crossings
    assert (events["extra"]["start"], events["extra"]["end"]) == (window["start"], window["end"])
    [matches] = match.asset_events
    assert matches["extra"]["verdicts"] == verdicts["verdict"].value_counts().to_dict()
    assert matches["extra"]["new_files"] == 2
    assert sorted(p.name for p in (inbox / "done" / "reports").rglob("*") if p.is_file()) == [
        "example_reports.csv", "tartus_withdrawal_article.json", "tartus_withdrawal_article.txt",
    ]  # fmt: skip

    # Rerunning both on the same logical date (and window) changes nothing.
    before = snapshot(url)
    airflow_home.dags_test("straitwatch_detect", "2025-03-02", warehouse_url=url, conf=window)
    again = airflow_home.dags_test(
        "straitwatch_match", "2025-03-02", warehouse_url=url, inbox=inbox
    )
    assert again.tasks["import_file"] == "skipped"  # nothing new in the inbox: mapped over none
    assert snapshot(url) == before
