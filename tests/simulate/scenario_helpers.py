"""Helpers shared by the simulator tests (imported by module name: tests/ is no package)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.scenario.fleet import FleetSettings
from pipeline.simulate import DemoScenario

# The demo's story with 40 background ships instead of 300, so that the tests stay fast;
# everything else (seed, intervals, noise) is the demo's. tests/demo runs `straitwatch demo
# --background-vessels 40`, the same configuration.
SMALL = replace(DemoScenario(), fleet=FleetSettings(vessels=40))


def shared_scenario_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where SMALL is written in a test session: tests/demo runs the demo in its parent."""
    return tmp_path_factory.getbasetemp() / "demo-work" / "scenario"


def read_noaa(paths: tuple[Path, ...] | list[Path]) -> pd.DataFrame:
    """The NOAA files as one frame: numbers parsed, times as UTC timestamps."""
    frames = [
        pd.read_csv(p, dtype={"IMO": "string", "CallSign": "string"}, keep_default_na=False)
        for p in paths
    ]
    fixes = pd.concat(frames, ignore_index=True)
    fixes["ts"] = pd.to_datetime(fixes["BaseDateTime"], utc=True)
    return fixes.sort_values(["MMSI", "ts"], ignore_index=True)


def haversine_nm(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance, written out here so the tests do not lean on the code under test."""
    p1, l1, p2, l2 = (np.radians(np.asarray(a, dtype=float)) for a in (lat1, lon1, lat2, lon2))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return 2 * 3440.065 * np.arcsin(np.sqrt(a))
