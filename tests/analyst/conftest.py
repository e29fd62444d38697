"""Fixtures of the analyst tests: the Gibraltar scenario (scenario.py) in a database.

Databases are costly to create and drop on a busy server, so tests that only read share one
scenario database per module (`shared_scenario`, `scenario_conn`); tests that write or grant
get their own (`scenario`).
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from pipeline import db
from tests.analyst.scenario import Scenario, load_scenario
from tests.conftest import Databases, _url_for


def _scenario_in(url: str) -> Scenario:
    with db.connect(url) as conn:
        positions = load_scenario(conn)
    return Scenario(url=url, positions=positions)


@pytest.fixture
def scenario(db_url: str) -> Scenario:
    """The scenario in a database of this test's own."""
    return _scenario_in(db_url)


@pytest.fixture(scope="module")
def shared_scenario(databases: Databases) -> Scenario:
    """The scenario in a database shared by the module's read-only tests."""
    return _scenario_in(_url_for(databases.create(template=databases.migrated_template())))


@pytest.fixture
def scenario_conn(shared_scenario: Scenario) -> Iterator[psycopg.Connection]:
    """A connection to the shared scenario; whatever a test leaves uncommitted is rolled back."""
    with db.connect(shared_scenario.url) as conn:
        yield conn
        conn.rollback()


@pytest.fixture(scope="module")
def migrated_conn(databases: Databases) -> Iterator[psycopg.Connection]:
    """A connection to an empty migrated database shared by the module (read-only tests)."""
    url = _url_for(databases.create(template=databases.migrated_template()))
    with db.connect(url) as conn:
        yield conn
