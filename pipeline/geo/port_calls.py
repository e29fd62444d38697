"""Port calls: stays of a vessel inside a port's radius during which it was slow long enough.

A *visit* is a stretch of consecutive accepted fixes of one vessel near one port, with
hysteresis: it begins at the first fix within `radius_nm` of the port and lasts while the fixes
stay within `radius_nm * exit_factor`, so drifting about the edge of the circle does not make
many visits. An AIS gap with the vessel still inside on both sides does not end a visit.
A visit is a *call* when the vessel spent at least `min_slow_h` on segments slower than
`max_sog_kn` (reported SOG at both ends; the segment's implied speed where SOG is missing).

Times are fix times, never extrapolated: `arrived_at` is the first fix within the radius;
`departed_at` is the last fix inside before the vessel was seen outside. When the fix after it
comes after an AIS gap, the vessel left unseen: `ended_by_gap` is true and `departed_at` is still
the last fix seen inside. A call still going on at the end of the track has no `departed_at`
(`last_seen_at` says until when it is known). Where a vessel's calls at overlapping ports
overlap in time, the one with the most slow time is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.geo.distance import haversine_nm
from pipeline.geo.tracks import (
    NM_PER_DEG_LAT,
    US_PER_H,
    CellIndex,
    DetectionError,
    Track,
    stable_ids,
    to_timestamps,
)

PORT_CALL_COLUMNS = [
    "port_call_id",
    "mmsi",
    "port_id",
    "arrived_at",
    "departed_at",
    "ended_by_gap",
    "last_seen_at",
    "slow_h",
    "min_distance_nm",
]


@dataclass(frozen=True, eq=False)
class PortSet:
    """Ports as arrays with a grid index of their exit circles, built once per run."""

    port_id: np.ndarray  # object
    lat: np.ndarray
    lon: np.ndarray
    radius_nm: np.ndarray
    exit_factor: float
    index: CellIndex  # cells touched by each port's exit circle

    def __len__(self) -> int:
        return len(self.port_id)

    @classmethod
    def from_frame(
        cls, ports: pd.DataFrame, *, exit_factor: float = 1.5, cell_deg: float = 0.1
    ) -> PortSet:
        """Ports from a frame with port_id, lat, lon, radius_nm (nautical miles). The grid
        shares its cell size with the gate grid by default, so one pass serves both."""
        missing = [c for c in ("port_id", "lat", "lon", "radius_nm") if c not in ports.columns]
        if missing:
            raise DetectionError(f"ports frame lacks column(s) {', '.join(missing)}")
        if exit_factor < 1.0:
            raise DetectionError(f"port exit factor must be at least 1, got {exit_factor}")
        ids = ports["port_id"].to_numpy(dtype=object)
        lat = ports["lat"].to_numpy(dtype="float64", na_value=np.nan)
        lon = ports["lon"].to_numpy(dtype="float64", na_value=np.nan)
        radius = ports["radius_nm"].to_numpy(dtype="float64", na_value=np.nan)
        bad = ~((np.abs(lat) <= 90) & (np.abs(lon) <= 180) & (radius > 0) & (radius < 600))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DetectionError(
                f"port {ids[i]}: needs lat/lon in degrees and 0 < radius_nm < 600, got "
                f"lat={lat[i]}, lon={lon[i]}, radius_nm={radius[i]}"
            )
        dup = pd.Series(ids)[pd.Series(ids).duplicated()]
        if len(dup):
            raise DetectionError(f"port {dup.iloc[0]} appears twice in the ports frame")
        # the cells of each exit circle's bounding box
        reach = radius * exit_factor
        dlat = reach / NM_PER_DEG_LAT
        cos = np.cos(np.radians(np.minimum(np.abs(lat) + dlat, 89.9)))
        dlon = np.minimum(reach / (NM_PER_DEG_LAT * cos), 180.0)
        x0 = np.floor((lon - dlon + 180.0) / cell_deg).astype(np.int64)
        x1 = np.floor((lon + dlon + 180.0) / cell_deg).astype(np.int64)
        y0 = np.floor((lat - dlat + 90.0) / cell_deg).astype(np.int64)
        y1 = np.floor((lat + dlat + 90.0) / cell_deg).astype(np.int64)
        wx, wy = np.minimum(x1 - x0 + 1, round(360.0 / cell_deg)), y1 - y0 + 1
        count = wx * wy
        port = np.repeat(np.arange(len(ids)), count)
        k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        return cls(
            port_id=ids,
            lat=lat,
            lon=lon,
            radius_nm=radius,
            exit_factor=float(exit_factor),
            index=CellIndex.build(
                cell_deg, x0[port] + k % wx[port], y0[port] + k // wx[port], port
            ),
        )

    @classmethod
    def empty(cls) -> PortSet:
        return cls.from_frame(pd.DataFrame(columns=["port_id", "lat", "lon", "radius_nm"]))


def detect_port_calls(
    track: Track,
    ports: PortSet,
    *,
    gap_threshold_h: float = 6.0,
    max_sog_kn: float = 1.0,
    min_slow_h: float = 2.0,
) -> pd.DataFrame:
    """Port calls of the track: columns PORT_CALL_COLUMNS plus `track_start` (bool: the visit
    was already under way at the vessel's first fix, so its true arrival may be earlier).

    gap_threshold_h: a visit left across a silence longer than this is `ended_by_gap`.
    max_sog_kn, min_slow_h: a visit is a call when the vessel spent at least min_slow_h hours
      on segments slower than max_sog_kn.
    """
    visits = port_visits(
        track, ports, gap_threshold_h=gap_threshold_h, max_sog_kn=max_sog_kn, min_slow_h=min_slow_h
    )
    return calls_from_visits(visits, min_slow_h=min_slow_h)


def calls_from_visits(visits: pd.DataFrame, *, min_slow_h: float = 2.0) -> pd.DataFrame:
    """The visits that are calls (at least min_slow_h hours slow), overlaps resolved."""
    calls = visits[visits["slow_h"] >= min_slow_h - 1e-9].drop(columns="still_there")
    return _drop_overlaps(calls)


CARRIED_COLUMNS = ["mmsi", "port_id", "arrived_at", "last_seen_at", "slow_h", "min_distance_nm"]


def port_visits(
    track: Track,
    ports: PortSet,
    *,
    gap_threshold_h: float = 6.0,
    max_sog_kn: float = 1.0,
    carried: pd.DataFrame | None = None,
    min_slow_h: float | None = None,
) -> pd.DataFrame:
    """Every visit (call or not) with the call columns, `track_start`, and `still_there`
    (the track ends during the visit).

    min_slow_h: if given, only the visits that are calls by this threshold, still under way at
      the end, or already under way at the start (the others can become nothing).

    carried: calls known to be under way from an earlier run (columns CARRIED_COLUMNS). A visit
      whose fixes include the call's `last_seen_at` fix continues that call: it keeps its arrival
      and id, adds the slow time after that fix to the call's, and needs no positions from
      before it.
    """
    columns = [*PORT_CALL_COLUMNS, "track_start", "still_there"]
    if len(ports) == 0 or track.size == 0:
        return _empty(columns)
    cand = track.fix_candidates(ports.index)
    point, port = ports.index.expand(cand.point_fixes, cand.point_slots)
    # accepted fixes within the exit radius in latitude (a degree is 60 nm) before the exact
    # distance: most fixes in a port's cells are further away than its radius
    reach_deg = ports.radius_nm[port] * (ports.exit_factor / NM_PER_DEG_LAT)
    ok = np.abs(track.lat[point] - ports.lat[port]) <= reach_deg
    point, port = point[ok], port[ok]
    ok = track.is_kept(point)
    point, port = point[ok], port[ok]
    dist = haversine_nm(track.lat[point], track.lon[point], ports.lat[port], ports.lon[port])
    inside = dist <= ports.radius_nm[port] * ports.exit_factor
    point, port, dist = point[inside], port[inside], dist[inside]
    if len(point) == 0:
        return _empty(columns)
    order = np.lexsort((point, port, track.mmsi[point]))
    point, port, dist = point[order], port[order], dist[order]
    entry = dist <= ports.radius_nm[port]
    rank = track.kept_rank(point)
    mmsi = track.mmsi[point]

    # runs: consecutive accepted fixes of one vessel within the exit circle of one port
    run_start = np.ones(len(point), dtype=bool)
    run_start[1:] = port[1:] != port[:-1]
    run_start[1:] |= mmsi[1:] != mmsi[:-1]
    run_start[1:] |= rank[1:] != rank[:-1] + 1
    starts = np.flatnonzero(run_start)
    ends = np.append(starts[1:], len(point))
    idx = np.arange(len(point))
    # the visit begins at the run's first fix within the entry radius (Schmitt trigger), or,
    # continuing a carried call, at the last fix that call had seen
    anchor, carried_row = _carried_anchors(track, ports, point, port, carried)
    begin = np.where(entry, idx, len(point))
    begin[anchor] = -1 - anchor  # sorts first; decoded below
    first = np.minimum.reduceat(begin, starts)
    is_carried = first < 0
    first = np.where(is_carried, -1 - first, first)
    has = first < ends
    v_first, v_end, v_run_start = first[has], ends[has], starts[has]
    v_carried = is_carried[has]
    v_last = v_end - 1

    # slow time (exact, in microseconds) over the segments inside each visit
    seg = np.flatnonzero(~run_start)  # pair (seg-1, seg) are consecutive accepted fixes
    a, b = point[seg - 1], point[seg]
    dt_us = track.ts_us[b] - track.ts_us[a]
    sog = np.fmax(track.sog[a], track.sog[b])
    no_sog = np.isnan(sog)
    if no_sog.any():
        implied = haversine_nm(track.lat[a], track.lon[a], track.lat[b], track.lon[b])
        sog[no_sog] = implied[no_sog] / (dt_us[no_sog] / US_PER_H)
    slow_pair = np.zeros(len(point), dtype=np.int64)
    slow_pair[seg] = np.where(sog < max_sog_kn, dt_us, 0)
    cum = np.concatenate(([0], np.cumsum(slow_pair)))
    # pair j's segment ends at pair j; a visit's segments end at first+1 .. last
    slow_us = cum[v_last + 1] - cum[v_first + 1]
    # closest approach within each visit: reduce over [first, last] by interleaving the bounds
    bounds = np.column_stack((v_first, v_last + 1)).ravel()
    min_dist = (
        np.minimum.reduceat(np.append(dist, np.inf), bounds)[::2] if len(bounds) else dist[:0]
    )

    # what came after the visit's last fix: nothing (still there), or the next accepted fix
    arrive_fix, last_fix = point[v_first], point[v_last]
    next_fix = track.next_kept(last_fix)
    still_there = next_fix < 0
    gap_after = ~still_there & (
        track.ts_us[np.maximum(next_fix, 0)] - track.ts_us[last_fix] > gap_threshold_h * US_PER_H
    )
    track_start = (track.prev_kept(point[v_run_start]) < 0) & ~v_carried
    mmsi_v = track.mmsi[arrive_fix]
    port_v = ports.port_id[port[v_first]]
    arrived_us = track.ts_us[arrive_fix].copy()
    if v_carried.any():
        # a continued call keeps its arrival and adds what it had already counted
        assert carried is not None  # only calls carried in are marked so
        row = carried_row[v_first[v_carried]]
        arrived_us[v_carried] = _us(carried["arrived_at"].to_numpy()[row])
        slow_us[v_carried] += np.rint(
            carried["slow_h"].to_numpy(dtype=float)[row] * US_PER_H
        ).astype(np.int64)
        min_dist[v_carried] = np.fmin(
            min_dist[v_carried], carried["min_distance_nm"].to_numpy(dtype=float)[row]
        )
    if min_slow_h is not None:
        # keep what can matter: calls, visits still under way, visits under way at the start
        keep = (slow_us >= min_slow_h * US_PER_H - 1) | still_there | track_start
        (mmsi_v, port_v, arrived_us, last_fix, still_there, gap_after, slow_us, min_dist,
         track_start) = (a[keep] for a in (mmsi_v, port_v, arrived_us, last_fix, still_there,
                                           gap_after, slow_us, min_dist, track_start))  # fmt: skip
    departed = to_timestamps(track.ts_us[last_fix])
    return pd.DataFrame(
        {
            "port_call_id": stable_ids("port_call", mmsi_v, port_v, arrived_us),
            "mmsi": mmsi_v,
            "port_id": port_v,
            "arrived_at": to_timestamps(arrived_us),
            "departed_at": departed.where(~still_there),
            "ended_by_gap": gap_after,
            "last_seen_at": departed,
            "slow_h": slow_us / US_PER_H,
            "min_distance_nm": min_dist,
            "track_start": track_start,
            "still_there": still_there,
        },
        columns=columns,
    )


def _us(values: np.ndarray) -> np.ndarray:
    return pd.DatetimeIndex(values).as_unit("us").asi8


def _carried_anchors(
    track: Track,
    ports: PortSet,
    point: np.ndarray,
    port: np.ndarray,
    carried: pd.DataFrame | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (into point/port) of the last fix each carried call had seen, and for every
    position the carried row it anchors (-1 elsewhere)."""
    row_of = np.full(len(point), -1, dtype=np.int64)
    if carried is None or carried.empty:
        return np.zeros(0, dtype=np.int64), row_of
    port_index = {p: i for i, p in enumerate(ports.port_id)}
    known = carried["port_id"].map(port_index)
    rows = np.flatnonzero(known.notna().to_numpy() & carried["last_seen_at"].notna().to_numpy())
    keys = pd.DataFrame(
        {
            "mmsi": carried["mmsi"].to_numpy(dtype=np.int64)[rows],
            "port": known.to_numpy()[rows].astype(np.int64),
            "ts": _us(carried["last_seen_at"].to_numpy()[rows]),
            "row": rows,
        }
    )
    pairs = pd.DataFrame(
        {
            "mmsi": track.mmsi[point],
            "port": port,
            "ts": track.ts_us[point],
            "pos": np.arange(len(point)),
        }
    )
    hits = pairs.merge(keys, on=["mmsi", "port", "ts"])
    anchor = hits["pos"].to_numpy(dtype=np.int64)
    row_of[anchor] = hits["row"].to_numpy(dtype=np.int64)
    return anchor, row_of


def _empty(columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "port_call_id": pd.Series(dtype=object),
            "mmsi": pd.Series(dtype="int64"),
            "port_id": pd.Series(dtype=object),
            "arrived_at": to_timestamps(np.zeros(0)),
            "departed_at": to_timestamps(np.zeros(0)),
            "ended_by_gap": pd.Series(dtype=bool),
            "last_seen_at": to_timestamps(np.zeros(0)),
            "slow_h": pd.Series(dtype="float64"),
            "min_distance_nm": pd.Series(dtype="float64"),
            "track_start": pd.Series(dtype=bool),
            "still_there": pd.Series(dtype=bool),
        }
    )
    return frame[columns]


def _drop_overlaps(calls: pd.DataFrame) -> pd.DataFrame:
    """Of a vessel's calls that overlap in time (ports with overlapping circles), keep the one
    with the most slow time (then the closest approach, then the port id)."""
    if len(calls) < 2:
        return calls.reset_index(drop=True)
    calls = calls.sort_values(["mmsi", "arrived_at", "port_id"], kind="stable")
    still_open = pd.Timestamp.max.tz_localize("UTC")
    end = calls["last_seen_at"].where(calls["departed_at"].notna(), still_open)
    reach = end.groupby(calls["mmsi"]).cummax()
    new = (calls["mmsi"] != calls["mmsi"].shift()) | (calls["arrived_at"] > reach.shift())
    cluster = new.cumsum()
    best = (
        calls.assign(_cluster=cluster)
        .sort_values(
            ["_cluster", "slow_h", "min_distance_nm", "port_id"],
            ascending=[True, False, True, True],
            kind="stable",
        )
        .drop_duplicates("_cluster")
        .drop(columns="_cluster")
    )
    return best.sort_values(["mmsi", "arrived_at"], kind="stable").reset_index(drop=True)
