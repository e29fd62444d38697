"""Verdicts with evidence, on event rows written as ingest and detection would write them."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import psycopg
import pytest

from pipeline.config import SEEDS_DIR
from pipeline.reports.claims import extract_claims, store_claims
from pipeline.reports.match import MatchConfig, match_reports, overall_verdict
from pipeline.reports.present import describe_verdicts

from .conftest import Events, utc

SEED = (SEEDS_DIR / "reports" / "tartus_withdrawal_article.txt").read_text(encoding="utf-8")
SPARTA, SPARTA_II, SPARTA_IV, TRAWLER = 273351920, 273394890, 273413440, 273217300
TARTUS = (34.90, 35.87)
GIBRALTAR_WEST = (36.0, -7.0)


def sparta_scenario(ev: Events) -> None:
    """The seed case as AIS would show it, with the decoys."""
    ev.identity(SPARTA, "SPARTA", imo="9268710", ship_type=70)
    ev.identity(SPARTA_II, "SPARTA II", imo="9160994", ship_type=79)
    ev.identity(SPARTA_IV, "SPARTA IV", imo="9743033", ship_type=70)
    ev.identity(TRAWLER, "SPARTA", ship_type=30)
    # Sparta: Tartus 21-26 Jan, Gibraltar westbound 9 Feb 06:10, St Petersburg 22 Feb
    ev.track(
        SPARTA,
        [
            ("2025-01-21T00:00", *TARTUS),
            ("2025-01-26T04:12", *TARTUS),
            ("2025-02-09T06:10", 35.95, -5.6),
            ("2025-02-13T00:00", 51.0, 1.5),
            ("2025-02-22T13:05", 59.93, 30.3),
            ("2025-02-24T00:00", 59.93, 30.3),
        ],
    )
    ev.port_call(SPARTA, "SYTTS", "2025-01-21T00:00", "2025-01-26T04:12")
    ev.crossing(SPARTA, "gibraltar", "2025-02-09T06:10", "westbound")
    ev.crossing(SPARTA, "dover", "2025-02-12T21:00", "northbound")
    ev.port_call(SPARTA, "RULED", "2025-02-22T13:05", None)
    # Sparta II: left first, went dark through the strait, arrived at Baltiysk
    ev.track(
        SPARTA_II,
        [
            ("2025-01-21T00:00", *TARTUS),
            ("2025-01-25T18:00", *TARTUS),
            ("2025-02-08T20:00", 36.0, -3.0),
            ("2025-02-09T14:00", 36.5, -8.0),
            ("2025-02-20T09:30", 54.63, 19.9),
            ("2025-02-21T00:00", 54.63, 19.9),
        ],
    )
    gap = ev.gap(SPARTA_II, "2025-02-08T20:00", "2025-02-09T14:00")
    ev.port_call(SPARTA_II, "SYTTS", "2025-01-21T00:00", "2025-01-25T18:00")
    ev.crossing(SPARTA_II, "gibraltar", "2025-02-09T05:40", "westbound", inferred=True, gap_id=gap)
    ev.port_call(SPARTA_II, "RUBLT", "2025-02-20T09:30", None)
    ev.voyage_report(SPARTA_II, "2025-01-25T17:00", "RU KGD")
    # decoys: SPARTA IV on the St Petersburg - Kaliningrad line, the trawler in the Barents Sea
    ev.track(SPARTA_IV, [("2025-01-20T00:00", 59.9, 30.2), ("2025-02-28T00:00", 54.7, 20.4)])
    ev.port_call(SPARTA_IV, "RULED", "2025-02-01T00:00", "2025-02-03T00:00")
    ev.track(TRAWLER, [("2025-01-20T00:00", 70.0, 35.0), ("2025-02-28T00:00", 71.0, 40.0)])
    ev.conn.commit()


def by_name(matches: pd.DataFrame, conn: psycopg.Connection) -> dict[str, pd.Series]:
    names = dict(conn.execute("SELECT report_id, vessel_name FROM reported_departures").fetchall())
    return {names[r["report_id"]]: r for _, r in matches.iterrows()}


def test_the_seed_case(events: Events) -> None:
    sparta_scenario(events)
    conn = events.conn
    extract_claims(conn, SEED, date(2025, 2, 12), "seed")
    matches = match_reports(conn)
    conn.commit()
    assert len(matches) == 2
    rows = by_name(matches, conn)

    sparta = rows["Sparta"]
    assert (sparta["mmsi"], sparta["verdict"]) == (SPARTA, "date_mismatch")
    dep, passage, dest = sparta["evidence"]["checks"]
    assert (dep["part"], dep["status"], dep["port_id"]) == ("departure", "confirmed", "SYTTS")
    assert dep["event_at"] == "2025-01-26T04:12:00Z" and dep["delta_s"] == 0
    assert (passage["part"], passage["status"]) == ("passage", "date_mismatch")
    assert passage["direction"] == passage["expected_direction"] == "westbound"
    assert passage["event_at"] == "2025-02-09T06:10:00Z"
    assert passage["claimed_date"] == "2025-02-11"
    # from 9 Feb 06:10 to the start of the claimed day, 11 Feb 00:00
    assert passage["delta_s"] == -(41 * 3600 + 50 * 60) and passage["delta_days"] == -2
    assert passage["summary"] == (
        "passed Gibraltar westbound 2025-02-09 06:10 UTC, 2 days before the claimed "
        "Tuesday 2025-02-11"
    )
    assert passage["inferred"] is False and passage["crossing_id"].startswith("cx-")
    assert (dest["status"], dest["port_id"], dest["event"]) == (
        "confirmed",
        "RULED",
        "port_call_arrival",
    )
    assert sparta["crossing_delta"] == -timedelta(hours=41, minutes=50)
    assert sparta["departure_delta"] == timedelta(0)
    chosen = [c for c in sparta["evidence"]["candidates"] if c["chosen"]]
    assert [c["mmsi"] for c in chosen] == [SPARTA]
    trawler = next(c for c in sparta["evidence"]["candidates"] if c["mmsi"] == TRAWLER)
    assert trawler["reason"] == "fishing (AIS type 30): the report describes cargo ships"
    sparta_iv = next(c for c in sparta["evidence"]["candidates"] if c["mmsi"] == SPARTA_IV)
    assert sparta_iv == {
        "mmsi": SPARTA_IV,
        "name": "SPARTA IV",
        "imo": "9743033",
        "ship_type": 70,
        "chosen": False,
        "reason": "SPARTA IV carries another numeral than Sparta",
    }

    sparta_ii = rows["Sparta II"]
    assert (sparta_ii["mmsi"], sparta_ii["verdict"]) == (SPARTA_II, "date_mismatch")
    dep, passage, dest = sparta_ii["evidence"]["checks"]
    assert dep["status"] == "confirmed" and dep["event_at"] == "2025-01-25T18:00:00Z"
    assert passage["status"] == "date_mismatch" and passage["inferred"] is True
    assert passage["gap_id"].startswith("gap-")
    assert "inferred: crossed while AIS was dark" in passage["summary"]
    # a call at Baltiysk, Kaliningrad's outport, satisfies the Kaliningrad claim
    assert (dest["status"], dest["claimed_port_id"], dest["port_id"]) == (
        "confirmed",
        "RUKGD",
        "RUBLT",
    )
    assert dest["ais_destination"] == "RU KGD"
    assert dest["summary"].startswith("arrived at Baltiysk, the port of Kaliningrad 2025-02-20")

    text = " ".join(describe_verdicts(conn).split())
    assert "SPARTA IV" not in text and str(TRAWLER) not in text and str(SPARTA_IV) not in text
    assert "2 days before the claimed Tuesday 2025-02-11" in text

    # rerun: the same rows, not more
    again = match_reports(conn)
    assert again.drop(columns="evidence").equals(matches.drop(columns="evidence"))
    assert conn.execute("SELECT count(*) FROM departure_matches").fetchone() == (2,)


def claim(report_id: str, **fields) -> pd.DataFrame:
    base = {
        "report_id": report_id,
        "source": "test",
        "published_at": utc("2025-02-12T00:00"),
        "origin": "csv",
        "phrases": {},
    }
    return pd.DataFrame([base | fields])


def verdict_of(conn: psycopg.Connection, report_id: str, **config) -> pd.Series:
    result = match_reports(conn, [report_id], MatchConfig(**config))
    assert len(result) == 1
    return result.iloc[0]


def test_renamed_ship_matches_under_its_old_name(events: Events) -> None:
    renamed, later = 373_111_111, 373_111_112
    events.identity(renamed, "OLD NAME", valid_from="2024-01-01T00:00", valid_to="2025-03-01T00:00")
    events.identity(renamed, "NEW NAME", valid_from="2025-03-01T00:00")
    # another ship took the name after the claimed time: not the one the report meant
    events.identity(later, "OTHER", valid_from="2024-01-01T00:00", valid_to="2025-06-01T00:00")
    events.identity(later, "OLD NAME", valid_from="2025-06-01T00:00")
    events.port_call(renamed, "SYTTS", "2025-01-20T00:00", "2025-01-27T10:00")
    events.track(renamed, [("2025-01-20T00:00", *TARTUS), ("2025-01-28T00:00", 34.0, 30.0)])
    store_claims(
        events.conn,
        claim(
            "r1",
            vessel_name="Old Name",
            departure_port_id="SYTTS",
            departed_after=utc("2025-01-27T00:00"),
            departed_before=utc("2025-01-28T00:00"),
        ),
    )
    row = verdict_of(events.conn, "r1")
    assert (row["mmsi"], row["verdict"]) == (renamed, "confirmed")
    assert row["evidence"]["vessel"]["name"] == "OLD NAME"
    assert row["evidence"]["vessel"]["name_valid_to"] == "2025-03-01T00:00:00Z"
    near = row["evidence"]["candidates"][1]
    assert (near["mmsi"], near["reason"]) == (later, "named OLD NAME only outside the claimed time")


def test_unknown_ship_is_not_found(events: Events) -> None:
    sparta_scenario(events)
    store_claims(
        events.conn, claim("r2", vessel_name="Nonexistent Star", departure_port_id="SYTTS")
    )
    row = verdict_of(events.conn, "r2")
    assert row["verdict"] == "vessel_not_found" and pd.isna(row["mmsi"])
    assert row["evidence"]["checks"] == [] and row["evidence"]["vessel"] is None
    assert row["evidence"]["rule"] == (
        "no vessel in vessel_identity has the claimed name at the claimed time"
    )
    store_claims(
        events.conn,
        claim(
            "r2b",
            vessel_name="Ursa Major",
            imo="9538892",
            via_chokepoint_id="gibraltar",
            via_date=date(2025, 2, 3),
        ),
    )
    assert verdict_of(events.conn, "r2b")["evidence"]["rule"] == (
        "no vessel in vessel_identity has the claimed name at the claimed time or IMO 9538892"
    )


def test_no_positions_in_the_window(events: Events) -> None:
    events.identity(SPARTA, "SPARTA", imo="9268710")
    events.track(SPARTA, [("2024-10-01T00:00", *TARTUS), ("2024-10-05T00:00", *TARTUS)])
    store_claims(
        events.conn,
        claim(
            "r3",
            vessel_name="Sparta",
            departure_port_id="SYTTS",
            via_chokepoint_id="gibraltar",
            via_date=date(2025, 2, 11),
            via_direction="westbound",
            destination_port_id="RULED",
        ),
    )
    row = verdict_of(events.conn, "r3")
    assert (row["mmsi"], row["verdict"]) == (SPARTA, "no_ais_coverage")
    statuses = [c["status"] for c in row["evidence"]["checks"]]
    assert statuses == ["no_ais_coverage"] * 3
    assert row["evidence"]["checks"][1]["positions_in_window"] == 0


def test_ship_that_stayed_in_the_mediterranean_is_contradicted(events: Events) -> None:
    events.identity(SPARTA, "SPARTA", imo="9268710")
    events.port_call(SPARTA, "SYTTS", "2025-01-21T00:00", "2025-01-26T04:12")
    events.track(
        SPARTA,
        [
            ("2025-01-21T00:00", *TARTUS),
            ("2025-01-26T04:12", *TARTUS),
            ("2025-02-05T00:00", 31.3, 32.3),
            ("2025-04-30T00:00", 33.9, 25.0),
        ],
        every_h=12,
    )
    store_claims(
        events.conn,
        claim(
            "r4",
            vessel_name="Sparta",
            departure_port_id="SYTTS",
            via_chokepoint_id="gibraltar",
            via_date=date(2025, 2, 11),
            destination_port_id="RULED",
        ),
    )
    row = verdict_of(events.conn, "r4")
    assert (row["mmsi"], row["verdict"]) == (SPARTA, "contradicted")
    dep, passage, dest = row["evidence"]["checks"]
    assert dep["status"] == "confirmed"
    assert passage["status"] == "contradicted" and passage["expected_direction"] == "westbound"
    assert passage["positions_in_window"] == 6  # 10-13 Feb, every 12 h
    assert passage["nearest_nm"] > 1500
    assert passage["summary"].endswith(
        f"AIS keeps it {passage['nearest_nm']:,.0f} nm or more from Gibraltar"
    )
    assert dest["status"] == "contradicted"
    assert row["crossing_delta"] is None or pd.isna(row["crossing_delta"])


def test_a_call_inside_the_strait_is_not_a_passage(events: Events) -> None:
    # In and out of Algeciras, at the strait's eastern mouth, from the Mediterranean: no crossing
    events.identity(SPARTA, "SPARTA", imo="9268710")
    events.track(
        SPARTA,
        [
            ("2025-02-08T00:00", 36.0, -4.5),
            ("2025-02-10T00:00", 36.0, -5.6),
            ("2025-02-12T00:00", 36.0, -4.5),
        ],
        every_h=24,
    )
    store_claims(
        events.conn,
        claim(
            "r9", vessel_name="Sparta", via_chokepoint_id="gibraltar", via_date=date(2025, 2, 11)
        ),
    )
    row = verdict_of(events.conn, "r9")
    assert (row["mmsi"], row["verdict"]) == (SPARTA, "contradicted")
    (passage,) = row["evidence"]["checks"]
    assert passage["status"] == "contradicted" and passage["crossing_id"] is None
    assert (passage["nearest_nm"], passage["nearest_at"]) == (8.3, "2025-02-10T00:00:00Z")
    assert passage["summary"].endswith(
        "AIS has it 8.3 nm from Gibraltar's reference point at 2025-02-10 00:00 UTC, "
        "but it did not pass through"
    )


def test_two_ships_with_the_same_name_and_no_imo_are_ambiguous(events: Events) -> None:
    events.identity(273_000_001, "AMIRA", ship_type=70)
    events.identity(273_000_002, "AMIRA", ship_type=70)
    store_claims(events.conn, claim("r5", vessel_name="Amira", departure_port_id="SYTTS"))
    result = match_reports(events.conn, ["r5"])
    assert sorted(result["mmsi"]) == [273_000_001, 273_000_002]
    assert set(result["verdict"]) == {"ambiguous"}
    listed = result.iloc[0]["evidence"]["candidates"]
    assert sorted(c["mmsi"] for c in listed if c["chosen"]) == [273_000_001, 273_000_002]


def test_a_bad_imo_check_digit_is_ignored_and_said(events: Events) -> None:
    sparta_scenario(events)
    # 9268711 fails the check digit of 9268710: matching falls back to the name
    store_claims(
        events.conn,
        claim(
            "r6",
            vessel_name="Sparta",
            imo="9268711",
            vessel_kind="cargo",
            departure_port_id="SYTTS",
        ),
    )
    row = verdict_of(events.conn, "r6")
    assert row["mmsi"] == SPARTA and row["verdict"] == "confirmed"
    assert row["evidence"]["claim"]["imo_check"] == "invalid: ignored"
    assert row["evidence"]["vessel"]["matched_by"] == "name"


def test_imo_selects_the_hull_over_the_name(events: Events) -> None:
    sparta_scenario(events)
    store_claims(
        events.conn, claim("r7", vessel_name="Sparta", imo="9743033", departure_port_id="RULED")
    )
    row = verdict_of(events.conn, "r7")
    assert row["mmsi"] == SPARTA_IV and row["evidence"]["vessel"]["matched_by"] == "imo"


def test_numerals_and_the_trawler_are_never_chosen(events: Events) -> None:
    sparta_scenario(events)
    # no kind stated: the trawler is still a name candidate, but AIS supports the ro-ro
    store_claims(
        events.conn,
        claim(
            "r8",
            vessel_name="SPARTA",
            departure_port_id="SYTTS",
            via_chokepoint_id="gibraltar",
            via_date=date(2025, 2, 9),
        ),
    )
    row = verdict_of(events.conn, "r8")
    assert (row["mmsi"], row["verdict"]) == (SPARTA, "confirmed")
    reasons = {c["mmsi"]: c["reason"] for c in row["evidence"]["candidates"]}
    assert reasons[TRAWLER] == "fewer claimed parts supported by AIS"
    assert reasons[SPARTA_IV] == "SPARTA IV carries another numeral than SPARTA"
    # a claim about Sparta 2 (Arabic numeral) is Sparta II, never Sparta or Sparta IV
    store_claims(events.conn, claim("r9", vessel_name="Sparta 2", departure_port_id="SYTTS"))
    assert verdict_of(events.conn, "r9")["mmsi"] == SPARTA_II


def test_departure_outside_the_stated_window_is_a_date_mismatch(events: Events) -> None:
    sparta_scenario(events)
    store_claims(
        events.conn,
        claim(
            "r10",
            vessel_name="Sparta",
            vessel_kind="cargo",
            departure_port_id="SY TTS".replace(" ", ""),
            departed_after=utc("2025-01-28T00:00"),
            departed_before=utc("2025-01-29T00:00"),
        ),
    )
    row = verdict_of(events.conn, "r10")
    assert row["verdict"] == "date_mismatch"
    dep = row["evidence"]["checks"][0]
    assert dep["delta_s"] == -(43 * 3600 + 48 * 60)  # 26 Jan 04:12 to 28 Jan 00:00
    assert row["departure_delta"] == -timedelta(hours=43, minutes=48)


def test_verdict_precedence() -> None:
    assert overall_verdict(["confirmed", "date_mismatch", "confirmed"]) == "date_mismatch"
    assert overall_verdict(["date_mismatch", "contradicted"]) == "contradicted"
    assert overall_verdict(["confirmed", "no_ais_coverage"]) == "confirmed"
    assert overall_verdict(["no_ais_coverage", "no_ais_coverage"]) == "no_ais_coverage"


@pytest.mark.parametrize("report_ids", [["missing"], []])
def test_nothing_to_match(ref_conn: psycopg.Connection, report_ids) -> None:
    assert match_reports(ref_conn, report_ids).empty


def test_claims_with_and_without_dates_matched_together(events: Events) -> None:
    """Matching several claims at once gives each the verdict it gets alone.

    Read together, a claim with no departure window sits in a frame beside one with a window,
    so its bounds arrive as NaT rather than None; they must still read as "not claimed".
    """
    sparta_scenario(events)
    dated = claim(
        "dated",
        vessel_name="Sparta",
        vessel_kind="cargo",
        departure_port_id="SYTTS",
        departed_after=utc("2025-01-26T00:00"),
        departed_before=utc("2025-01-27T00:00"),
    )
    undated = claim(
        "undated",
        vessel_name="Sparta II",
        vessel_kind="cargo",
        departure_port_id="SYTTS",
        via_chokepoint_id="gibraltar",
        via_date=date(2025, 2, 9),
    )
    store_claims(events.conn, pd.concat([dated, undated], ignore_index=True))
    alone = {rid: verdict_of(events.conn, rid) for rid in ("dated", "undated")}
    together = match_reports(events.conn, ["dated", "undated"]).set_index("report_id")
    for rid, row in alone.items():
        assert (together.loc[rid, "mmsi"], together.loc[rid, "verdict"]) == (
            row["mmsi"],
            row["verdict"],
        )
    assert (alone["dated"]["mmsi"], alone["dated"]["verdict"]) == (SPARTA, "confirmed")
    assert (alone["undated"]["mmsi"], alone["undated"]["verdict"]) == (SPARTA_II, "confirmed")


def test_coverage_without_a_nearest_distance_is_null_not_nan() -> None:
    from pipeline.reports.match import _coverage_fields

    window = (utc("2025-02-08T00:00"), utc("2025-02-10T00:00"))
    fields = _coverage_fields({"n": 3, "nearest_nm": float("nan")}, window)
    assert fields["nearest_nm"] is None and fields["positions_in_window"] == 3
    assert _coverage_fields({"n": 1, "nearest_nm": 12.345}, window)["nearest_nm"] == 12.3


def _bound_for_st_petersburg(events: Events, broadcast: str) -> pd.Series:
    """Sparta out of Tartus and through Gibraltar, in the Baltic when AIS ends, no call at
    St Petersburg yet, broadcasting `broadcast` as its AIS destination; claimed bound there."""
    events.identity(SPARTA, "SPARTA", imo="9268710")
    events.port_call(SPARTA, "SYTTS", "2025-01-21T00:00", "2025-01-26T04:12")
    events.track(
        SPARTA,
        [
            ("2025-01-21T00:00", *TARTUS),
            ("2025-01-26T04:12", *TARTUS),
            ("2025-02-09T06:10", 35.95, -5.6),
            ("2025-02-13T00:00", 51.0, 1.5),
            ("2025-02-18T00:00", 55.5, 15.0),  # off Bornholm: 500 nm short of St Petersburg
        ],
    )
    events.crossing(SPARTA, "gibraltar", "2025-02-09T06:10", "westbound")
    # as ships type it into the voyage data, set on leaving Tartus
    events.voyage_report(SPARTA, "2025-01-26T05:00", broadcast)
    store_claims(
        events.conn,
        claim(
            "r-led",
            vessel_name="Sparta",
            departure_port_id="SYTTS",
            via_chokepoint_id="gibraltar",
            via_date=date(2025, 2, 9),
            via_direction="westbound",
            destination_port_id="RULED",
        ),
    )
    return verdict_of(events.conn, "r-led")


@pytest.mark.parametrize("broadcast", ["ST.PETERSBURG", "RU LED"])
def test_ais_destination_confirms_a_destination_not_reached_yet(
    events: Events, broadcast: str
) -> None:
    row = _bound_for_st_petersburg(events, broadcast)
    assert (row["mmsi"], row["verdict"]) == (SPARTA, "confirmed")
    dep, passage, dest = row["evidence"]["checks"]
    assert (dep["status"], passage["status"]) == ("confirmed", "confirmed")
    assert (dest["part"], dest["status"], dest["event"]) == (
        "destination",
        "confirmed",
        "ais_destination",
    )
    assert (dest["claimed_port_id"], dest["port_id"]) == ("RULED", "RULED")
    assert dest["port_call_id"] is None  # no arrival: the broadcast alone confirms it
    # broadcast before the passage and still in force after it
    assert dest["event_at"] == dest["ais_destination_at"] == "2025-01-26T05:00:00Z"
    assert dest["ais_destination"] == broadcast
    assert dest["summary"] == (
        f"AIS destination {broadcast!r} (= Sankt-Peterburg) broadcast from 2025-01-26 05:00 UTC; "
        "no arrival seen yet"
    )


def test_ais_destination_naming_another_port_does_not_confirm(events: Events) -> None:
    row = _bound_for_st_petersburg(events, "RUKGD")  # Kaliningrad, not St Petersburg
    dest = row["evidence"]["checks"][2]
    assert (dest["part"], dest["claimed_port_id"]) == ("destination", "RULED")
    assert dest["status"] == "no_ais_coverage"  # AIS ends in the Baltic, short of the port
    assert dest["event"] is None and dest["port_id"] is None
    assert dest["ais_destination"] is None
    assert dest["summary"].startswith("AIS ends 2025-02-18 00:00 UTC, ")
    assert dest["summary"].endswith(" nm from Sankt-Peterburg at the closest; no arrival seen")
    # departure and passage still hold; a destination AIS cannot see does not overturn them
    assert row["verdict"] == "confirmed"
