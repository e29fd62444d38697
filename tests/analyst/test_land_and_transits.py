"""Land from the shipped GLOBE mask, and the daily transits chart."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from matplotlib.image import imread

from pipeline.analyst.land import land_rings, read_land_window
from pipeline.analyst.transits import daily_table
from pipeline.cli import main


def test_land_window_knows_land_from_sea() -> None:
    window = read_land_window(-6.2, -5.0, 35.6, 36.4, max_cells=10_000)  # full 1 km resolution
    assert window.land.shape == (97, 145)

    def land_at(lat: float, lon: float) -> float:
        i = np.abs(window.lats - lat).argmin()
        j = np.abs(window.lons - lon).argmin()
        return float(window.land[i, j])

    assert land_at(35.96, -5.60) == 0.0  # mid-strait
    assert land_at(36.20, -5.90) == 1.0  # Andalusia, inland of Tarifa
    assert land_at(35.70, -5.80) == 1.0  # Morocco, near Tetouan road
    assert land_at(36.15, -5.50) == 1.0  # Algeciras, west of the bay
    polygons = np.array([shapely.Polygon(ring) for ring in land_rings(window)])
    sea_point = shapely.Point(-5.60, 35.96)
    land_point = shapely.Point(-5.90, 36.20)
    # even-odd: a point is on land when an odd number of rings hold it
    assert shapely.contains(polygons, sea_point).sum() % 2 == 0
    assert shapely.contains(polygons, land_point).sum() % 2 == 1


def test_land_window_is_averaged_down_to_the_map() -> None:
    window = read_land_window(-10.0, 37.0, 30.0, 46.0, max_cells=400)
    assert max(window.land.shape) <= 400
    assert 0.0 < window.land.mean() < 1.0
    assert window.lats[0] > window.lats[-1] and window.lons[0] < window.lons[-1]


def test_daily_table_fills_every_day() -> None:
    rows = pd.DataFrame(
        {
            "day": [date(2026, 2, 3), date(2026, 2, 3), date(2026, 2, 5)],
            "direction": ["westbound", "eastbound", "westbound"],
            "transits": [4, 2, 1],
            "inferred_transits": [1, 0, 0],
        }
    )
    table = daily_table(rows, date(2026, 2, 2), date(2026, 2, 6), ["eastbound", "westbound"])
    assert list(table.columns) == ["eastbound", "westbound"]
    assert table["westbound"].tolist() == [0, 4, 0, 1, 0]
    assert table["eastbound"].tolist() == [0, 2, 0, 0, 0]
    empty = daily_table(rows.iloc[:0], date(2026, 2, 2), date(2026, 2, 3), ["a", "b"])
    assert empty.to_numpy().tolist() == [[0, 0], [0, 0]]


def test_transits_chart(
    shared_scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "gibraltar.png"
    argv = ["--database-url", shared_scenario.url, "transits", "Gibraltar"]
    assert main([*argv, "--from", "2025-02-01", "--to", "2025-02-28", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == (f"wrote {out}: 28 days, eastbound 1, westbound 5")
    image = (imread(out)[:, :, :3] * 255).round().astype(np.uint8)
    assert image.shape == (528, 1100, 3)

    def count(colour: tuple[int, int, int]) -> int:
        return int(np.all(image == np.array(colour, dtype=np.uint8), axis=2).sum())

    assert count((0x1F, 0x77, 0xB4)) > 50  # eastbound bars
    assert count((0xFF, 0x7F, 0x0E)) > 50  # westbound bars

    only_tankers = tmp_path / "tankers.png"
    assert (
        main(
            [
                *argv,
                "--from",
                "2025-02-01",
                "--to",
                "2025-02-28",
                "--out",
                str(only_tankers),
                "--ship-type-group",
                "tanker",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip().endswith("28 days, eastbound 1, westbound 1")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["atlantis", "--from", "2026-02-01", "--to", "2026-02-02"],
            "unknown chokepoint 'atlantis'",
        ),
        (["gibraltar", "--from", "2026-02-05", "--to", "2026-02-02"], "is before --from"),
        (
            ["gibraltar", "--from", "2026-02-01", "--to", "2026-02-02", "--ship-type-group", "ufo"],
            "unknown ship-type group(s) ufo",
        ),
    ],
)
def test_transits_errors(
    shared_scenario, tmp_path: Path, capsys, args: list[str], message: str
) -> None:
    out = tmp_path / "x.png"
    assert main(["--database-url", shared_scenario.url, "transits", *args, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
