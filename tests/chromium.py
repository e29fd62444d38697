"""Headless Chromium for the tests that look at a page as a person would: its text, its pixels.

Debian's `chromium` (.ci/run installs it); a test that needs it is skipped where it is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it); cannot render")
    return path


def run_chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Chromium on the file `page` with its own profile directory and these extra flags."""
    return subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def rendered_dom(page: Path, profile: Path) -> str:
    """The page's DOM after Chromium has loaded it."""
    return run_chromium(page, profile, "--dump-dom").stdout


def dom_text(dom: str) -> str:
    """The DOM's text, tags dropped and white space collapsed to single spaces."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))


def screenshot(page: Path, profile: Path, shot: Path, *, width: int, height: int) -> np.ndarray:
    """A `width` x `height` screenshot of the page (the top of it), as an RGB uint8 array."""
    run_chromium(page, profile, f"--window-size={width},{height}", f"--screenshot={shot}")
    return (imread(shot)[:, :, :3] * 255).round().astype(np.uint8)


def rgb(hex_colour: str) -> tuple[int, int, int]:
    """'#d62728' -> (214, 39, 40)."""
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def pixels_of(image: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """(row, column) of every pixel of exactly this colour."""
    return np.argwhere(np.all(image == np.array(colour, dtype=np.uint8), axis=2))
