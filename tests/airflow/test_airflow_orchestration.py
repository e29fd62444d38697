"""pipeline.orchestration: windows, the inbox, the retry policy and the warehouse connection."""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

from pipeline import db
from pipeline.errors import StraitwatchError
from pipeline.orchestration import (
    InboxSettings,
    TransientDatabaseErrors,
    airflow_connection_uri,
    archive,
    failed_files_message,
    is_transient_database_error,
    pending_files,
    resolve_window,
    summarize_ingest,
    warehouse,
    warehouse_conninfo,
)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------- windows


def test_scheduled_run_detects_its_data_interval() -> None:
    w = resolve_window(interval_start=_utc(2024, 12, 10), interval_end=_utc(2024, 12, 11))
    assert (w.start, w.end, w.source) == (_utc(2024, 12, 10), _utc(2024, 12, 11), "interval")


def test_conf_window_wins_over_interval_and_assets() -> None:
    w = resolve_window(
        conf_start="2024-12-01T06:00:00Z",
        conf_end="2024-12-20",
        event_extras=[{"first_ts": "2024-11-01T00:00:00+00:00", "last_ts": "2024-11-02"}],
        interval_start=_utc(2024, 12, 10),
        interval_end=_utc(2024, 12, 11),
    )
    assert (w.start, w.end, w.source) == (_utc(2024, 12, 1, 6), _utc(2024, 12, 20), "conf")


def test_asset_events_widen_to_the_whole_days_they_touch() -> None:
    extras = [
        {"first_ts": "2024-12-11T23:59:00+00:00", "last_ts": "2024-12-12T03:00:00+00:00"},
        None,  # an event from another producer, without a span
        {"file_ids": [7]},
        {"first_ts": "2024-12-09T10:00:00+02:00", "last_ts": "2024-12-10T00:00:00+00:00"},
    ]
    w = resolve_window(event_extras=extras)
    # 10:00+02:00 is 08:00 UTC on the 9th; the last fix, 03:00 on the 12th, closes on the 13th.
    assert (w.start, w.end, w.source) == (_utc(2024, 12, 9), _utc(2024, 12, 13), "assets")
    # A fix at exactly midnight belongs to the day it starts.
    w = resolve_window(event_extras=[{"first_ts": "2024-12-10", "last_ts": "2024-12-10"}])
    assert (w.start, w.end) == (_utc(2024, 12, 10), _utc(2024, 12, 11))


def test_a_window_needs_both_ends_and_must_not_be_empty() -> None:
    with pytest.raises(StraitwatchError, match="both start and end"):
        resolve_window(conf_start="2024-12-01", interval_start=_utc(2024, 1, 1))
    with pytest.raises(StraitwatchError, match="not before"):
        resolve_window(conf_start="2024-12-02", conf_end="2024-12-01")
    with pytest.raises(StraitwatchError, match="no window"):
        resolve_window(event_extras=[{"file_ids": [1]}])
    with pytest.raises(StraitwatchError, match="not an ISO 8601"):
        resolve_window(conf_start="yesterday", conf_end="2024-12-01")


def test_ingest_summary_adds_up_loaded_files_only() -> None:
    results = [
        {"file_id": 3, "rows_loaded": 10, "rows_rejected": 2, "skipped": False,
         "first_ts": "2024-12-10T05:00:00+00:00", "last_ts": "2024-12-10T07:00:00+00:00"},
        {"file_id": 1, "rows_loaded": 5, "rows_rejected": 0, "skipped": True,
         "first_ts": "2020-01-01T00:00:00+00:00", "last_ts": "2020-01-01T00:00:00+00:00"},
        {"file_id": 4, "rows_loaded": 1, "rows_rejected": 0, "skipped": False,
         "first_ts": "2024-12-09T23:00:00-02:00", "last_ts": "2024-12-10T01:00:00+00:00"},
        {"path": "gone.csv", "missing": True},
        None,
    ]  # fmt: skip
    summary = summarize_ingest(results)
    assert summary["file_ids"] == [1, 3, 4]
    assert summary["file_ids_pg"] == "{1,3,4}"
    assert (summary["files"], summary["files_loaded"], summary["files_skipped"]) == (3, 2, 1)
    assert (summary["rows_loaded"], summary["rows_rejected"]) == (11, 2)
    assert summary["first_ts"] == "2024-12-10T01:00:00+00:00"
    assert summary["last_ts"] == "2024-12-10T07:00:00+00:00"


def test_a_failed_run_names_its_failed_files() -> None:
    message = failed_files_message(
        "ais",
        ["/in/ais/a.csv", "/in/ais/b.nmea", "/in/ais/c.csv"],
        [{"path": "/in/ais/b.nmea", "file_id": 1}, None],
    )
    assert message.startswith("2 ais file(s) failed: a.csv, c.csv.")


def test_an_hourly_match_run_with_no_new_report_file_does_nothing() -> None:
    from airflow.sdk.api.datamodels._generated import DagRunType
    from airflow.sdk.exceptions import AirflowSkipException

    from pipeline.orchestration import run_match

    with pytest.raises(AirflowSkipException, match="no new reports"):
        run_match([None, {"path": "gone.csv", "missing": True}], run_type=DagRunType.SCHEDULED)


def test_an_ingest_run_without_files_skips_its_checks() -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException):
        summarize_ingest([])
    with pytest.raises(AirflowSkipException):
        summarize_ingest([{"path": "gone.csv", "missing": True}])


# --------------------------------------------------------------------------- inbox


def _touch(path: Path, age_s: float = 3600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def test_pending_files_are_settled_visible_and_finished(tmp_path: Path) -> None:
    folder = tmp_path / "ais"
    a = _touch(folder / "b_2024-12-10.csv")
    b = _touch(folder / "2024" / "a.nmea")
    _touch(folder / "fresh.csv", age_s=1)
    _touch(folder / "upload.csv.part")
    _touch(folder / ".hidden.csv")
    _touch(folder / ".staging" / "c.csv")
    _touch(folder / "old.csv.error")
    assert pending_files(folder, min_age_s=60) == [b, a]
    assert len(pending_files(folder, min_age_s=0)) == 3
    assert pending_files(tmp_path / "absent", min_age_s=0) == []


def test_archive_keeps_relative_paths_never_overwrites_and_notes_errors(tmp_path: Path) -> None:
    inbox = InboxSettings(root=tmp_path, min_age_s=0)
    day = date(2024, 12, 17)
    first = archive(_touch(tmp_path / "ais" / "x" / "f.csv"), inbox, "ais", "done", day=day)
    second = archive(_touch(tmp_path / "ais" / "x" / "f.csv"), inbox, "ais", "done", day=day)
    assert first == tmp_path / "done" / "ais" / "2024-12-17" / "x" / "f.csv"
    assert second == first.with_name("f.1.csv")
    failed = archive(
        _touch(tmp_path / "ais" / "g.csv"), inbox, "ais", "failed", note="line 3: bad", day=day
    )
    assert failed.with_name("g.csv.error").read_text() == "line 3: bad\n"
    assert not (tmp_path / "ais" / "g.csv").exists()


# --------------------------------------------------------------------------- retries


@pytest.fixture(scope="module")
def refused() -> psycopg.OperationalError:
    """A real connection failure: nothing listens on port 1."""
    try:
        psycopg.connect("host=127.0.0.1 port=1 user=x dbname=x connect_timeout=2")
    except psycopg.OperationalError as exc:
        return exc
    pytest.fail("something answered on port 1")


def test_retry_policy_retries_database_outages_only(refused) -> None:
    policy = TransientDatabaseErrors()
    assert is_transient_database_error(refused)
    assert policy.evaluate(refused, 1, 5).action.value == "retry"

    # pipeline.db.connect wraps the outage in a user-facing error: still transient.
    with pytest.raises(StraitwatchError) as wrapped:
        db.connect("host=127.0.0.1 port=1 user=x dbname=x connect_timeout=2")
    assert policy.evaluate(wrapped.value, 1, 5).action.value == "retry"

    for permanent in (StraitwatchError("f.csv line 3: no MMSI column"), KeyError("mmsi")):
        assert not is_transient_database_error(permanent)
        assert policy.evaluate(permanent, 1, 5).action.value == "fail"


def test_constraint_violations_are_not_retried(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.CheckViolation) as violation:
        conn.execute(
            "INSERT INTO straitwatch.ingested_files (path, sha256, format, rows_read, "
            "rows_loaded, rows_rejected) VALUES ('f', 'x', 'csv', 3, 1, 1)"
        )
    conn.rollback()
    assert TransientDatabaseErrors().evaluate(violation.value, 1, 5).action.value == "fail"


# --------------------------------------------------------------------------- connection


def test_connection_uri_round_trips_to_a_working_conninfo(db_url: str, monkeypatch) -> None:
    uri = airflow_connection_uri(db_url + " sslmode=disable application_name=sw")
    assert uri.startswith("postgres://")
    monkeypatch.setenv("AIRFLOW_CONN_STRAITWATCH_DB", uri + "&cursor=dictcursor")
    conninfo = warehouse_conninfo()
    assert "cursor" not in conninfo  # a provider option, not a libpq one
    with db.connect(conninfo) as conn:
        row = conn.execute("SELECT current_database(), current_setting('application_name')")
        assert row.fetchone() == (psycopg.conninfo.conninfo_to_dict(db_url)["dbname"], "sw")


def test_warehouse_commits_what_a_stage_leaves_open_and_rolls_back_on_error(
    db_url: str, monkeypatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_STRAITWATCH_DB", airflow_connection_uri(db_url))
    insert = (
        "INSERT INTO straitwatch.ingested_files (path, sha256, format, rows_read, rows_loaded, "
        "rows_rejected) VALUES (%s, %s, 'csv', 0, 0, 0)"
    )
    with warehouse() as conn:
        conn.execute(insert, ("kept.csv", "a" * 64))  # a transaction left open, as stages do
    with pytest.raises(RuntimeError), warehouse() as conn:
        conn.execute(insert, ("lost.csv", "b" * 64))
        raise RuntimeError("the task failed")
    with db.connect(db_url) as conn:
        paths = conn.execute("SELECT path FROM straitwatch.ingested_files").fetchall()
    assert paths == [("kept.csv",)]


def test_a_connection_of_another_type_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_STRAITWATCH_DB", "mysql://u@h/db")
    with pytest.raises(StraitwatchError, match="expected postgres"):
        warehouse_conninfo()


def test_the_verdict_check_uses_the_schema_vocabulary(conn: psycopg.Connection) -> None:
    from pipeline.orchestration import VERDICTS

    definition = conn.execute(
        "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = 'straitwatch' AND t.relname = 'departure_matches' AND c.contype = 'c' "
        "AND pg_get_constraintdef(c.oid) LIKE '%verdict%'"
    ).fetchone()[0]
    assert set(re.findall(r"'(\w+)'::text", definition)) == set(VERDICTS)


# --------------------------------------------------------------------------- inbox files

RECEIVER_LOG = Path(__file__).parents[1] / "fixtures" / "ingest" / "receiver_log.nmea"


def test_an_inbox_file_takes_its_time_from_a_received_at_companion(
    db_url: str, tmp_path: Path, monkeypatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from pipeline.orchestration import ingest_inbox_file, list_ais_files

    monkeypatch.setenv("AIRFLOW_CONN_STRAITWATCH_DB", airflow_connection_uri(db_url))
    monkeypatch.setenv("STRAITWATCH_INBOX", str(tmp_path))
    monkeypatch.setenv("STRAITWATCH_INBOX_MIN_AGE_S", "0")
    ais = tmp_path / "ais"
    ais.mkdir()
    log = ais / "receiver.nmea"
    log.write_bytes(RECEIVER_LOG.read_bytes())
    log.with_name("receiver.nmea.received_at").write_text("2025-03-01T12:00:00Z\n")
    # a log without one: its timeless record is refused, as by `straitwatch ingest`
    (ais / "plain.nmea").write_bytes(RECEIVER_LOG.read_bytes() + b"\n")
    # a companion that is not a time fails its file, which goes aside with the reason
    bad = ais / "bad.nmea"
    bad.write_bytes(RECEIVER_LOG.read_bytes() + b"\n\n")
    bad.with_name("bad.nmea.received_at").write_text("yesterday")
    assert [Path(p).name for p in list_ais_files()] == ["bad.nmea", "plain.nmea", "receiver.nmea"]

    stamped = ingest_inbox_file(str(log))
    assert (stamped["rows_read"], stamped["rows_loaded"], stamped["rows_rejected"]) == (15, 11, 4)
    assert stamped["last_ts"] == "2025-03-01T12:00:00+00:00"
    plain = ingest_inbox_file(str(ais / "plain.nmea"))
    # (its timed fixes are those of the first file: duplicates now)
    assert (plain["rows_read"], plain["rows_loaded"], plain["rows_rejected"]) == (15, 4, 11)
    assert plain["rejects_by_reason"] == {
        "bad_checksum": 1,
        "bad_timestamp": 1,
        "duplicate_of_loaded": 6,
        "lone_fragment": 1,
        "no_timestamp": 1,
        "not_ais": 1,
    }
    with pytest.raises(AirflowFailException, match="'yesterday' is not an ISO 8601 time"):
        ingest_inbox_file(str(bad))
    assert "note" not in stamped

    # the plain log again, now with a time: already loaded, and the DAG never reloads
    (ais / "plain.nmea").write_bytes(RECEIVER_LOG.read_bytes() + b"\n")
    (ais / "plain.nmea.received_at").write_text("2025-03-02")  # archived as plain.1.nmea's
    again = ingest_inbox_file(str(ais / "plain.nmea"))
    assert again["skipped"] and again["file_id"] == plain["file_id"]
    assert again["note"] == (
        f"already loaded as file {plain['file_id']}: its plain.nmea.received_at was not applied "
        "(`straitwatch ingest --reload --received-at T` loads it again with that time)"
    )

    assert list(ais.iterdir()) == []
    done = sorted(p.name for p in (tmp_path / "done" / "ais").rglob("*") if p.is_file())
    assert done == [
        "plain.1.nmea",
        "plain.1.nmea.received_at",
        "plain.nmea",
        "receiver.nmea",
        "receiver.nmea.received_at",
    ]
    failed = sorted(p.name for p in (tmp_path / "failed" / "ais").rglob("*") if p.is_file())
    assert failed == ["bad.nmea", "bad.nmea.error", "bad.nmea.received_at"]
    with db.connect(db_url) as conn:
        stamps = conn.execute(
            "SELECT path ~ 'receiver', received_at FROM straitwatch.ingested_files ORDER BY 1"
        ).fetchall()
    assert stamps == [(False, None), (True, _utc(2025, 3, 1, 12))]
