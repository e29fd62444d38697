"""Ports from the NGA World Port Index seed, keyed by UN/LOCODE, with a call radius each.

`seeds/ports/wpi_ports.csv` is a column subset of NGA Pub. 150 (every row). Rows become ports
when they carry a well-formed UN/LOCODE that agrees with their country; the rest are skipped
with a reason (no code, malformed code, code of another country, duplicate code, bad
position) and counted, never dropped silently. Radii come from the harbour size
(`PortRadii`) unless `port_overrides.csv` sets one (and, where the WPI point is not on the
harbour, a position); `port_aliases.csv` adds the spellings found in news text and
`locode_corrections.csv` replaces WPI codes that current UN/LOCODE lists give differently,
keeping the WPI code as an alias.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.config import SEEDS_DIR
from pipeline.errors import StraitwatchError
from pipeline.geo.distance import haversine_nm

PORTS_DIRNAME = "ports"
WPI_FILE = "wpi_ports.csv"
OVERRIDES_FILE = "port_overrides.csv"
ALIASES_FILE = "port_aliases.csv"
CORRECTIONS_FILE = "locode_corrections.csv"
COUNTRIES_FILE = "iso3166_alpha2.csv"

WPI_COLUMNS = [
    "wpi_number",
    "main_port_name",
    "alternate_port_name",
    "unlocode",
    "country_name",
    "harbor_size",
    "harbor_type",
    "latitude",
    "longitude",
]
PORT_COLUMNS = [
    "port_id",
    "name",
    "alternate_names",
    "country",
    "country_name",
    "lat",
    "lon",
    "radius_nm",
    "radius_source",
    "position_source",
    "harbor_size",
    "harbor_type",
    "wpi_number",
    "locode_aliases",
]
SKIPPED_COLUMNS = ["wpi_number", "name", "unlocode", "reason", "detail"]
SKIP_REASONS = (
    "no_locode",
    "malformed_locode",
    "locode_country_mismatch",
    "duplicate_locode",
    "bad_position",
)
HARBOR_SIZE_RANK = {"Large": 4, "Medium": 3, "Small": 2, "Very Small": 1}
# Duplicate WPI rows of one code this close to the kept row are parts of the same port:
# their names become alternate names of it.
SAME_PORT_NM = 8.0
LOCODE = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}$")


class PortSeedError(StraitwatchError):
    """A ports seed file is malformed."""


@dataclass(frozen=True)
class PortRadii:
    """Default call radius by WPI harbour size, nautical miles.

    WPI positions are rounded to one arc-minute (up to about 0.5 nm off in each axis) and often
    mark the town rather than the berths, hence no radius below 1.5 nm.
    """

    very_small_nm: float = 1.5
    small_nm: float = 2.0
    medium_nm: float = 3.0
    large_nm: float = 4.0
    unknown_nm: float = 2.0

    def for_sizes(self, sizes: pd.Series) -> pd.Series:
        by_size = {
            "Very Small": self.very_small_nm,
            "Small": self.small_nm,
            "Medium": self.medium_nm,
            "Large": self.large_nm,
        }
        return sizes.map(by_size).fillna(self.unknown_nm).astype("float64")


@dataclass(frozen=True)
class PortSeed:
    """Ports read from the seeds, and the WPI rows that did not become ports."""

    ports: pd.DataFrame
    skipped: pd.DataFrame
    rows_read: int

    def skipped_counts(self) -> dict[str, int]:
        counts = self.skipped["reason"].value_counts()
        return {reason: int(counts.get(reason, 0)) for reason in SKIP_REASONS}


# --------------------------------------------------------------------------- seed files


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    """A seed CSV as strings, with its header checked and a `line` column (1 = header)."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            rows = [(reader.line_num, row) for row in reader if row]
    except OSError as exc:
        raise PortSeedError(f"cannot read {_name(path)}: {exc}") from exc
    if header != columns:
        raise PortSeedError(f"{_name(path)}: line 1: expected the header {','.join(columns)}")
    for line, row in rows:
        if len(row) != len(columns):
            raise PortSeedError(
                f"{_name(path)}: line {line}: expected {len(columns)} fields, found {len(row)}"
            )
    # Plain Python strings (object dtype): comparisons give plain booleans, never NA.
    frame = pd.DataFrame([r for _, r in rows], columns=columns, dtype=object)
    frame["line"] = [line for line, _ in rows]
    return frame


def _name(path: Path) -> str:
    return f"seeds/{PORTS_DIRNAME}/{path.name}"


def _fail(path: Path, frame: pd.DataFrame, bad: pd.Series, field: str, problem: str) -> None:
    if bad.any():
        row = frame.loc[bad].iloc[0]
        raise PortSeedError(
            f"{_name(path)}: line {row['line']}: field '{field}' {row[field]!r}: {problem}"
        )


def _read_corrections(path: Path, wpi: pd.DataFrame) -> pd.DataFrame:
    fixes = _read_csv(path, ["wpi_number", "wpi_unlocode", "port_id", "note"])
    _fail(path, fixes, ~fixes["port_id"].str.fullmatch(LOCODE.pattern), "port_id", "not a LOCODE")
    _fail(path, fixes, fixes["wpi_number"].duplicated(), "wpi_number", "listed twice")
    known = fixes.merge(wpi[["wpi_number", "unlocode"]], on="wpi_number", how="left")
    _fail(path, fixes, known["unlocode"].isna().to_numpy(), "wpi_number", "not in the WPI seed")
    drift = (known["unlocode"] != known["wpi_unlocode"]).fillna(True).to_numpy()
    _fail(path, fixes, drift, "wpi_unlocode", "does not match the WPI seed's code for this port")
    return fixes


def _read_overrides(path: Path, ports: pd.DataFrame) -> pd.DataFrame:
    over = _read_csv(path, ["port_id", "radius_nm", "lat", "lon", "reason"])
    _fail(path, over, ~over["port_id"].isin(ports["port_id"]), "port_id", "no such port")
    _fail(path, over, over["port_id"].duplicated(), "port_id", "listed twice")
    radius = pd.to_numeric(over["radius_nm"], errors="coerce")
    bad_radius = ~((radius > 0) & (radius <= 50)).fillna(False).astype(bool)
    _fail(path, over, bad_radius, "radius_nm", "expected a number of nautical miles, 0 < r <= 50")
    lat = pd.to_numeric(over["lat"].replace("", None), errors="coerce")
    lon = pd.to_numeric(over["lon"].replace("", None), errors="coerce")
    given = (over["lat"] != "") | (over["lon"] != "")
    bad_lat = given & ~lat.between(-90, 90).fillna(False).astype(bool)
    bad_lon = given & ~lon.between(-180, 180).fillna(False).astype(bool)
    _fail(path, over, bad_lat, "lat", "expected a latitude (with lon), or both empty")
    _fail(path, over, bad_lon, "lon", "expected a longitude (with lat), or both empty")
    _fail(
        path, over, over["reason"].str.strip() == "", "reason", "say why the WPI value is replaced"
    )
    return over.assign(radius_nm=radius, lat=lat, lon=lon)


def _read_aliases(path: Path, ports: pd.DataFrame) -> pd.DataFrame:
    aliases = _read_csv(path, ["port_id", "alias"])
    _fail(path, aliases, ~aliases["port_id"].isin(ports["port_id"]), "port_id", "no such port")
    _fail(path, aliases, aliases["alias"].str.strip() == "", "alias", "empty")
    return aliases.assign(alias=aliases["alias"].str.strip())


# --------------------------------------------------------------------------- pure core


def _names(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """(key, name) rows from a ';'-separated names column, blanks dropped."""
    names = frame[["key", column]].assign(name=frame[column].str.split(";")).explode("name")
    names["name"] = names["name"].str.strip()
    return names.loc[names["name"].fillna("") != "", ["key", "name"]]


def _alternate_names(ports: pd.DataFrame, extra: pd.DataFrame) -> pd.Series:
    """Per port: WPI alternate names, names of merged duplicates, then seed aliases, each once
    (case-insensitively) and never the main name."""
    wpi = _names(ports.assign(key=ports["port_id"]), "alternate_port_name")
    names = pd.concat([wpi, extra], ignore_index=True)
    main = ports.set_index("port_id")["name"].str.casefold()
    names["fold"] = names["name"].str.casefold()
    names = names.loc[names["fold"] != names["key"].map(main)]
    names = names.drop_duplicates(["key", "fold"])
    lists = names.groupby("key", sort=False)["name"].agg(list)
    return ports["port_id"].map(lists).apply(lambda v: v if isinstance(v, list) else [])


def usual_prefixes(prefix: pd.Series, country: pd.Series, min_rows: int = 3) -> pd.Series:
    """Country name -> the UN/LOCODE prefix most of its rows carry, for countries where at
    least `min_rows` rows carry it (fewer give no usual prefix to judge by)."""
    counts = prefix.groupby(country).value_counts()  # sorted, most frequent first
    top = counts.groupby(level=0).head(1)
    top = top.loc[top >= min_rows]
    return pd.Series(top.index.get_level_values(1), index=top.index.get_level_values(0))


def build_ports(
    wpi: pd.DataFrame,
    corrections: pd.DataFrame,
    countries: set[str],
    *,
    radii: PortRadii = PortRadii(),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """WPI rows -> (ports keyed by port_id, skipped rows with a reason). Pure.

    `wpi` has the WPI_COLUMNS as strings; `corrections` maps wpi_number -> port_id;
    `countries` is the set of ISO 3166-1 alpha-2 codes.
    Overrides and aliases are applied by `read_ports`, which knows their files.
    """
    rows = wpi.copy()
    raw = rows["unlocode"].fillna("").str.strip()
    code = raw.str.replace(" ", "", regex=False).str.upper()
    fix = rows["wpi_number"].map(corrections.set_index("wpi_number")["port_id"])
    rows["port_id"] = fix.fillna(code)
    renamed = fix.notna() & (code != fix) & (code != "")
    rows["locode_alias"] = code.where(renamed, None)
    rows["lat"] = pd.to_numeric(rows["latitude"], errors="coerce")
    rows["lon"] = pd.to_numeric(rows["longitude"], errors="coerce")
    rows["reason"] = pd.Series(None, index=rows.index, dtype=object)
    rows["detail"] = pd.Series(None, index=rows.index, dtype=object)

    def skip(mask: pd.Series, reason: str, detail: pd.Series | str) -> None:
        mask = mask.astype(bool) & rows["reason"].isna()
        rows.loc[mask, "reason"] = reason
        rows.loc[mask, "detail"] = detail if isinstance(detail, str) else detail[mask]

    skip(raw == "", "no_locode", "the WPI gives no UN/LOCODE")
    prefix = rows["port_id"].str[:2]
    shaped = rows["port_id"].str.fullmatch(LOCODE.pattern).astype(bool)
    skip(~shaped, "malformed_locode", "UN/LOCODE " + raw + " is not two letters + three")
    skip(
        ~prefix.isin(countries),
        "malformed_locode",
        "UN/LOCODE " + raw + " does not start with an ISO 3166 country code",
    )
    # A row whose prefix is another country's usual one carries a code copied from there
    # (St Petersburg, Florida, listed as RU LED).
    valid = rows["reason"].isna()
    usual = usual_prefixes(prefix[valid], rows["country_name"][valid])
    expected = rows["country_name"].map(usual)
    mismatch = expected.notna() & (prefix != expected) & prefix.isin(set(usual))
    skip(
        mismatch,
        "locode_country_mismatch",
        "UN/LOCODE " + raw + " is a code of another country than " + rows["country_name"],
    )
    bad_pos = ~(rows["lat"].between(-90, 90) & rows["lon"].between(-180, 180))
    skip(bad_pos, "bad_position", "latitude/longitude missing or out of range")

    candidates = rows.loc[rows["reason"].isna()].copy()
    candidates["rank"] = candidates["harbor_size"].map(HARBOR_SIZE_RANK).fillna(0)
    candidates["wpi_sort"] = pd.to_numeric(candidates["wpi_number"], errors="coerce")
    candidates = candidates.sort_values(
        ["port_id", "rank", "wpi_sort"], ascending=[True, False, True], kind="stable"
    )
    dup = candidates["port_id"].duplicated()
    kept = candidates.loc[~dup]
    losers = candidates.loc[dup].merge(
        kept[["port_id", "wpi_number", "main_port_name", "lat", "lon"]],
        on="port_id",
        suffixes=("", "_kept"),
    )
    losers.index = candidates.index[dup]
    skip(
        rows.index.isin(losers.index),
        "duplicate_locode",
        (
            "UN/LOCODE "
            + losers["port_id"]
            + " is kept for WPI "
            + losers["wpi_number_kept"]
            + " ("
            + losers["main_port_name_kept"]
            + ")"
        ).reindex(rows.index),
    )
    near = haversine_nm(losers["lat"], losers["lon"], losers["lat_kept"], losers["lon_kept"])
    merged = losers.loc[near <= SAME_PORT_NM]
    merged = merged.assign(key=merged["port_id"])
    merged_names = pd.concat(
        [
            merged[["key", "main_port_name"]].rename(columns={"main_port_name": "name"}),
            _names(merged, "alternate_port_name"),
        ],
        ignore_index=True,
    )

    ports = kept.assign(
        name=kept["main_port_name"].str.strip(),
        country=kept["port_id"].str[:2],
        country_name=kept["country_name"].str.strip(),
        harbor_size=kept["harbor_size"].str.strip().replace("", None),
        harbor_type=kept["harbor_type"].str.strip().replace("", None),
        wpi_number=kept["wpi_number"].str.replace(r"\.0$", "", regex=True),
        radius_source="harbor_size",
        position_source="wpi",
        locode_aliases=kept["locode_alias"].apply(lambda c: [c] if isinstance(c, str) else []),
    )
    ports["radius_nm"] = radii.for_sizes(ports["harbor_size"])
    ports["alternate_names"] = _alternate_names(ports, merged_names)
    ports = ports.sort_values("port_id", ignore_index=True)
    skipped = rows.loc[rows["reason"].notna()].assign(name=rows["main_port_name"])
    return ports[PORT_COLUMNS], skipped[SKIPPED_COLUMNS].reset_index(drop=True)


def apply_overrides(ports: pd.DataFrame, overrides: pd.DataFrame) -> pd.DataFrame:
    """Replace radii (and positions, where given) by the override rows."""
    out = ports.set_index("port_id")
    over = overrides.set_index("port_id")
    out.loc[over.index, "radius_nm"] = over["radius_nm"]
    out.loc[over.index, "radius_source"] = "override"
    moved = over.loc[over["lat"].notna()]
    out.loc[moved.index, ["lat", "lon"]] = moved[["lat", "lon"]].to_numpy()
    out.loc[moved.index, "position_source"] = "override"
    return out.reset_index()[PORT_COLUMNS]


def add_aliases(ports: pd.DataFrame, aliases: pd.DataFrame) -> pd.DataFrame:
    """Append seed aliases to each port's alternate names (each name once, never the main)."""
    current = ports[["port_id", "alternate_names"]].explode("alternate_names").dropna()
    extra = pd.concat(
        [
            current.rename(columns={"port_id": "key", "alternate_names": "name"}),
            aliases.rename(columns={"port_id": "key", "alias": "name"})[["key", "name"]],
        ],
        ignore_index=True,
    )
    base = ports.assign(alternate_port_name="")
    return ports.assign(alternate_names=_alternate_names(base, extra))


# --------------------------------------------------------------------------- entry points


def read_ports(seeds_dir: Path = SEEDS_DIR, *, radii: PortRadii = PortRadii()) -> PortSeed:
    """Ports and skipped WPI rows from `seeds/ports/`. Pure apart from reading the files."""
    folder = Path(seeds_dir) / PORTS_DIRNAME
    wpi = _read_csv(folder / WPI_FILE, WPI_COLUMNS)
    corrections = _read_corrections(folder / CORRECTIONS_FILE, wpi)
    countries = set(_read_csv(folder / COUNTRIES_FILE, ["code", "name"])["code"])
    ports, skipped = build_ports(wpi, corrections, countries, radii=radii)
    ports = apply_overrides(ports, _read_overrides(folder / OVERRIDES_FILE, ports))
    ports = add_aliases(ports, _read_aliases(folder / ALIASES_FILE, ports))
    return PortSeed(ports=ports, skipped=skipped, rows_read=len(wpi))


def load_ports(seeds_dir: Path = SEEDS_DIR) -> pd.DataFrame:
    """The ports table's rows: port_id (UN/LOCODE without its space), name, alternate_names
    (list), country (ISO 3166 alpha-2, from the code), lat, lon, radius_nm, harbor_size,
    wpi_number, and the provenance columns of PORT_COLUMNS."""
    return read_ports(seeds_dir).ports
