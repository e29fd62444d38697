"""Analyst views on the Gibraltar scenario: identity at the time, daily counts, dark transits."""

from __future__ import annotations

import csv
from datetime import date

import pandas as pd
import psycopg
import pytest

from pipeline.config import SEEDS_DIR
from pipeline.db import read_frame
from tests.analyst.scenario import SPARTA_IV, SPARTA_REPORT

# The README's example query, verbatim (kept in step by test_readme_example_is_this_query).
RUSSIAN_WESTBOUND_FEBRUARY = """
SELECT vessel_name, imo, mmsi, crossed_at, inferred AS dark
FROM straitwatch.crossings_with_identity
WHERE chokepoint_id = 'gibraltar'
  AND direction = 'westbound'
  AND flag = 'RU'
  AND crossed_at >= '2025-02-01T00:00Z' AND crossed_at < '2025-03-01T00:00Z'
ORDER BY crossed_at;
"""


def test_russian_ships_westbound_in_february_and_which_were_dark(
    scenario_conn: psycopg.Connection,
) -> None:
    rows = scenario_conn.execute(RUSSIAN_WESTBOUND_FEBRUARY).fetchall()
    assert [(r[0], r[1], r[2], r[3].isoformat(), r[4]) for r in rows] == [
        ("SPARTA IV", "9743007", 273000001, "2025-02-11T14:00:00+00:00", False),
        ("SPARTA II", "9312341", 273000002, "2025-02-13T09:30:00+00:00", True),
        ("KAMA", None, 273000007, "2025-02-16T05:00:00+00:00", False),
        (None, None, 273000006, "2025-02-23T22:00:00+00:00", False),
    ]


def test_readme_example_is_this_query() -> None:
    from pipeline.config import REPO_DIR

    readme = (REPO_DIR / "README.md").read_text(encoding="utf-8")
    assert RUSSIAN_WESTBOUND_FEBRUARY.strip() in readme


def test_identity_is_the_one_valid_at_the_crossing(scenario_conn: psycopg.Connection) -> None:
    frame = read_frame(
        scenario_conn,
        """SELECT crossing_id, vessel_name, identity_basis, ship_type_group, portwatch_comparable,
                  flag, flag_country, crossed_on
           FROM straitwatch.crossings_with_identity ORDER BY crossing_id""",
    ).set_index("crossing_id")
    # renamed on 2025-02-09: the January passage keeps the old name
    assert frame.loc["x-sparta-iv-east", "vessel_name"] == "URSA MAJOR"
    assert frame.loc["x-sparta-iv-west", "vessel_name"] == "SPARTA IV"
    assert frame.loc["x-sparta-iv-west", "identity_basis"] == "valid_at_time"
    # static data first received the day after the passage
    assert frame.loc["x-kama", "identity_basis"] == "first_seen_after"
    assert frame.loc["x-kama", "ship_type_group"] == "fishing"
    assert pd.isna(frame.loc["x-unknown", "identity_basis"])
    assert frame.loc["x-unknown", "ship_type_group"] == "unknown"
    assert frame.loc["x-unknown", "flag"] == "RU"  # from the MID even without static data
    assert frame.loc["x-ocean-grace", "flag"] == "MH"
    assert frame.loc["x-ocean-grace", "ship_type_group"] == "tanker"
    assert bool(frame.loc["x-ocean-grace", "portwatch_comparable"]) is True
    assert bool(frame.loc["x-kama", "portwatch_comparable"]) is False
    assert frame.loc["x-sparta-iv-west", "crossed_on"] == date(2025, 2, 11)
    assert len(frame) == 8  # one row per crossing, never duplicated by identity periods


def test_daily_transits_counts(scenario_conn: psycopg.Connection) -> None:
    rows = scenario_conn.execute(
        """SELECT day, direction, ship_type_group, transits, inferred_transits, vessels
           FROM straitwatch.daily_transits
           WHERE chokepoint_id = 'gibraltar' AND day BETWEEN '2025-02-01' AND '2025-02-18'
           ORDER BY day, direction, ship_type_group"""
    ).fetchall()
    assert rows == [
        (date(2025, 2, 11), "westbound", "cargo", 1, 0, 1),
        (date(2025, 2, 13), "westbound", "cargo", 1, 1, 1),
        (date(2025, 2, 16), "westbound", "fishing", 1, 0, 1),
        (date(2025, 2, 18), "westbound", "tanker", 1, 0, 1),
    ]
    total = scenario_conn.execute(
        "SELECT sum(transits) FROM straitwatch.daily_transits WHERE chokepoint_id = 'gibraltar'"
    ).fetchone()[0]
    assert total == 8


def test_dark_transits_carry_the_gap(scenario_conn: psycopg.Connection) -> None:
    rows = scenario_conn.execute(
        """SELECT crossing_id, vessel_name, dark_from, dark_until, dark_duration,
                  dark_distance_nm, dark_implied_speed_kn
           FROM straitwatch.dark_transits"""
    ).fetchall()
    assert len(rows) == 1
    cid, name, start, end, duration, dist, speed = rows[0]
    assert (cid, name) == ("x-sparta-ii-west", "SPARTA II")
    assert (start.isoformat(), end.isoformat()) == (
        "2025-02-13T07:00:00+00:00",
        "2025-02-13T12:00:00+00:00",
    )
    assert duration.total_seconds() == 5 * 3600
    assert (dist, speed) == (60.0, 12.0)


def test_vessel_track_function(scenario_conn: psycopg.Connection) -> None:
    rows = scenario_conn.execute(
        """SELECT ts FROM straitwatch.vessel_track(%s, '2025-02-11T13:00Z', '2025-02-11T15:00Z')""",
        (SPARTA_IV,),
    ).fetchall()
    assert len(rows) == 20  # one fix every 6 minutes, end exclusive
    assert rows == sorted(rows)


def test_day_filter_uses_the_expression_index(scenario_conn: psycopg.Connection) -> None:
    scenario_conn.execute("SET enable_seqscan = off")
    plan = "\n".join(
        r[0]
        for r in scenario_conn.execute(
            """EXPLAIN SELECT * FROM straitwatch.daily_transits
               WHERE day BETWEEN '2025-02-01' AND '2025-02-28'"""
        )
    )
    assert "chokepoint_crossings_utc_day" in plan


def test_mid_table_mirrors_the_seed(migrated_conn: psycopg.Connection) -> None:
    with (SEEDS_DIR / "reference" / "mid_countries.csv").open(newline="", encoding="utf-8") as f:
        seed = {
            (int(r["MID"]), r["Country Name"], r["Country Code"] or None) for r in csv.DictReader(f)
        }
    table = set(
        migrated_conn.execute("SELECT mid, country, flag FROM straitwatch.mid_countries").fetchall()
    )
    assert table == seed


@pytest.mark.parametrize(
    ("code", "group", "comparable", "description"),
    [
        (0, "unknown", False, "not available"),
        (30, "fishing", False, "fishing"),
        (52, "service", False, "tug"),
        (60, "passenger", False, "passenger"),
        (71, "cargo", True, "cargo, hazardous category A"),
        (79, "cargo", True, "cargo, no additional information"),
        (84, "tanker", True, "tanker, hazardous category D"),
        (99, "other", False, "other type, no additional information"),
    ],
)
def test_ship_type_groups(
    migrated_conn: psycopg.Connection, code: int, group: str, comparable: bool, description: str
) -> None:
    row = migrated_conn.execute(
        """SELECT ship_type_group, portwatch_comparable, description
           FROM straitwatch.ais_ship_types WHERE ship_type = %s""",
        (code,),
    ).fetchone()
    assert row == (group, comparable, description)
    assert (
        migrated_conn.execute("SELECT count(*) FROM straitwatch.ais_ship_types").fetchone()[0]
        == 100
    )


def test_claim_checks_one_row_per_part(scenario_conn: psycopg.Connection) -> None:
    rows = scenario_conn.execute(
        """SELECT check_no, part, status, event, event_at, claimed_date, claimed_to, delta,
                  crossing_id, port_call_id, inferred, positions_in_window
           FROM straitwatch.claim_checks WHERE report_id = %s ORDER BY check_no""",
        (SPARTA_REPORT,),
    ).fetchall()
    assert [r[:4] for r in rows] == [
        (1, "departure", "confirmed", "port_call_departure"),
        (2, "passage", "confirmed", "crossing"),
        (3, "destination", "no_ais_coverage", None),
    ]
    departure, passage, destination = rows
    assert departure[4].isoformat() == "2025-02-04T06:00:00+00:00"
    assert departure[6].isoformat() == "2025-02-11T00:00:00+00:00"
    assert departure[9] == "pc-sparta-iv-tartus"
    assert passage[5] == date(2025, 2, 11)
    assert passage[7].total_seconds() == 0
    assert (passage[8], passage[10], passage[11]) == ("x-sparta-iv-west", False, 181)
    assert destination[4:11] == (None,) * 7
    assert destination[11] == 0


def test_claim_checks_tolerate_evidence_without_checks(scenario_conn: psycopg.Connection) -> None:
    scenario_conn.execute(
        """INSERT INTO reported_departures (report_id, vessel_name, via_chokepoint_id)
           VALUES ('no-checks', 'NOBODY', 'gibraltar')"""
    )
    scenario_conn.execute(
        """INSERT INTO departure_matches (report_id, mmsi, verdict, evidence)
           VALUES ('no-checks', NULL, 'vessel_not_found', '{"checks": null}')"""
    )
    count = scenario_conn.execute(
        "SELECT count(*) FROM straitwatch.claim_checks WHERE report_id = 'no-checks'"
    ).fetchone()[0]
    assert count == 0
