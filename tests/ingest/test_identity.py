"""Vessel identity (SCD-2) and voyage histories: pure rules, then files on the real database."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import psycopg
import pytest

from pipeline.ingest.identity import IDENTITY, VOYAGE, build_history, compress
from pipeline.ingest.load import ingest_file

T0 = pd.Timestamp("2024-12-01T10:00:00Z")
HEADER = (
    "MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,"
    "Length,Width,Draft,Cargo,TransceiverClass"
)


def obs(rows: list[tuple]) -> pd.DataFrame:
    """Identity reports: (mmsi, minutes after T0, name, imo, callsign, ship_type)."""
    frame = pd.DataFrame(rows, columns=["mmsi", "minutes", "name", "imo", "callsign", "ship_type"])
    frame["ts"] = T0 + pd.to_timedelta(frame.pop("minutes"), unit="min")
    frame["seq"] = np.arange(len(frame))
    frame["file_id"] = pd.array([1] * len(frame), dtype="Int64")
    for col in ("name", "imo", "callsign"):
        frame[col] = frame[col].astype("string[pyarrow]")
    frame["ship_type"] = frame["ship_type"].astype("Int16")
    return frame


def periods(history: pd.DataFrame) -> list[tuple]:
    """(name, call sign, start, end, last seen) with times in minutes after T0."""

    def minutes(value: pd.Timestamp) -> int | None:
        return None if pd.isna(value) else (value - T0) // pd.Timedelta("1min")

    return [
        (r.name, None if pd.isna(r.callsign) else r.callsign, minutes(r.valid_from),
         minutes(r.valid_to), minutes(r.last_seen_at))
        for r in history.itertuples()
    ]  # fmt: skip


def test_a_rename_opens_a_period_and_repeats_do_not() -> None:
    history = build_history(
        obs(
            [
                (1, 0, "SPARTA", None, "UBCX2", 70),
                (1, 5, "SPARTA", None, "UBCX2", 70),
                (1, 10, "SPARTA IV", None, "UBCX2", 70),
                (1, 20, "SPARTA IV", None, "UBCX2", 70),
            ]
        ),
        IDENTITY,
    )
    assert periods(history) == [("SPARTA", "UBCX2", 0, 10, 5), ("SPARTA IV", "UBCX2", 10, None, 20)]


def test_missing_values_are_not_changes_and_later_values_fill_in() -> None:
    # type 24: part B (call sign, type) then part A (name); a later part A alone keeps them
    history = build_history(
        obs(
            [
                (1, 0, None, None, "PH7460", 36),
                (1, 1, "SY-LUNDE", None, None, None),
                (1, 9, "SY-LUNDE", None, None, None),
            ]
        ),
        IDENTITY,
    )
    assert periods(history) == [("SY-LUNDE", "PH7460", 0, None, 9)]
    assert history["ship_type"].tolist() == [36]


def test_two_values_at_one_instant_keep_the_later_line() -> None:
    history = build_history(
        obs([(1, 0, "A", None, None, None), (1, 5, "B", None, None, None),
             (1, 5, "C", None, None, None), (1, 6, "C", None, None, None)]),
        IDENTITY,
    )  # fmt: skip
    assert periods(history) == [("A", None, 0, 5, 0), ("C", None, 5, None, 6)]


def test_compressing_time_ordered_batches_does_not_change_the_history() -> None:
    rng = np.random.default_rng(11)
    names = np.array(["A", "B", None], dtype=object)
    state = {m: ("A", 70) for m in (1, 2, 3)}
    rows = []
    for m, t in zip(rng.integers(1, 4, 400), np.sort(rng.integers(0, 300, 400)), strict=True):
        if rng.random() < 0.1:  # reports mostly repeat; now and then a value changes
            state[m] = (names[rng.integers(0, 3)], int(rng.integers(0, 2)) + 70)
        rows.append((int(m), int(t), state[m][0], None, None, state[m][1]))
    frame = obs(rows)  # a file in time order (as NOAA and DMA files are), batch after batch
    full = build_history(frame, IDENTITY)
    kept = None
    for start in range(0, len(frame), 80):
        part = frame.iloc[start : start + 80]
        kept = compress(part if kept is None else pd.concat([kept, part]), IDENTITY)
    assert len(kept) < len(frame) / 2
    pd.testing.assert_frame_equal(build_history(kept, IDENTITY), full)


# --------------------------------------------------------------------------- on the database


def noaa_file(write, name: str, rows: list[tuple[str, str, str, str]]) -> object:
    """A NOAA-layout file of MMSI 273351920 fixes: (time, name, imo, draft)."""
    lines = [HEADER] + [
        f"273351920,{t},35.{i:02d},29.0,10.0,180.0,180,{n},{imo},UBCX2,70,0,100,15,{d},70,A"
        for i, (t, n, imo, d) in enumerate(rows)
    ]
    return write(name, "\n".join(lines) + "\n")


def identity_rows(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT name, imo, imo_valid, callsign, ship_type, flag, valid_from, valid_to, "
        "last_seen_at FROM straitwatch.vessel_identity WHERE mmsi = 273351920 ORDER BY valid_from"
    ).fetchall()


def utc(hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 12, 1, hour, minute, tzinfo=UTC)


FIRST = [("2024-12-01T10:00:00", "SPARTA", "IMO9160994", "5.5"),
         ("2024-12-01T11:00:00", "SPARTA", "IMO9160994", "5.5")]  # fmt: skip
SECOND = [("2024-12-01T12:00:00", "SPARTA IV", "IMO9160994", "7.0"),
          ("2024-12-01T13:00:00", "SPARTA IV", "IMO9160994", "7.0")]  # fmt: skip
RENAMED = [
    ("SPARTA", "9160994", True, "UBCX2", 70, "RU", utc(10), utc(12), utc(11)),
    ("SPARTA IV", "9160994", True, "UBCX2", 70, "RU", utc(12), None, utc(13)),
]


def test_renamed_vessel_gives_two_identity_rows(conn: psycopg.Connection, write) -> None:
    ingest_file(conn, noaa_file(write, "first.csv", FIRST))
    ingest_file(conn, noaa_file(write, "second.csv", SECOND))
    assert identity_rows(conn) == RENAMED
    voyages = conn.execute(
        "SELECT reported_at, draught_m, last_seen_at FROM straitwatch.voyage_reports "
        "WHERE mmsi = 273351920 ORDER BY reported_at"
    ).fetchall()
    assert voyages == [(utc(10), 5.5, utc(11)), (utc(12), 7.0, utc(13))]
    # the same name reported again later: no new row, the current one is seen later
    current = conn.execute(
        "SELECT identity_id FROM straitwatch.vessel_identity WHERE valid_to IS NULL"
    ).fetchone()
    ingest_file(
        conn,
        noaa_file(write, "third.csv", [("2024-12-01T14:00:00", "SPARTA IV", "IMO9160994", "7.0")]),
    )
    assert identity_rows(conn)[-1][-3:] == (utc(12), None, utc(14))
    assert len(identity_rows(conn)) == 2
    assert (
        conn.execute(
            "SELECT identity_id FROM straitwatch.vessel_identity WHERE valid_to IS NULL"
        ).fetchone()
        == current
    )


def test_files_loaded_out_of_order_give_the_same_history(conn: psycopg.Connection, write) -> None:
    ingest_file(conn, noaa_file(write, "second.csv", SECOND))
    ingest_file(conn, noaa_file(write, "first.csv", FIRST))
    assert identity_rows(conn) == RENAMED
    # an old name reported again in the middle of the new name's period splits it in three
    ingest_file(
        conn, noaa_file(write, "late.csv", [("2024-12-01T12:30:00", "SPARTA", "IMO9160994", "7.0")])
    )
    got = [(r[0], r[6], r[7], r[8]) for r in identity_rows(conn)]
    assert got == [
        ("SPARTA", utc(10), utc(12), utc(11)),
        ("SPARTA IV", utc(12), utc(12, 30), utc(12)),
        ("SPARTA", utc(12, 30), utc(13), utc(12, 30)),
        ("SPARTA IV", utc(13), None, utc(13)),
    ]


def test_wrong_imo_check_digit_is_kept_but_marked(conn: psycopg.Connection, write) -> None:
    ingest_file(
        conn, noaa_file(write, "bad.csv", [("2024-12-01T10:00:00", "SPARTA", "IMO9160995", "")])
    )
    assert identity_rows(conn) == [
        ("SPARTA", "9160995", False, "UBCX2", 70, "RU", utc(10), None, utc(10))
    ]
    assert conn.execute("SELECT count(*) FROM straitwatch.voyage_reports").fetchone() == (0,)


@pytest.mark.parametrize("spec", [IDENTITY, VOYAGE])
def test_empty_reports_give_an_empty_history(spec) -> None:
    empty = obs([]).reindex(columns=["mmsi", "ts", "seq", "file_id", *spec.fields])
    assert build_history(empty, spec).empty
