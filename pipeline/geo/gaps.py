"""AIS gaps: silences of one vessel longer than a threshold, with distance and implied speed.

A gap is a segment between two consecutive accepted fixes of a vessel that are more than
`gap_threshold_h` apart. Its evidence is the fix before and the fix after the silence. A window
of `straitwatch detect` owns the gaps that end in it (the fix that ends the silence is in it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.geo.distance import haversine_nm
from pipeline.geo.tracks import US_PER_H, Track, stable_ids, to_timestamps

GAP_COLUMNS = [
    "gap_id",
    "mmsi",
    "started_at",
    "ended_at",
    "start_lat",
    "start_lon",
    "end_lat",
    "end_lon",
    "distance_nm",
    "implied_speed_kn",
]


def gap_ids(mmsi: np.ndarray, started_us: np.ndarray) -> np.ndarray:
    """Deterministic gap ids: the vessel and the time of the last fix before the silence."""
    return stable_ids("ais_gap", mmsi, started_us)


def detect_gaps(track: Track, *, gap_threshold_h: float = 6.0) -> pd.DataFrame:
    """AIS gaps of the track (columns GAP_COLUMNS), ordered by mmsi and start.

    gap_threshold_h: a silence counts when the next accepted fix comes more than this many
      hours after the previous one.
    """
    threshold_us = gap_threshold_h * US_PER_H
    raw_start, raw_end = track.segments_from_pairs(track.long_gap_pairs(gap_threshold_h))
    long_bridge = track.ts_us[track.bridge_end] - track.ts_us[track.bridge_start] > threshold_us
    start = np.concatenate((raw_start, track.bridge_start[long_bridge]))
    end = np.concatenate((raw_end, track.bridge_end[long_bridge]))
    order = np.argsort(start, kind="stable")
    start, end = start[order], end[order]
    dt_us = track.ts_us[end] - track.ts_us[start]
    dist = haversine_nm(track.lat[start], track.lon[start], track.lat[end], track.lon[end])
    return pd.DataFrame(
        {
            "gap_id": gap_ids(track.mmsi[start], track.ts_us[start]),
            "mmsi": track.mmsi[start],
            "started_at": to_timestamps(track.ts_us[start]),
            "ended_at": to_timestamps(track.ts_us[end]),
            "start_lat": track.lat[start],
            "start_lon": track.lon[start],
            "end_lat": track.lat[end],
            "end_lon": track.lon[end],
            "distance_nm": dist,
            "implied_speed_kn": dist / (dt_us / US_PER_H),
        },
        columns=GAP_COLUMNS,
    )
