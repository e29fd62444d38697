"""The reports CSV: import, idempotence, and errors that name the line and the field."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pytest

from pipeline.config import SEEDS_DIR
from pipeline.errors import StraitwatchError
from pipeline.reports.claims import CSV_COLUMNS, import_reports

EXAMPLE = SEEDS_DIR / "reports" / "example_reports.csv"
HEADER = ",".join(CSV_COLUMNS)


def test_example_reports_import(ref_conn: psycopg.Connection) -> None:
    assert import_reports(ref_conn, EXAMPLE) == 4
    rows = ref_conn.execute(
        """SELECT report_id, imo, departure_port_id, departed_after, departed_before,
                  via_chokepoint_id, via_date, via_direction, via_direction_basis,
                  destination_port_id
           FROM straitwatch.reported_departures ORDER BY report_id"""
    ).fetchall()
    assert rows == [
        (
            "maritime-executive-2025-01-29-sparta-ii",
            "9160994",
            "SYTTS",
            datetime(2025, 1, 21, tzinfo=UTC),
            datetime(2025, 1, 30, tzinfo=UTC),
            None,
            None,
            None,
            None,
            None,
        ),
        (
            "maritime-executive-2025-02-10-convoy",
            "9268710",
            None,
            None,
            None,
            "gibraltar",
            date(2025, 2, 9),
            "westbound",
            "stated",
            None,
        ),
        (
            "trt-2025-02-12-sparta",
            "9268710",
            "SYTTS",
            None,
            None,
            "gibraltar",
            date(2025, 2, 11),
            "westbound",
            "route",
            "RULED",
        ),
        (
            "trt-2025-02-12-sparta-ii",
            "9160994",
            "SYTTS",
            None,
            None,
            "gibraltar",
            date(2025, 2, 11),
            "westbound",
            "route",
            "RUKGD",
        ),
    ]
    ref_conn.execute(
        "INSERT INTO straitwatch.departure_matches (report_id, verdict) "
        "VALUES ('trt-2025-02-12-sparta', 'confirmed')"
    )
    # rerun: nothing changes, verdicts stay
    assert import_reports(ref_conn, EXAMPLE) == 4
    assert ref_conn.execute("SELECT count(*) FROM reported_departures").fetchone() == (4,)
    assert ref_conn.execute("SELECT count(*) FROM departure_matches").fetchone() == (1,)


def test_a_changed_report_loses_its_stale_verdicts(ref_conn: psycopg.Connection, tmp_path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(f"{HEADER}\nr1,src,2025-02-12,Sparta,,,SYTTS,,,,,,,text\n")
    import_reports(ref_conn, path)
    ref_conn.execute(
        "INSERT INTO departure_matches (report_id, verdict) VALUES ('r1', 'confirmed')"
    )
    path.write_text(f"{HEADER}\nr1,src,2025-02-12,Sparta,,,SYTTS,,,,,,RULED,text\n")
    import_reports(ref_conn, path)
    assert ref_conn.execute("SELECT count(*) FROM departure_matches").fetchone() == (0,)
    assert ref_conn.execute("SELECT destination_port_id FROM reported_departures").fetchone() == (
        "RULED",
    )


BAD_ROWS = [
    (
        "r1,s,2025-02-12,Sparta,9268711,,SYTTS,,,,,,,",
        "line 2, field imo: IMO 9268711 fails its check digit (the last digit should be 0)",
    ),
    (
        "r1,s,2025-02-12,Sparta,IMO12,,SYTTS,,,,,,,",
        "line 2, field imo: 'IMO12' is not a 7-digit IMO number",
    ),
    (
        "r1,s,2025-02-12,Sparta,,,Tartos,,,,,,,",
        "line 2, field departure_port: unknown port 'Tartos' (not a UN/LOCODE or name in the "
        "ports table; did you mean Tartus (SYTTS)?)",
    ),
    (
        "r1,s,2025-02-12,Sparta,,,SYTTS,,,Gibraltr Strait,,,,",
        "line 2, field via_chokepoint: unknown chokepoint 'Gibraltr Strait' (did you mean "
        "Strait of Gibraltar (gibraltar)?)",
    ),
    (
        "r1,s,2025-02-12,Sparta,,,SYTTS,,,gibraltar,2025-02-11,northbound,,",
        "line 2, field via_direction: 'northbound' is not a direction of gibraltar "
        "(eastbound or westbound)",
    ),
    (
        "r1,s,2025-02-12,Sparta,,,SYTTS,,,gibraltar,11/02/2025,,,",
        "line 2, field via_date: not an ISO 8601 day (YYYY-MM-DD): '11/02/2025'",
    ),
    (
        "r1,s,12 Feb,Sparta,,,SYTTS,,,,,,,",
        "line 2, field published_at: not an ISO 8601 date or time: '12 Feb'",
    ),
    ("r1,s,2025-02-12,,,,SYTTS,,,,,,,", "line 2, field vessel_name: no vessel"),
    ("r1,s,2025-02-12,Sparta,,,,,,,,,,", "line 2, field departure_port: nothing to check"),
    ("r1,s,2025-02-12,Sparta,,12345,SYTTS,,,,,,,", "line 2, field mmsi: '12345' is not a ship"),
    (
        "r1,s,2025-02-12,Sparta,,,SYTTS,2025-01-30,2025-01-20,,,,,",
        "line 2, field departed_before: is not after departed_after",
    ),
    ("r 1,s,2025-02-12,Sparta,,,SYTTS,,,,,,,", "line 2, field report_id: use letters, digits"),
    ("r1,s,2025-02-12,Sparta,,,SYTTS,,,,,,,,extra", "line 2: more fields than the header"),
]


def test_bad_rows_name_line_and_field(ref_conn: psycopg.Connection, tmp_path) -> None:
    path = tmp_path / "bad.csv"
    for row, message in BAD_ROWS:
        path.write_text(f"{HEADER}\n{row}\nok,s,2025-02-12,Sparta,,,SYTTS,,,,,,,\n")
        with pytest.raises(StraitwatchError) as err:
            import_reports(ref_conn, path)
        assert str(err.value).startswith(f"{path}: {message}"), row
        # all or nothing: the good row was not imported either
        assert ref_conn.execute("SELECT count(*) FROM reported_departures").fetchone() == (0,)
    path.write_text(f"{HEADER}\n" + "\n".join(row for row, _ in BAD_ROWS[:3]) + "\n")
    with pytest.raises(StraitwatchError, match=r"line 2, field imo: .* \(and 2 more bad rows\)"):
        import_reports(ref_conn, path)


def test_file_level_errors(ref_conn: psycopg.Connection, tmp_path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("report_id,vessel_name\nr1,Sparta\n")
    with pytest.raises(StraitwatchError, match="line 1: missing column"):
        import_reports(ref_conn, path)
    path.write_text(HEADER + ",colour\n")
    with pytest.raises(StraitwatchError, match=r"line 1: unknown column\(s\) colour"):
        import_reports(ref_conn, path)
    path.write_text(
        f"{HEADER}\nr1,s,2025-02-12,Sparta,,,SYTTS,,,,,,,\n"
        f"r1,s,2025-02-12,Sparta II,,,SYTTS,,,,,,,\n"
    )
    with pytest.raises(StraitwatchError, match="line 3, field report_id: 'r1' repeats line 2"):
        import_reports(ref_conn, path)
    path.write_bytes(HEADER.encode() + b"\nr1,s,2025-02-12,Sp\xe4rta,,,SYTTS,,,,,,,\n")
    with pytest.raises(StraitwatchError, match="line 2: not UTF-8 text"):
        import_reports(ref_conn, path)
    with pytest.raises(StraitwatchError, match="cannot read"):
        import_reports(ref_conn, tmp_path / "missing.csv")


def test_ports_by_name_and_locode_forms(ref_conn: psycopg.Connection, tmp_path) -> None:
    path = tmp_path / "r.csv"
    lines = [HEADER]
    for i, port in enumerate(["SYTTS", "SY TTS", "sytts", "Tartus", "Tartous", "TARTUS"]):
        lines.append(f"r{i},s,2025-02-12,Sparta,,,{port},,,,,,Saint Petersburg,")
    path.write_text("\n".join(lines) + "\n")
    assert import_reports(ref_conn, path) == 6
    assert ref_conn.execute(
        "SELECT DISTINCT departure_port_id, destination_port_id FROM reported_departures"
    ).fetchall() == [("SYTTS", "RULED")]


def test_reference_must_be_loaded(conn: psycopg.Connection, tmp_path) -> None:
    from pipeline.reports.claims import extract_claims

    with pytest.raises(StraitwatchError, match="load-reference"):
        extract_claims(conn, "The ship Sparta left Tartus.", date(2025, 2, 12), "x")
