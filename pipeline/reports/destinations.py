"""AIS destination text -> port ids ('RU LED', 'SPB', 'ST.PETERSBURG', 'RUULU>EGPSD', ...).

The destination field of AIS voyage data is typed by crews: UN/LOCODEs with or without their
space, port names in any spelling, shorthand, routes ('RUULU>EGPSD', 'RU LED - RU BLT'),
'FOR ORDERS'. This module reads one text into the ports it names, in order, and the final one
(the announced destination). Rules, in order, for each leg of a route:
1. a port name or alternate name of the ports table, compared as a compact key
   ('ST.PETERSBURG', 'SAINT-PETERSBURG', 'SANKT PETERBURG' ...); a country name is no port;
2. a UN/LOCODE shape whose country part is an ISO 3166 code ('RU LED', 'RULED', 'RU_LED');
3. a shorthand of seeds/reports/destination_aliases.csv ('SPB', 'KGD');
4. a LOCODE written backwards ('KGD RU');
5. a misspelt name (rapidfuzz ratio >= 88 on the compact key, keys of 5 letters or more);
6. several LOCODEs or shorthands separated by spaces ('RULED  PLGDY') as a route.
A LOCODE not in the ports table is still returned (port_known false): it names a real place.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

import pandas as pd
from anyascii import anyascii
from rapidfuzz import fuzz, process

from pipeline.reports.gazetteer import Gazetteer, locode_of
from pipeline.reports.names import place_key
from pipeline.vessels import mid_table

FUZZY_MIN_SCORE = 88.0
_ORDERS = re.compile(r"\b(?:FOR|TO)\s+ORD\w*|\bORDERS\b")
# route separators: >, >>, =>, ->, -->, <>, <=>, <->, ><, =, /, \, ' TO ', ' - ', '@@@'
_ROUTE_SPLIT = re.compile(r"\s*(?:[<>=/\\]+|-+>|<-+|@+|\s+-+\s*|\s*-+\s+|\sTO\s)\s*")
_SHUTTLE = re.compile(r"<\s*[-=]*\s*>|>\s*<")
_NOISE_TOKENS = frozenset({"OPL", "ANCH", "ANCHORAGE", "PILOT", "ROADS", "AREA", "PORT"})
_STRIP = " .,;:!?-_'\"()[]{}*#+|"
_EMPTY = frozenset({"0", "NONE", "NIL", "NA", "N/A", "UNKNOWN", "TBA", "TBN"})


class Destination(NamedTuple):
    port_id: str | None  # the announced (final) destination
    legs: tuple[str, ...]  # every port the text names, in order
    method: str | None  # locode, name, alias, fuzzy (of the final leg)
    note: str | None  # why nothing was found: empty, for_orders, unrecognised


@lru_cache(maxsize=1)
def _country_codes() -> frozenset[str]:
    return frozenset(code for _, code in mid_table().values())


@lru_cache(maxsize=1)
def _country_words() -> dict[str, str]:
    """Compact country name or code -> ISO code: 'RUSSIA', 'RUSSIAN FEDERATION', 'RUS', 'RU'."""
    words = {place_key(name): code for name, code in mid_table().values()}
    words.update({code: code for code in _country_codes()})
    words.update({"RUSSIA": "RU", "RUS": "RU", "RF": "RU"})
    return words


def _resolve_leg(leg: str, gaz: Gazetteer, *, fuzzy: bool = True) -> tuple[str, str] | None:
    """(port_id, method) for one leg of a destination text, or None."""
    leg = leg.strip(_STRIP)
    if not leg:
        return None
    known = gaz.port_info
    key = place_key(leg)
    if key in gaz.port_keys:
        return gaz.port_keys[key], "name"
    if key in _country_words():
        return None  # 'MALTA', 'LIBYA': a country is no port (and no LOCODE)
    code = locode_of(leg)
    if code and code[:2] in _country_codes():
        alias = gaz.destination_aliases.get(code[2:])
        if code not in known and alias and alias[:2] == code[:2]:
            return alias, "alias"  # 'RU SPB' is no LOCODE: the Russian SPB
        return code, "locode"
    if key in gaz.destination_aliases:
        return gaz.destination_aliases[key], "alias"
    tokens = leg.replace(",", " ").split()
    if len(tokens) == 2 and tokens[1] in _country_codes():
        backwards = tokens[1] + tokens[0]
        if backwards in known:
            return backwards, "locode"
        if tokens[0] in gaz.destination_aliases:
            return gaz.destination_aliases[tokens[0]], "alias"
    # 'UST LUGA RUSSIA', 'PORT SPB', 'GOGLAND OPL': drop words that only qualify the place
    core = [t for t in tokens if t not in _NOISE_TOKENS]
    while len(core) > 1 and place_key(core[-1]) in _country_words():
        core.pop()
    if core and core != tokens:
        found = _resolve_leg(" ".join(core), gaz, fuzzy=fuzzy)
        if found:
            return found
    if fuzzy and len(key) >= 5 and gaz.port_keys:
        best = process.extractOne(key, list(gaz.port_keys), scorer=fuzz.ratio)
        if best and best[1] >= FUZZY_MIN_SCORE:
            return gaz.port_keys[best[0]], "fuzzy"
    return None


def _resolve_part(part: str, gaz: Gazetteer) -> tuple[tuple[str, str], ...]:
    """The ports of one separator-free part: one place, or several written with - or spaces."""
    found = _resolve_leg(part, gaz, fuzzy=False)
    if found:
        return (found,)
    pieces = [p for p in re.split(r"[\s\-]+", part) if p.strip(_STRIP)]
    if len(pieces) > 1:
        resolved = [_resolve_leg(p, gaz, fuzzy=False) for p in pieces]
        if all(resolved):  # 'RULED  PLGDY', 'SPB SESKAR SPB' only when every piece is a place
            return tuple(r for r in resolved if r)
    found = _resolve_leg(part, gaz)
    return (found,) if found else ()


def parse_destination(text: str | None, gaz: Gazetteer) -> Destination:
    """Read one AIS destination text into the ports it names; the last one is the destination.

    When the last leg of a route is not recognised ('RU ULU > PANAMA') the destination is
    unknown (None, note 'unrecognised') even though earlier legs are listed.
    """
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return Destination(None, (), None, "empty")
    raw = anyascii(str(text)).upper().replace("_", " ").strip(_STRIP + "@")
    if not raw or raw in _EMPTY:
        return Destination(None, (), None, "empty")
    orders = bool(_ORDERS.search(raw))
    cleaned = re.sub(r"^FROM\s+", "", _ORDERS.sub(" ", raw).strip(_STRIP))
    parts = [p for p in _ROUTE_SPLIT.split(cleaned) if p.strip(_STRIP)]
    if not parts:
        return Destination(None, (), None, "for_orders" if orders else "empty")
    legs: list[tuple[str, str]] = []
    last_found = False
    for part in parts:
        country = _country_words().get(place_key(part))
        if country and legs and legs[-1][0][:2] == country:
            continue  # 'KALINIGRAD\ RUSSIA': the country of the port before, not another leg
        found = _resolve_part(part, gaz)
        legs.extend(found)
        last_found = bool(found)
    ports = tuple(p for p, _ in legs)
    note = "for_orders" if orders else ("shuttle" if _SHUTTLE.search(raw) else None)
    if not last_found:
        return Destination(None, ports, None, "for_orders" if orders else "unrecognised")
    return Destination(ports[-1], ports, legs[-1][1], note)


def normalise_destinations(texts: pd.Series, gaz: Gazetteer) -> pd.DataFrame:
    """One row per input text: destination, port_id, legs, method, note, port_known.

    Parsed once per distinct text: AIS repeats the same few destinations many times.
    """
    values = texts.astype("string")
    parsed = {u: parse_destination(u, gaz) for u in values.dropna().unique()}
    empty = Destination(None, (), None, "empty")
    mapped = values.map(parsed).astype(object)
    rows = mapped.where(mapped.notna(), pd.Series([empty] * len(mapped), index=mapped.index))
    out = pd.DataFrame(rows.tolist(), columns=list(Destination._fields), index=texts.index)
    out.insert(0, "destination", texts)
    out["port_known"] = out["port_id"].isin(list(gaz.port_info))
    return out
