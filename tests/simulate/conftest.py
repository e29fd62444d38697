"""Fixtures for the simulator tests: one small demo scenario written once per session."""

from __future__ import annotations

import pandas as pd
import pytest
from scenario_helpers import SMALL, read_noaa

from pipeline.scenario.config import Scenario, load_scenario
from pipeline.simulate import DEMO_SCENARIO_FILE, ScenarioFiles, write_scenario


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    return load_scenario(DEMO_SCENARIO_FILE)


@pytest.fixture(scope="session")
def written(tmp_path_factory: pytest.TempPathFactory) -> ScenarioFiles:
    return write_scenario(tmp_path_factory.mktemp("scenario"), SMALL, reuse=False)


@pytest.fixture(scope="session")
def fixes(written: ScenarioFiles) -> pd.DataFrame:
    return read_noaa(written.ais_files)


@pytest.fixture(scope="session")
def truth(written: ScenarioFiles) -> pd.DataFrame:
    return written.truth
