"""Name normalisation shared by vessel identity, the gazetteer and AIS destination text.

A normalised name is upper-case ASCII (Cyrillic and other scripts transliterated with anyascii),
punctuation turned into spaces, letters and digits split ("SPARTA2" -> "SPARTA 2") and Roman
numerals after the first word written as Arabic digits ("SPARTA II" -> "SPARTA 2"), so that the
numerals of two names can be compared exactly while the words are compared for spelling.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

import pandas as pd
from anyascii import anyascii

_ROMAN = re.compile(r"^(X{0,3})(IX|IV|V?I{0,3})$")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10}
_NON_ALNUM = re.compile(r"[^A-Z0-9]+")
_LETTER_DIGIT = re.compile(r"(?<=[A-Z])(?=[0-9])|(?<=[0-9])(?=[A-Z])")
# "No. 2", "NR 2", "#2": the marker carries no meaning once the numeral is kept
_NUMBER_MARKERS = frozenset({"NO", "NR", "N"})
SAINT_ABBREVIATIONS = frozenset({"ST", "SAINT", "SANKT", "SNT", "S", "SV"})


def roman_value(token: str) -> int | None:
    """The value of a Roman numeral written with I, V and X (1-39), else None."""
    if not token or not _ROMAN.match(token):
        return None
    total, previous = 0, 0
    for ch in reversed(token):
        value = _ROMAN_VALUES[ch]
        total = total - value if value < previous else total + value
        previous = max(previous, value)
    return total or None


@lru_cache(maxsize=65_536)
def normalise_name(name: str | None) -> str:
    """Canonical form of a vessel or place name ('' for nothing usable)."""
    if name is None:
        return ""
    text = anyascii(str(name)).upper().replace("&", " AND ").replace("'", "").replace("`", "")
    text = _NON_ALNUM.sub(" ", text)
    text = _LETTER_DIGIT.sub(" ", text)
    tokens = text.split()
    out: list[str] = []
    for i, token in enumerate(tokens):
        if i > 0:
            value = roman_value(token)
            if value is not None:
                token = str(value)
        if token.isdigit():
            token = str(int(token))  # "02" = "2"
            if out and out[-1] in _NUMBER_MARKERS:
                out.pop()
        out.append(token)
    return " ".join(out)


class NameParts(NamedTuple):
    words: str  # the name without its numerals, compared for spelling
    numerals: tuple[str, ...]  # compared exactly: SPARTA != SPARTA 2 != SPARTA 4


def name_parts(normalised: str) -> NameParts:
    """Split a normalised name into its words and its numerals."""
    tokens = normalised.split()
    words = " ".join(t for t in tokens if not t.isdigit())
    return NameParts(words, tuple(t for t in tokens if t.isdigit()))


def normalise_names(names: pd.Series) -> pd.Series:
    """Vectorised `normalise_name`: computed once per distinct value."""
    values = names.astype("string")
    uniques = values.dropna().unique()
    mapping = {u: normalise_name(u) for u in uniques}
    return values.map(mapping).fillna("").astype(str)


def place_key(name: str | None) -> str:
    """Compact key for place names: 'St. Petersburg', 'SAINT-PETERSBURG' -> 'SAINTPETERSBURG'.

    Saint abbreviations (ST, S., SANKT, SV) at the start of a multi-word name become SAINT;
    spaces go, so 'UST LUGA' and 'UST-LUGA' and 'USTLUGA' share a key.
    """
    tokens = normalise_name(name).split()
    if len(tokens) > 1 and tokens[0] in SAINT_ABBREVIATIONS:
        tokens[0] = "SAINT"
    return "".join(tokens)
