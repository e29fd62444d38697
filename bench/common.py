"""Shared benchmark plumbing: throwaway databases, timing, memory, the results file."""

from __future__ import annotations

import json
import os
import resource
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from pipeline import db

ADMIN_URL = os.environ.get(
    "STRAITWATCH_BENCH_ADMIN_URL",
    os.environ.get("STRAITWATCH_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
)
RESULTS_FILE = Path(os.environ.get("STRAITWATCH_BENCH_RESULTS", "bench-results.json"))
WORK_DIR = Path(os.environ.get("STRAITWATCH_BENCH_DIR", "bench-data"))
# BENCH_SCALE < 1 shrinks every benchmark's data for a quick look (figures then are not the goal's)
SCALE = float(os.environ.get("BENCH_SCALE", "1"))


def scaled(n: int) -> int:
    return max(1, int(n * SCALE))


@contextmanager
def throwaway_database(migrate: bool = True) -> Iterator[str]:
    """A new database on the benchmark server, migrated, dropped afterwards. Yields its URL."""
    name = f"sw_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=name)
    try:
        if migrate:
            with db.connect(url) as conn:
                db.upgrade(conn)
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def timer() -> Iterator[dict[str, float]]:
    out: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield out
    finally:
        out["seconds"] = time.perf_counter() - start


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident set size of this process (or of its waited-for children), in MB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024.0


def write_results(new: dict[str, object]) -> dict[str, object]:
    """Merge `new` into the results file (other parts' keys are kept) and return the whole."""
    current: dict[str, object] = {}
    if RESULTS_FILE.exists():
        try:
            current = json.loads(RESULTS_FILE.read_text())
        except json.JSONDecodeError:
            current = {}
    current.update(new)
    RESULTS_FILE.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    return current
