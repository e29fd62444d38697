"""ingest_file and the CLI against the real test PostgreSQL: counts, reruns, failures."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest
from ingest_samples import (
    AEGEAN,
    AISHUB,
    DIGITRAFFIC,
    DMA_HEAD,
    DMA_INDEXED,
    NOAA,
    RECEIVER_LOG,
    SAMPLES,
    table_counts,
)

from pipeline import db
from pipeline.cli import main
from pipeline.errors import StraitwatchError
from pipeline.ingest import load
from pipeline.ingest.load import IngestConfig, ingest_file

EXPECTED = {  # read, loaded, rejected (reasons: see test_readers.py)
    NOAA: (1000, 998, 2),
    DMA_HEAD: (138, 123, 15),
    DMA_INDEXED: (10, 10, 0),
    DIGITRAFFIC: (27232, 27069, 163),  # 163 MMSIs outside the ship range (AtoN, SAR, ...)
    AEGEAN: (898, 0, 898),
    AISHUB: (21, 2, 19),
}
SMALL = IngestConfig(batch_bytes=16_000)  # many batches even for the samples


def stored_reasons(conn: psycopg.Connection, file_id: int) -> dict[str, int]:
    rows = conn.execute(
        "SELECT reason, count(*) FROM straitwatch.rejected_records WHERE file_id = %s "
        "GROUP BY reason",
        (file_id,),
    ).fetchall()
    return dict(rows)


def test_every_sample_loads_counts_add_up_and_a_rerun_changes_nothing(
    conn: psycopg.Connection,
) -> None:
    for path in SAMPLES:
        result = ingest_file(conn, path)
        assert not result.skipped
        assert (result.rows_read, result.rows_loaded, result.rows_rejected) == EXPECTED[path]
        assert result.rows_read == result.rows_loaded + result.rows_rejected
        assert stored_reasons(conn, result.file_id) == result.rejects_by_reason
        fixes = conn.execute(
            "SELECT count(*) FROM straitwatch.positions WHERE file_id = %s", (result.file_id,)
        ).fetchone()[0]
        assert fixes == result.positions_loaded
        row = conn.execute(
            "SELECT format, rows_read, rows_loaded, rows_rejected, rejects_by_reason "
            "FROM straitwatch.ingested_files WHERE file_id = %s",
            (result.file_id,),
        ).fetchone()
        assert row == (result.format, *EXPECTED[path], result.rejects_by_reason)
    conn.commit()
    before = table_counts(conn)
    assert before["positions"] == 998 + 115 + 10 + 27069
    for path in SAMPLES:
        again = ingest_file(conn, path)
        assert again.skipped
        assert (again.rows_read, again.rows_loaded, again.rows_rejected) == EXPECTED[path]
    assert table_counts(conn) == before


def test_positions_identity_and_voyages_from_the_samples(conn: psycopg.Connection) -> None:
    for path in (NOAA, DMA_HEAD, DIGITRAFFIC):
        ingest_file(conn, path)
    fix = conn.execute(
        "SELECT ts, lat, lon, sog, cog, heading, nav_status FROM straitwatch.positions "
        "WHERE mmsi = 367752440"
    ).fetchone()
    assert fix == (datetime(2023, 1, 11, tzinfo=UTC), 43.07917, -70.75733, 0.0, None, 95, 0)
    ident = conn.execute(
        "SELECT name, imo, imo_valid, callsign, ship_type, flag, valid_from, valid_to "
        "FROM straitwatch.vessel_identity WHERE mmsi = 636021061"
    ).fetchall()
    assert ident == [
        ("MSC NAISHA III", "9307839", True, "5LCB4", 70, "LR",
         datetime(2023, 1, 11, tzinfo=UTC), None),
    ]  # fmt: skip
    # DMA static-only rows: two reports of 265518830 at one instant merge (name, then call sign)
    dma = conn.execute(
        "SELECT name, callsign, ship_type FROM straitwatch.vessel_identity WHERE mmsi = 265518830"
    ).fetchall()
    assert dma == [("SUVI-SIRKKA", "SA9908", 36)]
    voyage = conn.execute(
        "SELECT destination, eta, draught_m FROM straitwatch.voyage_reports WHERE mmsi = 266220000 "
        "AND reported_at < '2019-01-01'"
    ).fetchall()
    assert voyage == [("FREDERICIA", datetime(2019, 5, 31, 4, tzinfo=UTC), pytest.approx(5.9))]
    # Digitraffic names and free-text destinations, one row per change over three snapshots
    destinations = conn.execute(
        "SELECT count(DISTINCT mmsi), count(*) FROM straitwatch.voyage_reports "
        "WHERE destination IN ('SPB', 'RULED', 'RU LED', 'ST.PETERSBURG')"
    ).fetchone()
    assert destinations[0] > 0 and destinations[1] >= destinations[0]
    current = conn.execute(
        "SELECT count(*) FROM straitwatch.vessel_identity WHERE valid_to IS NULL"
    ).fetchone()[0]
    distinct = conn.execute(
        "SELECT count(DISTINCT mmsi) FROM straitwatch.vessel_identity"
    ).fetchone()[0]
    assert current == distinct


def test_nmea_with_received_at(conn: psycopg.Connection) -> None:
    at = datetime(2025, 3, 1, 12, tzinfo=UTC)
    result = ingest_file(conn, AEGEAN, received_at=at)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (898, 165, 733)
    assert result.rejects_by_reason["duplicate"] == 595
    assert result.positions_loaded == 163
    ident = conn.execute(
        "SELECT name, callsign, ship_type, valid_from, last_seen_at FROM "
        "straitwatch.vessel_identity WHERE mmsi = 244270489"
    ).fetchall()
    assert ident == [("SY-LUNDE", "PH7460", 36, at, at)]  # type 24 parts A and B merged
    assert conn.execute(
        "SELECT received_at FROM straitwatch.ingested_files WHERE file_id = %s",
        (result.file_id,),
    ).fetchone() == (at,)


def _noaa_lines() -> list[str]:
    return NOAA.read_text().splitlines()


def test_fixes_already_loaded_from_another_file_are_rejected(
    conn: psycopg.Connection, write
) -> None:
    lines = _noaa_lines()
    first = ingest_file(conn, write("first100.csv", "\n".join(lines[:101]) + "\n"))
    assert first.rows_loaded == 100
    whole = ingest_file(conn, NOAA, config=SMALL)
    assert (whole.rows_read, whole.rows_loaded, whole.rows_rejected) == (1000, 898, 102)
    assert whole.rejects_by_reason == {"duplicate_of_loaded": 100, "mmsi_out_of_range": 2}
    detail = conn.execute(
        "SELECT DISTINCT detail FROM straitwatch.rejected_records WHERE file_id = %s "
        "AND reason = 'duplicate_of_loaded'",
        (whole.file_id,),
    ).fetchall()
    assert detail == [(f"already loaded from file {first.file_id}",)]
    assert conn.execute("SELECT count(*) FROM straitwatch.positions").fetchone()[0] == 998


@pytest.mark.parametrize("day_exists", [False, True])
def test_duplicate_in_two_batches_of_one_file(
    conn: psycopg.Connection, write, day_exists: bool
) -> None:
    lines = _noaa_lines()
    if day_exists:  # the day's partition is there: rows go through positions, fix by fix
        db.ensure_position_partitions(conn, [date(2023, 1, 11)])
        conn.commit()
    path = write("dup.csv", "\n".join([*lines, lines[1]]) + "\n")  # line 1002 repeats line 2
    result = ingest_file(conn, path, config=SMALL)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (1001, 998, 3)
    assert result.rejects_by_reason == {"duplicate": 1, "mmsi_out_of_range": 2}
    assert conn.execute(
        "SELECT line_no FROM straitwatch.rejected_records WHERE reason = 'duplicate'"
    ).fetchall() == [(1002,)]
    assert conn.execute("SELECT count(*) FROM straitwatch.positions").fetchone()[0] == 998
    index = conn.execute(
        "SELECT indexrelid::regclass::text FROM pg_index "
        "WHERE indrelid = 'straitwatch.positions_20230111'::regclass AND indisunique"
    ).fetchall()
    assert len(index) == 1


def _late_bad_row(write) -> Path:
    lines = _noaa_lines()
    fields = lines[-1].split(",")
    fields[4] = "40.0"  # SOG 40 kn on the very last line
    return write("late.csv", "\n".join([*lines[:-1], ",".join(fields)]) + "\n")


def test_a_row_the_database_refuses_leaves_nothing_of_the_file(
    conn: psycopg.Connection, write
) -> None:
    conn.execute(
        "ALTER TABLE straitwatch.positions ADD CONSTRAINT test_slow CHECK (sog IS NULL OR sog < 30)"
    )
    conn.commit()
    ingest_file(conn, DMA_INDEXED)  # something loaded before, which must stay
    before = table_counts(conn)
    with pytest.raises(StraitwatchError, match="refused the file, nothing of it was loaded"):
        ingest_file(conn, _late_bad_row(write), config=SMALL)
    assert table_counts(conn) == before
    assert conn.execute("SELECT to_regclass('straitwatch.positions_20230111')").fetchone() == (
        None,
    )


def test_a_trigger_failing_mid_file_leaves_nothing(conn: psycopg.Connection, write) -> None:
    bad_mmsi = int(_noaa_lines()[-1].split(",")[0])
    conn.execute(
        f"""CREATE FUNCTION straitwatch.test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.mmsi = {bad_mmsi} THEN RAISE EXCEPTION 'refused %', NEW.mmsi; END IF;
            RETURN NEW;
        END $$"""
    )
    conn.execute(
        "CREATE TRIGGER test_refuse BEFORE INSERT ON straitwatch.positions "
        "FOR EACH ROW EXECUTE FUNCTION straitwatch.test_refuse()"
    )
    conn.commit()
    before = table_counts(conn)
    with pytest.raises(StraitwatchError, match=f"refused {bad_mmsi}"):
        ingest_file(conn, NOAA, config=SMALL)
    after = table_counts(conn)
    assert after == before  # no file, no fixes, no rejects, no identities, no partition


def test_an_interruption_leaves_nothing_and_the_file_loads_later(
    conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real = load._write_rejects

    def interrupted(*args: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real(*args)

    monkeypatch.setattr(load, "_write_rejects", interrupted)
    before = table_counts(conn)
    with pytest.raises(KeyboardInterrupt):
        ingest_file(conn, NOAA, config=SMALL)
    assert calls["n"] == 3
    assert table_counts(conn) == before
    monkeypatch.setattr(load, "_write_rejects", real)
    result = ingest_file(conn, NOAA)
    assert not result.skipped and result.rows_loaded == 998


def test_compressed_and_plain_copies_are_different_files(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    import gzip

    packed = tmp_path / "AIS_2023_01_11.csv.gz"
    packed.write_bytes(gzip.compress(NOAA.read_bytes()))
    first = ingest_file(conn, packed)
    assert (first.format, first.rows_loaded) == ("noaa", 998)
    plain = ingest_file(conn, NOAA)  # other bytes, other sha256: every fix is already there
    assert plain.rejects_by_reason == {"duplicate_of_loaded": 998, "mmsi_out_of_range": 2}
    assert plain.rows_loaded == 0


# --------------------------------------------------------------------------- CLI


def _cli(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> tuple[int, str, str]:
    """Run `straitwatch --database-url URL ingest ARGS` in this process."""
    code = main(["--database-url", url, "ingest", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_counts_and_exit_codes(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(capsys, db_url, str(NOAA), str(AISHUB))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"{NOAA}: noaa: read 1000, loaded 998, rejected 2 [mmsi_out_of_range 2]"
    assert lines[1] == (
        f"{AISHUB}: nmea: read 21, loaded 2, rejected 19 [no_timestamp 7, not_ais 6, "
        "bad_checksum 4, malformed_sentence 1, mmsi_out_of_range 1]"
    )
    assert lines[2].startswith("note: records without a time were refused")
    code, out, _ = _cli(capsys, db_url, str(NOAA))
    assert code == 0
    assert "skipped, already loaded as file 1: read 1000, loaded 998" in out

    unknown = tmp_path / "notes.txt"
    unknown.write_text("hello\nworld\n")
    for bad, message in [
        (tmp_path / "missing.csv", "no such file"),
        (unknown, "cannot tell its format"),
    ]:
        code, out, err = _cli(capsys, db_url, str(DMA_HEAD), str(bad))
        assert code == 2
        assert len(err.strip().splitlines()) == 1
        assert err.startswith("straitwatch ingest: ") and message in err
        assert out == ""  # nothing loaded, not even the good file before it
    with db.connect(db_url) as check:
        assert check.execute("SELECT count(*) FROM straitwatch.ingested_files").fetchone() == (2,)
    code, _, err = _cli(capsys, db_url, str(AEGEAN), "--received-at", "someday")
    assert code == 2 and "not an ISO 8601 time" in err


def test_console_script_runs(db_url: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pipeline", "--database-url", db_url, "ingest", str(DMA_INDEXED)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"{DMA_INDEXED}: dma: read 10, loaded 10, rejected 0\n"


def test_a_killed_ingest_leaves_nothing(db_url: str, tmp_path: Path) -> None:
    from bench.ingest import generate

    path = generate(tmp_path / "day.csv", 300_000)
    script = (
        "import sys\n"
        "from pipeline import db\n"
        "from pipeline.ingest.load import IngestConfig, ingest_file\n"
        "with db.connect(sys.argv[1]) as conn:\n"
        "    ingest_file(conn, sys.argv[2], config=IngestConfig(batch_bytes=1 << 20))\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script, db_url, str(path)])
    dbname = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    with db.connect(db_url, autocommit=True) as watch:

        def copying() -> bool:
            return bool(
                watch.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                    "AND query LIKE 'COPY %%positions%%'",
                    (dbname,),
                ).fetchone()[0]
            )

        deadline = time.monotonic() + 120
        while not copying():
            assert child.poll() is None, "the ingest ended before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait()
        while watch.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        ).fetchone()[0]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        counts = table_counts(watch)
    assert counts == dict.fromkeys(counts, 0)


def test_a_file_spanning_days_fills_each_day(conn: psycopg.Connection) -> None:
    # the receiver log's fixes are of 2023-11-14; line 15 has no time and takes --received-at
    at = datetime(2025, 3, 1, 12, tzinfo=UTC)
    result = ingest_file(conn, RECEIVER_LOG, received_at=at)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (15, 11, 4)
    days = conn.execute(
        "SELECT tableoid::regclass::text, count(*) FROM straitwatch.positions GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert days == [("positions_20231114", 5), ("positions_20250301", 1)]
    # the span the detect DAG is triggered for covers both days, from the file alone
    first, last = conn.execute("SELECT min(ts), max(ts) FROM straitwatch.positions").fetchone()
    assert (result.first_ts, result.last_ts) == (first, last)
    assert last == at
    again = ingest_file(conn, RECEIVER_LOG, received_at=at)
    assert again.skipped and (again.first_ts, again.last_ts) == (None, None)


def _positions(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT mmsi, ts, lat, lon, sog, cog, heading, nav_status, file_id "
        "FROM straitwatch.positions ORDER BY mmsi, ts"
    ).fetchall()


def test_reload_gives_a_file_the_time_it_lacked(conn: psycopg.Connection) -> None:
    # line 15 of the receiver log has no time: refused at first, loaded when reloaded with one
    first = ingest_file(conn, RECEIVER_LOG)
    assert (first.rows_read, first.rows_loaded, first.rows_rejected) == (15, 10, 5)
    assert first.rejects_by_reason["no_timestamp"] == 1
    before = table_counts(conn)
    at = datetime(2025, 3, 1, 12, tzinfo=UTC)
    skipped = ingest_file(conn, RECEIVER_LOG, received_at=at)  # without --reload: as it was
    assert skipped.skipped and skipped.file_id == first.file_id
    assert table_counts(conn) == before

    again = ingest_file(conn, RECEIVER_LOG, received_at=at, reload=True)
    assert not again.skipped and again.file_id != first.file_id
    assert (again.rows_read, again.rows_loaded, again.rows_rejected) == (15, 11, 4)
    assert "no_timestamp" not in again.rejects_by_reason
    assert stored_reasons(conn, again.file_id) == again.rejects_by_reason
    files = conn.execute(
        "SELECT file_id, received_at, positions_from, positions_to, rows_loaded "
        "FROM straitwatch.ingested_files"
    ).fetchall()
    assert files == [(again.file_id, at, again.first_ts, at, 11)]
    assert conn.execute("SELECT count(*) FROM straitwatch.rejected_records").fetchone() == (4,)
    rows = _positions(conn)
    assert len(rows) == 6 and {r[-1] for r in rows} == {again.file_id}
    assert [r[1] for r in rows if r[1] == at] == [at]
    after = table_counts(conn)
    assert after["positions"] == before["positions"] + 1
    assert after["rejected_records"] == before["rejected_records"] - 1
    for table in ("vessel_identity", "voyage_reports"):  # the same history, now of the reload
        assert after[table] == before[table]
        stale = f"SELECT count(*) FROM straitwatch.{table} WHERE file_id = %s"
        assert conn.execute(stale, (first.file_id,)).fetchone() == (0,)

    # a second reload with the same time gives the same rows, under a new file id
    third = ingest_file(conn, RECEIVER_LOG, received_at=at, reload=True)
    assert (third.rows_read, third.rows_loaded, third.rows_rejected) == (15, 11, 4)
    assert [r[:-1] for r in _positions(conn)] == [r[:-1] for r in rows]
    assert table_counts(conn) == after

    # but not another time: what was merged from its records is of the first one
    for other, shown in (
        (datetime(2025, 3, 5, tzinfo=UTC), "2025-03-05T00:00:00+00:00"),
        (None, "none"),
    ):
        with pytest.raises(StraitwatchError) as refused:
            ingest_file(conn, RECEIVER_LOG, received_at=other, reload=True)
        assert str(refused.value) == (
            f"file {third.file_id} was loaded with received_at 2025-03-01T12:00:00+00:00; a "
            f"reload cannot give its records another time ({shown}): "
            "what was merged from them (identity and voyage history, other files' fixes "
            "refused as their duplicates) is of that time"
        )
        assert table_counts(conn) == after


def test_reload_of_a_file_that_loaded_nothing(conn: psycopg.Connection) -> None:
    # the Aegean log has no time at all: nothing of it loads without one
    first = ingest_file(conn, AEGEAN)
    assert (first.rows_loaded, first.first_ts) == (0, None)
    at = datetime(2025, 3, 1, 12, tzinfo=UTC)
    again = ingest_file(conn, AEGEAN, received_at=at, reload=True)
    assert (again.rows_read, again.rows_loaded, again.rows_rejected) == (898, 165, 733)
    assert conn.execute("SELECT count(*) FROM straitwatch.ingested_files").fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM straitwatch.rejected_records").fetchone() == (733,)


def test_cli_reload(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, db_url, str(RECEIVER_LOG))
    assert code == 0
    assert out.splitlines()[-1] == (
        "note: records without a time were refused; --received-at T gives them one "
        "(with --reload for a file already loaded)"
    )
    code, out, _ = _cli(capsys, db_url, str(RECEIVER_LOG), "--received-at", "2025-03-01T12:00")
    assert code == 0
    assert "skipped, already loaded as file 1" in out
    assert out.splitlines()[-1] == (
        "note: files already loaded were skipped as they were; --reload loads them again"
    )
    code, out, _ = _cli(
        capsys, db_url, str(RECEIVER_LOG), "--received-at", "2025-03-01T12:00", "--reload"
    )
    assert code == 0
    assert out.splitlines() == [
        f"{RECEIVER_LOG}: nmea: read 15, loaded 11, rejected 4 "
        "[bad_checksum 1, bad_timestamp 1, lone_fragment 1, not_ais 1]"
    ]


def test_reload_of_a_file_of_static_reports_only(conn: psycopg.Connection, tmp_path: Path) -> None:
    # one type 5 message in two tagged sentences (two lines loaded): no position, no span
    static = tmp_path / "static.nmea"
    static.write_text("\n".join(RECEIVER_LOG.read_text().splitlines()[4:6]) + "\n")
    first = ingest_file(conn, static)
    assert (first.rows_read, first.rows_loaded, first.positions_loaded) == (2, 2, 0)
    assert first.first_ts is None
    before = table_counts(conn)
    assert before["vessel_identity"] == 1
    again = ingest_file(conn, static, reload=True)
    assert not again.skipped and again.file_id != first.file_id
    assert (again.rows_read, again.rows_loaded, again.rows_rejected) == (2, 2, 0)
    assert table_counts(conn) == before
