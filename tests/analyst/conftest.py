"""Fixtures of the analyst tests: the Gibraltar scenario (scenario.py) in a database."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from pipeline import db
from tests.analyst.scenario import Scenario, load_scenario


@pytest.fixture
def scenario(db_url: str) -> Iterator[Scenario]:
    with db.connect(db_url) as conn:
        positions = load_scenario(conn)
    yield Scenario(url=db_url, positions=positions)


@pytest.fixture
def scenario_conn(scenario: Scenario) -> Iterator[psycopg.Connection]:
    with db.connect(scenario.url) as conn:
        yield conn
