"""Vessel tracks from a positions frame: validation, speed-outlier rejection, candidate segments.

A track is the positions of one vessel in time order; a segment joins two consecutive accepted
fixes. The frame must be sorted by (mmsi, ts), so each vessel is one contiguous block, and
everything here works on arrays over all vessels at once, never with a Python loop per fix.

One pass. `build_track` reads the positions once, in blocks small enough to stay in the CPU
cache (this machine class has far more arithmetic than memory bandwidth), and in that pass
validates the frame and collects, for every detector, the few candidates worth an exact look:
pairs of fixes too far apart for `max_speed_kn` (speed outliers), pairs further apart in time
than the gap threshold (AIS gaps), pairs starting in a grid cell near a gate line (crossings),
pairs longer than a grid cell, and fixes in a cell near a port (port calls). Detectors given a
grid the track was not scanned with run a pass of their own.

Speed outliers. A fix that implies more than `max_speed_kn` from the previous *accepted* fix of
its vessel is a position error or spoofing: it is rejected (flagged, skipped) and the track goes
on from the last accepted fix, so the segment around it is not cut. This is a sequential rule
(each decision depends on the previous accepted fix); it is computed exactly without a loop
over fixes: each violation's run of rejected fixes is found by a vectorised search, and the
chain of violations that take effect by pointer doubling (see `_speed_outliers`). The first fix
of a vessel is trusted unless it is a lone spike (the next two fixes agree with each other and
not with it).

Antimeridian. Longitude differences are wrapped into [-180, 180), so a hop from 179.9 E to
179.9 W is a segment of 0.2 degrees, never one that spans the globe.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.errors import StraitwatchError
from pipeline.geo.distance import haversine_nm

REQUIRED_COLUMNS = ("mmsi", "ts", "lat", "lon")
NM_PER_DEG_LAT = 60.0  # a degree of latitude (and of longitude at the equator) in nautical miles
US_PER_S = 1_000_000
US_PER_H = 3_600_000_000
BLOCK = 1 << 15  # pairs per block of the scan: a few arrays of this size fit the L2 cache


class DetectionError(StraitwatchError):
    """The positions or reference frames handed to the detection core break its contract."""


# --------------------------------------------------------------------------- grid index


@dataclass(frozen=True, eq=False)
class CellIndex:
    """A global lon/lat grid of `cell_deg` cells; each hot cell lists items (CSR).

    The slot array has one spare column and row so that lon = 180 and lat = 90 need no clipping;
    the spare column repeats column 0 (the same meridian).
    """

    cell_deg: float
    nx: int
    ny: int
    slot: np.ndarray  # int32 per cell, (ny + 1) * (nx + 1): index into ptr, or -1
    ptr: np.ndarray  # int64 CSR offsets into items
    items: np.ndarray  # int64

    @classmethod
    def build(cls, cell_deg: float, ix: np.ndarray, iy: np.ndarray, item: np.ndarray) -> CellIndex:
        """From (column, row, item) triples; columns wrap around the globe, rows outside are
        dropped."""
        nx, ny = round(360.0 / cell_deg), round(180.0 / cell_deg)
        if (nx + 1) * (ny + 1) >= 2**31:
            raise ValueError(f"cell size {cell_deg} degrees makes too many grid cells")
        ix = np.asarray(ix, dtype=np.int64) % nx
        iy = np.asarray(iy, dtype=np.int64)
        inside = (iy >= 0) & (iy < ny)
        ix, iy, item = ix[inside], iy[inside], np.asarray(item, dtype=np.int64)[inside]
        # the spare column nx mirrors column 0
        at0 = ix == 0
        ix = np.concatenate((ix, np.full(int(at0.sum()), nx)))
        iy = np.concatenate((iy, iy[at0]))
        item = np.concatenate((item, item[at0]))
        pairs = np.unique(np.stack((iy * (nx + 1) + ix, item)), axis=1)
        hot, first = np.unique(pairs[0], return_index=True)
        slot = np.full((ny + 1) * (nx + 1), -1, dtype=np.int32)
        slot[hot] = np.arange(len(hot), dtype=np.int32)
        ptr = np.append(first, pairs.shape[1]).astype(np.int64)
        return cls(float(cell_deg), nx, ny, slot, ptr, pairs[1].astype(np.int64))

    def cells(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        out: np.ndarray | None = None,
        work: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Cell numbers (int32) of points; `out` and `work` (a float64 and an int32 buffer of
        the same length) avoid allocations in the scan."""
        n = len(lon)
        f, ix = work if work is not None else (np.empty(n), np.empty(n, dtype=np.int32))
        out = out if out is not None else np.empty(n, dtype=np.int32)
        inv = 1.0 / self.cell_deg
        np.add(lon, 180.0, out=f)
        f *= inv
        np.copyto(ix, f, casting="unsafe")  # truncation is floor for these non-negative values
        np.add(lat, 90.0, out=f)
        f *= inv
        np.copyto(out, f, casting="unsafe")
        out *= self.nx + 1
        out += ix
        return out

    def expand(self, keys: np.ndarray, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(key, item) pairs for keys in hot cells given by their slots."""
        return csr_expand(keys, self.ptr[slots], self.ptr[slots + 1] - self.ptr[slots], self.items)


def csr_expand(
    keys: np.ndarray, starts: np.ndarray, counts: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Repeat each key for its `counts` values taken from values[starts:starts + counts]."""
    total = int(counts.sum())
    rep = np.repeat(keys, counts)
    off = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)
    return rep, values[off]


# --------------------------------------------------------------------------- the track


@dataclass(frozen=True, eq=False)
class Candidates:
    """What the scan collected for one grid (raw pair k joins fix k and fix k+1)."""

    index: CellIndex | None = None
    cell_pairs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cell_slots: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    long_pairs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    point_fixes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    point_slots: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))


@dataclass(frozen=True, eq=False)
class Track:
    """The arrays of a positions frame sorted by (mmsi, ts), its rejected fixes, and the
    candidates the scan collected.

    Raw pairs (fix k, fix k+1) of one vessel with both fixes accepted are segments. Where
    rejected fixes were skipped, the segment from the last accepted fix before them to the first
    accepted fix after them is a *bridge* (bridge_start[j] -> bridge_end[j]).
    """

    mmsi: np.ndarray  # int64
    ts_us: np.ndarray  # int64 microseconds since the epoch, UTC
    lat: np.ndarray  # float64 degrees
    lon: np.ndarray  # float64 degrees
    sog: np.ndarray  # float64 knots, NaN when unknown
    same_vessel: np.ndarray  # bool per raw pair: fix k and k+1 are one vessel's
    rejected: np.ndarray  # int64 indices of rejected fixes, ascending
    rejected_anchor: np.ndarray  # int64: the accepted fix each rejected fix was judged from
    bridge_start: np.ndarray  # int64 fix indices
    bridge_end: np.ndarray  # int64 fix indices
    gap_threshold_h: float | None  # threshold the scan collected gap_pairs for
    gap_pairs: np.ndarray  # int64 raw pairs longer in time than gap_threshold_h
    segment_candidates: Candidates  # for the segment grid the scan was given
    point_candidates: Candidates  # for the point grid the scan was given

    @property
    def size(self) -> int:
        return len(self.mmsi)

    def is_kept(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        if len(self.rejected) == 0:
            return np.ones(len(idx), dtype=bool)
        pos = np.minimum(np.searchsorted(self.rejected, idx), len(self.rejected) - 1)
        return self.rejected[pos] != idx

    def any_rejected_between(self, lo: int, hi: int) -> bool:
        """Whether a fix in [lo, hi] was rejected."""
        if len(self.rejected) == 0:
            return False
        return bool(
            np.searchsorted(self.rejected, hi, side="right") > np.searchsorted(self.rejected, lo)
        )

    def pair_ok(self, k: np.ndarray) -> np.ndarray:
        """Whether raw pairs are segments: one vessel, both fixes accepted."""
        k = np.asarray(k, dtype=np.int64)
        return self.same_vessel[k] & self.is_kept(k) & self.is_kept(k + 1)

    def kept_rank(self, idx: np.ndarray) -> np.ndarray:
        """Ordinal of accepted fixes among accepted fixes (consecutive ones differ by 1)."""
        idx = np.asarray(idx, dtype=np.int64)
        return idx - np.searchsorted(self.rejected, idx)

    def vessel_start(self, idx: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.mmsi, self.mmsi[idx], side="left")

    def vessel_end(self, idx: np.ndarray) -> np.ndarray:
        """One past the vessel's last fix."""
        return np.searchsorted(self.mmsi, self.mmsi[idx], side="right")

    def next_kept(self, idx: np.ndarray) -> np.ndarray:
        """The next accepted fix of the same vessel after each fix, or -1."""
        idx = np.asarray(idx, dtype=np.int64)
        nxt = idx + 1
        if len(self.rejected):
            first, last = self._rejected_runs()
            run = np.searchsorted(first, nxt, side="right") - 1
            inside = (run >= 0) & (last[np.maximum(run, 0)] >= nxt)
            nxt = np.where(inside, last[np.maximum(run, 0)] + 1, nxt)
        ok = nxt < self.vessel_end(idx)
        return np.where(ok, nxt, -1)

    def prev_kept(self, idx: np.ndarray) -> np.ndarray:
        """The previous accepted fix of the same vessel before each fix, or -1."""
        idx = np.asarray(idx, dtype=np.int64)
        prv = idx - 1
        if len(self.rejected):
            first, last = self._rejected_runs()
            run = np.searchsorted(first, prv, side="right") - 1
            inside = (run >= 0) & (last[np.maximum(run, 0)] >= prv)
            prv = np.where(inside, first[np.maximum(run, 0)] - 1, prv)
        ok = prv >= self.vessel_start(idx)
        return np.where(ok, prv, -1)

    def _rejected_runs(self) -> tuple[np.ndarray, np.ndarray]:
        r = self.rejected
        starts = np.concatenate(([True], np.diff(r) != 1))
        ends = np.append(starts[1:], True)
        return r[starts], r[ends]

    def segments_from_pairs(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(start, end) fixes of the raw pairs that are segments."""
        k = np.asarray(k, dtype=np.int64)
        k = k[self.pair_ok(k)]
        return k, k + 1

    def pair_candidates(self, index: CellIndex) -> Candidates:
        """Segment candidates for a grid: from the scan, or from a pass of its own."""
        if self.segment_candidates.index is index:
            return self.segment_candidates
        return _scan(self.mmsi, self.ts_us, self.lat, self.lon, segment_index=index)[
            "segment_candidates"
        ]

    def fix_candidates(self, index: CellIndex) -> Candidates:
        """Point candidates for a grid: from the scan, or from a pass of its own."""
        if self.point_candidates.index is index:
            return self.point_candidates
        return _scan(self.mmsi, self.ts_us, self.lat, self.lon, point_index=index)[
            "point_candidates"
        ]

    def long_gap_pairs(self, gap_threshold_h: float) -> np.ndarray:
        """Raw pairs further apart in time than the threshold (same vessel)."""
        if self.gap_threshold_h == gap_threshold_h:
            return self.gap_pairs
        return _scan(
            self.mmsi, self.ts_us, self.lat, self.lon, gap_threshold_us=gap_threshold_h * US_PER_H
        )["gap_pairs"]

    def flagged_frame(self) -> pd.DataFrame:
        """The rejected fixes with the accepted fix they were judged from (their evidence)."""
        r, a = self.rejected, self.rejected_anchor
        dist = haversine_nm(self.lat[a], self.lon[a], self.lat[r], self.lon[r])
        hours = np.abs(self.ts_us[r] - self.ts_us[a]) / US_PER_H
        with np.errstate(divide="ignore"):
            speed = np.where(hours > 0, dist / np.where(hours > 0, hours, 1.0), np.inf)
        return pd.DataFrame(
            {
                "mmsi": self.mmsi[r],
                "ts": to_timestamps(self.ts_us[r]),
                "lat": self.lat[r],
                "lon": self.lon[r],
                "reason": "implied_speed",
                "implied_speed_kn": speed,
                "anchor_ts": to_timestamps(self.ts_us[a]),
                "anchor_lat": self.lat[a],
                "anchor_lon": self.lon[a],
            }
        )


def to_timestamps(us: np.ndarray) -> pd.DatetimeIndex:
    """Microseconds since the epoch as tz-aware UTC timestamps."""
    return pd.DatetimeIndex(np.asarray(us, dtype="int64").astype("datetime64[us]")).tz_localize(
        "UTC"
    )


def timestamps_us(values: pd.Series, what: str = "ts") -> np.ndarray:
    """tz-aware timestamps as int64 microseconds since the epoch (UTC), without a copy when
    they are already microseconds."""
    dtype = values.dtype
    if not isinstance(dtype, pd.DatetimeTZDtype):
        raise DetectionError(
            f"column {what!r} must hold tz-aware UTC timestamps, not {values.dtype}"
        )
    if dtype.unit == "us":
        return values.array.asi8  # the instant is the same in every time zone
    return pd.DatetimeIndex(values).as_unit("us").asi8


def wrap_lon_delta(dlon: np.ndarray) -> np.ndarray:
    """Wrap longitude differences into [-180, 180) in place (only the few that need it)."""
    far = np.flatnonzero(np.abs(dlon) >= 180.0)
    if len(far):
        dlon[far] = (dlon[far] + 180.0) % 360.0 - 180.0
    return dlon


def _float_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    try:
        return frame[name].to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise DetectionError(f"column {name!r} is not numeric: {exc}") from exc


def build_track(
    positions: pd.DataFrame,
    *,
    max_speed_kn: float = 50.0,
    jump_tolerance_nm: float = 0.1,
    gap_threshold_h: float | None = None,
    segment_index: CellIndex | None = None,
    point_index: CellIndex | None = None,
) -> Track:
    """Validate a positions frame, reject its speed outliers, collect detector candidates.

    positions: columns mmsi, ts (tz-aware UTC), lat, lon (degrees), optionally sog (knots);
      sorted by (mmsi, ts) with at most one fix per vessel and instant.
    max_speed_kn: a fix further from the previous accepted fix than this speed allows (plus
      `jump_tolerance_nm`, which absorbs GPS jitter between fixes seconds apart) is rejected.
    gap_threshold_h, segment_index, point_index: what to collect candidates for in the same
      pass (the AIS gap threshold, the gate grid, the port grid); detectors work without them
      at the cost of a pass of their own.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in positions.columns]
    if missing:
        raise DetectionError(f"positions frame lacks column(s) {', '.join(missing)}")
    try:
        mmsi = positions["mmsi"].to_numpy(dtype="int64")
    except (TypeError, ValueError) as exc:
        raise DetectionError(f"column 'mmsi' must be integers without gaps: {exc}") from exc
    ts_us = timestamps_us(positions["ts"])
    lat = _float_column(positions, "lat")
    lon = _float_column(positions, "lon")
    sog = _float_column(positions, "sog")
    scan = _scan(
        mmsi,
        ts_us,
        lat,
        lon,
        speed=(max_speed_kn, jump_tolerance_nm),
        gap_threshold_us=None if gap_threshold_h is None else gap_threshold_h * US_PER_H,
        segment_index=segment_index,
        point_index=point_index,
    )
    rejected, anchors = _speed_outliers(
        mmsi, ts_us, lat, lon, scan["speed_pairs"], max_speed_kn, jump_tolerance_nm
    )
    bridge_start, bridge_end = _bridges(mmsi, rejected)
    return Track(
        mmsi=mmsi,
        ts_us=ts_us,
        lat=lat,
        lon=lon,
        sog=sog,
        same_vessel=scan["same"],
        rejected=rejected,
        rejected_anchor=anchors,
        bridge_start=bridge_start,
        bridge_end=bridge_end,
        gap_threshold_h=gap_threshold_h,
        gap_pairs=scan["gap_pairs"],
        segment_candidates=scan["segment_candidates"],
        point_candidates=scan["point_candidates"],
    )


def _bridges(mmsi: np.ndarray, rejected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segments over each run of rejected fixes: from the fix before it to the fix after it,
    where both exist and belong to the run's vessel (runs are maximal, so both are accepted)."""
    if len(rejected) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    first = rejected[np.concatenate(([True], np.diff(rejected) != 1))]
    last = rejected[np.concatenate((np.diff(rejected) != 1, [True]))]
    start, end = first - 1, last + 1
    ok = (start >= 0) & (end < len(mmsi))
    start, end, first = start[ok], end[ok], first[ok]
    ok = (mmsi[start] == mmsi[first]) & (mmsi[end] == mmsi[first])
    return start[ok], end[ok]


# --------------------------------------------------------------------------- the scan


def worker_count() -> int:
    """Threads for the array passes: the CPUs this process may run on."""
    return len(os.sched_getaffinity(0))


def _scan(
    mmsi: np.ndarray,
    ts_us: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    *,
    speed: tuple[float, float] | None = None,
    gap_threshold_us: float | None = None,
    segment_index: CellIndex | None = None,
    point_index: CellIndex | None = None,
    threads: int | None = None,
) -> dict:
    """One blocked pass over the positions: validation and every candidate list asked for.

    The pairs are split into contiguous ranges scanned by `threads` threads (default: the
    CPUs available); NumPy releases the GIL inside each block's array operations.
    """
    n = len(mmsi)
    m = max(n - 1, 0)
    same = np.empty(m, dtype=bool)
    if n == 1 and not (abs(lat[0]) <= 90.0 and abs(lon[0]) <= 180.0):
        _raise_range(lat, lon, 0, 1)
    args = (mmsi, ts_us, lat, lon, same, speed, gap_threshold_us, segment_index, point_index)
    workers = min(threads or worker_count(), max(1, m // (4 * BLOCK)))
    if workers <= 1:
        results = [_scan_range(0, m, *args)]
    else:
        bounds = np.linspace(0, m // BLOCK, workers + 1).astype(np.int64) * BLOCK
        bounds[-1] = m
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [
                pool.submit(_scan_range, int(a), int(b), *args)
                for a, b in itertools.pairwise(bounds)
            ]
            results = [f.result() for f in futures]  # in order: the first error wins
    found = {key: [part for r in results for part in r[key]] for key in results[0]}
    if point_index is not None and n:
        # the last fix starts no pair
        s = point_index.slot[point_index.cells(lon[-1:], lat[-1:])]
        if s[0] >= 0:
            found["point"].append(np.array([n - 1]))
            found["pslot"].append(s.astype(np.int32))

    def cat(key: str, dtype: type = np.int64) -> np.ndarray:
        return np.concatenate(found[key]).astype(dtype) if found[key] else np.zeros(0, dtype)

    return {
        "same": same,
        "speed_pairs": cat("speed"),
        "gap_pairs": cat("gap"),
        "segment_candidates": Candidates(
            index=segment_index,
            cell_pairs=cat("cell"),
            cell_slots=cat("slot", np.int32),
            long_pairs=cat("long"),
        ),
        "point_candidates": Candidates(
            index=point_index, point_fixes=cat("point"), point_slots=cat("pslot", np.int32)
        ),
    }


def _scan_range(
    start: int,
    stop: int,
    mmsi: np.ndarray,
    ts_us: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    same: np.ndarray,
    speed: tuple[float, float] | None,
    gap_threshold_us: float | None,
    segment_index: CellIndex | None,
    point_index: CellIndex | None,
) -> dict[str, list[np.ndarray]]:
    """The scan over raw pairs [start, stop), block by block, with buffers of its own."""
    found: dict[str, list[np.ndarray]] = {
        k: [] for k in ("speed", "gap", "cell", "slot", "long", "point", "pslot")
    }
    b = min(BLOCK, max(stop - start, 1))
    f1, f2, step = np.empty(b), np.empty(b), np.empty(b)
    dt = np.empty(b, dtype=np.int64)
    t1, t2 = np.empty(b, dtype=bool), np.empty(b, dtype=bool)
    cell, slots = np.empty(b, dtype=np.int32), np.empty(b, dtype=np.int32)
    work = (np.empty(b), np.empty(b, dtype=np.int32))
    if speed is not None:
        # in degrees (of the |dlat| + |dlon| bound) per microsecond
        speed_deg_per_us = speed[0] / NM_PER_DEG_LAT / US_PER_H
        tol_deg = speed[1] / NM_PER_DEG_LAT
    shared_cells = (
        segment_index is not None
        and point_index is not None
        and segment_index.cell_deg == point_index.cell_deg
    )
    for lo in range(start, stop, BLOCK):
        hi = min(stop, lo + BLOCK)
        k = hi - lo
        s, tb, tc = same[lo:hi], t1[:k], t2[:k]
        m0, m1 = mmsi[lo:hi], mmsi[lo + 1 : hi + 1]
        np.equal(m1, m0, out=s)
        np.less(m1, m0, out=tb)
        d = dt[:k]
        np.subtract(ts_us[lo + 1 : hi + 1], ts_us[lo:hi], out=d)
        np.less_equal(d, 0, out=tc)
        tc &= s
        if tb.any() or tc.any():
            _raise_unsorted(mmsi, ts_us, lo + int(np.flatnonzero(tb | tc)[0]) + 1)
        la, lg = lat[lo : hi + 1], lon[lo : hi + 1]
        if not (
            la.min() >= -90.0 and la.max() <= 90.0 and lg.min() >= -180.0 and lg.max() <= 180.0
        ):
            _raise_range(lat, lon, lo, hi + 1)
        a, c, st = f1[:k], f2[:k], step[:k]
        np.subtract(la[1:], la[:-1], out=a)
        np.abs(a, out=a)
        np.subtract(lg[1:], lg[:-1], out=c)
        np.abs(c, out=c)
        if c.max() >= 180.0:  # across the antimeridian: the short way round
            far = np.flatnonzero(c >= 180.0)
            c[far] = 360.0 - c[far]
        np.add(a, c, out=st)  # |dlat| + |dlon|, degrees
        if speed is not None:
            # the great-circle distance never exceeds 60 nm per degree of |dlat| + |dlon|, so
            # only pairs beyond the speed limit by that bound can be too fast
            np.multiply(d, speed_deg_per_us, out=a)
            a += tol_deg
            np.greater(st, a, out=tb)
            tb &= s
            _collect(found["speed"], tb, lo)
        if gap_threshold_us is not None:
            np.greater(d, gap_threshold_us, out=tb)
            tb &= s
            _collect(found["gap"], tb, lo)
        if segment_index is not None or point_index is not None:
            first = segment_index if segment_index is not None else point_index
            assert first is not None
            cl = first.cells(lg[:-1], la[:-1], cell[:k], (work[0][:k], work[1][:k]))
        if segment_index is not None:
            sl = slots[:k]
            np.take(segment_index.slot, cl, out=sl)
            np.greater(st, segment_index.cell_deg, out=tb)
            tb &= s
            _collect(found["long"], tb, lo)
            # short pairs starting in a hot cell stay within its 3 x 3 block, which the
            # index lists every nearby edge for
            np.greater_equal(sl, 0, out=tc)
            tc &= s
            np.greater(tc, tb, out=tc)  # and not long
            hits = np.flatnonzero(tc)
            found["cell"].append(hits + lo)
            found["slot"].append(sl[hits])
        if point_index is not None:
            pc = cl if shared_cells else point_index.cells(
                lg[:-1], la[:-1], cell[:k], (work[0][:k], work[1][:k])
            )  # fmt: skip
            sl = slots[:k]
            np.take(point_index.slot, pc, out=sl)
            np.greater_equal(sl, 0, out=tb)
            hits = np.flatnonzero(tb)
            found["point"].append(hits + lo)
            found["pslot"].append(sl[hits])
    return found


def _collect(into: list[np.ndarray], mask: np.ndarray, offset: int) -> None:
    if mask.any():
        into.append(np.flatnonzero(mask) + offset)


def _raise_unsorted(mmsi: np.ndarray, ts_us: np.ndarray, k: int) -> None:
    raise DetectionError(
        f"row {k}: positions must be sorted by (mmsi, ts) with one fix per vessel and instant; "
        f"(mmsi {mmsi[k]}, ts {to_timestamps(ts_us[k : k + 1])[0]}) follows "
        f"(mmsi {mmsi[k - 1]}, ts {to_timestamps(ts_us[k - 1 : k])[0]})"
    )


def _raise_range(lat: np.ndarray, lon: np.ndarray, lo: int, hi: int) -> None:
    for name, values, limit in (("lat", lat, 90.0), ("lon", lon, 180.0)):
        block = values[lo:hi]
        bad = np.flatnonzero(~(np.abs(block) <= limit))
        if len(bad):
            row = lo + int(bad[0])
            raise DetectionError(
                f"row {row}: {name} = {values[row]} is missing or outside [-{limit}, {limit}]"
            )


# --------------------------------------------------------------------------- speed outliers


def _too_fast(
    dist_nm: np.ndarray, dt_s: np.ndarray, max_speed_kn: float, tol_nm: float
) -> np.ndarray:
    return dist_nm > max_speed_kn * np.abs(dt_s) / 3600.0 + tol_nm


def first_match(
    start: np.ndarray,
    stop: np.ndarray,
    step: int,
    matches: Callable[[np.ndarray, np.ndarray], np.ndarray],
    *,
    first_width: int = 8,
) -> np.ndarray:
    """For each search s, the first index from start[s] towards stop[s] (exclusive), moving by
    `step` (+1 or -1), where matches(s, index) holds; -1 where none does.

    All searches advance together over a window of indices that widens fourfold each round, so
    short searches cost little and long ones take a logarithmic number of rounds.
    """
    found = np.full(len(start), -1, dtype=np.int64)
    pos = np.asarray(start, dtype=np.int64).copy()
    stop = np.asarray(stop, dtype=np.int64)
    pending = np.flatnonzero((stop - pos) * step > 0)
    width = first_width
    while len(pending):
        avail = np.minimum((stop[pending] - pos[pending]) * step, width)
        search = np.repeat(pending, avail)
        k = np.arange(len(search)) - np.repeat(np.cumsum(avail) - avail, avail)
        index = pos[search] + step * k
        hit = matches(search, index)
        hit_search, first = np.unique(search[hit], return_index=True)
        found[hit_search] = index[hit][first]
        pos[pending] += step * width
        still = ~np.isin(pending, hit_search)
        pending = pending[still & ((stop[pending] - pos[pending]) * step > 0)]
        width *= 4
    return found


def _speed_outliers(
    mmsi: np.ndarray,
    ts_us: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    cand: np.ndarray,
    max_speed_kn: float,
    tol_nm: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the fixes the sequential speed rule rejects, and each one's anchor fix.

    cand: raw pairs (k, k+1) that may be too fast (the scan's cheap bound).
    A violation v (fix v too far from its raw predecessor) with anchor a = v-1 rejects fixes
    v, v+1, ... up to the first fix e(v) within reach of a. Which violations take effect is
    itself sequential: the first of each vessel does; after it, the next one that does is the
    first violation after e(v) (violations inside a rejected run were judged from a rejected
    fix). That chain is followed for all vessels at once by pointer doubling.
    """
    empty = np.zeros(0, dtype=np.int64)
    if len(cand) == 0:
        return empty, empty

    def too_fast(a: np.ndarray, j: np.ndarray) -> np.ndarray:
        d = haversine_nm(lat[a], lon[a], lat[j], lon[j])
        return _too_fast(d, (ts_us[j] - ts_us[a]) / US_PER_S, max_speed_kn, tol_nm)

    viol = cand[too_fast(cand, cand + 1)] + 1
    if len(viol) == 0:
        return empty, empty
    vessel_end = np.searchsorted(mmsi, mmsi[viol], side="right")
    vessel_start = np.searchsorted(mmsi, mmsi[viol], side="left")

    # A lone spike on a vessel's first fix: fixes 1 and 2 agree and fix 0 agrees with neither.
    at_second = np.flatnonzero((viol - 1 == vessel_start) & (viol + 1 < vessel_end))
    v2 = viol[at_second]
    spike = ~too_fast(v2, v2 + 1) & too_fast(v2 - 1, v2 + 1)
    spike_fix = v2[spike] - 1
    keep = np.ones(len(viol), dtype=bool)
    keep[at_second[spike]] = False
    viol, vessel_end = viol[keep], vessel_end[keep]
    if len(viol) == 0:
        return spike_fix, spike_fix + 1

    # e(v): first fix after v within reach of v-1 (the vessel's end if none)
    run_end = first_match(viol + 1, vessel_end, 1, lambda s, j: ~too_fast(viol[s] - 1, j))
    run_end = np.where(run_end < 0, vessel_end, run_end)
    # next effective violation after each one: the first violation after e(v), same vessel
    sentinel = len(viol)
    pos = np.searchsorted(viol, run_end, side="right")
    nxt = np.where(
        (pos < len(viol)) & (viol[np.minimum(pos, len(viol) - 1)] < vessel_end), pos, sentinel
    )
    jump = np.append(nxt, sentinel)
    on_chain = np.zeros(len(viol) + 1, dtype=bool)
    on_chain[:-1] = np.concatenate(([True], vessel_end[1:] != vessel_end[:-1]))
    # after round k, on_chain holds the first 2**k links of every vessel's chain
    while True:
        on_chain[jump[on_chain]] = True
        if (jump == sentinel).all():
            break
        jump = jump[jump]
    on_chain[sentinel] = False
    runs = np.flatnonzero(on_chain[:-1])
    first, lengths = viol[runs], run_end[runs] - viol[runs]
    rejected = np.repeat(first - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    rejected += np.arange(lengths.sum())
    anchors = np.repeat(first - 1, lengths)
    # a rejected first fix is judged from the fix that replaced it as the track's start
    all_rejected = np.concatenate((spike_fix, rejected))
    all_anchors = np.concatenate((spike_fix + 1, anchors))
    order = np.argsort(all_rejected, kind="stable")
    return all_rejected[order], all_anchors[order]


def stable_ids(kind: str, *parts: np.ndarray | pd.Index | pd.Series) -> np.ndarray:
    """Deterministic event ids: a hash of the event kind and its identifying values.

    Timestamps must be passed as integer microseconds so the id does not depend on formatting.
    The same event found again (another run, another window) gets the same id, so writes are
    idempotent upserts. Events are few compared with positions, so a comprehension is fine here.
    """
    columns = [np.asarray(p).tolist() for p in parts]
    prefix = kind + "|"
    return np.array(
        [
            hashlib.blake2b(
                (prefix + "|".join(map(str, values))).encode(), digest_size=12
            ).hexdigest()
            for values in zip(*columns, strict=True)
        ],
        dtype=object,
    )
