"""Track core: validation, the sequential speed rule, bridges, antimeridian unwrapping."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import StraitwatchError
from pipeline.geo.tracks import DetectionError, build_track, stable_ids

from .conftest import positions, track

# 0.01 degree of longitude per 6 minutes on the equator = 6 knots
STEP = 0.01


def straight(mmsi: int, n: int, lat: float = 0.0) -> pd.DataFrame:
    return track(mmsi, [i * STEP for i in range(n)], lat, [6 * i for i in range(n)])


def test_clean_track_keeps_everything() -> None:
    t = build_track(straight(1, 20))
    assert len(t.rejected) == 0
    assert t.pair_ok(np.arange(19)).all()


def test_lone_spike_is_rejected_and_bridged() -> None:
    frame = straight(1, 10)
    frame.loc[4, "lat"] = 3.0  # 180 nm off the line, 6 minutes later
    t = build_track(frame)
    assert list(t.rejected) == [4]
    assert list(t.rejected_anchor) == [3]
    assert list(t.bridge_start) == [3] and list(t.bridge_end) == [5]
    assert list(t.pair_ok(np.arange(9))) == [True, True, True, False, False] + [True] * 4
    flagged = t.flagged_frame()
    assert flagged["mmsi"].tolist() == [1]
    assert flagged["ts"].iloc[0] == frame["ts"].iloc[4]
    assert flagged["implied_speed_kn"].iloc[0] > 1000


def test_block_of_spoofed_fixes_is_rejected_whole() -> None:
    frame = straight(7, 14)
    frame.loc[5:8, "lat"] = 12.0  # four consistent fixes 720 nm away
    t = build_track(frame)
    assert list(t.rejected) == [5, 6, 7, 8]
    assert list(t.rejected_anchor) == [4, 4, 4, 4]
    assert list(t.bridge_start) == [4] and list(t.bridge_end) == [9]


def test_spoofed_first_fix_is_rejected_not_the_track() -> None:
    frame = straight(3, 6)
    frame.loc[0, "lat"] = 40.0
    t = build_track(frame)
    assert list(t.rejected) == [0]


def test_far_but_reachable_after_silence_is_kept() -> None:
    # 300 nm in 10 hours is 30 knots: a voyage, not a jump
    frame = track(5, [0.0, 0.0, 5.0], 0.0, [0, 6, 606])
    assert len(build_track(frame).rejected) == 0


def test_jitter_within_tolerance_is_kept() -> None:
    # 100 m between fixes one second apart would be 194 knots without the tolerance
    frame = track(5, [0.0, 0.0009, 0.0], 0.0, [0, 1 / 60, 2 / 60])
    assert len(build_track(frame).rejected) == 0


def test_alternating_identity_keeps_the_first_ship() -> None:
    # two ships sharing an MMSI 600 nm apart: the second's fixes are all rejected
    lons = [0.0, 10.0, 0.01, 10.01, 0.02, 10.02, 0.03]
    t = build_track(track(9, lons, 0.0, [0, 6, 12, 18, 24, 30, 36]))
    assert list(t.rejected) == [1, 3, 5]
    assert list(t.rejected_anchor) == [0, 2, 4]


def test_vessels_do_not_leak_into_each_other() -> None:
    a = straight(1, 5)
    b = track(2, [50.0, 50.01, 50.02], 0.0, [0, 6, 12])  # far from vessel 1: no jump
    t = build_track(positions(a, b))
    assert len(t.rejected) == 0
    assert not t.same_vessel[4]
    assert not t.pair_ok(np.array([4]))[0]
    assert list(t.vessel_start(np.array([0, 6]))) == [0, 5]
    assert list(t.vessel_end(np.array([0, 6]))) == [5, 8]


def test_antimeridian_hop_is_a_short_segment() -> None:
    # 0.02 degree in 6 minutes is 12 knots; the long way round would be 3.5 million
    t = build_track(track(4, [179.99, -179.99], 10.0, [0, 6]))
    assert len(t.rejected) == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="lat"), "lacks column"),
        (lambda f: f.iloc[::-1].reset_index(drop=True), "sorted by (mmsi, ts)"),
        (lambda f: pd.concat([f, f.iloc[[2]]]).sort_values("ts"), "one fix per vessel"),
        (lambda f: f.assign(ts=f["ts"].dt.tz_localize(None)), "tz-aware"),
        (lambda f: f.assign(lat=[np.nan, *f["lat"].iloc[1:]]), "lat = nan"),
        (lambda f: f.assign(lon=[181.0, *f["lon"].iloc[1:]]), "lon = 181.0"),
    ],
)
def test_contract_violations_raise_clear_errors(change, message: str) -> None:
    with pytest.raises(DetectionError, match=re.escape(message)) as info:
        build_track(change(straight(1, 5)))
    assert isinstance(info.value, StraitwatchError)


def test_next_and_previous_accepted_fixes() -> None:
    frame = straight(7, 14)
    frame.loc[5:8, "lat"] = 12.0
    t = build_track(positions(frame, straight(8, 3)))
    assert list(t.next_kept(np.array([3, 4, 9, 13, 14]))) == [4, 9, 10, -1, 15]
    assert list(t.prev_kept(np.array([4, 9, 10, 14]))) == [3, 4, 9, -1]
    assert list(t.kept_rank(np.array([4, 9, 10]))) == [4, 5, 6]


def test_empty_frame() -> None:
    t = build_track(straight(1, 0))
    assert t.size == 0 and len(t.flagged_frame()) == 0


def test_stable_ids_are_deterministic_and_distinct() -> None:
    a = stable_ids("gap", np.array([1, 1]), np.array([10, 11]))
    b = stable_ids("gap", np.array([1, 1]), np.array([10, 11]))
    assert list(a) == list(b)
    assert a[0] != a[1]
    assert stable_ids("x", np.array([1]), np.array([10]))[0] != a[0]


@pytest.mark.parametrize(
    ("setting", "value"),
    [("gap_threshold_h", 0.0), ("lookback_h", -1.0), ("port_exit_factor", 0.5),
     ("max_speed_kn", float("nan"))],
)  # fmt: skip
def test_bad_detect_settings_are_refused(setting: str, value: float) -> None:
    from pipeline.geo.detect import DetectConfig

    with pytest.raises(StraitwatchError, match=setting):
        DetectConfig(**{setting: value})
