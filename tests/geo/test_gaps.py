"""AIS gaps: threshold, distance, implied speed, ids, and gaps around rejected fixes."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.geo.distance import haversine_nm
from pipeline.geo.gaps import detect_gaps, gap_ids
from pipeline.geo.tracks import build_track

from .conftest import T0, positions, track


def test_gap_longer_than_threshold_with_distance_and_speed() -> None:
    # fixes at 0 h, 1 h, 9 h (gap of 8 h), 10 h, 16 h (exactly 6 h: not a gap)
    frame = track(1, [0.0, 0.1, 0.9, 1.0, 1.6], 0.0, [0, 60, 540, 600, 960])
    gaps = detect_gaps(build_track(frame))
    assert len(gaps) == 1
    g = gaps.iloc[0]
    assert g.started_at == T0 + pd.Timedelta(hours=1)
    assert g.ended_at == T0 + pd.Timedelta(hours=9)
    assert (g.start_lon, g.end_lon) == (0.1, 0.9)
    expected_nm = haversine_nm(0.0, 0.1, 0.0, 0.9)
    assert g.distance_nm == pytest.approx(expected_nm)
    assert g.distance_nm == pytest.approx(48.0, rel=1e-3)  # 0.8 degree on the equator
    assert g.implied_speed_kn == pytest.approx(expected_nm / 8.0)
    assert g.gap_id == gap_ids([1], [int(g.started_at.value // 1000)])[0]


def test_threshold_is_configurable() -> None:
    frame = track(1, [0.0, 0.1, 0.9, 1.0, 1.6], 0.0, [0, 60, 540, 600, 960])
    assert len(detect_gaps(build_track(frame), gap_threshold_h=5.0)) == 2


def test_gaps_are_per_vessel() -> None:
    a = track(1, [0.0, 0.1], 0.0, [0, 30])
    b = track(2, [0.0, 0.1], 0.0, [600, 630])  # starts later: no gap with vessel 1
    assert detect_gaps(build_track(positions(a, b))).empty


def test_gap_spans_a_rejected_fix() -> None:
    # a spoofed fix in the middle of a silence: the gap runs from fix 0 to fix 2
    frame = track(1, [0.0, 40.0, 0.5], 0.0, [0, 300, 720])
    g = detect_gaps(build_track(frame))
    assert g[["started_at", "ended_at"]].values.tolist() == [[T0, T0 + pd.Timedelta(hours=12)]]
