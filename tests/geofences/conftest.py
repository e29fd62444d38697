"""Fixtures for the geofence and port seed tests: the seeds, read once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import SEEDS_DIR
from pipeline.geo.geofences import load_gates
from pipeline.geo.ports import PortSeed, read_ports


@pytest.fixture(scope="session")
def seed_gates() -> tuple[pd.DataFrame, pd.DataFrame]:
    return load_gates()


@pytest.fixture(scope="session")
def chokepoints(seed_gates: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return seed_gates[0]


@pytest.fixture(scope="session")
def gates(seed_gates: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return seed_gates[1]


@pytest.fixture(scope="session")
def port_seed() -> PortSeed:
    return read_ports()


@pytest.fixture(scope="session")
def ports(port_seed: PortSeed) -> pd.DataFrame:
    return port_seed.ports.set_index("port_id")


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A writable copy of seeds/geofences and seeds/ports, for tests that edit the seeds."""
    root = tmp_path / "seeds"
    for part in ("geofences", "ports"):
        shutil.copytree(SEEDS_DIR / part, root / part)
    return root
