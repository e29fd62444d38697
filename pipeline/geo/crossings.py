"""Chokepoint passages: gate-line crossings of track segments, then one row per passage.

Gate crossings. Gates are lon/lat polylines; segments join consecutive accepted fixes (with
longitudes unwrapped across the antimeridian). Intersections are computed in the lon/lat plane,
the same plane in which the gates are drawn, and the crossing time is interpolated linearly along
the segment. No Shapely object is built per segment: a grid over the globe marks the cells near
gate edges, so only segments that start in such a cell (or are long) are tested, with exact
segment-segment arithmetic on arrays. A fix lying exactly on a line counts as being on side B,
so touching a line and leaving it is either no crossing or two opposite ones, never one.

Passages (one row each). The gates of a chokepoint are numbered from side A (seq 1) to side B
(seq n); side A lies left of every gate line walking from its first vertex to its last.
- n >= 2: the water is split into zones 0 (side A) .. n (side B); each crossing moves the vessel
  one zone. A passage is a move from one end zone to the other through every gate in order;
  turning back midway (a call at a port between the gates) and loitering on any line (flipping
  between two adjacent zones) never reach the other end, so they give no passage.
- n == 1: a single line needs hysteresis. The vessel's side only counts once it has been at
  least `single_gate_band_nm` away from the line; a passage runs from such a point on one side
  to such a point on the other. Loitering within the band gives at most one net passage.
A passage's `crossed_at` is the crossing of the gate that completes it (the last gate in the
direction of travel; for a single line, the last crossing before the vessel drew away), with
the two fixes bracketing that crossing as evidence; `entered_at` is the crossing of its first
gate. `confirmed_at` is the time of the fix that completes the evidence: the fix after the
completing crossing (n >= 2) or the first fix that far beyond the line (n == 1). A window of
`straitwatch detect` owns the passages confirmed in it. A passage that takes longer than
`max_passage_h` (from leaving one side to arriving on the other) is not counted.
A crossing on a segment that spans an AIS gap (longer than `gap_threshold_h`) is `inferred`,
linked to that gap, when the segment's implied speed is feasible; infeasible segments never
cross anything.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from pipeline.geo.distance import haversine_nm
from pipeline.geo.gaps import gap_ids as make_gap_ids
from pipeline.geo.tracks import (
    NM_PER_DEG_LAT,
    US_PER_H,
    CellIndex,
    DetectionError,
    Track,
    csr_expand,
    first_match,
    stable_ids,
    to_timestamps,
    worker_count,
    wrap_lon_delta,
)

CROSSING_COLUMNS = [
    "crossing_id",
    "mmsi",
    "chokepoint_id",
    "crossed_at",
    "direction",
    "inferred",
    "lat",
    "lon",
    "prev_ts",
    "prev_lat",
    "prev_lon",
    "next_ts",
    "next_lat",
    "next_lon",
    "gap_id",
    "gate",
    "entered_at",
    "confirmed_at",
]
GATE_CROSSING_COLUMNS = [
    "mmsi",
    "chokepoint_id",
    "gate",
    "seq",
    "sign",
    "crossed_at",
    "prev_ts",
    "next_ts",
    "inferred",
]


# --------------------------------------------------------------------------- gate geometry


def _edge_index(
    ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray, cell_deg: float
) -> CellIndex:
    """A grid listing, for each cell, the edges passing within one cell of it."""
    # Sample each edge at half-cell steps; the cells a straight edge passes through are those
    # of its samples plus, between two samples in diagonal cells, both corners.
    length = np.maximum(np.abs(bx - ax), np.abs(by - ay))
    samples = (np.ceil(length / (cell_deg / 2.0)).astype(np.int64) + 1).clip(min=2)
    edge = np.repeat(np.arange(len(ax)), samples)
    k = np.arange(samples.sum()) - np.repeat(np.cumsum(samples) - samples, samples)
    f = k / (samples[edge] - 1)
    ix = np.floor((ax[edge] + (bx - ax)[edge] * f + 180.0) / cell_deg).astype(np.int64)
    iy = np.floor((ay[edge] + (by - ay)[edge] * f + 90.0) / cell_deg).astype(np.int64)
    pair = np.flatnonzero(edge[1:] == edge[:-1])
    lo_x = np.minimum(ix[pair], ix[pair + 1])
    hi_x = np.maximum(ix[pair], ix[pair + 1])
    lo_y = np.minimum(iy[pair], iy[pair + 1])
    hi_y = np.maximum(iy[pair], iy[pair + 1])
    # every cell within one cell of the edge: a short segment starting there may reach it
    cx, cy, owner = [], [], []
    for dx in range(-1, 3):
        for dy in range(-1, 3):
            ok = (lo_x + dx <= hi_x + 1) & (lo_y + dy <= hi_y + 1)
            cx.append(lo_x[ok] + dx)
            cy.append(lo_y[ok] + dy)
            owner.append(edge[pair][ok])
    return CellIndex.build(cell_deg, np.concatenate(cx), np.concatenate(cy), np.concatenate(owner))


@dataclass(frozen=True, eq=False)
class GateSet:
    """Gate lines of all chokepoints as flat edge arrays with grid indexes, built once per run.

    Build it with `GateSet.from_frames(chokepoints, gates)`; it is reused for every chunk.
    """

    chokepoint_id: np.ndarray  # object, per chokepoint
    first_direction: np.ndarray  # object, per chokepoint
    second_direction: np.ndarray  # object, per chokepoint
    n_gates: np.ndarray  # int64, per chokepoint
    gate_chokepoint: np.ndarray  # int64 chokepoint index, per gate
    gate_seq: np.ndarray  # int64, per gate
    gate_name: np.ndarray  # object, per gate
    gate_edge_ptr: np.ndarray  # int64 CSR: edges of gate g are gate_edge_ptr[g]:[g+1]
    edge_gate: np.ndarray  # int64, per edge
    ax: np.ndarray  # float64 lon/lat of the edge's first vertex,
    ay: np.ndarray
    bx: np.ndarray  # and of its second (longitude unwrapped relative to ax)
    by: np.ndarray
    edge_last: np.ndarray  # bool: the edge ends its gate line (its far end is inclusive)
    fine: CellIndex
    coarse: CellIndex

    def __len__(self) -> int:
        return len(self.gate_seq)

    @classmethod
    def from_frames(
        cls,
        chokepoints: pd.DataFrame,
        gates: pd.DataFrame,
        *,
        cell_deg: float = 0.1,
        coarse_cell_deg: float = 2.0,
    ) -> GateSet:
        """Gates from the chokepoints frame (chokepoint_id, first_direction, second_direction)
        and the gates frame (chokepoint_id, gate, seq, and `geometry` as Shapely LineStrings in
        lon/lat or `wkt`). Raises DetectionError naming the offending chokepoint or gate."""
        for frame, what, cols in (
            (chokepoints, "chokepoints", ("chokepoint_id", "first_direction", "second_direction")),
            (gates, "gates", ("chokepoint_id", "gate", "seq")),
        ):
            missing = [c for c in cols if c not in frame.columns]
            if missing:
                raise DetectionError(f"{what} frame lacks column(s) {', '.join(missing)}")
        if "geometry" in gates.columns:
            geoms = np.asarray(gates["geometry"], dtype=object)
        elif "wkt" in gates.columns:
            try:
                geoms = shapely.from_wkt(gates["wkt"].to_numpy(dtype=object))
            except shapely.errors.ShapelyError as exc:
                raise DetectionError(f"gates frame: unreadable WKT: {exc}") from exc
        else:
            raise DetectionError("gates frame lacks a 'geometry' or 'wkt' column")

        cps = chokepoints.reset_index(drop=True)
        if cps["chokepoint_id"].duplicated().any():
            dup = cps.loc[cps["chokepoint_id"].duplicated(), "chokepoint_id"].iloc[0]
            raise DetectionError(f"chokepoint {dup!r} appears twice in the chokepoints frame")
        cp_index = {cp: i for i, cp in enumerate(cps["chokepoint_id"])}
        g = gates.reset_index(drop=True).assign(_geom=list(geoms))
        unknown = sorted(set(g["chokepoint_id"]) - set(cp_index))
        if unknown:
            raise DetectionError(f"gates of unknown chokepoint(s): {', '.join(unknown)}")
        g = g.assign(_cp=g["chokepoint_id"].map(cp_index)).sort_values(["_cp", "seq"])
        g = g.reset_index(drop=True)
        for cp, seqs in g.groupby("chokepoint_id", sort=False)["seq"]:
            if list(seqs) != list(range(1, len(seqs) + 1)):
                raise DetectionError(
                    f"chokepoint {cp!r}: gate seq must be 1..{len(seqs)}, got {list(seqs)}"
                )
        kinds = shapely.get_type_id(np.asarray(g["_geom"], dtype=object))
        not_line = np.flatnonzero(kinds != shapely.GeometryType.LINESTRING)
        if len(not_line):
            raise DetectionError(f"gate {_label(g, not_line[0])}: geometry must be a LineString")
        coords, owner = shapely.get_coordinates(
            np.asarray(g["_geom"], dtype=object), return_index=True
        )
        if len(coords) and not (
            np.abs(coords[:, 0]).max() <= 180.0 and np.abs(coords[:, 1]).max() <= 90.0
        ):
            bad = owner[np.flatnonzero((np.abs(coords) > [180.0, 90.0]).any(axis=1))[0]]
            raise DetectionError(f"gate {_label(g, bad)}: coordinates must be lon/lat degrees")
        pair = np.flatnonzero(owner[1:] == owner[:-1])
        ax, ay = coords[pair, 0], coords[pair, 1]
        bx = ax + wrap_lon_delta(coords[pair + 1, 0] - ax)
        by = coords[pair + 1, 1]
        keep = (bx != ax) | (by != ay)  # zero-length edges cross nothing
        pair, ax, ay, bx, by = pair[keep], ax[keep], ay[keep], bx[keep], by[keep]
        edge_gate = owner[pair].astype(np.int64)
        counts = np.bincount(edge_gate, minlength=len(g))
        empty = np.flatnonzero(counts == 0)
        if len(empty):
            raise DetectionError(f"gate {_label(g, empty[0])}: line has no length")
        edge_last = np.append(edge_gate[1:] != edge_gate[:-1], True) if len(pair) else pair > 0
        n_gates = np.bincount(g["_cp"].to_numpy(dtype=np.int64), minlength=len(cps))
        return cls(
            chokepoint_id=cps["chokepoint_id"].to_numpy(dtype=object),
            first_direction=cps["first_direction"].to_numpy(dtype=object),
            second_direction=cps["second_direction"].to_numpy(dtype=object),
            n_gates=n_gates.astype(np.int64),
            gate_chokepoint=g["_cp"].to_numpy(dtype=np.int64),
            gate_seq=g["seq"].to_numpy(dtype=np.int64),
            gate_name=g["gate"].to_numpy(dtype=object),
            gate_edge_ptr=np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
            edge_gate=edge_gate,
            ax=ax,
            ay=ay,
            bx=bx,
            by=by,
            edge_last=edge_last,
            fine=_edge_index(ax, ay, bx, by, cell_deg),
            coarse=_edge_index(ax, ay, bx, by, coarse_cell_deg),
        )

    @classmethod
    def empty(cls) -> GateSet:
        cps = pd.DataFrame(columns=["chokepoint_id", "first_direction", "second_direction"])
        return cls.from_frames(cps, pd.DataFrame(columns=["chokepoint_id", "gate", "seq", "wkt"]))


def _label(gates: pd.DataFrame, i: int) -> str:
    row = gates.loc[i]
    return f"{row['chokepoint_id']}/{row['gate']}"


# --------------------------------------------------------------------------- gate crossings


@dataclass(frozen=True, eq=False)
class _GateEvents:
    """Crossings of single gate lines, sorted by (mmsi, chokepoint, time)."""

    seg_start: np.ndarray
    seg_end: np.ndarray
    gate: np.ndarray
    chokepoint: np.ndarray
    sign: np.ndarray  # +1: from side A to side B
    us: np.ndarray  # crossing time, microseconds
    lat: np.ndarray
    lon: np.ndarray
    inferred: np.ndarray

    def take(self, idx: np.ndarray) -> _GateEvents:
        return _GateEvents(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))


def _long_candidates(track: Track, gates: GateSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start fix, end fix, edge) pairs for segments longer than a fine cell and for bridges:
    few; through the coarse grid, or against every edge for the longest."""
    long_start, long_end = track.segments_from_pairs(track.pair_candidates(gates.fine).long_pairs)
    s_b = np.concatenate((long_start, track.bridge_start))
    e_b = np.concatenate((long_end, track.bridge_end))
    dlat_b = track.lat[e_b] - track.lat[s_b]
    dlon_b = wrap_lon_delta(track.lon[e_b] - track.lon[s_b])
    step_b = np.abs(dlat_b) + np.abs(dlon_b)
    medium = np.flatnonzero(step_b <= gates.coarse.cell_deg)
    slots = gates.coarse.slot[gates.coarse.cells(track.lon[s_b[medium]], track.lat[s_b[medium]])]
    hot = slots >= 0
    pos_m, edge_m = gates.coarse.expand(medium[hot], slots[hot])
    longest = np.flatnonzero(step_b > gates.coarse.cell_deg)
    pos_l = np.repeat(longest, len(gates.ax))
    edge_l = np.tile(np.arange(len(gates.ax)), len(longest))
    pos = np.concatenate((pos_m, pos_l))
    return s_b[pos], e_b[pos], np.concatenate((edge_m, edge_l)).astype(np.int64)


def _crossing_pairs(track: Track, gates: GateSet) -> tuple[np.ndarray, ...]:
    """(start fix, end fix, edge, t, sign) of every candidate pair that crosses.

    The bulk (short segments starting in a cell near a gate) is filtered, expanded to edges and
    tested block by block, so that the temporaries stay small and cached, on as many threads as
    the scan uses.
    """
    cand = track.pair_candidates(gates.fine)

    def block(lo: int) -> tuple[np.ndarray, ...]:
        k = cand.cell_pairs[lo : lo + _EXACT_BLOCK]
        slots = cand.cell_slots[lo : lo + _EXACT_BLOCK]
        if track.any_rejected_between(k[0], k[-1] + 1):
            ok = track.is_kept(k) & track.is_kept(k + 1)  # the scan checked the vessel
            k, slots = k[ok], slots[ok]
        start, edge = gates.fine.expand(k, slots)
        hit, t, sign = _intersect(track, gates, start, start + 1, edge)
        return start[hit], start[hit] + 1, edge[hit], t, sign

    starts = range(0, len(cand.cell_pairs), _EXACT_BLOCK)
    workers = min(worker_count(), len(starts))
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            found = list(pool.map(block, starts))
    else:
        found = [block(lo) for lo in starts]
    start, end, edge = _long_candidates(track, gates)
    hit, t, sign = _intersect(track, gates, start, end, edge)
    found.append((start[hit], end[hit], edge[hit], t, sign))
    return tuple(np.concatenate(column) for column in zip(*found, strict=True))


_EXACT_BLOCK = 1 << 14  # candidate pairs per block: temporaries stay small and cached


def _intersect(
    track: Track, gates: GateSet, start: np.ndarray, end: np.ndarray, edge: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which candidate (segment, edge) pairs cross: their positions in the input, the fraction
    t along the segment, and the sign (+1 from side A to side B)."""
    px, py = track.lon[start], track.lat[start]
    qx, qy = track.lon[end], track.lat[end]
    ax, ay = gates.ax[edge], gates.ay[edge]
    bx, by = gates.bx[edge], gates.by[edge]
    rx = qx - px
    if len(rx) and np.abs(rx).max() >= 180.0:  # across the antimeridian: the short way round
        wrap_lon_delta(rx)
        qx = px + rx
    dx = px - ax
    if len(dx) and np.abs(dx).max() > 180.0:  # bring the edge next to the segment
        shift = 360.0 * np.rint(dx / 360.0)
        ax, bx = ax + shift, bx + shift
        dx = px - ax
    sx, sy = bx - ax, by - ay
    side_p = sx * (py - ay) - sy * dx  # > 0: P is left of the edge, on side A
    side_q = sx * (qy - ay) - sy * (qx - ax)
    maybe = np.flatnonzero((side_p > 0) != (side_q > 0))
    # only there: where along the edge the segment's line meets it
    ry = qy[maybe] - py[maybe]
    denom = side_q[maybe] - side_p[maybe]
    u = (dx[maybe] * ry - (py[maybe] - ay[maybe]) * rx[maybe]) / denom
    ok = (u >= 0) & ((u < 1) | (gates.edge_last[edge[maybe]] & (u <= 1)))
    hit = maybe[ok]
    t = np.clip(side_p[hit] / (side_p[hit] - side_q[hit]), 0.0, 1.0)
    sign = np.where(side_p[hit] > 0, 1, -1).astype(np.int8)
    return hit, t, sign


def _gate_events(
    track: Track,
    gates: GateSet,
    *,
    max_speed_kn: float,
    jump_tolerance_nm: float,
    gap_threshold_h: float,
) -> _GateEvents:
    start, end, edge, t, sign = _crossing_pairs(track, gates)
    px, py = track.lon[start], track.lat[start]
    rx = wrap_lon_delta(track.lon[end] - px)
    lat = py + t * (track.lat[end] - py)
    lon = px + t * rx
    lon = (lon + 180.0) % 360.0 - 180.0

    # feasibility and inference need the segment's duration and length
    dt_us = track.ts_us[end] - track.ts_us[start]
    hours = dt_us / US_PER_H
    dist = haversine_nm(track.lat[start], track.lon[start], track.lat[end], track.lon[end])
    feasible = dist <= max_speed_kn * hours + jump_tolerance_nm
    us = track.ts_us[start] + np.rint(t * dt_us).astype(np.int64)
    gate = gates.edge_gate[edge]
    ev = _GateEvents(
        seg_start=start,
        seg_end=end,
        gate=gate,
        chokepoint=gates.gate_chokepoint[gate],
        sign=sign,
        us=us,
        lat=lat,
        lon=lon,
        inferred=hours > gap_threshold_h,
    ).take(np.flatnonzero(feasible))
    order = np.lexsort((ev.us, ev.seg_end, ev.chokepoint, track.mmsi[ev.seg_end]))
    # within one segment, order by position along it (us is monotone in t on one segment)
    return ev.take(order)


def gate_crossings(
    track: Track,
    gates: GateSet,
    *,
    max_speed_kn: float = 50.0,
    jump_tolerance_nm: float = 0.1,
    gap_threshold_h: float = 6.0,
) -> pd.DataFrame:
    """Every crossing of every gate line (before passages are assembled), for inspection and
    for comparing with other tools: columns GATE_CROSSING_COLUMNS."""
    ev = _gate_events(
        track,
        gates,
        max_speed_kn=max_speed_kn,
        jump_tolerance_nm=jump_tolerance_nm,
        gap_threshold_h=gap_threshold_h,
    )
    return pd.DataFrame(
        {
            "mmsi": track.mmsi[ev.seg_end],
            "chokepoint_id": gates.chokepoint_id[ev.chokepoint],
            "gate": gates.gate_name[ev.gate],
            "seq": gates.gate_seq[ev.gate],
            "sign": ev.sign,
            "crossed_at": to_timestamps(ev.us),
            "prev_ts": to_timestamps(track.ts_us[ev.seg_start]),
            "next_ts": to_timestamps(track.ts_us[ev.seg_end]),
            "inferred": ev.inferred,
        },
        columns=GATE_CROSSING_COLUMNS,
    )


# --------------------------------------------------------------------------- passages


@dataclass(frozen=True, eq=False)
class _Passages:
    arrival: np.ndarray  # index of the completing gate event
    departure: np.ndarray  # index of the gate event that left the origin side
    origin_us: np.ndarray  # last evidence of being on the origin side
    confirmed_us: np.ndarray
    to_side_b: np.ndarray  # bool


def _group_starts(track: Track, ev: _GateEvents) -> np.ndarray:
    mmsi = track.mmsi[ev.seg_end]
    new = np.ones(len(ev.us), dtype=bool)
    new[1:] = (mmsi[1:] != mmsi[:-1]) | (ev.chokepoint[1:] != ev.chokepoint[:-1])
    return new


def _ffill_index(mark: np.ndarray, reset: np.ndarray) -> np.ndarray:
    """For each position, the latest index <= it where `mark` holds since the last `reset`
    (inclusive); -1 if none."""
    idx = np.arange(len(mark))
    filled = np.maximum.accumulate(np.where(mark, idx, -1))
    floor = np.maximum.accumulate(np.where(reset, idx, 0))
    return np.where(filled >= floor, filled, -1)


def _multi_gate_passages(track: Track, gates: GateSet, ev: _GateEvents) -> _Passages:
    n = gates.n_gates[ev.chokepoint]
    seq = gates.gate_seq[ev.gate]
    forward = ev.sign > 0
    pre = np.where(forward, seq - 1, seq)
    post = np.where(forward, seq, seq - 1)
    chain = _group_starts(track, ev)
    chain[1:] |= pre[1:] != post[:-1]
    departure = (pre == 0) | (pre == n)
    arrival = (post == 0) | (post == n)
    dep = _ffill_index(departure, chain)
    arr = np.flatnonzero(arrival & (dep >= 0))
    dep = dep[arr]
    passed = pre[dep] != post[arr]
    arr, dep = arr[passed], dep[passed]
    return _Passages(
        arrival=arr,
        departure=dep,
        origin_us=ev.us[dep],
        confirmed_us=track.ts_us[ev.seg_end[arr]],
        to_side_b=post[arr] == n[arr],
    )


def _far_from_gate(
    track: Track, gates: GateSet, fix: np.ndarray, gate: np.ndarray, band_nm: float
) -> np.ndarray:
    """Whether each accepted fix lies at least band_nm from its gate line (local flat metric)."""
    first = gates.gate_edge_ptr[gate]
    counts = gates.gate_edge_ptr[gate + 1] - first
    pair, edge = csr_expand(np.arange(len(fix)), first, counts, np.arange(len(gates.ax)))
    px, py = track.lon[fix[pair]], track.lat[fix[pair]]
    kx = NM_PER_DEG_LAT * np.cos(np.radians(py))
    dx = wrap_lon_delta(px - gates.ax[edge]) * kx
    dy = (py - gates.ay[edge]) * NM_PER_DEG_LAT
    ex = (gates.bx[edge] - gates.ax[edge]) * kx
    ey = (gates.by[edge] - gates.ay[edge]) * NM_PER_DEG_LAT
    f = np.clip((dx * ex + dy * ey) / (ex * ex + ey * ey), 0.0, 1.0)
    dist = np.hypot(dx - f * ex, dy - f * ey)
    if len(fix) == 0:
        return np.zeros(0, dtype=bool)
    # pairs come grouped by fix, every gate having at least one edge
    nearest = np.minimum.reduceat(dist, np.cumsum(counts) - counts)
    return (nearest >= band_nm) & track.is_kept(fix)


def _search_far(
    track: Track,
    gates: GateSet,
    gate: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    step: int,
    band_nm: float,
) -> np.ndarray:
    """For each search, the first accepted fix from `start` towards `stop` (exclusive) that is
    at least band_nm from the search's gate line; -1 where there is none."""
    return first_match(
        start, stop, step, lambda s, fix: _far_from_gate(track, gates, fix, gate[s], band_nm)
    )


def _single_gate_passages(
    track: Track, gates: GateSet, ev: _GateEvents, band_nm: float
) -> tuple[_Passages, np.ndarray]:
    """Passages through one-line chokepoints, and the vessels whose first side is unknown."""
    m = len(ev.us)
    if m == 0:
        none = np.zeros(0, dtype=np.int64)
        return _Passages(none, none, none, none, none.astype(bool)), none
    group = _group_starts(track, ev)
    chain = group.copy()
    chain[1:] |= ev.sign[1:] == ev.sign[:-1]  # two crossings the same way: track inconsistent
    group_end = np.append(group[1:], True)
    v_start, v_end = track.vessel_start(ev.seg_end), track.vessel_end(ev.seg_end)
    # Interval k follows event k up to the next event of its group (or the vessel's last fix);
    # interval "before" precedes the first event of each chain.
    nxt_start = np.where(group_end, v_end - 1, np.append(ev.seg_start[1:], 0))
    first_far = _search_far(track, gates, ev.gate, ev.seg_end, nxt_start + 1, 1, band_nm)
    # the last far fix of an interval that has one and is followed by another crossing (the
    # last interval is never an origin)
    last_far = np.full(m, -1, dtype=np.int64)
    need = np.flatnonzero((first_far >= 0) & ~group_end)
    last_far[need] = _search_far(
        track, gates, ev.gate[need], nxt_start[need], first_far[need] - 1, -1, band_nm
    )
    last_far[need] = np.where(last_far[need] >= 0, last_far[need], first_far[need])
    # before the first crossing of a vessel and gate: back to the vessel's start (after an
    # inconsistency, a chain's side before is unknown)
    before_far = np.full(m, -1, dtype=np.int64)
    need = np.flatnonzero(group)
    before_far[need] = _search_far(
        track, gates, ev.gate[need], ev.seg_start[need], v_start[need] - 1, -1, band_nm
    )
    # inconsistent stretch: the interval before a chain break is not evidence either
    broken = np.append(chain[1:] & ~group[1:], False)
    first_far[broken] = -1
    last_far[broken] = -1

    # Far intervals in order: for event k, first its "before" (if chain start), then interval k.
    # Interleave as 2k (before) and 2k+1 (after); sides: before -> pre side, after -> post side.
    far_b = before_far >= 0
    far_a = first_far >= 0
    is_far = np.empty(2 * m, dtype=bool)
    is_far[0::2], is_far[1::2] = far_b, far_a
    side_b = np.empty(2 * m, dtype=bool)  # the interval lies on side B
    side_b[0::2], side_b[1::2] = ev.sign < 0, ev.sign > 0
    reset = np.repeat(chain, 2)
    reset[1::2] = False
    # the previous far interval within the chain, for every far "after" interval
    prev_far = _ffill_index(is_far, reset)
    prev_far = np.append(-1, prev_far[:-1])
    prev_far[reset] = -1
    cand = np.flatnonzero(is_far & (np.arange(2 * m) % 2 == 1))
    origin = prev_far[cand]
    ok = (origin >= 0) & (side_b[origin] != side_b[cand])
    cand, origin = cand[ok], origin[ok]
    arrival = cand // 2
    origin_event = origin // 2
    origin_is_before = origin % 2 == 0
    departure = np.where(origin_is_before, origin_event, origin_event + 1)
    origin_fix = np.where(origin_is_before, before_far[origin_event], last_far[origin_event])
    passages = _Passages(
        arrival=arrival,
        departure=departure,
        origin_us=track.ts_us[origin_fix],
        confirmed_us=track.ts_us[first_far[arrival]],
        to_side_b=ev.sign[arrival] > 0,
    )
    unknown_start = np.unique(track.mmsi[ev.seg_end[group & ~far_b]])
    return passages, unknown_start


def detect_crossings(
    track: Track,
    gates: GateSet,
    *,
    max_speed_kn: float = 50.0,
    jump_tolerance_nm: float = 0.1,
    gap_threshold_h: float = 6.0,
    single_gate_band_nm: float = 2.0,
    max_passage_h: float = 168.0,
    min_passage_interval_h: float = 0.0,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Passages through chokepoints (columns CROSSING_COLUMNS), and the MMSIs whose passages
    may have begun before the track starts (the caller may look further back for those).

    max_speed_kn, jump_tolerance_nm: segments faster than this cross nothing.
    gap_threshold_h: crossings on segments longer than this are `inferred`.
    single_gate_band_nm: hysteresis of one-line chokepoints (see the module docstring).
    max_passage_h: longest passage counted, from leaving one side to arriving on the other.
    min_passage_interval_h: if > 0, a passage within this many hours after another passage of
      the same vessel through the same chokepoint is dropped (IMF PortWatch counts at most one
      transit per ship per 48 hours); 0 keeps every passage.
    """
    ev = _gate_events(
        track,
        gates,
        max_speed_kn=max_speed_kn,
        jump_tolerance_nm=jump_tolerance_nm,
        gap_threshold_h=gap_threshold_h,
    )
    single = gates.n_gates[ev.chokepoint] == 1
    multi_ev = ev.take(np.flatnonzero(~single))
    single_ev = ev.take(np.flatnonzero(single))
    multi = _multi_gate_passages(track, gates, multi_ev)
    one, unknown_single = _single_gate_passages(track, gates, single_ev, single_gate_band_nm)

    frames = [
        _passage_frame(track, gates, multi_ev, multi, max_passage_h),
        _passage_frame(track, gates, single_ev, one, max_passage_h),
    ]
    out = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(
        len(f) for f in frames
    ) else frames[0]  # fmt: skip
    out = out.sort_values(["mmsi", "chokepoint_id", "crossed_at"], kind="stable")
    if min_passage_interval_h > 0 and len(out):
        gap = out.groupby(["mmsi", "chokepoint_id"], sort=False)["crossed_at"].diff()
        out = out[~(gap <= pd.Timedelta(hours=min_passage_interval_h))]
    # vessels inside a multi-gate chokepoint when the track starts
    group = _group_starts(track, multi_ev)
    seq = gates.gate_seq[multi_ev.gate]
    pre = np.where(multi_ev.sign > 0, seq - 1, seq)
    inside = group & (pre != 0) & (pre != gates.n_gates[multi_ev.chokepoint])
    unknown = np.union1d(np.unique(track.mmsi[multi_ev.seg_end[inside]]), unknown_single)
    return out.reset_index(drop=True), unknown


def _passage_frame(
    track: Track, gates: GateSet, ev: _GateEvents, p: _Passages, max_passage_h: float
) -> pd.DataFrame:
    keep = p.confirmed_us - p.origin_us <= max_passage_h * US_PER_H
    arr, dep = p.arrival[keep], p.departure[keep]
    # inferred if any crossing from departure to arrival spanned a gap; link the latest such gap
    cum = np.concatenate(([0], np.cumsum(ev.inferred)))
    inferred = cum[arr + 1] - cum[dep] > 0
    last_inf = _ffill_index(ev.inferred, np.zeros(len(ev.us), dtype=bool))[arr]
    gap_event = np.where(inferred, last_inf, -1)
    has_gap = gap_event >= 0
    gap_start = ev.seg_start[np.where(has_gap, gap_event, 0)]
    gap_ids = np.full(len(arr), None, dtype=object)
    gap_ids[has_gap] = make_gap_ids(track.mmsi[gap_start[has_gap]], track.ts_us[gap_start[has_gap]])
    cp = ev.chokepoint[arr]
    mmsi = track.mmsi[ev.seg_end[arr]]
    s, e = ev.seg_start[arr], ev.seg_end[arr]
    cp_ids = gates.chokepoint_id[cp]
    return pd.DataFrame(
        {
            "crossing_id": stable_ids("crossing", mmsi, cp_ids, ev.us[arr]),
            "mmsi": mmsi,
            "chokepoint_id": cp_ids,
            "crossed_at": to_timestamps(ev.us[arr]),
            "direction": np.where(
                p.to_side_b[keep], gates.first_direction[cp], gates.second_direction[cp]
            ),
            "inferred": inferred,
            "lat": ev.lat[arr],
            "lon": ev.lon[arr],
            "prev_ts": to_timestamps(track.ts_us[s]),
            "prev_lat": track.lat[s],
            "prev_lon": track.lon[s],
            "next_ts": to_timestamps(track.ts_us[e]),
            "next_lat": track.lat[e],
            "next_lon": track.lon[e],
            "gap_id": gap_ids,
            "gate": gates.gate_name[ev.gate[arr]],
            "entered_at": to_timestamps(ev.us[dep]),
            "confirmed_at": to_timestamps(p.confirmed_us[keep]),
        },
        columns=CROSSING_COLUMNS,
    )
