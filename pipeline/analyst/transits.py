"""Daily transits of one chokepoint by direction: the table (from `daily_transits`) and a chart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import matplotlib.dates as mdates
import pandas as pd
import psycopg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pipeline.db import read_frame
from pipeline.errors import StraitwatchError

SHIP_TYPE_GROUPS = (
    "cargo",
    "tanker",
    "passenger",
    "fishing",
    "service",
    "military",
    "leisure",
    "high_speed",
    "other",
    "unknown",
)


@dataclass(frozen=True)
class Chokepoint:
    chokepoint_id: str
    name: str
    first_direction: str
    second_direction: str


@dataclass(frozen=True)
class ChartStyle:
    width_in: float = 10.0
    height_in: float = 4.8
    dpi: int = 110
    first_colour: str = "#1f77b4"
    second_colour: str = "#ff7f0e"


def resolve_chokepoint(conn: psycopg.Connection, name: str) -> Chokepoint:
    """A chokepoint by slug, name or alias (case-insensitive)."""
    rows = conn.execute(
        """SELECT chokepoint_id, name, first_direction, second_direction
           FROM straitwatch.chokepoints
           WHERE chokepoint_id = lower(%(n)s) OR lower(name) = lower(%(n)s)
              OR lower(%(n)s) = ANY (SELECT lower(a) FROM unnest(aliases) AS a)
           ORDER BY chokepoint_id = lower(%(n)s) DESC""",
        {"n": name.strip()},
    ).fetchall()
    if not rows:
        known = [r[0] for r in conn.execute("SELECT chokepoint_id FROM straitwatch.chokepoints")]
        hint = (
            f"known: {', '.join(sorted(known))}"
            if known
            else "no chokepoints loaded: run `straitwatch load-reference`"
        )
        raise StraitwatchError(f"unknown chokepoint {name!r} ({hint})")
    return Chokepoint(*rows[0])


def load_daily_transits(
    conn: psycopg.Connection,
    chokepoint_id: str,
    start: date,
    end: date,
    ship_type_groups: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Rows of `daily_transits` summed over ship-type groups: day, direction, transits,
    inferred_transits, for days start..end inclusive (UTC)."""
    if end < start:
        raise StraitwatchError(f"--to {end} is before --from {start}")
    groups = list(ship_type_groups) if ship_type_groups else None
    unknown = sorted(set(groups or []) - set(SHIP_TYPE_GROUPS))
    if unknown:
        raise StraitwatchError(
            f"unknown ship-type group(s) {', '.join(unknown)}; choose from "
            + ", ".join(SHIP_TYPE_GROUPS)
        )
    return read_frame(
        conn,
        """SELECT day, direction, sum(transits)::bigint AS transits,
                  sum(inferred_transits)::bigint AS inferred_transits
           FROM straitwatch.daily_transits
           WHERE chokepoint_id = %(cp)s AND day BETWEEN %(start)s AND %(end)s
             AND (%(groups)s::text[] IS NULL OR ship_type_group = ANY(%(groups)s::text[]))
           GROUP BY day, direction ORDER BY day, direction""",
        {"cp": chokepoint_id, "start": start, "end": end, "groups": groups},
    )


def daily_table(
    rows: pd.DataFrame, start: date, end: date, directions: Sequence[str]
) -> pd.DataFrame:
    """One row per day start..end (days without a transit are 0), one column per direction.

    Directions found in `rows` but not named in `directions` are kept after them.
    """
    days = pd.date_range(start, end, freq="D").date
    extra = sorted(set(rows["direction"]) - set(directions)) if len(rows) else []
    cols = [*directions, *extra]
    if rows.empty:
        table = pd.DataFrame(0, index=pd.Index(days, name="day"), columns=cols)
    else:
        table = rows.pivot_table(
            index="day", columns="direction", values="transits", aggfunc="sum", fill_value=0
        )
        table = table.reindex(index=pd.Index(days, name="day"), columns=cols, fill_value=0)
    return table.fillna(0).astype("int64")


def plot_daily_transits(
    table: pd.DataFrame,
    chokepoint: Chokepoint,
    out: Path,
    *,
    inferred: int = 0,
    subtitle: str = "",
    style: ChartStyle = ChartStyle(),
) -> Path:
    """Bar chart of `daily_table` (one bar series per direction), written as PNG."""
    fig = Figure(figsize=(style.width_in, style.height_in), dpi=style.dpi)
    ax = fig.add_subplot()
    # a bar stands in the middle of its UTC day
    days = pd.to_datetime(pd.Series(table.index)) + pd.Timedelta(hours=12)
    n = max(len(table.columns), 1)
    width = 0.8 / n
    colours = [style.first_colour, style.second_colour, "#2ca02c", "#9467bd"]
    for i, direction in enumerate(table.columns):
        offset = pd.to_timedelta((i - (n - 1) / 2) * width, unit="D")
        ax.bar(
            days + offset,
            table[direction].to_numpy(),
            width=width,
            label=f"{direction} ({int(table[direction].sum())})",
            color=colours[i % len(colours)],
        )
    first, last = table.index[0], table.index[-1]
    fig.suptitle(f"{chokepoint.name}: daily transits by direction, {first} to {last} (UTC days)")
    total = int(table.to_numpy().sum())
    note = f"{total} transits"
    if inferred:
        note += f", of which {inferred} inferred across an AIS gap"
    if subtitle:
        note += f"; {subtitle}"
    ax.set_title(note, loc="left", fontsize=9, color="#444")
    ax.set_ylabel("transits per day")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    locator = mdates.AutoDateLocator(minticks=4, maxticks=12)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_ylim(bottom=0, top=max(1, int(table.to_numpy().max(initial=0))) * 1.15)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper right", frameon=False)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


def write_transits_chart(
    conn: psycopg.Connection,
    chokepoint: str,
    start: date,
    end: date,
    out: Path,
    ship_type_groups: Sequence[str] | None = None,
) -> tuple[Path, pd.DataFrame]:
    """Chart of daily transits by direction for one chokepoint; returns the path and table."""
    cp = resolve_chokepoint(conn, chokepoint)
    rows = load_daily_transits(conn, cp.chokepoint_id, start, end, ship_type_groups)
    table = daily_table(rows, start, end, [cp.first_direction, cp.second_direction])
    inferred = int(rows["inferred_transits"].sum()) if len(rows) else 0
    subtitle = f"ship types: {', '.join(ship_type_groups)}" if ship_type_groups else ""
    plot_daily_transits(table, cp, out, inferred=inferred, subtitle=subtitle)
    return out, table
