"""Vessel tracks from a positions frame: validation, speed-outlier rejection, segments.

A track is the positions of one vessel in time order; a segment joins two consecutive accepted
fixes. Everything here works on whole NumPy arrays over all vessels at once: the frame must be
sorted by (mmsi, ts), so each vessel is one contiguous block.

Speed outliers. A fix that implies more than `max_speed_kn` from the previous *accepted* fix of
its vessel is a position error or spoofing: it is rejected (flagged, skipped) and the track goes
on from the last accepted fix, so the segment around it is not cut. This is a sequential rule
(each decision depends on the previous accepted fix); it is computed exactly, without a Python
loop over fixes: each violation's run of rejected fixes is found by a vectorised search, and
the chain of violations that take effect by pointer doubling (see `_speed_outliers`).
The first fix of a vessel is trusted unless it is a lone spike (the next two fixes agree with
each other and not with it).

Antimeridian. Longitude differences are wrapped into [-180, 180), so a hop from 179.9 E to
179.9 W is a segment of 0.2 degrees, never one that spans the globe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.errors import StraitwatchError
from pipeline.geo.distance import haversine_nm

REQUIRED_COLUMNS = ("mmsi", "ts", "lat", "lon")
OPTIONAL_COLUMNS = ("sog", "cog", "heading", "nav_status")
NM_PER_DEG_LAT = 60.0  # a degree of latitude (and of longitude at the equator) in nautical miles
US_PER_S = 1_000_000
US_PER_H = 3_600_000_000


class DetectionError(StraitwatchError):
    """The positions or reference frames handed to the detection core break its contract."""


@dataclass(frozen=True, eq=False)
class Track:
    """The arrays of a positions frame, sorted by (mmsi, ts), and the fixes that were accepted.

    Raw consecutive pairs (fix k, fix k+1) are the segments wherever both fixes are accepted
    and belong to one vessel (`segment_ok[k]`). Where rejected fixes were skipped, the segment
    from the last accepted fix before them to the first accepted fix after them is a *bridge*
    (`bridge_start[j]` -> `bridge_end[j]`).
    """

    mmsi: np.ndarray  # int64
    ts_us: np.ndarray  # int64 microseconds since the epoch, UTC
    lat: np.ndarray  # float64 degrees
    lon: np.ndarray  # float64 degrees
    sog: np.ndarray  # float64 knots, NaN when unknown
    kept: np.ndarray | None  # bool per fix; None when every fix was accepted
    same_vessel: np.ndarray  # bool per raw pair k: fix k and k+1 are one vessel's
    segment_ok: np.ndarray  # bool per raw pair k: a segment between two accepted fixes
    dt_s: np.ndarray  # float64 per raw pair: seconds from fix k to fix k+1
    dlat: np.ndarray  # float64 per raw pair: degrees
    dlon: np.ndarray  # float64 per raw pair: degrees, wrapped into [-180, 180)
    bridge_start: np.ndarray  # int64 fix indices
    bridge_end: np.ndarray  # int64 fix indices
    rejected: np.ndarray  # int64 indices of rejected fixes, ascending
    rejected_anchor: np.ndarray  # int64: the accepted fix each rejected fix was judged from

    @property
    def size(self) -> int:
        return len(self.mmsi)

    def is_kept(self, idx: np.ndarray) -> np.ndarray:
        return np.ones(len(idx), dtype=bool) if self.kept is None else self.kept[idx]

    def kept_rank(self) -> np.ndarray:
        """Each fix's ordinal among accepted fixes (consecutive accepted fixes differ by 1)."""
        if self.kept is None:
            return np.arange(self.size, dtype=np.int64)
        return np.cumsum(self.kept, dtype=np.int64) - 1

    def vessel_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """First and one-past-last fix index of each vessel block."""
        starts = np.flatnonzero(np.concatenate(([True], ~self.same_vessel)))
        ends = np.append(starts[1:], self.size)
        return starts, ends

    def segments(self, raw_mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(start, end) fix indices of segments: the raw pairs where `raw_mask & segment_ok`
        (all segments when `raw_mask` is None) followed by every bridge."""
        ok = self.segment_ok if raw_mask is None else raw_mask & self.segment_ok
        k = np.flatnonzero(ok)
        return (
            np.concatenate((k, self.bridge_start)),
            np.concatenate((k + 1, self.bridge_end)),
        )

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


def timestamps_us(values: pd.Series | pd.Index, what: str = "ts") -> np.ndarray:
    """tz-aware timestamps as int64 microseconds since the epoch (UTC)."""
    if not isinstance(values.dtype, pd.DatetimeTZDtype):
        raise DetectionError(
            f"column {what!r} must hold tz-aware UTC timestamps, not {values.dtype}"
        )
    return pd.DatetimeIndex(values).tz_convert("UTC").as_unit("us").asi8


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


def _check_range(values: np.ndarray, name: str, lo: float, hi: float) -> None:
    if len(values) and not (values.min() >= lo and values.max() <= hi):
        bad = np.flatnonzero(~((values >= lo) & (values <= hi)))[0]
        raise DetectionError(
            f"row {bad}: {name} = {values[bad]} is missing or outside [{lo}, {hi}]"
        )


def build_track(
    positions: pd.DataFrame,
    *,
    max_speed_kn: float = 50.0,
    jump_tolerance_nm: float = 0.1,
) -> Track:
    """Validate a positions frame and reject its speed outliers.

    positions: columns mmsi, ts (tz-aware UTC), lat, lon (degrees), optionally sog (knots);
      sorted by (mmsi, ts) with at most one fix per vessel and instant.
    max_speed_kn: a fix further from the previous accepted fix than this speed allows (plus
      `jump_tolerance_nm`, which absorbs GPS jitter between fixes seconds apart) is rejected.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in positions.columns]
    if missing:
        raise DetectionError(f"positions frame lacks column(s) {', '.join(missing)}")
    n = len(positions)
    try:
        mmsi = positions["mmsi"].to_numpy(dtype="int64")
    except (TypeError, ValueError) as exc:
        raise DetectionError(f"column 'mmsi' must be integers without gaps: {exc}") from exc
    ts_us = timestamps_us(positions["ts"])
    lat = _float_column(positions, "lat")
    lon = _float_column(positions, "lon")
    sog = _float_column(positions, "sog")
    _check_range(lat, "lat", -90.0, 90.0)
    _check_range(lon, "lon", -180.0, 180.0)

    if n:
        d_mmsi = mmsi[1:] - mmsi[:-1]
        d_ts = ts_us[1:] - ts_us[:-1]
        same = d_mmsi == 0
        bad = (d_mmsi < 0) | (same & (d_ts <= 0))
        if bad.any():
            k = int(np.flatnonzero(bad)[0]) + 1
            raise DetectionError(
                f"row {k}: positions must be sorted by (mmsi, ts) with one fix per vessel and "
                f"instant; (mmsi {mmsi[k]}, ts {to_timestamps(ts_us[k : k + 1])[0]}) follows "
                f"(mmsi {mmsi[k - 1]}, ts {to_timestamps(ts_us[k - 1 : k])[0]})"
            )
        dt_s = d_ts * (1.0 / US_PER_S)
        dlat = lat[1:] - lat[:-1]
        dlon = wrap_lon_delta(lon[1:] - lon[:-1])
    else:
        same = np.zeros(0, dtype=bool)
        dt_s = dlat = dlon = np.zeros(0)

    rejected, anchors = _speed_outliers(
        mmsi, ts_us, lat, lon, same, dt_s, dlat, dlon, max_speed_kn, jump_tolerance_nm
    )
    empty = np.zeros(0, dtype=np.int64)
    if len(rejected) == 0:
        return Track(
            mmsi, ts_us, lat, lon, sog, None, same, same, dt_s, dlat, dlon,
            empty, empty, empty, empty,
        )  # fmt: skip
    kept = np.ones(n, dtype=bool)
    kept[rejected] = False
    segment_ok = same & kept[1:] & kept[:-1]
    # A bridge ends at each accepted fix whose raw predecessor was rejected; it starts at the
    # last accepted fix before that (the anchor of the rejected run), if it is the same vessel's.
    after = rejected + 1
    after = after[after < n]
    after = np.unique(after[kept[after]])
    last_kept = np.maximum.accumulate(np.where(kept, np.arange(n), -1))
    start = last_kept[after - 1]
    has = (start >= 0) & (mmsi[np.maximum(start, 0)] == mmsi[after])
    return Track(
        mmsi, ts_us, lat, lon, sog, kept, same, segment_ok, dt_s, dlat, dlon,
        start[has].astype(np.int64), after[has].astype(np.int64), rejected, anchors,
    )  # fmt: skip


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
    same: np.ndarray,
    dt_s: np.ndarray,
    dlat: np.ndarray,
    dlon: np.ndarray,
    max_speed_kn: float,
    tol_nm: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the fixes the sequential speed rule rejects, and each one's anchor fix.

    A violation v (fix v too far from its raw predecessor) with anchor a = v-1 rejects fixes
    v, v+1, ... up to the first fix e(v) within reach of a. Which violations take effect is
    itself sequential: the first of each vessel does; after it, the next one that does is the
    first violation after e(v) (violations inside a rejected run were judged from a rejected
    fix). That chain is followed for all vessels at once by pointer doubling.
    """
    empty = np.zeros(0, dtype=np.int64)
    n = len(mmsi)
    if n < 2:
        return empty, empty
    # Cheap bound first: the great-circle distance never exceeds 60 nm per degree of latitude
    # plus 60 nm per degree of longitude, so only pairs over the limit by that bound need the
    # exact haversine.
    bound = np.abs(dlat)
    bound += np.abs(dlon)
    bound *= NM_PER_DEG_LAT
    allowed = dt_s * (max_speed_kn / 3600.0)
    allowed += tol_nm
    cand = np.flatnonzero((bound > allowed) & same)
    if len(cand) == 0:
        return empty, empty
    dist = haversine_nm(lat[cand], lon[cand], lat[cand + 1], lon[cand + 1])
    viol = cand[dist > allowed[cand]] + 1
    if len(viol) == 0:
        return empty, empty

    starts = np.flatnonzero(np.concatenate(([True], ~same)))
    vessel_end = np.append(starts[1:], n)[np.searchsorted(starts, viol, side="right") - 1]

    def too_fast(a: np.ndarray, j: np.ndarray) -> np.ndarray:
        d = haversine_nm(lat[a], lon[a], lat[j], lon[j])
        return _too_fast(d, (ts_us[j] - ts_us[a]) / US_PER_S, max_speed_kn, tol_nm)

    # A lone spike on a vessel's first fix: fixes 1 and 2 agree and fix 0 agrees with neither.
    at_second = np.flatnonzero(np.isin(viol - 1, starts) & (viol + 1 < vessel_end))
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
    first_of_vessel = np.ones(len(viol), dtype=bool)
    first_of_vessel[1:] = vessel_end[1:] != vessel_end[:-1]
    on_chain[:-1] = first_of_vessel
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
