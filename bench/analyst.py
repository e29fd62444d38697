"""Analyst query benchmark: one vessel's month of track and one chokepoint's month of crossings,
with 50 million positions loaded (BENCH_SCALE scales that), cold-ish and warm, with their plans;
with PostGIS also the daily track lines: building them as detect does, one vessel's month of
them, and the bounding-box query QGIS sends when it draws the layer.

Positions are generated with NumPy (a random walk per vessel, one fix every 5 minutes, day by
day, sorted like a loader's batches) and sent with binary COPY into the day-partitioned
`positions` table of a throwaway database, so the load itself is a figure too. Crossings and
identities are synthetic but shaped like the real tables (Gibraltar's ~300 passages a day).
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from bench.common import scaled, throwaway_database, timer
from pipeline import db

TARGET_POSITIONS = 50_000_000
START = date(2026, 1, 1)
DAYS = 60  # January and February 2026
FIX_INTERVAL_S = 300
FIXES_PER_DAY = 86_400 // FIX_INTERVAL_S
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
SEED = 20260203
CHOKEPOINTS = {  # slug: passages per day
    "gibraltar": 300,
    "bosphorus": 120,
    "dardanelles": 110,
    "suez": 60,
    "bab_el_mandeb": 50,
    "hormuz": 100,
    "malacca": 230,
    "dover": 400,
    "oresund": 90,
    "panama": 35,
}
WARM_RUNS = 5

TRACK_SQL = """SELECT ts, lat, lon, sog, cog FROM straitwatch.positions
WHERE mmsi = %(mmsi)s AND ts >= %(start)s AND ts < %(end)s ORDER BY ts"""
CROSSINGS_SQL = """SELECT * FROM straitwatch.crossings_with_identity
WHERE chokepoint_id = %(chokepoint)s AND crossed_at >= %(start)s AND crossed_at < %(end)s
ORDER BY crossed_at"""
TRACK_LINES_SQL = """SELECT day, fixes, geom FROM straitwatch.vessel_daily_tracks
WHERE mmsi = %(mmsi)s AND day >= %(start)s::date AND day < %(end)s::date ORDER BY day"""
# what QGIS sends to draw the layer: every line crossing the map's extent (here 2 x 2 degrees)
TRACK_LINES_BOX_SQL = """SELECT track_id, geom FROM straitwatch.vessel_daily_tracks
WHERE geom && ST_MakeEnvelope(%(lon)s, %(lat)s, %(lon)s + 2, %(lat)s + 2, 4326)"""

_COPY_DTYPE = np.dtype(
    [
        ("ncols", ">i2"),
        ("mmsi_len", ">i4"), ("mmsi", ">i4"),
        ("ts_len", ">i4"), ("ts", ">i8"),
        ("lat_len", ">i4"), ("lat", ">f8"),
        ("lon_len", ">i4"), ("lon", ">f8"),
        ("sog_len", ">i4"), ("sog", ">f4"),
        ("cog_len", ">i4"), ("cog", ">f4"),
        ("heading_len", ">i4"), ("heading", ">i2"),
        ("nav_len", ">i4"), ("nav_status", ">i2"),
        ("file_len", ">i4"), ("file_id", ">i8"),
    ]
)  # fmt: skip
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
_COPY_COLUMNS = "mmsi, ts, lat, lon, sog, cog, heading, nav_status, file_id"


def _binary_rows(
    mmsi: np.ndarray, ts_us: np.ndarray, lat: np.ndarray, lon: np.ndarray, sog: np.ndarray,
    cog: np.ndarray,
) -> bytes:  # fmt: skip
    """Rows in PostgreSQL's binary COPY format, built as one NumPy record array."""
    rows = np.empty(len(mmsi), dtype=_COPY_DTYPE)
    rows["ncols"] = 9
    for name, size in (("mmsi", 4), ("ts", 8), ("lat", 8), ("lon", 8), ("sog", 4), ("cog", 4),
                       ("heading", 2), ("nav", 2), ("file", 8)):  # fmt: skip
        rows[f"{name}_len"] = size
    rows["mmsi"] = mmsi
    rows["ts"] = ts_us
    rows["lat"] = lat
    rows["lon"] = lon
    rows["sog"] = sog
    rows["cog"] = cog
    rows["heading"] = np.round(cog).astype(np.int16) % 360
    rows["nav_status"] = 0
    rows["file_id"] = 1
    return rows.tobytes()


def _fleet(n_vessels: int) -> np.ndarray:
    """The benchmark's vessels: distinct ship MMSIs, ascending."""
    rng = np.random.default_rng(SEED)
    return np.sort(rng.choice(np.arange(201_000_000, 776_000_000), n_vessels, replace=False))


def _days(mmsi: np.ndarray) -> Iterator[tuple[date, bytes, int]]:
    """Each day's fixes of every vessel: (day, binary COPY payload, rows)."""
    rng = np.random.default_rng(SEED + 2)
    n_vessels = len(mmsi)
    offset_s = rng.integers(0, FIX_INTERVAL_S, n_vessels)  # each vessel's phase
    lat = rng.uniform(-60, 70, n_vessels)
    lon = rng.uniform(-179, 179, n_vessels)
    heading = rng.uniform(0, 360, n_vessels)
    for d in range(DAYS):
        day = START + timedelta(days=d)
        day_us = int(
            (datetime(day.year, day.month, day.day, tzinfo=UTC) - PG_EPOCH).total_seconds() * 1e6
        )
        # rows sorted by (mmsi, ts) as a loader's batch is: vessel-major
        slots = np.arange(FIXES_PER_DAY)
        ts_us = day_us + (slots[None, :] * FIX_INTERVAL_S + offset_s[:, None]) * 1_000_000
        turn = rng.normal(0, 4, (n_vessels, FIXES_PER_DAY)).cumsum(axis=1) + heading[:, None]
        speed_kn = np.clip(rng.normal(12, 2, (n_vessels, 1)), 3, 22)
        step_deg = speed_kn * FIX_INTERVAL_S / 3600 / 60  # nm -> degrees of latitude
        dlat = step_deg * np.cos(np.radians(turn))
        track_lat = np.clip(lat[:, None] + dlat.cumsum(axis=1), -80, 80)
        dlon = step_deg * np.sin(np.radians(turn)) / np.cos(np.radians(track_lat))
        track_lon = (lon[:, None] + dlon.cumsum(axis=1) + 180) % 360 - 180
        lat, lon, heading = track_lat[:, -1], track_lon[:, -1], turn[:, -1] % 360
        n = n_vessels * FIXES_PER_DAY
        payload = _binary_rows(
            np.repeat(mmsi, FIXES_PER_DAY),
            ts_us.ravel(),
            track_lat.ravel(),
            track_lon.ravel(),
            np.repeat(speed_kn.ravel(), FIXES_PER_DAY).astype(np.float32),
            (turn.ravel() % 360).astype(np.float32),
        )
        yield day, payload, n


def _load_positions(conn: psycopg.Connection, mmsi: np.ndarray) -> dict[str, float]:
    """COPY the generated days, one transaction per day; times generation and COPY apart."""
    generate_s = copy_s = 0.0
    rows = 0
    days = _days(mmsi)
    while True:
        start = time.perf_counter()
        item = next(days, None)
        generate_s += time.perf_counter() - start
        if item is None:
            break
        day, payload, n = item
        start = time.perf_counter()
        db.ensure_position_partitions(conn, [day])
        with (
            conn.cursor() as cur,
            cur.copy(
                f"COPY straitwatch.positions ({_COPY_COLUMNS}) FROM STDIN (FORMAT binary)"
            ) as copy,
        ):
            copy.write(_COPY_HEADER)
            copy.write(payload)
            copy.write(_COPY_TRAILER)
        conn.commit()
        copy_s += time.perf_counter() - start
        rows += n
    return {"rows": rows, "generate_s": generate_s, "copy_s": copy_s}


def _load_events(conn: psycopg.Connection, mmsis: np.ndarray) -> int:
    rng = np.random.default_rng(SEED + 1)
    chokepoints = pd.DataFrame(
        {
            "chokepoint_id": list(CHOKEPOINTS),
            "name": [c.replace("_", " ").title() for c in CHOKEPOINTS],
            "kind": "strait",
            "first_direction": "eastbound",
            "second_direction": "westbound",
        }
    )
    db.copy_frame(conn, "straitwatch.chokepoints", chokepoints)
    per_day = np.array(list(CHOKEPOINTS.values()))
    counts = per_day * DAYS
    n = int(counts.sum())
    start = pd.Timestamp(START, tz="UTC")
    crossed_at = start + pd.to_timedelta(rng.uniform(0, DAYS * 86_400, n), unit="s")
    crossings = pd.DataFrame(
        {
            "crossing_id": [f"bench-{i}" for i in range(n)],
            "mmsi": rng.choice(mmsis, n),
            "chokepoint_id": np.repeat(list(CHOKEPOINTS), counts),
            "crossed_at": crossed_at,
            "direction": rng.choice(["eastbound", "westbound"], n),
            "inferred": rng.random(n) < 0.03,
            "lat": rng.uniform(-60, 60, n),
            "lon": rng.uniform(-179, 179, n),
            "prev_ts": crossed_at - pd.Timedelta(minutes=5),
            "prev_lat": 0.0,
            "prev_lon": 0.0,
            "next_ts": crossed_at + pd.Timedelta(minutes=5),
            "next_lat": 0.0,
            "next_lon": 0.0,
        }
    )
    db.copy_frame(conn, "straitwatch.chokepoint_crossings", crossings)
    # one to three identity periods per vessel (renames, re-flagging)
    periods = rng.integers(1, 4, len(mmsis))
    vessel = np.repeat(mmsis, periods)
    k = np.concatenate([np.arange(p) for p in periods])
    valid_from = start - pd.Timedelta(days=30) + pd.to_timedelta(k * 25, unit="D")
    last = np.concatenate([np.arange(p) == p - 1 for p in periods])
    identity = pd.DataFrame(
        {
            "mmsi": vessel,
            "name": [f"VESSEL {m} {i}" for m, i in zip(vessel, k, strict=True)],
            "ship_type": rng.choice([70, 79, 80, 84, 60, 30, 52], len(vessel)),
            "valid_from": valid_from,
            "valid_to": pd.Series(valid_from + pd.Timedelta(days=25)).where(~last),
        }
    )
    db.copy_frame(conn, "straitwatch.vessel_identity", identity)
    conn.commit()
    return n


def _build_track_lines(conn: psycopg.Connection) -> int:
    """The daily track lines of every loaded day, built a day at a time as detect does."""
    built = 0
    for d in range(DAYS):
        day = datetime(START.year, START.month, START.day, tzinfo=UTC) + timedelta(days=d)
        built += _scalar(
            conn,
            "SELECT straitwatch.refresh_daily_tracks(%(from)s, %(to)s)",
            {"from": day, "to": day + timedelta(days=1)},
        )
    return built


def _scalar(conn: psycopg.Connection, query: str, params: dict[str, Any] | None = None) -> Any:
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise RuntimeError(f"no row from {query!r}")
    return row[0]


def _plan_summary(conn: psycopg.Connection, query: str, params: dict[str, Any]) -> dict[str, Any]:
    """Scan nodes of EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON): which relations, which indexes."""
    plan = _scalar(conn, f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query}", params)[0]
    scans: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        if "Relation Name" in node or "Index Name" in node:
            scans.append(
                {
                    "node": node["Node Type"],
                    "relation": node.get("Relation Name"),
                    "index": node.get("Index Name"),
                }
            )
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    # the large tables the query is about; small lookups (identity periods, flags) may be
    # hashed whole, which is the right plan for them and is listed under seq_scans
    big = ("positions", "chokepoint_crossings", "vessel_daily_tracks")
    big_scans = [s for s in scans if (s["relation"] or s["index"] or "").startswith(big)]
    # one index per day partition: name the pattern once with its count
    indexes: dict[str, int] = {}
    for s in scans:
        if s["index"]:
            name = re.sub(r"_\d{8}_", "_YYYYMMDD_", s["index"])
            indexes[name] = indexes.get(name, 0) + 1
    return {
        "execution_ms": round(plan["Execution Time"], 2),
        "planning_ms": round(plan["Planning Time"], 2),
        "uses_index": any(s["index"] for s in big_scans)
        and not any(s["node"] == "Seq Scan" for s in big_scans),
        "seq_scans": sorted({s["relation"] for s in scans if s["node"] == "Seq Scan"}),
        "indexes": indexes,
        "partitions_scanned": len(
            {s["relation"] for s in scans if (s["relation"] or "").startswith("positions_")}
        ),
        "shared_read_blocks": plan["Plan"].get("Shared Read Blocks", 0),
        "shared_hit_blocks": plan["Plan"].get("Shared Hit Blocks", 0),
    }


def _time_query(url: str, query: str, cold: dict[str, Any], warm: dict[str, Any]) -> dict[str, Any]:
    """First run on a fresh connection for keys not queried before (cold-ish), then the median
    of WARM_RUNS runs of another key after one priming run (warm)."""
    with db.connect(url, autocommit=True) as conn:
        start = time.perf_counter()
        rows = len(conn.execute(query, cold).fetchall())
        cold_s = time.perf_counter() - start
    with db.connect(url, autocommit=True) as conn:
        conn.execute(query, warm).fetchall()
        times = []
        for _ in range(WARM_RUNS):
            start = time.perf_counter()
            warm_rows = len(conn.execute(query, warm).fetchall())
            times.append(time.perf_counter() - start)
        plan = _plan_summary(conn, query, warm)
    return {
        "rows": rows,
        "warm_rows": warm_rows,
        "cold_ish_s": round(cold_s, 4),
        "warm_s": round(statistics.median(times), 4),
        "plan": plan,
    }


def run() -> dict[str, object]:
    n_target = scaled(TARGET_POSITIONS)
    n_vessels = max(10, n_target // (DAYS * FIXES_PER_DAY))
    mmsis = _fleet(n_vessels)
    out: dict[str, object] = {}
    with throwaway_database() as url:
        with db.connect(url) as conn:
            with timer() as t:
                load = _load_positions(conn, mmsis)
            conn.autocommit = True
            with timer() as t_analyze:
                conn.execute("ANALYZE straitwatch.positions")
            conn.autocommit = False
            n_crossings = _load_events(conn, mmsis)
            conn.autocommit = True
            conn.execute("ANALYZE")
            size = _scalar(conn, "SELECT pg_size_pretty(pg_database_size(current_database()))")
        month = {"start": datetime(2026, 2, 1, tzinfo=UTC), "end": datetime(2026, 3, 1, tzinfo=UTC)}
        track = _time_query(
            url, TRACK_SQL, {**month, "mmsi": int(mmsis[1])}, {**month, "mmsi": int(mmsis[2])}
        )
        crossings = _time_query(
            url,
            CROSSINGS_SQL,
            {**month, "chokepoint": "malacca"},
            {**month, "chokepoint": "gibraltar"},
        )
        n_lines, t_lines = 0, {"seconds": 0.0}
        with db.connect(url, autocommit=True) as conn:
            has_lines = _scalar(conn, "SELECT straitwatch.geometry_status()") == "enabled"
            if has_lines:
                with timer() as t_lines:
                    n_lines = _build_track_lines(conn)
                conn.execute("ANALYZE straitwatch.vessel_daily_tracks")
        lines = (
            _time_query(
                url,
                TRACK_LINES_SQL,
                {**month, "mmsi": int(mmsis[3])},
                {**month, "mmsi": int(mmsis[4])},
            )
            if has_lines
            else None
        )
        box = (
            _time_query(
                url, TRACK_LINES_BOX_SQL, {"lon": -6.0, "lat": 35.0}, {"lon": 10.0, "lat": 40.0}
            )
            if has_lines
            else None
        )
    out["analyst_positions_loaded"] = load["rows"]
    out["analyst_vessels"] = int(n_vessels)
    out["analyst_days"] = DAYS
    out["analyst_load_generate_s"] = round(load["generate_s"], 1)
    out["analyst_load_copy_s"] = round(load["copy_s"], 1)
    out["analyst_load_total_s"] = round(t["seconds"], 1)
    out["analyst_load_rows_per_s"] = round(load["rows"] / load["copy_s"])
    out["analyst_analyze_s"] = round(t_analyze["seconds"], 1)
    out["analyst_database_size"] = size
    out["analyst_crossings_loaded"] = n_crossings
    out["analyst_track_month"] = track
    out["analyst_crossings_month"] = crossings
    if lines is not None:
        out["analyst_track_lines_built"] = n_lines
        out["analyst_track_lines_build_s"] = round(t_lines["seconds"], 1)
        out["analyst_track_lines_month"] = lines
        out["analyst_track_lines_box"] = box
    for key, value in out.items():
        print(f"  {key}: {value}")
    return out
