"""Fixtures for the simulator tests: one small demo scenario written once per session."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from dataclasses import replace

import pandas as pd
import pytest
from scenario_helpers import SMALL, read_noaa, shared_scenario_dir

from pipeline.cli import main
from pipeline.scenario.config import Scenario, load_scenario
from pipeline.simulate import DEMO_SCENARIO_FILE, ScenarioFiles, write_scenario


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    return load_scenario(DEMO_SCENARIO_FILE)


@pytest.fixture(scope="session")
def written(tmp_path_factory: pytest.TempPathFactory) -> ScenarioFiles:
    # where the demo tests' run writes the same scenario: one generation serves both
    return write_scenario(shared_scenario_dir(tmp_path_factory), SMALL)


@pytest.fixture(scope="session")
def other_seed(tmp_path_factory: pytest.TempPathFactory) -> tuple[ScenarioFiles, str]:
    """The same scenario with the next seed, written by `straitwatch simulate`; and its output."""
    out_dir = tmp_path_factory.mktemp("other-seed")
    args = ["simulate", str(out_dir), "--seed", str(SMALL.seed + 1)]
    args += ["--background-vessels", str(SMALL.fleet.vessels)]
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(args) == 0
    return write_scenario(out_dir, replace(SMALL, seed=SMALL.seed + 1)), out.getvalue()


@pytest.fixture(scope="session")
def fixes(written: ScenarioFiles) -> pd.DataFrame:
    return read_noaa(written.ais_files)


@pytest.fixture(scope="session")
def truth(written: ScenarioFiles) -> pd.DataFrame:
    return written.truth
