"""Helpers for the demo tests (imported by module name: tests/ is no package)."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.cli import main

ADMIN_URL = os.environ.get(
    "STRAITWATCH_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKGROUND_VESSELS = 40


@dataclass
class DemoRun:
    url: str
    work_dir: Path
    output: str


def run_cli(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run `straitwatch ARGS` in-process with these environment variables; (status, stdout)."""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        with redirect_stdout(out):
            status = main(args)
    return status, out.getvalue()


def demo_args(work_dir: Path, vessels: int = BACKGROUND_VESSELS) -> list[str]:
    return ["demo", "--work-dir", str(work_dir), "--background-vessels", str(vessels)]
