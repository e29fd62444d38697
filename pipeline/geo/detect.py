"""Event detection over a time window: pure `detect_events`, database edge `detect_window`.

Which window an event belongs to. A run over [start, end) owns, and replaces, the events whose
deciding fix lies in the window, because only then can a daily run that sees each day's data as
it arrives find every event exactly once:
- an AIS gap by `ended_at` (the fix that ends the silence);
- a passage by `confirmed_at` (the fix after its completing crossing, or for a one-line
  chokepoint the first fix far enough beyond the line), so a passage split across two windows
  belongs to the later one;
- a port call by `arrived_at`. A call that arrived earlier and was still open at `start` is
  carried on: the run continues it from the last fix it had seen inside (its arrival, slow time
  and closest approach come from its row) and updates that row (same id), so a call open at the
  end of one window and closed in a later one ends as one row with the departure. A rerun of a
  window keeps the row of a call that a later window already followed past this window's end;
- a flagged fix by its `ts`;
- with PostGIS, the `vessel_daily_tracks` lines of every UTC day the window touches, rebuilt
  whole from that day's positions (`straitwatch.refresh_daily_tracks`), so a day detected in
  pieces ends with one line per vessel through all its fixes.
A month run day by day therefore gives the same rows as one run over the month, in any order
of the days, as long as no passage lasts longer than `max_passage_h` and no call longer than
`call_lookahead_h`: a run over a window that ends before one already detected (a backfill
running days out of order or in reverse, a day rerun for a late file) follows the port visits
under way at its end into the positions after it (up to `call_lookahead_h`), so it writes each
call as far as the data go instead of cutting it at its end. Runs in time order never need that
and read only their window and its look-back.

Look-back. Each vessel with positions in the window is read from `start - lookback_h` (at least
`min_passage_interval_h`), plus its last fix before that however old (so the segment entering
the window, and a gap ending in it, are seen). Vessels that the core reports as being inside a
chokepoint, near a one-line gate or in a port visit when their track begins are read again from
`start - max_passage_h`; vessels with a call open at `start` from that call's last fix seen
inside. Vessels are processed in chunks of about `chunk_positions` positions so memory stays
bounded, and all writes happen in one transaction.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg

from pipeline import db
from pipeline.errors import StraitwatchError
from pipeline.geo.crossings import CROSSING_COLUMNS, GateSet, detect_crossings
from pipeline.geo.gaps import GAP_COLUMNS, detect_gaps
from pipeline.geo.port_calls import PORT_CALL_COLUMNS, PortSet, calls_from_visits, port_visits
from pipeline.geo.tracks import build_track

FLAGGED_COLUMNS = [
    "mmsi",
    "ts",
    "lat",
    "lon",
    "reason",
    "implied_speed_kn",
    "anchor_ts",
    "anchor_lat",
    "anchor_lon",
]
_LOCK_KEY = 0x5357_4445  # advisory lock serialising detect runs on one warehouse
# how far back to look for a vessel's last fix before its look-back, in widening steps
_CONTEXT_STEPS = (timedelta(days=1), timedelta(days=31), None)


@dataclass(frozen=True)
class DetectConfig:
    """Settings of event detection (units in the names)."""

    gap_threshold_h: float = 6.0  # a silence longer than this is an AIS gap
    max_speed_kn: float = 50.0  # fixes implying more are rejected; segments faster cross nothing
    jump_tolerance_nm: float = 0.1  # GPS jitter allowed on top of max_speed_kn between fixes
    single_gate_band_nm: float = 2.0  # hysteresis of one-line chokepoints
    max_passage_h: float = 168.0  # longest passage counted, side to side
    min_passage_interval_h: float = 0.0  # > 0: PortWatch-style de-duplication (e.g. 48)
    port_exit_factor: float = 1.5  # a port visit ends beyond radius_nm * this
    call_max_sog_kn: float = 1.0  # slower than this counts as stopped
    call_min_slow_h: float = 2.0  # a visit is a call after this long stopped
    lookback_h: float = 24.0
    call_lookahead_h: float = 720.0  # a visit under way at a window's end is followed this far
    chunk_positions: int = 2_000_000

    def __post_init__(self) -> None:
        checks = (
            ("positive", lambda v: v > 0, ("gap_threshold_h", "max_speed_kn",
             "single_gate_band_nm", "max_passage_h", "call_max_sog_kn", "chunk_positions")),
            (">= 0", lambda v: v >= 0, ("jump_tolerance_nm", "min_passage_interval_h",
             "call_min_slow_h", "lookback_h", "call_lookahead_h")),
            (">= 1", lambda v: v >= 1, ("port_exit_factor",)),
        )  # fmt: skip
        for what, ok, names in checks:
            for name in names:
                value = getattr(self, name)
                if not ok(value):
                    raise StraitwatchError(f"detect setting {name} must be {what}, got {value}")


@dataclass(frozen=True)
class DetectedEvents:
    """What the pure core found in one positions frame."""

    gaps: pd.DataFrame
    crossings: pd.DataFrame
    port_calls: pd.DataFrame  # with the extra column track_start
    flagged: pd.DataFrame
    # vessels whose passages or port visits may have begun before their first fix
    history_wanted: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # visits (calls or not yet) under way at the end of the track: port_call_id, mmsi, arrived_at
    open_visits: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["port_call_id", "mmsi", "arrived_at"])
    )


def detect_events(
    positions: pd.DataFrame,
    gates: GateSet,
    ports: PortSet,
    config: DetectConfig = DetectConfig(),
    carried_calls: pd.DataFrame | None = None,
) -> DetectedEvents:
    """Gaps, passages, port calls and rejected fixes of a positions frame sorted by (mmsi, ts).

    carried_calls: port calls under way from an earlier run (see `port_calls.port_visits`).
    """
    track = build_track(
        positions,
        max_speed_kn=config.max_speed_kn,
        jump_tolerance_nm=config.jump_tolerance_nm,
        gap_threshold_h=config.gap_threshold_h,
        segment_index=gates.fine,
        point_index=ports.index,
    )
    gaps = detect_gaps(track, gap_threshold_h=config.gap_threshold_h)
    crossings, unknown = detect_crossings(
        track,
        gates,
        max_speed_kn=config.max_speed_kn,
        jump_tolerance_nm=config.jump_tolerance_nm,
        gap_threshold_h=config.gap_threshold_h,
        single_gate_band_nm=config.single_gate_band_nm,
        max_passage_h=config.max_passage_h,
        min_passage_interval_h=config.min_passage_interval_h,
    )
    visits = port_visits(
        track,
        ports,
        gap_threshold_h=config.gap_threshold_h,
        max_sog_kn=config.call_max_sog_kn,
        carried=carried_calls,
        min_slow_h=config.call_min_slow_h,
    )
    calls = calls_from_visits(visits, min_slow_h=config.call_min_slow_h)
    wanted = np.union1d(unknown, visits.loc[visits["track_start"], "mmsi"].to_numpy(np.int64))
    open_visits = visits.loc[visits["still_there"], ["port_call_id", "mmsi", "arrived_at"]]
    return DetectedEvents(
        gaps, crossings, calls, track.flagged_frame(), wanted, open_visits.reset_index(drop=True)
    )


@dataclass(frozen=True)
class DetectResult:
    """What one `detect_window` run read and wrote."""

    start: datetime | None
    end: datetime | None
    vessels: int = 0
    positions: int = 0  # in the window
    positions_read: int = 0  # including look-back
    flagged_positions: int = 0
    ais_gaps: int = 0
    chokepoint_crossings: int = 0
    port_calls: int = 0  # arriving in the window
    port_calls_continued: int = 0  # arrived before the window, updated by it
    daily_tracks: int = 0  # vessel_daily_tracks lines rebuilt (whole UTC days; 0 without PostGIS)
    chunks: int = 0
    gates: int = 0
    ports: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        if self.start is None:
            return "no positions loaded: nothing to detect"
        window = f"{self.start.isoformat()} .. {self.end.isoformat() if self.end else ''}"
        lines = [
            f"window {window}: {self.vessels:,} vessels, {self.positions:,} positions "
            f"({self.positions_read:,} read with look-back) in {self.seconds:.1f} s",
            f"  ais_gaps {self.ais_gaps:,}, chokepoint_crossings {self.chokepoint_crossings:,}, "
            f"port_calls {self.port_calls:,} (+{self.port_calls_continued:,} continued), "
            f"flagged_positions {self.flagged_positions:,}",
        ]
        if self.daily_tracks:
            lines.append(f"  vessel_daily_tracks {self.daily_tracks:,} lines (whole UTC days)")
        if self.gates == 0 or self.ports == 0:
            lines.append(
                f"  note: {self.gates} gates and {self.ports} ports loaded; "
                "run `straitwatch load-reference` to detect crossings and port calls"
            )
        return "\n".join(lines)


# --------------------------------------------------------------------------- reference data


def load_reference_sets(
    conn: psycopg.Connection,
    config: DetectConfig = DetectConfig(),
) -> tuple[GateSet, PortSet]:
    """Gates and ports from the chokepoints, chokepoint_gates and ports tables."""
    chokepoints = db.read_frame(
        conn,
        "SELECT chokepoint_id, name, kind, first_direction, second_direction "
        "FROM straitwatch.chokepoints ORDER BY chokepoint_id",
    )
    gates = db.read_frame(
        conn,
        "SELECT chokepoint_id, gate, seq, wkt, side_a, side_b "
        "FROM straitwatch.chokepoint_gates ORDER BY chokepoint_id, seq",
    )
    ports = db.read_frame(
        conn, "SELECT port_id, lat, lon, radius_nm FROM straitwatch.ports ORDER BY port_id"
    )
    if chokepoints.empty:
        chokepoints = pd.DataFrame(columns=["chokepoint_id", "first_direction", "second_direction"])
    if gates.empty:
        gates = pd.DataFrame(columns=["chokepoint_id", "gate", "seq", "wkt"])
    if ports.empty:
        ports = pd.DataFrame(columns=["port_id", "lat", "lon", "radius_nm"])
    return (
        GateSet.from_frames(chokepoints, gates),
        PortSet.from_frame(ports, exit_factor=config.port_exit_factor),
    )


# --------------------------------------------------------------------------- reading positions

# The columns detection needs, each fix packed by the server into one fixed-width binary record
# (a binary timestamptz is microseconds since 2000-01-01 UTC).
_POSITION_SELECT = (
    "p.mmsi, p.ts, int4send(p.mmsi) || timestamptz_send(p.ts) || float8send(p.lat) "
    "|| float8send(p.lon) || float4send(coalesce(p.sog, 'NaN')) AS record"
)
_RECORD = np.dtype([("mmsi", ">i4"), ("ts", ">i8"), ("lat", ">f8"), ("lon", ">f8"), ("sog", ">f4")])
_PG_EPOCH_US = 946_684_800_000_000


def _fetch(conn: psycopg.Connection, query: str, params: dict) -> np.ndarray:
    """Run a positions query (selecting _POSITION_SELECT) and return its rows as records.

    The rows come back concatenated in one bytea and are decoded by NumPy: fetching them row by
    row (a cursor, COPY) costs microseconds of Python per row, several times the server's work.
    """
    with conn.cursor(binary=True) as cur:
        row = cur.execute(
            f"SELECT string_agg(q.record, ''::bytea) FROM ({query}) AS q", params
        ).fetchone()
    data = row[0] if row and row[0] is not None else b""
    return np.frombuffer(data, dtype=_RECORD)


def _read_positions(
    conn: psycopg.Connection, mmsi: np.ndarray, since: np.ndarray, end: datetime
) -> tuple[pd.DataFrame, np.ndarray]:
    """Positions of these vessels from their `since` (µs) to `end`, each preceded by the
    vessel's last earlier fix; and the MMSIs that have such an earlier fix."""
    mmsi = np.asarray(mmsi, dtype=np.int64)
    since = np.asarray(since, dtype=np.int64)
    since_ts = [datetime.fromtimestamp(s / 1e6, UTC) for s in since.tolist()]
    params = {
        "mmsi": mmsi.tolist(),
        "since": since_ts,
        "lo": int(mmsi.min()),
        "hi": int(mmsi.max()),
        "min_since": min(since_ts),
        "end": end,
    }
    if len(set(since.tolist())) == 1:
        main = _fetch(
            conn,
            f"SELECT {_POSITION_SELECT} FROM straitwatch.positions p "
            "WHERE p.mmsi BETWEEN %(lo)s AND %(hi)s AND p.mmsi = ANY(%(mmsi)s::integer[]) "
            "AND p.ts >= %(min_since)s AND p.ts < %(end)s",
            params,
        )
    else:
        main = _fetch(
            conn,
            f"SELECT {_POSITION_SELECT} "
            "FROM unnest(%(mmsi)s::integer[], %(since)s::timestamptz[]) AS v(mmsi, since) "
            "JOIN straitwatch.positions p ON p.mmsi = v.mmsi AND p.ts >= v.since "
            "WHERE p.ts >= %(min_since)s AND p.ts < %(end)s",
            params,
        )
    context = _read_context(conn, mmsi, since_ts)
    frame = _positions_frame(np.concatenate((context, main)))
    return frame, np.unique(context["mmsi"].astype(np.int64))


def _read_context(conn: psycopg.Connection, mmsi: np.ndarray, since: list[datetime]) -> np.ndarray:
    """Each vessel's last fix before its `since`, looking back in widening steps."""
    found = []
    todo_m, todo_s = mmsi, since
    for step in _CONTEXT_STEPS:
        if len(todo_m) == 0:
            break
        floor = "" if step is None else "AND p.ts >= %(floor)s"
        params = {
            "mmsi": todo_m.tolist(),
            "since": todo_s,
            "floor": min(todo_s) - step if step is not None else None,
        }
        rows = _fetch(
            conn,
            "SELECT c.* FROM unnest(%(mmsi)s::integer[], %(since)s::timestamptz[]) "
            "AS v(mmsi, since) CROSS JOIN LATERAL ("
            f"SELECT {_POSITION_SELECT} FROM straitwatch.positions p "
            f"WHERE p.mmsi = v.mmsi AND p.ts < v.since {floor} "
            "ORDER BY p.ts DESC LIMIT 1) AS c",
            params,
        )
        found.append(rows)
        missing = ~np.isin(todo_m, rows["mmsi"])
        todo_m = todo_m[missing]
        todo_s = [s for s, m in zip(todo_s, missing, strict=True) if m]
    return np.concatenate(found) if found else np.zeros(0, dtype=_RECORD)


def _positions_frame(records: np.ndarray) -> pd.DataFrame:
    """A positions frame sorted by (mmsi, ts) from fetched records (the columns detection
    uses: mmsi, ts, lat, lon, sog)."""
    mmsi = records["mmsi"].astype(np.int64)
    ts = records["ts"].astype(np.int64) + _PG_EPOCH_US
    order = np.lexsort((ts, mmsi))
    return pd.DataFrame(
        {
            "mmsi": mmsi[order],
            "ts": pd.DatetimeIndex(ts[order].astype("datetime64[us]")).tz_localize("UTC"),
            "lat": records["lat"][order].astype(np.float64),
            "lon": records["lon"][order].astype(np.float64),
            "sog": records["sog"][order].astype(np.float64),
        }
    )


# --------------------------------------------------------------------------- writing events

_TABLES = {
    # table: (columns, conflict target)
    "ais_gaps": (GAP_COLUMNS, "gap_id"),
    "chokepoint_crossings": (CROSSING_COLUMNS, "crossing_id"),
    "port_calls": (PORT_CALL_COLUMNS, "port_call_id"),
    "flagged_positions": (FLAGGED_COLUMNS, "mmsi, ts"),
}
_OWNER_COLUMN = {
    "ais_gaps": "ended_at",
    "chokepoint_crossings": "confirmed_at",
    "port_calls": "arrived_at",
    "flagged_positions": "ts",
}


def _prepare_staging(conn: psycopg.Connection) -> None:
    for table in _TABLES:
        conn.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS _stage_{table} "
            f"(LIKE straitwatch.{table}) ON COMMIT DROP"
        )
        conn.execute(f"TRUNCATE _stage_{table}")


def _upsert(conn: psycopg.Connection, table: str, frame: pd.DataFrame) -> int:
    if frame.empty:
        return 0
    columns, key = _TABLES[table]
    db.copy_frame(conn, f"_stage_{table}", frame, columns)
    keys = {k.strip() for k in key.split(",")}
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in keys)
    cols = ", ".join(columns)
    conn.execute(
        f"INSERT INTO straitwatch.{table} ({cols}) SELECT {cols} FROM _stage_{table} "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )
    conn.execute(f"TRUNCATE _stage_{table}")
    return len(frame)


# --------------------------------------------------------------------------- the window run


def _resolve_window(
    conn: psycopg.Connection, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime] | None:
    """The window to detect: missing bounds from the positions loaded; None when no positions
    are loaded. An open bound beyond the data gives an empty window at the given bound, not an
    error."""
    for name, value in (("start", start), ("end", end)):
        if value is not None and value.tzinfo is None:
            raise StraitwatchError(f"detect window {name} must be timezone-aware: {value}")
    if start is not None and end is not None:
        if start >= end:
            raise StraitwatchError(f"detect window start {start} is not before its end {end}")
        return start, end
    row = conn.execute("SELECT min(ts), max(ts) FROM straitwatch.positions").fetchone()
    first, last = row if row is not None else (None, None)
    if first is None:  # nothing loaded: nothing to detect, whichever bound was given
        return None
    lo = start if start is not None else first
    hi = end if end is not None else last + timedelta(microseconds=1)
    if lo >= hi:  # the given bound is beyond the data
        given = start if start is not None else hi
        return given, given
    return lo, hi


def _chunks(counts: pd.DataFrame, factor: float, chunk_positions: int) -> list[np.ndarray]:
    """Split vessels (sorted by mmsi) into runs of about chunk_positions positions read."""
    if counts.empty:
        return []
    weight = np.cumsum(counts["n"].to_numpy(np.float64) * factor)
    chunk_of = (weight - 1) // chunk_positions
    mmsi = counts["mmsi"].to_numpy(np.int64)
    cuts = np.flatnonzero(np.diff(chunk_of)) + 1
    return np.split(mmsi, cuts)


_EPOCH = pd.Timestamp(0, tz="UTC")


def _us(value: datetime) -> int:
    """Microseconds since the epoch."""
    return int((pd.Timestamp(value) - _EPOCH) // pd.Timedelta(microseconds=1))


def detect_window(
    conn: psycopg.Connection,
    start: datetime | None = None,
    end: datetime | None = None,
    config: DetectConfig = DetectConfig(),
) -> DetectResult:
    """Detect gaps, passages and port calls for positions in [start, end) and replace the
    window's events (see the module docstring for which events a window owns).

    start/end default to the first position and just after the last one. Gates and ports are
    read from the chokepoints, chokepoint_gates and ports tables. Runs in one transaction,
    committed on return when the connection had none open (otherwise part of the caller's).
    """
    was_idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    result = _detect_window(conn, start, end, config)
    if was_idle and not conn.autocommit:
        conn.commit()
    return result


def _detect_window(
    conn: psycopg.Connection,
    start: datetime | None,
    end: datetime | None,
    config: DetectConfig,
) -> DetectResult:
    clock = time.perf_counter()
    started_at = datetime.now(UTC)
    gates, ports = load_reference_sets(conn, config)
    window = _resolve_window(conn, start, end)
    if window is None:
        return DetectResult(None, None, gates=len(gates), ports=len(ports))
    start, end = window
    start_us, end_us = _us(start), _us(end)
    # a passage is compared with those in the min_passage_interval_h before it
    lookback_h = max(config.lookback_h, config.min_passage_interval_h)
    base_since = start_us - int(lookback_h * 3_600_000_000)
    deep_since = start_us - int(config.max_passage_h * 3_600_000_000)
    horizon = end + timedelta(hours=config.call_lookahead_h)
    totals = dict.fromkeys(
        (
            "positions",
            "positions_read",
            "flagged_positions",
            "ais_gaps",
            "chokepoint_crossings",
            "port_calls",
            "port_calls_continued",
        ),
        0,
    )
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        # a later window has been detected already (a backfill out of order, a late file):
        # calls under way at this window's end are followed into it
        behind = db.scalar(
            conn,
            "SELECT EXISTS (SELECT 1 FROM straitwatch.detect_runs WHERE window_end > %s)",
            (end,),
        )
        counts = db.read_frame(
            conn,
            "SELECT mmsi, count(*) AS n FROM straitwatch.positions "
            "WHERE ts >= %s AND ts < %s GROUP BY mmsi ORDER BY mmsi",
            (start, end),
        )
        # calls under way at the window's start: continued from their last fix seen inside
        # (rows without that state, written by other means, from their arrival)
        continuing = db.read_frame(
            conn,
            "SELECT port_call_id, mmsi, port_id, arrived_at, last_seen_at, slow_h, "
            "min_distance_nm FROM straitwatch.port_calls "
            "WHERE arrived_at < %s AND (departed_at IS NULL OR departed_at >= %s)",
            (start, start),
        )
        if len(continuing):
            resume = continuing["last_seen_at"].where(
                continuing["last_seen_at"].notna() & continuing["slow_h"].notna(),
                continuing["arrived_at"],
            )
            cont_since = resume.groupby(continuing["mmsi"]).min().map(_us)
            carried_calls = continuing[continuing["slow_h"].notna()]
        else:
            cont_since = pd.Series(dtype="int64")
            carried_calls = None
        cont_ids = set(continuing["port_call_id"]) if len(continuing) else set()
        # calls known (from later windows) to go on past this window's end: a rerun of this
        # window cannot see that far and must not cut them short
        beyond = db.read_frame(
            conn,
            f"SELECT {', '.join(PORT_CALL_COLUMNS)} FROM straitwatch.port_calls "
            "WHERE arrived_at < %s AND last_seen_at >= %s",
            (end, end),
        )
        for table, column in _OWNER_COLUMN.items():
            conn.execute(
                f"DELETE FROM straitwatch.{table} WHERE {column} >= %s AND {column} < %s",
                (start, end),
            )
        _prepare_staging(conn)
        window_h = (end_us - start_us) / 3_600_000_000
        factor = 1.0 + lookback_h / max(window_h, 1.0)
        chunks = _chunks(counts, factor, config.chunk_positions)
        for mmsi in chunks:
            since = np.full(len(mmsi), base_since, dtype=np.int64)
            carried = cont_since.reindex(mmsi).to_numpy(dtype="float64", na_value=np.nan)
            since = np.where(np.isnan(carried), since, np.minimum(since, carried)).astype(np.int64)
            frame, earlier = _read_positions(conn, mmsi, since, end)
            totals["positions_read"] += len(frame)
            events = detect_events(frame, gates, ports, config, carried_calls)
            # passages or visits under way when the track starts: look further back
            deeper = np.intersect1d(events.history_wanted, earlier)
            deeper = deeper[since[np.searchsorted(mmsi, deeper)] > deep_since]
            if len(deeper):
                at = np.searchsorted(mmsi, deeper)
                since[at] = np.minimum(since[at], deep_since)
                events, earlier, n_read = _redo(
                    conn, events, earlier, deeper, since[at], end, gates, ports, config,
                    carried_calls,
                )  # fmt: skip
                totals["positions_read"] += n_read
            # visits under way at the window's end, when later windows ran first: follow them
            # into the positions after it, so the call is written as far as those windows had
            # taken it, whatever order the windows run in
            ahead = (
                _with_positions_after(conn, events.open_visits["mmsi"], end, horizon)
                if behind
                else mmsi[:0]
            )
            if len(ahead):
                events, earlier, n_read = _redo(
                    conn, events, earlier, ahead, since[np.searchsorted(mmsi, ahead)], horizon,
                    gates, ports, config, carried_calls,
                )  # fmt: skip
                totals["positions_read"] += n_read
            written = _write_owned(conn, events, start, end, earlier, cont_ids, beyond)
            for key, value in written.items():
                totals[key] += value
        totals["positions"] = int(counts["n"].sum()) if len(counts) else 0
        # the PostGIS track lines of every UTC day the window touches, rebuilt whole from
        # positions (a no-op returning 0 without PostGIS)
        daily_tracks = db.scalar(
            conn, "SELECT straitwatch.refresh_daily_tracks(%s, %s)", (start, end)
        )
        result = DetectResult(
            start=start,
            end=end,
            vessels=len(counts),
            daily_tracks=int(daily_tracks or 0),
            chunks=len(chunks),
            gates=len(gates),
            ports=len(ports),
            seconds=time.perf_counter() - clock,
            **totals,
        )
        conn.execute(
            "INSERT INTO straitwatch.detect_runs (window_start, window_end, started_at, vessels, "
            "positions, positions_read, flagged_positions, ais_gaps, chokepoint_crossings, "
            "port_calls, port_calls_continued, config) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                start,
                end,
                started_at,
                result.vessels,
                result.positions,
                result.positions_read,
                result.flagged_positions,
                result.ais_gaps,
                result.chokepoint_crossings,
                result.port_calls,
                result.port_calls_continued,
                json.dumps(asdict(config)),
            ),
        )
    return result


def _with_positions_after(
    conn: psycopg.Connection, mmsi: pd.Series, end: datetime, horizon: datetime
) -> np.ndarray:
    """The vessels among `mmsi` with a position in [end, horizon), sorted."""
    wanted = np.unique(mmsi.to_numpy(dtype=np.int64))
    if len(wanted) == 0 or horizon <= end:
        return wanted[:0]
    rows = conn.execute(
        "SELECT v.mmsi FROM unnest(%s::integer[]) AS v(mmsi) WHERE EXISTS ("
        "SELECT 1 FROM straitwatch.positions p WHERE p.mmsi = v.mmsi "
        "AND p.ts >= %s AND p.ts < %s)",
        (wanted.tolist(), end, horizon),
    ).fetchall()
    return np.sort(np.array([r[0] for r in rows], dtype=np.int64))


def _redo(
    conn: psycopg.Connection,
    events: DetectedEvents,
    earlier: np.ndarray,
    mmsi: np.ndarray,
    since: np.ndarray,
    end: datetime,
    gates: GateSet,
    ports: PortSet,
    config: DetectConfig,
    carried_calls: pd.DataFrame | None,
) -> tuple[DetectedEvents, np.ndarray, int]:
    """Read these vessels again over [since, end) and replace their events."""
    frame, earlier_again = _read_positions(conn, mmsi, since, end)
    redone = detect_events(frame, gates, ports, config, carried_calls)

    def merge(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
        kept = old[~old["mmsi"].isin(mmsi)]
        parts = [f for f in (kept, new) if len(f)]
        return pd.concat(parts, ignore_index=True) if parts else old.iloc[:0]

    merged = DetectedEvents(
        gaps=merge(events.gaps, redone.gaps),
        crossings=merge(events.crossings, redone.crossings),
        port_calls=merge(events.port_calls, redone.port_calls),
        flagged=merge(events.flagged, redone.flagged),
        history_wanted=np.union1d(np.setdiff1d(events.history_wanted, mmsi), redone.history_wanted),
        open_visits=merge(events.open_visits, redone.open_visits),
    )
    earlier = np.union1d(np.setdiff1d(earlier, mmsi), earlier_again)
    return merged, earlier, len(frame)


def _in_window(times: pd.Series, start: datetime, end: datetime) -> pd.Series:
    return (times >= start) & (times < end)


def _calls_to_write(
    calls: pd.DataFrame,
    start: datetime,
    end: datetime,
    earlier: np.ndarray,
    continuing_ids: set[str],
) -> pd.DataFrame:
    """The calls a window writes: those arriving in it, and those arriving before it that were
    still open at its start (carried on), but never a visit already under way when a
    truncated track starts (its arrival is not known from this window's positions)."""
    censored = calls["track_start"] & calls["mmsi"].isin(earlier)
    calls = calls[~censored]
    owned = _in_window(calls["arrived_at"], start, end)
    carried = (calls["arrived_at"] < start) & (
        calls["departed_at"].isna()
        | (calls["departed_at"] >= start)
        | calls["port_call_id"].isin(continuing_ids)
    )
    return calls[owned | carried]


def _write_owned(
    conn: psycopg.Connection,
    events: DetectedEvents,
    start: datetime,
    end: datetime,
    earlier: np.ndarray,
    continuing_ids: set[str],
    beyond: pd.DataFrame,
) -> dict[str, int]:
    """Upsert the events this window owns, and the port calls it carries on.

    A call still under way at the window's end that the table already knows past that end
    (written by a later window) keeps the table's row: it knows more than this window can.
    """
    gaps = events.gaps[_in_window(events.gaps["ended_at"], start, end)]
    crossings = events.crossings[_in_window(events.crossings["confirmed_at"], start, end)]
    flagged = events.flagged[_in_window(events.flagged["ts"], start, end)]
    calls = _calls_to_write(events.port_calls, start, end, earlier, continuing_ids)
    # the table's row wins for a visit still under way at the end of what this run read when
    # it has followed the call further than this run could
    ours = beyond[["port_call_id"]].merge(
        calls[["port_call_id", "last_seen_at"]], on="port_call_id", how="left"
    )["last_seen_at"]
    further = (ours.isna() | (beyond["last_seen_at"].to_numpy() > ours)).to_numpy(dtype=bool)
    kept = beyond[beyond["port_call_id"].isin(events.open_visits["port_call_id"]) & further]
    calls = calls[~calls["port_call_id"].isin(kept["port_call_id"])]
    owned = _in_window(calls["arrived_at"], start, end)
    kept_owned = _in_window(kept["arrived_at"], start, end)
    return {
        "ais_gaps": _upsert(conn, "ais_gaps", gaps),
        "chokepoint_crossings": _upsert(conn, "chokepoint_crossings", crossings),
        "flagged_positions": _upsert(conn, "flagged_positions", flagged),
        "port_calls": _upsert(conn, "port_calls", calls[owned])
        + _upsert(conn, "port_calls", kept[kept_owned]),
        "port_calls_continued": _upsert(conn, "port_calls", calls[~owned])
        + int((~kept_owned).sum()),
    }
