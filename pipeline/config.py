"""Settings for straitwatch, read once from the environment into a frozen dataclass."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def _resource_dir(name: str) -> Path:
    """`sql/` and `seeds/` beside the package in a checkout, or inside it in an installed wheel."""
    in_checkout = REPO_DIR / name
    return in_checkout if in_checkout.is_dir() else PACKAGE_DIR / f"_{name}"


SQL_DIR = _resource_dir("sql")
SEEDS_DIR = _resource_dir("seeds")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "straitwatch"


@dataclass(frozen=True)
class Settings:
    """Runtime settings. `database_url` None means: use the embedded PostgreSQL."""

    database_url: str | None = None
    cache_dir: Path = field(default_factory=default_cache_dir)
    schema: str = "straitwatch"

    @property
    def embedded_pgdata(self) -> Path:
        return self.cache_dir / "pgdata"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        cache = env.get("STRAITWATCH_CACHE_DIR")
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            cache_dir=Path(cache) if cache else default_cache_dir(),
        )
