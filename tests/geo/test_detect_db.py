"""`detect_window` and `straitwatch detect` on a real PostgreSQL: window ownership, reruns,
backfills day by day against one run, calls carried across windows, look-back."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest

from pipeline import cli
from pipeline.geo.detect import DetectConfig, detect_window

from .conftest import T0, along, load_positions, positions, track

EVENT_TABLES = {
    "ais_gaps": "gap_id",
    "chokepoint_crossings": "crossing_id",
    "port_calls": "port_call_id",
    "flagged_positions": "mmsi, ts",
}
LAT = 35.95
DAY = pd.Timedelta(days=1)


def snapshot(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    return {
        table: conn.execute(f"SELECT * FROM straitwatch.{table} ORDER BY {key}").fetchall()
        for table, key in EVENT_TABLES.items()
    }


def clear_events(conn: psycopg.Connection) -> None:
    conn.execute("TRUNCATE " + ", ".join(f"straitwatch.{t}" for t in EVENT_TABLES))
    conn.commit()


def gibraltar_east(mmsi: int, t0: pd.Timestamp, every: float = 10.0) -> pd.DataFrame:
    return track(mmsi, [-6.21 + 0.04 * i for i in range(36)], LAT, [every * i for i in range(36)],
                 t0=t0)  # fmt: skip


def algeciras_call(mmsi: int, t0: pd.Timestamp, stay: int) -> pd.DataFrame:
    lon_in, lat_in = along((-6.2, LAT), (-5.43, 36.13), 20)
    lons = lon_in + [-5.43] * stay + lon_in[::-1]
    lats = lat_in + [36.13] * stay + lat_in[::-1]
    sog = [12.0] * 19 + [0.0] * (stay + 2) + [12.0] * 19
    return track(mmsi, lons, lats, [10.0 * i for i in range(len(lons))], sog=sog, t0=t0)


def scenario() -> pd.DataFrame:
    """Six days of traffic with events placed across midnights."""
    d0 = T0  # 2024-03-05 00:00 UTC
    frames = [
        # passage whose gates straddle midnight of day 1 (outer 22:42, inner 00:47)
        gibraltar_east(211000001, d0 + DAY - pd.Timedelta(minutes=120)),
        # passage confirmed exactly at midnight (the fix after the inner gate at 00:00)
        gibraltar_east(211000002, d0 + 2 * DAY - pd.Timedelta(minutes=230)),
        # call at Algeciras from day 2 evening to day 4 (open over two midnights)
        algeciras_call(211000003, d0 + 2 * DAY + pd.Timedelta(hours=20), stay=250),
        # dark crossing: silent from day 3 21:00 to day 4 05:00
        track(211000004, [-6.4, -6.2, -6.0, -5.0, -4.8], LAT,
              [0, 60, 120, 600, 660], t0=d0 + 3 * DAY + pd.Timedelta(hours=19)),
        # a spoofed fix just after midnight of day 5
        track(211000005, [-7.5 + 0.01 * i for i in range(12)], 37.0,
              [10.0 * i for i in range(12)], t0=d0 + 5 * DAY - pd.Timedelta(minutes=30)),
        # in the strait for two days between the gates (longer than the look-back), then east
        track(211000006, [-6.0, -5.9, -5.6, -5.6, -5.2, -5.1], LAT,
              [0, 60, 120, 120 + 2 * 1440, 180 + 2 * 1440, 240 + 2 * 1440],
              t0=d0 + pd.Timedelta(hours=10)),
    ]  # fmt: skip
    frame = positions(*frames)
    spoof = (frame["mmsi"] == 211000005) & (frame["ts"] == d0 + 5 * DAY + pd.Timedelta(minutes=10))
    frame.loc[spoof, "lat"] = 30.0
    return frame


@pytest.fixture
def loaded(ref_conn: psycopg.Connection) -> psycopg.Connection:
    load_positions(ref_conn, scenario())
    return ref_conn


def test_events_of_the_scenario(loaded: psycopg.Connection) -> None:
    result = detect_window(loaded)
    assert result.start == T0 + pd.Timedelta(hours=10)  # the first fix (vessel 211000006)
    rows = loaded.execute(
        "SELECT mmsi, chokepoint_id, direction, inferred, gap_id IS NOT NULL "
        "FROM straitwatch.chokepoint_crossings ORDER BY mmsi"
    ).fetchall()
    assert rows == [
        (211000001, "gibraltar", "eastbound", False, False),
        (211000002, "gibraltar", "eastbound", False, False),
        (211000004, "gibraltar", "eastbound", True, True),
        (211000006, "gibraltar", "eastbound", False, False),
    ]
    calls = loaded.execute(
        "SELECT mmsi, port_id, departed_at IS NOT NULL, ended_by_gap FROM straitwatch.port_calls"
    ).fetchall()
    assert calls == [(211000003, "ESALG", True, False)]
    gap = loaded.execute(
        "SELECT g.mmsi FROM straitwatch.ais_gaps g JOIN straitwatch.chokepoint_crossings c "
        "USING (gap_id)"
    ).fetchall()
    assert gap == [(211000004,)]
    assert loaded.execute("SELECT mmsi FROM straitwatch.flagged_positions").fetchall() == [
        (211000005,)
    ]
    assert (result.chokepoint_crossings, result.port_calls, result.flagged_positions) == (4, 1, 1)
    assert (
        result.ais_gaps == loaded.execute("SELECT count(*) FROM straitwatch.ais_gaps").fetchone()[0]
    )
    run = loaded.execute(
        "SELECT vessels, positions, chokepoint_crossings FROM straitwatch.detect_runs"
    ).fetchall()
    assert run == [(6, len(scenario()), 4)]


def test_rerun_changes_nothing(loaded: psycopg.Connection) -> None:
    detect_window(loaded)
    first = snapshot(loaded)
    assert sum(len(v) for v in first.values()) > 0
    detect_window(loaded)
    assert snapshot(loaded) == first
    start, end = T0 + 2 * DAY, T0 + 3 * DAY
    detect_window(loaded, start, end)
    assert snapshot(loaded) == first


def test_day_by_day_gives_the_same_rows_as_one_run(loaded: psycopg.Connection) -> None:
    start, end = T0, T0 + 7 * DAY
    detect_window(loaded, start, end)
    whole = snapshot(loaded)
    clear_events(loaded)
    day = start
    while day < end:
        detect_window(loaded, day, day + DAY)
        day += DAY
    assert snapshot(loaded) == whole
    # and the other way round, twelve-hour windows
    clear_events(loaded)
    day = start
    while day < end:
        detect_window(loaded, day, day + DAY / 2)
        day += DAY / 2
    assert snapshot(loaded) == whole


def test_passage_split_by_a_window_boundary_is_found_once(loaded: psycopg.Connection) -> None:
    boundary = T0 + DAY  # the outer gate of vessel 211000001 is before it, the inner after
    detect_window(loaded, boundary - DAY, boundary)
    before = loaded.execute(
        "SELECT count(*) FROM straitwatch.chokepoint_crossings WHERE mmsi = 211000001"
    ).fetchone()[0]
    detect_window(loaded, boundary, boundary + DAY)
    rows = loaded.execute(
        "SELECT entered_at < %s, crossed_at >= %s FROM straitwatch.chokepoint_crossings "
        "WHERE mmsi = 211000001",
        (boundary, boundary),
    ).fetchall()
    assert before == 0
    assert rows == [(True, True)]


def test_open_call_is_closed_by_a_later_window(ref_conn: psycopg.Connection) -> None:
    # arrives at Algeciras on day 0 about 17:10, stopped for 20 hours, leaves on day 1
    frame = algeciras_call(211000003, T0 + pd.Timedelta(hours=14), stay=120)
    load_positions(ref_conn, frame[frame["ts"] < T0 + DAY], "day0")
    detect_window(ref_conn, T0, T0 + DAY)
    open_row = ref_conn.execute(
        "SELECT port_call_id, arrived_at, departed_at, last_seen_at FROM straitwatch.port_calls"
    ).fetchall()
    assert len(open_row) == 1
    assert open_row[0][2] is None and open_row[0][3] < T0 + DAY
    # the next day's positions arrive and that day is detected
    load_positions(ref_conn, frame[frame["ts"] >= T0 + DAY], "day1")
    result = detect_window(ref_conn, T0 + DAY, T0 + 2 * DAY)
    rows = ref_conn.execute(
        "SELECT port_call_id, arrived_at, departed_at FROM straitwatch.port_calls"
    ).fetchall()
    assert len(rows) == 1
    assert rows[0][:2] == open_row[0][:2]
    # the last fix within 1.5 x 3 nm on the way out: fix 19 + 120 + 3 of the track
    assert rows[0][2] == frame["ts"].iloc[19 + 120 + 3]
    assert (result.port_calls, result.port_calls_continued) == (0, 1)
    # rerunning the first day alone keeps what the second day learnt about the call
    detect_window(ref_conn, T0, T0 + DAY)
    query = "SELECT port_call_id, arrived_at, departed_at FROM straitwatch.port_calls"
    assert ref_conn.execute(query).fetchall() == rows
    # and both days at once give the same row
    ref_conn.execute("TRUNCATE straitwatch.port_calls")
    ref_conn.commit()
    detect_window(ref_conn, T0, T0 + 2 * DAY)
    assert ref_conn.execute(query).fetchall() == rows


def test_call_qualifying_after_the_window_end_is_kept_on_rerun(loaded) -> None:
    # vessel 211000003 arrives at 23:10 on day 2: not yet two hours stopped at midnight
    detect_window(loaded)
    whole = snapshot(loaded)
    detect_window(loaded, T0 + 2 * DAY, T0 + 3 * DAY)
    assert snapshot(loaded) == whole


def test_passage_longer_than_the_look_back_is_found(loaded: psycopg.Connection) -> None:
    # vessel 211000006 entered on day 0 and leaves on day 2: 48 hours, look-back 24
    result = detect_window(loaded, T0 + 2 * DAY, T0 + 3 * DAY)
    rows = loaded.execute(
        "SELECT entered_at, crossed_at FROM straitwatch.chokepoint_crossings WHERE mmsi = 211000006"
    ).fetchall()
    # outer gate a third of the way from fix 1 to fix 2, inner three quarters from 3 to 4
    entered = T0 + pd.Timedelta(hours=10, minutes=80)
    crossed = T0 + pd.Timedelta(hours=10, minutes=2880 + 120 + 45)
    assert len(rows) == 1
    assert abs(rows[0][0] - entered) < timedelta(milliseconds=1)
    assert abs(rows[0][1] - crossed) < timedelta(milliseconds=1)
    assert result.positions_read > result.positions
    # without the deeper look-back (a short limit) the passage is not counted
    clear_events(loaded)
    detect_window(loaded, T0 + 2 * DAY, T0 + 3 * DAY, DetectConfig(max_passage_h=24.0))
    assert not loaded.execute(
        "SELECT 1 FROM straitwatch.chokepoint_crossings WHERE mmsi = 211000006"
    ).fetchall()


def test_chunks_give_the_same_rows(loaded: psycopg.Connection) -> None:
    detect_window(loaded)
    whole = snapshot(loaded)
    clear_events(loaded)
    result = detect_window(loaded, config=DetectConfig(chunk_positions=50))
    assert result.chunks >= 3
    assert snapshot(loaded) == whole


def test_empty_window_removes_its_events_only(loaded: psycopg.Connection) -> None:
    detect_window(loaded)
    n = loaded.execute("SELECT count(*) FROM straitwatch.chokepoint_crossings").fetchone()[0]
    loaded.execute("DELETE FROM straitwatch.positions WHERE mmsi = 211000002")
    loaded.commit()
    detect_window(loaded, T0 + 2 * DAY, T0 + 3 * DAY)  # its passage was confirmed at 00:00
    m = loaded.execute("SELECT count(*) FROM straitwatch.chokepoint_crossings").fetchone()[0]
    assert m == n - 1


def test_cli_detect(loaded: psycopg.Connection, db_url: str, capsys) -> None:
    code = cli.main(["--database-url", db_url, "detect", "--gap-hours", "4"])
    out = capsys.readouterr().out
    assert code == 0
    assert "chokepoint_crossings 4" in out
    config = loaded.execute("SELECT config->>'gap_threshold_h' FROM straitwatch.detect_runs")
    assert config.fetchone()[0] == "4.0"
    code = cli.main(
        ["--database-url", db_url, "detect", "--start", "2024-03-06", "--end", "2024-03-05"]
    )
    assert code == 2
    assert "is not before" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--database-url", db_url, "detect", "--start", "2024-03-06", "--end", "x"])
    assert exit_.value.code == 2
    assert "not an ISO 8601 date" in capsys.readouterr().err


def test_open_window_beyond_the_data_is_empty(loaded: psycopg.Connection) -> None:
    detect_window(loaded)
    before = snapshot(loaded)
    result = detect_window(loaded, start=T0 + 30 * DAY)
    assert (result.start, result.end, result.positions) == (T0 + 30 * DAY, T0 + 30 * DAY, 0)
    assert snapshot(loaded) == before


def test_deduplicated_passages_day_by_day(loaded: psycopg.Connection) -> None:
    # a vessel through Gibraltar eastbound, back westbound 30 hours later across a midnight
    back = gibraltar_east(211000009, T0 + DAY + pd.Timedelta(hours=20))
    back["lon"] = back["lon"].to_numpy()[::-1]
    back["ts"] = back["ts"] + pd.Timedelta(hours=30)
    load_positions(
        loaded, positions(gibraltar_east(211000009, T0 + DAY + pd.Timedelta(hours=20)), back)
    )
    config = DetectConfig(min_passage_interval_h=48.0)
    detect_window(loaded, T0, T0 + 7 * DAY, config)
    whole = snapshot(loaded)
    rows = loaded.execute(
        "SELECT direction FROM straitwatch.chokepoint_crossings WHERE mmsi = 211000009"
    ).fetchall()
    assert rows == [("eastbound",)]
    clear_events(loaded)
    for d in range(7):
        detect_window(loaded, T0 + d * DAY, T0 + (d + 1) * DAY, config)
    assert snapshot(loaded) == whole


def test_no_positions(ref_conn: psycopg.Connection) -> None:
    result = detect_window(ref_conn)
    assert result.start is None and "nothing to detect" in str(result)


@pytest.mark.parametrize("bound", ["start", "end"])
def test_half_open_window_without_positions(ref_conn: psycopg.Connection, bound: str) -> None:
    result = detect_window(ref_conn, **{bound: T0})
    assert (result.start, result.end) == (None, None)
    assert str(result) == "no positions loaded: nothing to detect"


def test_detect_without_reference_data_notes_it(conn: psycopg.Connection) -> None:
    load_positions(conn, gibraltar_east(211000001, T0))
    result = detect_window(conn)
    assert result.gates == 0 and "load-reference" in str(result)
    assert result.chokepoint_crossings == 0 and result.positions == 36


def test_random_traffic_day_by_day(ref_conn: psycopg.Connection) -> None:
    """Many vessels on random courses through the test gates, three days, daily windows."""
    rng = np.random.default_rng(11)
    frames = []
    for k in range(40):
        n = 400
        t = np.cumsum(rng.uniform(1, 15, n))
        lons = -7.0 + np.cumsum(rng.normal(0.012, 0.02, n))
        lats = LAT + np.cumsum(rng.normal(0.0, 0.01, n))
        start = T0 + pd.Timedelta(hours=float(rng.uniform(0, 40)))
        f = track(212000000 + k, lons, lats, t, sog=rng.uniform(0, 14, n), t0=start)
        if k % 5 == 0:  # a silence and a spoofed fix
            f.loc[200:, "ts"] += pd.Timedelta(hours=9)
            f.loc[100, "lat"] += 5.0
        frames.append(f)
    load_positions(ref_conn, positions(*frames))
    detect_window(ref_conn, T0, T0 + 4 * DAY)
    whole = snapshot(ref_conn)
    assert len(whole["chokepoint_crossings"]) > 10 and len(whole["ais_gaps"]) > 0
    clear_events(ref_conn)
    for d in range(4):
        detect_window(ref_conn, T0 + d * DAY, T0 + (d + 1) * DAY)
    assert snapshot(ref_conn) == whole


def test_long_stay_reads_only_since_its_last_fix(ref_conn: psycopg.Connection) -> None:
    # ten days at anchor off Algeciras, a fix every 10 minutes
    frame = algeciras_call(211000010, T0 + pd.Timedelta(hours=6), stay=1440)
    load_positions(ref_conn, frame)
    results = [detect_window(ref_conn, T0 + d * DAY, T0 + (d + 1) * DAY) for d in range(12)]
    daily = snapshot(ref_conn)
    assert len(daily["port_calls"]) == 1
    # each day at anchor reads that day, its look-back and the fix before, not the stay since
    # arrival; the day it leaves through the outer gate, from inside the strait, a week back
    # (the longest passage) to see where it entered the strait from
    assert max(r.positions_read for r in results[1:10]) <= 2 * 144 + 2
    assert results[10].positions_read <= (1 + 1 + 7 + 1) * 144  # both reads counted
    assert [r.port_calls_continued for r in results[1:10]] == [1] * 9
    clear_events(ref_conn)
    detect_window(ref_conn, T0, T0 + 12 * DAY)
    assert snapshot(ref_conn) == daily


def test_days_in_any_order_give_the_rows_of_days_in_order(ref_conn: psycopg.Connection) -> None:
    """A backfill may run the days out of order (several at once, or in reverse): a day run
    after later ones follows the calls under way at its end into the days already detected."""
    conn = ref_conn
    frame = positions(
        scenario(),
        # ten days at anchor off Algeciras, arriving on day 1: longer than the deepest look-back
        algeciras_call(211000011, T0 + DAY + pd.Timedelta(hours=9), stay=1440),
    )
    load_positions(conn, frame)
    days = list(range(13))

    def run(order: list[int]) -> dict[str, list[tuple]]:
        clear_events(conn)
        conn.execute("TRUNCATE straitwatch.detect_runs")
        conn.commit()
        for d in order:
            detect_window(conn, T0 + d * DAY, T0 + (d + 1) * DAY)
        return snapshot(conn)

    in_order = run(days)
    calls = {r[1]: r for r in in_order["port_calls"]}
    stay = calls[211000011]
    arrived, departed = stay[3], stay[4]
    assert (departed - arrived) > pd.Timedelta(days=10)
    assert run(days[::-1]) == in_order
    assert run([0, 12, 3, 11, 1, 6, 10, 2, 9, 4, 8, 5, 7]) == in_order
    assert run([*days[6:], *days[:6]]) == in_order


def test_detect_commits_when_the_caller_had_no_transaction(loaded, db_url: str) -> None:
    from pipeline import db

    loaded.commit()
    assert loaded.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    detect_window(loaded)
    assert loaded.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with db.connect(db_url) as other:  # a second session sees the events
        assert other.execute("SELECT count(*) FROM chokepoint_crossings").fetchone() == (4,)


def test_detect_inside_a_callers_transaction_is_the_callers_to_commit(loaded, db_url) -> None:
    from pipeline import db

    loaded.commit()
    loaded.execute("SELECT 1")  # the caller opens a transaction
    detect_window(loaded)
    assert loaded.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    with db.connect(db_url) as other:
        assert other.execute("SELECT count(*) FROM chokepoint_crossings").fetchone() == (0,)
    loaded.rollback()
    assert loaded.execute("SELECT count(*) FROM chokepoint_crossings").fetchone() == (0,)
