"""Run airflow CLI commands one after another in one warm interpreter.

Every `airflow dags test` pays Airflow's start-up: importing some two thousand modules and
building the in-process execution API (its versioned FastAPI routes), ten seconds or more
before the first task runs. The demo and the tests run a dozen DAG runs in a row, so they send
the commands here instead: each one is parsed and executed exactly as the `airflow` executable
would (`airflow.cli.cli_parser`, then the command's function), in this process.

Protocol: one JSON request per line on stdin, `{"args": ["dags", "test", ...], "env": {...},
"log": "PATH"}`; `env` is applied on top of this process's starting environment for that
command only (Airflow's own settings, AIRFLOW__*, must be in the starting environment); the
command's output, down to the file descriptors, goes to the log file. One JSON answer per
request on stdout: `{"code": EXIT_STATUS}`.

    python scripts/airflow_runner.py < requests.jsonl
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


class WarmAirflow:
    """A running airflow_runner.py process: send it airflow commands, get their exit status."""

    def __init__(self, env: Mapping[str, str], *, start_timeout_s: float = 600) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=dict(env),
            text=True,
        )
        self._answer(start_timeout_s, None, None)

    def __enter__(self) -> WarmAirflow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(
        self,
        args: list[str],
        *,
        log: Path,
        env: Mapping[str, str] | None = None,
        timeout_s: float = 1800,
        on_line: Callable[[str], None] | None = None,
    ) -> int:
        """Run `airflow ARGS...`; its output is appended to `log` (and fed to `on_line`)."""
        log.parent.mkdir(parents=True, exist_ok=True)
        log.touch()
        request = {"args": list(args), "env": dict(env or {}), "log": str(log)}
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return int(self._answer(timeout_s, log, on_line)["code"])

    def _answer(
        self, timeout_s: float, log: Path | None, on_line: Callable[[str], None] | None
    ) -> dict:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        tail = log.open(encoding="utf-8", errors="replace") if log and on_line else None
        try:
            with selectors.DefaultSelector() as sel:
                sel.register(self.proc.stdout, selectors.EVENT_READ)
                while True:
                    ready = sel.select(timeout=0.5)
                    if tail is not None and on_line is not None:
                        for line in tail.readlines():
                            on_line(line)
                    if ready:
                        line = self.proc.stdout.readline()
                        if not line:
                            raise RuntimeError(
                                f"airflow_runner.py exited with status {self.proc.wait()}"
                            )
                        if tail is not None and on_line is not None:
                            for rest in tail.readlines():
                                on_line(rest)
                        return json.loads(line)
                    if time.monotonic() > deadline:
                        self.proc.kill()
                        raise TimeoutError(f"no answer from airflow_runner.py in {timeout_s} s")
        finally:
            if tail is not None:
                tail.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _exit_status(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    return exc.code if isinstance(exc.code, int) else 1


def run(parser: Any, args: list[str], log_path: str) -> int:
    """One airflow CLI command, with stdout and stderr sent to `log_path`."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            parsed = parser.parse_args(args)
            parsed.func(parsed)
            code = 0
        except SystemExit as exc:
            if exc.code not in (None, 0):
                print(exc.code if isinstance(exc.code, str) else f"exit {exc.code}", flush=True)
            code = _exit_status(exc)
        except Exception:
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
    return code


def main() -> int:
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    # Whatever Airflow prints outside a command (warnings at import) stays off the answers.
    os.dup2(2, 1)
    base_env = dict(os.environ)

    from airflow import configuration  # first, as airflow/__main__.py does
    from airflow.cli import cli_parser
    from airflow.configuration import write_default_airflow_configuration_if_needed

    configuration.conf  # noqa: B018 - initialise and validate the configuration now
    write_default_airflow_configuration_if_needed()
    parser = cli_parser.get_parser()
    answers.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        os.environ.clear()
        os.environ.update(base_env)
        os.environ.update(request.get("env") or {})
        code = run(parser, list(request["args"]), request["log"])
        answers.write(json.dumps({"code": code}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
