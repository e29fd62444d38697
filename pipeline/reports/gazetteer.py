"""Gazetteer of ports and chokepoints, built from the reference tables, for reading claims.

It answers: which place do these words name ("St. Petersburg", "Strait of Gibraltar",
"SY TTS"), and which ports count as a call at a claimed port (Baltiysk for Kaliningrad, from
seeds/reports/port_groups.csv). The core is pure (`Gazetteer.build` from frames); `load_gazetteer`
reads the `ports`, `chokepoints` and `chokepoint_gates` tables.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import psycopg
from rapidfuzz import fuzz, process

from pipeline.config import SEEDS_DIR
from pipeline.db import read_frame
from pipeline.geo.geofences import CHOKEPOINT_CORE_COLUMNS
from pipeline.reports.names import SAINT_ABBREVIATIONS, normalise_name, place_key

REPORTS_SEEDS = SEEDS_DIR / "reports"
_LOCODE = re.compile(r"^([A-Z]{2})[\s_.\-]*([A-Z2-9]{3})$")
# Words that only say what kind of passage a name is: "Strait of Gibraltar" -> GIBRALTAR
_PASSAGE_WORDS = frozenset({"STRAIT", "STRAITS", "OF", "THE", "CANAL", "CHANNEL", "PASSAGE"})

PORT_COLUMNS = ["port_id", "name", "alternate_names", "country", "lat", "lon", "radius_nm"]
CHOKEPOINT_COLUMNS = CHOKEPOINT_CORE_COLUMNS
GATE_COLUMNS = ["chokepoint_id", "gate", "seq", "wkt", "side_a", "side_b"]


class Place(NamedTuple):
    kind: str  # 'port' or 'chokepoint'
    id: str
    name: str


def text_key(words: str) -> tuple[str, ...]:
    """Tokens under which a place name is indexed: normalised, 'St.'/'Sankt' folded to SAINT."""
    tokens = normalise_name(words).split()
    if len(tokens) > 1 and tokens[0] in SAINT_ABBREVIATIONS:
        tokens[0] = "SAINT"
    return tuple(tokens)


def locode_of(text: str) -> str | None:
    """'SY TTS', 'sytts', 'SY-TTS' -> 'SYTTS'; None when the text is not LOCODE-shaped."""
    m = _LOCODE.match(str(text).strip().upper())
    return f"{m.group(1)}{m.group(2)}" if m else None


def _as_list(value: object) -> list[str]:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return []
    if isinstance(value, str):
        return [v.strip() for v in re.split(r"[;|]", value) if v.strip()]
    return [str(v).strip() for v in value if v is not None and str(v).strip()]  # type: ignore[attr-defined]


def chokepoint_name_variants(chokepoint_id: str, name: str, kind: str, aliases: Iterable[str]):
    """Every way a text may name a chokepoint: its name, aliases, slug and the usual forms."""
    names = {name, chokepoint_id.replace("_", " "), *aliases}
    variants: set[tuple[str, ...]] = set()
    for n in names:
        key = text_key(n)
        if not key:
            continue
        variants.add(key)
        core = tuple(t for t in key if t not in _PASSAGE_WORDS)
        if not core:
            continue
        variants.add(core)
        if kind == "canal":
            variants.add((*core, "CANAL"))
        else:
            for generic in ("STRAIT", "STRAITS"):
                variants.add((generic, "OF", *core))
                variants.add((*core, generic))
    return variants


@dataclass(frozen=True)
class Gazetteer:
    """Ports and chokepoints with the names a text may use for them."""

    ports: pd.DataFrame
    chokepoints: pd.DataFrame
    gates: pd.DataFrame
    port_groups: Mapping[str, frozenset[str]] = field(default_factory=dict)
    destination_aliases: Mapping[str, str] = field(default_factory=dict)
    index: Mapping[tuple[str, ...], tuple[Place, ...]] = field(default_factory=dict)
    port_keys: Mapping[str, str] = field(default_factory=dict)
    # row lookups as dicts: a pandas lookup per port per claim is far too slow
    port_info: Mapping[str, dict] = field(default_factory=dict)
    chokepoint_info: Mapping[str, dict] = field(default_factory=dict)
    gates_of: Mapping[str, tuple[dict, ...]] = field(default_factory=dict)
    # implied directions already computed: (chokepoint, from port, to port) -> result
    memo: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(
        cls,
        ports: pd.DataFrame,
        chokepoints: pd.DataFrame,
        gates: pd.DataFrame | None = None,
        port_groups: Mapping[str, Iterable[str]] | None = None,
        destination_aliases: Mapping[str, str] | None = None,
    ) -> Gazetteer:
        ports = ports.reindex(columns=PORT_COLUMNS).reset_index(drop=True)
        chokepoints = chokepoints.reindex(columns=CHOKEPOINT_COLUMNS).reset_index(drop=True)
        gates = (gates if gates is not None else pd.DataFrame()).reindex(columns=GATE_COLUMNS)
        index: dict[tuple[str, ...], list[Place]] = {}
        port_keys: dict[str, str] = {}

        def add(key: tuple[str, ...], place: Place) -> None:
            if key and place not in index.setdefault(key, []):
                index[key].append(place)

        for row in ports.itertuples(index=False):
            place = Place("port", row.port_id, row.name)
            for n in [row.name, *_as_list(row.alternate_names)]:
                add(text_key(n), place)
                port_keys.setdefault(place_key(n), row.port_id)
        for row in chokepoints.itertuples(index=False):
            place = Place("chokepoint", row.chokepoint_id, row.name)
            for key in chokepoint_name_variants(
                row.chokepoint_id, row.name, row.kind, _as_list(row.aliases)
            ):
                add(key, place)
        known = set(ports["port_id"])
        groups = {
            pid: frozenset({pid, *(m for m in members if m in known)})
            for pid, members in (port_groups or {}).items()
        }
        return cls(
            ports=ports,
            chokepoints=chokepoints,
            gates=gates.reset_index(drop=True),
            port_groups=groups,
            destination_aliases=dict(destination_aliases or {}),
            index={k: tuple(v) for k, v in index.items()},
            port_keys=port_keys,
            port_info={r["port_id"]: r for r in ports.to_dict("records")},
            chokepoint_info={r["chokepoint_id"]: r for r in chokepoints.to_dict("records")},
            gates_of={
                cp: tuple(g.sort_values("seq").to_dict("records"))
                for cp, g in gates.groupby("chokepoint_id")
            },
        )

    # ------------------------------------------------------------------ lookups

    @property
    def max_name_tokens(self) -> int:
        return max((len(k) for k in self.index), default=0)

    def places(self, key: tuple[str, ...]) -> tuple[Place, ...]:
        return self.index.get(key, ())

    def port_group(self, port_id: str) -> frozenset[str]:
        """The ports whose calls count as a call at `port_id` (itself and its outports)."""
        return self.port_groups.get(port_id, frozenset({port_id}))

    def port_row(self, port_id: str) -> dict | None:
        return self.port_info.get(port_id)

    def port_name(self, port_id: str | None) -> str:
        row = self.port_row(port_id) if port_id else None
        return str(row["name"]) if row is not None else str(port_id)

    def chokepoint_row(self, chokepoint_id: str) -> dict | None:
        return self.chokepoint_info.get(chokepoint_id)

    def chokepoint_name(self, chokepoint_id: str | None) -> str:
        row = self.chokepoint_row(chokepoint_id) if chokepoint_id else None
        if row is None:
            return str(chokepoint_id)
        core = [t for t in text_key(row["name"]) if t not in _PASSAGE_WORDS]
        return " ".join(core).title() if row["kind"] == "strait" and core else str(row["name"])

    def directions(self, chokepoint_id: str) -> tuple[str, str] | None:
        row = self.chokepoint_row(chokepoint_id)
        return None if row is None else (row["first_direction"], row["second_direction"])

    def find_port(self, text: str) -> str | None:
        """Port id for a UN/LOCODE (with or without its space) or a port name, else None."""
        text = str(text).strip()
        code = locode_of(text)
        if code in self.port_info:
            return code
        places = [p for p in self.places(text_key(text)) if p.kind == "port"]
        if len({p.id for p in places}) == 1:
            return places[0].id
        return self.port_keys.get(place_key(text)) if not places else None

    def find_chokepoint(self, text: str) -> str | None:
        """Chokepoint id for a slug or a name ('gibraltar', 'Strait of Gibraltar'), else None."""
        slug = str(text).strip().lower()
        if slug in self.chokepoint_info:
            return slug
        places = {p.id for p in self.places(text_key(text)) if p.kind == "chokepoint"}
        return places.pop() if len(places) == 1 else None

    def suggest(self, text: str, kind: str) -> str | None:
        """The closest known name of this kind, for error messages."""
        if kind == "port":
            choices = {f"{r.name} ({r.port_id})": r.name for r in self.ports.itertuples()}
        else:
            choices = {
                f"{r.name} ({r.chokepoint_id})": r.name for r in self.chokepoints.itertuples()
            }
        if not choices:
            return None
        best = process.extractOne(
            str(text), choices, scorer=fuzz.WRatio, processor=lambda s: normalise_name(s)
        )
        return best[2] if best and best[1] >= 80 else None


def read_port_groups(path: Path = REPORTS_SEEDS / "port_groups.csv") -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            groups.setdefault(row["port_id"], set()).add(row["member_port_id"])
    return groups


def read_destination_aliases(
    path: Path = REPORTS_SEEDS / "destination_aliases.csv",
) -> dict[str, str]:
    with path.open(newline="", encoding="utf-8") as f:
        return {row["alias"].strip().upper(): row["port_id"] for row in csv.DictReader(f)}


def load_gazetteer(conn: psycopg.Connection) -> Gazetteer:
    """Build the gazetteer from the reference tables and the seeds/reports lists."""
    ports = read_frame(conn, f"SELECT {', '.join(PORT_COLUMNS)} FROM straitwatch.ports")
    chokepoints = read_frame(
        conn, f"SELECT {', '.join(CHOKEPOINT_COLUMNS)} FROM straitwatch.chokepoints"
    )
    gates = read_frame(
        conn,
        f"SELECT {', '.join(GATE_COLUMNS)} FROM straitwatch.chokepoint_gates "
        "ORDER BY chokepoint_id, seq",
    )
    return Gazetteer.build(
        ports, chokepoints, gates, read_port_groups(), read_destination_aliases()
    )
