"""Fixtures for the demo tests: the demo run once, through the CLI, on a throwaway database.

Once per session: every test module of tests/demo reads the same run (test_demo's rerun
leaves it as it was).

The run uses the demo's story with 40 background ships (the demo has 300) to keep the tests
fast; the database is a fresh migrated one on the test server, given as DATABASE_URL exactly
as a user would.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from demo_helpers import ADMIN_URL, DemoRun, demo_args, run_cli


@pytest.fixture(scope="session")
def demo_run(databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    name = databases.create(template=databases.migrated_template())
    url = psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=name)
    # tests/simulate writes the same scenario here (demo-work/scenario): generated once
    work_dir = tmp_path_factory.getbasetemp() / "demo-work"
    status, output = run_cli(demo_args(work_dir), {"DATABASE_URL": url})
    assert status == 0, output
    yield DemoRun(url, work_dir, output)
