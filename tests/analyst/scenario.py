"""A small Gibraltar scenario written straight into the tables (the analyst tests' data).

Vessels (MMSI 273... are Russian-flagged by their MID, 538... Marshall Islands):
  273000001  URSA MAJOR until 2025-02-09, then SPARTA IV (cargo, IMO 9743007): left Tartus on
             2025-02-04, passed Gibraltar westbound on Tue 2025-02-11 14:00 (full track around it)
             and eastbound on 2025-01-28 as URSA MAJOR
  273000002  SPARTA II (cargo): westbound 2025-02-13 09:30 across a 5-hour AIS gap (dark)
  538000003  OCEAN GRACE (tanker): westbound 2025-02-18
  273000004  VOLGA TRADER (tanker): eastbound 2025-02-20
  273000005  NEVA (cargo): westbound 2025-03-10 (after February)
  273000006  never sent static data: westbound 2025-02-23
  273000007  KAMA (fishing), identity first received 2025-02-17: westbound 2025-02-16
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg

from pipeline import db

SPARTA_IV = 273000001
SPARTA_II = 273000002
CROSSING_AT = datetime(2025, 2, 11, 14, 0, tzinfo=UTC)  # SPARTA IV at the Gibraltar gate
DEPARTED_TARTUS_AT = datetime(2025, 2, 4, 6, 0, tzinfo=UTC)
GATE_LON = -5.60
TRACK_LAT = 35.955
SPEED_DEG_LON_PER_H = 0.2467  # 12 kn at 35.95 N
SPARTA_REPORT = "trt-2025-02-12-sparta-iv"


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def track_west_through_gate(
    mmsi: int, crossed_at: datetime, hours: float = 9.0, step_min: int = 6
) -> pd.DataFrame:
    """A vessel steaming due west along TRACK_LAT at 12 kn, on the gate at `crossed_at`."""
    offsets_h = np.arange(-hours, hours + 1e-9, step_min / 60)
    return pd.DataFrame(
        {
            "mmsi": mmsi,
            "ts": pd.Timestamp(crossed_at) + pd.to_timedelta(offsets_h, unit="h"),
            "lat": TRACK_LAT,
            "lon": GATE_LON - offsets_h * SPEED_DEG_LON_PER_H,
            "sog": 12.0,
            "cog": 270.0,
            "heading": 270,
            "nav_status": 0,
            "file_id": 1,
        }
    )


def tartus_departure_track() -> pd.DataFrame:
    """SPARTA IV leaving Tartus (34.895 N 35.866 E) westwards at 10 kn."""
    offsets_h = np.arange(-3.0, 8.0 + 1e-9, 0.1)
    moving = np.clip(offsets_h, 0, None)
    return pd.DataFrame(
        {
            "mmsi": SPARTA_IV,
            "ts": pd.Timestamp(DEPARTED_TARTUS_AT) + pd.to_timedelta(offsets_h, unit="h"),
            "lat": 34.895 - moving * 0.01,
            "lon": 35.866 - moving * 0.2,
            "sog": np.where(offsets_h > 0, 10.0, 0.0),
            "cog": 265.0,
            "heading": 265,
            "nav_status": np.where(offsets_h > 0, 0, 5),
            "file_id": 1,
        }
    )


def dark_track() -> pd.DataFrame:
    """SPARTA II westbound, silent from 07:00 to 12:00 while passing the gate at 09:30."""
    full = track_west_through_gate(SPARTA_II, _ts("2025-02-13T09:30"), hours=6)
    silent = (full["ts"] > pd.Timestamp(_ts("2025-02-13T07:00"))) & (
        full["ts"] < pd.Timestamp(_ts("2025-02-13T12:00"))
    )
    return full[~silent].reset_index(drop=True)


@dataclass(frozen=True)
class Scenario:
    url: str
    positions: pd.DataFrame


def _crossing(
    cid: str,
    mmsi: int,
    at: str,
    direction: str,
    *,
    inferred: bool = False,
    gap_id: str | None = None,
    half_h: float = 0.05,
) -> dict:
    t = _ts(at)
    sign = 1 if direction == "westbound" else -1
    dlon = half_h * SPEED_DEG_LON_PER_H * sign
    return {
        "crossing_id": cid,
        "mmsi": mmsi,
        "chokepoint_id": "gibraltar",
        "crossed_at": t,
        "direction": direction,
        "inferred": inferred,
        "lat": TRACK_LAT,
        "lon": GATE_LON,
        "prev_ts": t - timedelta(hours=half_h),
        "prev_lat": TRACK_LAT,
        "prev_lon": GATE_LON + dlon,
        "next_ts": t + timedelta(hours=half_h),
        "next_lat": TRACK_LAT,
        "next_lon": GATE_LON - dlon,
        "gap_id": gap_id,
    }


def load_scenario(conn: psycopg.Connection) -> pd.DataFrame:
    """Write the scenario into an empty migrated database; returns the positions written."""
    conn.execute(
        """INSERT INTO chokepoints (chokepoint_id, name, kind, first_direction, second_direction,
                                    aliases, ref_lat, ref_lon)
           VALUES ('gibraltar', 'Strait of Gibraltar', 'strait', 'eastbound', 'westbound',
                   '{Gibraltar}', 35.96, -5.6),
                  ('bosphorus', 'Bosphorus', 'strait', 'northbound', 'southbound', '{}',
                   41.1, 29.05)"""
    )
    # drawn south to north so that the Atlantic (side_a) is on the left
    conn.execute(
        """INSERT INTO chokepoint_gates (chokepoint_id, gate, seq, wkt, side_a, side_b)
           VALUES ('gibraltar', 'tarifa', 1, 'LINESTRING(-5.6 35.87, -5.6 36.01)',
                   'Atlantic', 'Mediterranean'),
                  ('bosphorus', 'south', 1, 'LINESTRING(28.98 41.02, 29.02 41.0)',
                   'Marmara', 'Black Sea')"""
    )
    conn.execute(
        """INSERT INTO ports (port_id, name, country, lat, lon, radius_nm) VALUES
           ('SYTTS', 'Tartus', 'SY', 34.895, 35.866, 3),
           ('RUKGD', 'Kaliningrad', 'RU', 54.70, 20.45, 4),
           ('ESALG', 'Algeciras', 'ES', 36.13, -5.43, 3),
           ('MAPTM', 'Tanger Med', 'MA', 35.89, -5.50, 2)"""
    )
    identities = pd.DataFrame(
        [
            (SPARTA_IV, "9743007", True, "URSA MAJOR", "UBCD1", 70, "2025-01-09", "2025-02-09"),
            (SPARTA_IV, "9743007", True, "SPARTA IV", "UBCD1", 70, "2025-02-09", None),
            (SPARTA_II, "9312341", True, "SPARTA II", "UBCD2", 79, "2024-12-09", None),
            (538000003, "9522013", True, "OCEAN GRACE", "V7AB3", 84, "2024-12-09", None),
            (273000004, "9800116", True, "VOLGA TRADER", "UBCD4", 80, "2024-12-09", None),
            (273000005, "1234567", False, "NEVA", "UBCD5", 70, "2024-12-09", None),
            (273000007, None, None, "KAMA", "UBCD7", 30, "2025-02-17", None),
        ],
        columns=[
            "mmsi",
            "imo",
            "imo_valid",
            "name",
            "callsign",
            "ship_type",
            "valid_from",
            "valid_to",
        ],
    )
    identities["valid_from"] = pd.to_datetime(identities["valid_from"], utc=True)
    identities["valid_to"] = pd.to_datetime(identities["valid_to"], utc=True)
    identities["flag"] = np.where(identities["mmsi"] // 1_000_000 == 273, "RU", "MH")
    db.copy_frame(conn, "straitwatch.vessel_identity", identities)

    positions = pd.concat(
        [
            tartus_departure_track(),
            track_west_through_gate(SPARTA_IV, CROSSING_AT),
            dark_track(),
        ],
        ignore_index=True,
    ).sort_values(["mmsi", "ts"], ignore_index=True)
    db.ensure_position_partitions(conn, positions["ts"].dt.date.unique())
    db.copy_frame(conn, "straitwatch.positions", positions)
    # the PostGIS track lines of those days, as detect writes them (nothing without PostGIS)
    conn.execute(
        "SELECT straitwatch.refresh_daily_tracks(%s, %s)",
        (positions["ts"].min(), positions["ts"].max() + pd.Timedelta(microseconds=1)),
    )

    conn.execute(
        """INSERT INTO ais_gaps (gap_id, mmsi, started_at, ended_at, start_lat, start_lon,
                                 end_lat, end_lon, distance_nm, implied_speed_kn)
           VALUES ('gap-sparta-ii', %s, '2025-02-13T07:00Z', '2025-02-13T12:00Z',
                   %s, %s, %s, %s, 60.0, 12.0)""",
        (
            SPARTA_II,
            TRACK_LAT,
            GATE_LON + 2.5 * SPEED_DEG_LON_PER_H,
            TRACK_LAT,
            GATE_LON - 2.5 * SPEED_DEG_LON_PER_H,
        ),
    )
    crossings = pd.DataFrame(
        [
            _crossing("x-sparta-iv-east", SPARTA_IV, "2025-01-28T10:00", "eastbound"),
            _crossing("x-sparta-iv-west", SPARTA_IV, CROSSING_AT.isoformat()[:16], "westbound"),
            _crossing(
                "x-sparta-ii-west",
                SPARTA_II,
                "2025-02-13T09:30",
                "westbound",
                inferred=True,
                gap_id="gap-sparta-ii",
                half_h=2.5,
            ),
            _crossing("x-ocean-grace", 538000003, "2025-02-18T03:00", "westbound"),
            _crossing("x-volga", 273000004, "2025-02-20T18:00", "eastbound"),
            _crossing("x-neva", 273000005, "2025-03-10T08:00", "westbound"),
            _crossing("x-unknown", 273000006, "2025-02-23T22:00", "westbound"),
            _crossing("x-kama", 273000007, "2025-02-16T05:00", "westbound"),
        ]
    )
    crossings.loc[crossings["crossing_id"] == "x-sparta-ii-west", ["lat", "lon"]] = None
    db.copy_frame(conn, "straitwatch.chokepoint_crossings", crossings)
    conn.execute(
        """INSERT INTO port_calls (port_call_id, mmsi, port_id, arrived_at, departed_at)
           VALUES ('pc-sparta-iv-tartus', %s, 'SYTTS', '2025-01-28T00:00Z', %s)""",
        (SPARTA_IV, DEPARTED_TARTUS_AT),
    )
    conn.execute(
        """INSERT INTO reported_departures (report_id, source, published_at, vessel_name,
               departure_port_id, via_chokepoint_id, via_date, via_direction,
               destination_port_id, claim_text)
           VALUES (%s, 'TRT World', '2025-02-12T08:00Z', 'SPARTA IV', 'SYTTS', 'gibraltar',
                   '2025-02-11', 'westbound', 'RUKGD',
                   'Sparta IV left Tartus and passed Gibraltar on Tuesday, bound for '
                   || 'Kaliningrad.')""",
        (SPARTA_REPORT,),
    )
    conn.execute(
        """INSERT INTO departure_matches (report_id, mmsi, verdict, evidence, departure_delta,
                                          crossing_delta)
           VALUES (%s, %s, 'confirmed', %s, '0', '0')""",
        (SPARTA_REPORT, SPARTA_IV, psycopg.types.json.Jsonb(SPARTA_EVIDENCE)),
    )
    conn.commit()
    return positions


# The matcher's evidence document (version 1): one check per claimed part, with the event rows
# it used. Only the keys the analyst layer reads are filled in here.
SPARTA_EVIDENCE = {
    "version": 1,
    "verdict": "confirmed",
    "rule": "every checked part confirmed",
    "summary": "left Tartus 2025-02-04 06:00 UTC; passed Strait of Gibraltar westbound "
    "2025-02-11 14:00 UTC, on the claimed Tuesday 2025-02-11; no AIS near Kaliningrad",
    "checks": [
        {
            "part": "departure",
            "status": "confirmed",
            "summary": "left Tartus 2025-02-04 06:00 UTC, before the claimed passage day",
            "claimed_port_id": "SYTTS",
            "claimed_from": None,
            "claimed_to": "2025-02-11T00:00:00Z",
            "port_id": "SYTTS",
            "event": "port_call_departure",
            "event_at": "2025-02-04T06:00:00Z",
            "port_call_id": "pc-sparta-iv-tartus",
            "delta_s": 0,
            "delta_days": 0,
            "positions_in_window": 111,
        },
        {
            "part": "passage",
            "status": "confirmed",
            "summary": "passed Strait of Gibraltar westbound 2025-02-11 14:00 UTC, on the "
            "claimed Tuesday 2025-02-11",
            "chokepoint_id": "gibraltar",
            "expected_direction": "westbound",
            "direction_basis": "stated",
            "claimed_date": "2025-02-11",
            "claimed_from": "2025-02-11T00:00:00Z",
            "claimed_to": "2025-02-12T00:00:00Z",
            "direction": "westbound",
            "event": "crossing",
            "event_at": "2025-02-11T14:00:00Z",
            "crossing_id": "x-sparta-iv-west",
            "gap_id": None,
            "inferred": False,
            "delta_s": 0,
            "delta_days": 0,
            "positions_in_window": 181,
        },
        {
            "part": "destination",
            "status": "no_ais_coverage",
            "summary": "no AIS positions near Kaliningrad after the passage",
            "claimed_port_id": "RUKGD",
            "positions_in_window": 0,
        },
    ],
}
