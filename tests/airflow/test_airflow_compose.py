"""docker-compose.yml: valid against the Compose specification, and in agreement with the code."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from pipeline.config import REPO_DIR

COMPOSE = REPO_DIR / "docker-compose.yml"
ENV_EXAMPLE = REPO_DIR / ".env.example"
DOCKERFILE = REPO_DIR / "docker" / "Dockerfile"
AIRFLOW_COMPONENTS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}
_VAR = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def _check_jsonschema() -> str:
    exe = Path(sys.executable).with_name("check-jsonschema")
    return str(exe) if exe.exists() else shutil.which("check-jsonschema") or "check-jsonschema"


def _validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_check_jsonschema(), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _interpolate(value, env: dict[str, str]):
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} substitution, recursively."""
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if env.get(name):
            return env[name]
        if op and op.endswith("-"):
            return arg
        raise AssertionError(f"${{{name}}} is unset and has no default ({arg or 'no message'})")

    return _VAR.sub(sub, value.replace("$$", "\0")).replace("\0", "$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    """The services as `docker compose config` would see them with .env.example copied."""
    return _interpolate(compose["services"], _env_example())


def test_compose_file_is_valid_against_the_compose_spec(tmp_path: Path) -> None:
    ok = _validate(COMPOSE)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # ...and the validator does reject what the specification forbids.
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(
        COMPOSE.read_text().replace("  warehouse:\n    image:", "  warehouse:\n    imge:")
    )
    bad = _validate(broken)
    assert bad.returncode != 0
    assert "imge" in bad.stdout + bad.stderr


def test_airflow_components_with_local_executor_and_celery_profile(services) -> None:
    for name, command in AIRFLOW_COMPONENTS.items():
        assert services[name]["command"] == command
        assert "profiles" not in services[name], name
        assert services[name]["depends_on"]["airflow-init"]["condition"] == (
            "service_completed_successfully"
        )
        assert services[name]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    # The Celery switch: a broker, a worker, only under the `celery` profile.
    assert services["redis"]["profiles"] == ["celery"]
    assert services["airflow-worker"]["profiles"] == ["celery"]
    assert services["airflow-worker"]["command"] == "celery worker"
    celery_env = {**_env_example(), "AIRFLOW_EXECUTOR": "CeleryExecutor"}
    worker = _interpolate(yaml.safe_load(COMPOSE.read_text())["services"], celery_env)
    assert worker["airflow-worker"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert worker["airflow-worker"]["environment"]["AIRFLOW__CELERY__BROKER_URL"].startswith(
        "redis://redis:"
    )


def test_images_are_pinned_and_match_the_installed_airflow(services) -> None:
    import airflow

    for name, service in services.items():
        image = service.get("image")
        assert image, f"{name} has no image"
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and re.search(r"\d", tag), image
    assert services["warehouse"]["image"].startswith("postgis/postgis:15-3.")

    build = services["airflow-scheduler"]["build"]
    assert (REPO_DIR / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    airflow_image = build["args"]["AIRFLOW_IMAGE"]
    python = re.fullmatch(r"apache/airflow:(\d+\.\d+\.\d+)-python(3\.\d+)", airflow_image)
    assert python, airflow_image
    assert python.group(1) == airflow.__version__ == "3.3.2"
    requires = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())["project"]
    low, high = re.fullmatch(r">=3\.(\d+),<3\.(\d+)", requires["requires-python"]).groups()
    assert int(low) <= int(python.group(2).split(".")[1]) < int(high)

    dockerfile = DOCKERFILE.read_text()
    assert f"ARG AIRFLOW_IMAGE={airflow_image}" in dockerfile
    assert f"ARG AIRFLOW_VERSION={airflow.__version__}" in dockerfile
    for part in ("pipeline", "sql", "seeds"):
        assert re.search(rf"^COPY .*\b{part} /opt/straitwatch/src/{part}$", dockerfile, re.M)
    assert 'pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" /opt/straitwatch' in (
        dockerfile
    )


def test_warehouse_connection_matches_the_code_and_the_warehouse(services) -> None:
    from airflow.sdk import Connection

    from pipeline import orchestration

    env_name = f"AIRFLOW_CONN_{orchestration.CONN_ID.upper()}"
    warehouse = services["warehouse"]["environment"]
    for name in (*AIRFLOW_COMPONENTS, "airflow-worker"):
        uri = services[name]["environment"][env_name]
        conn = Connection.from_uri(uri, conn_id=orchestration.CONN_ID)
        assert conn.conn_type == "postgres"
        assert conn.host == "warehouse"
        assert conn.port == 5432
        assert conn.schema == warehouse["POSTGRES_DB"]
        assert conn.login == warehouse["POSTGRES_USER"]
        assert (
            conn.password == warehouse["POSTGRES_PASSWORD"] == _env_example()["WAREHOUSE_PASSWORD"]
        )
    assert "postgis" in services["warehouse"]["image"]


def test_inbox_and_dags_are_mounted_where_the_code_looks(services) -> None:
    for name in (*AIRFLOW_COMPONENTS, "airflow-worker", "airflow-init"):
        service = services[name]
        mounts = dict(volume.split(":")[:2] for volume in service["volumes"])
        inbox = service["environment"]["STRAITWATCH_INBOX"]
        assert inbox in mounts.values(), name
        assert mounts["./dags"] == "/opt/airflow/dags", name
    assert {p.stem for p in (REPO_DIR / "dags").glob("straitwatch_*.py")} == {
        "straitwatch_reference",
        "straitwatch_ingest",
        "straitwatch_detect",
        "straitwatch_match",
    }
    init = " ".join(services["airflow-init"]["command"])
    inbox = services["airflow-init"]["environment"]["STRAITWATCH_INBOX"]
    assert f"{inbox}/ais" in init and f"{inbox}/reports" in init


def test_env_example_defines_every_required_setting(compose) -> None:
    text = COMPOSE.read_text().replace("$$", "")  # $$ escapes a literal $ for the shell
    required = {m.group(1) for m in _VAR.finditer(text) if not m.group(2)} | {
        m.group(1) for m in _VAR.finditer(text) if m.group(2) and m.group(2).endswith("?")
    }
    defined = _env_example()
    assert required - defined.keys() == set()
    assert all("change-me" in defined[k] for k in required if "PASSWORD" in k or "SECRET" in k)
