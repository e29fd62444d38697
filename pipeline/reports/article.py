"""Rule-based extraction of vessel claims from news text: names, ports, chokepoint, dates.

Explainable by construction: every field of a claim keeps the phrase it was read from and the
number of its sentence. How a text is read:
1. Sentences are split (abbreviations such as "St." and initials do not end one); a paragraph
   (line) break always does.
2. A *vessel passage* starts at a sentence that speaks of ships (ship, vessel, freighter,
   tanker, ro-ro, ...) and continues over the next sentences of the paragraph while they refer
   back to them (they, both, the ships, it, itself) or name a vessel. Text outside such passages
   gives no claims, so trucks, convoys on land, air bases and people never become vessels.
3. Inside a passage, a vessel name is a capitalised name (with its numeral: "Sparta II") that
   follows a ship noun or MV/MT, carries an IMO number, or is the subject of a voyage phrase
   ("... is destined for", "left", "passed"). Places, countries, weekdays and months are not names.
4. Events are cue phrases followed within a few words by a place of the gazetteer: departure
   ("left", "departure from", "sailed from" + port), passage ("passed through", "transited",
   "via" + chokepoint), destination ("bound for", "destined for", "route to", "heading to" +
   port). An event belongs to the names written before its cue and after the previous event's
   cue in the same sentence; with no such name it belongs to every vessel of the passage.
5. Dates: "on Tuesday" is the last Tuesday on or before publication, "yesterday", "9 February",
   "February 9, 2025", "2025-02-09"; a date goes with the nearest event of its sentence (a
   passage date is `via_date`, a departure date bounds `departed_after`/`departed_before`).
6. The direction through the chokepoint is the one stated ("westbound") or else the one the sea
   route between the claimed ports implies (routes.implied_direction).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import pandas as pd

from pipeline.errors import StraitwatchError
from pipeline.reports.gazetteer import Gazetteer, Place, text_key
from pipeline.reports.names import normalise_name
from pipeline.reports.routes import implied_direction
from pipeline.vessels import mid_table, normalise_imo

CLAIM_COLUMNS = [
    "vessel_name",
    "imo",
    "mmsi",
    "departure_port_id",
    "departed_after",
    "departed_before",
    "via_chokepoint_id",
    "via_date",
    "via_direction",
    "destination_port_id",
    "vessel_kind",
    "vessel_flag",
    "published_at",
    "claim_text",
    "via_date_phrase",
    "via_direction_basis",
    "vessel_name_phrase",
    "departure_phrase",
    "departure_date_phrase",
    "via_phrase",
    "via_direction_phrase",
    "destination_phrase",
    "vessel_kind_phrase",
    "vessel_flag_phrase",
    "sentence_numbers",
]
PHRASE_FIELDS = {
    "vessel_name": "vessel_name_phrase",
    "departure_port": "departure_phrase",
    "departure_date": "departure_date_phrase",
    "via_chokepoint": "via_phrase",
    "via_date": "via_date_phrase",
    "via_direction": "via_direction_phrase",
    "destination_port": "destination_phrase",
    "vessel_kind": "vessel_kind_phrase",
    "vessel_flag": "vessel_flag_phrase",
}


@dataclass(frozen=True)
class ArticleConfig:
    max_chars: int = 10_000_000  # longer input is refused: no news article is that long
    cue_max_words: int = 6  # words allowed between a cue ("route to") and its place
    subject_max_words: int = 3  # words allowed between a name and its voyage phrase


# ----------------------------------------------------------------------------- lexicon

_SHIP_NOUN = re.compile(
    r"\b(?:cargo\s+ships?|container\s+ships?|landing\s+ships?|bulk\s+carriers?|ro-?ros?|"
    r"roll-on/roll-off|ships?|vessels?|freighters?|tankers?|trawlers?|carriers?|ferr(?:y|ies)|"
    r"frigates?|corvettes?|destroyers?|tugs?|barges?|bulkers?)\b",
    re.IGNORECASE,
)
_ANAPHORA = re.compile(
    r"\b(?:they|them|their|both|the\s+two|each|it|its|itself|the\s+(?:ships?|vessels?|"
    r"freighters?|tankers?|convoy))\b",
    re.IGNORECASE,
)
_KIND_WORDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\btankers?\b", re.I), "tanker"),
    (re.compile(r"\b(?:trawlers?|fishing\s+(?:vessels?|boats?))\b", re.I), "fishing"),
    (
        re.compile(r"\b(?:frigates?|corvettes?|destroyers?|warships?|landing\s+ships?)\b", re.I),
        "military",
    ),
    (re.compile(r"\b(?:ferr(?:y|ies)|passenger\s+ships?|cruise\s+ships?)\b", re.I), "passenger"),
    (
        re.compile(
            r"\b(?:cargo\s+ships?|container\s+ships?|bulk\s+carriers?|ro-?ros?|freighters?|"
            r"(?:laden|loaded)\s+with\s+\w+)\b",
            re.I,
        ),
        "cargo",
    ),
]
_FLAG = re.compile(
    r"\b(?:(?:sailing|flying|under)\s+(?:the\s+)?(?P<a>[A-Z][a-z]+)\s+flag|"
    r"(?P<b>[A-Z][a-z]+)-flagged)\b"
)
_DEPARTURE_CUE = re.compile(
    r"\b(?:departures?\s+from|departed(?:\s+from)?|departing(?:\s+from)?|left|leaving|"
    r"sailed\s+from|sailing\s+from|set\s+(?:sail|off)\s+from|slipped\s+out\s+of|"
    r"steamed\s+out\s+of)\b",
    re.IGNORECASE,
)
_PASSAGE_CUE = re.compile(
    r"\b(?:passed(?:\s+through)?|passing(?:\s+through)?|transited|transiting|crossed|"
    r"crossing|sailed\s+through|went\s+through|through|via)\b",
    re.IGNORECASE,
)
_DESTINATION_CUE = re.compile(
    r"\b(?:bound\s+for|destined\s+for|(?:its|their)\s+destination\s+(?:is|was)|"
    r"head(?:ing|ed)\s+(?:to|for|towards)|en\s+route\s+to|on\s+(?:its|their)\s+way\s+to|"
    r"route\s+to|sail(?:ing|ed)\s+(?:to|for)|making\s+for|arriv(?:ed|ing)\s+(?:in|at)|"
    r"docked\s+(?:in|at))\b",
    re.IGNORECASE,
)
_DIRECTION = re.compile(r"\b(north|south|east|west)(?:bound|ward|wards)\b", re.IGNORECASE)
_IMO = re.compile(r"\bIMO(?:\s*(?:No\.?|number|:))?\s*(\d{7})\b", re.IGNORECASE)
_MMSI = re.compile(r"\bMMSI(?:\s*(?:No\.?|number|:))?\s*(\d{9})\b", re.IGNORECASE)
_PREFIX = re.compile(r"\b(?:MV|M/V|MT|M/T|SS|RFS)\s+$")
# a capitalised name, with its numeral: "Sparta II", "General Skobelev", "Ursa Major", "SPARTA 4"
_NAME = re.compile(r"(?<![\w’'])(?:[A-Z][\w’'-]*)(?:\s+(?:[A-Z][\w’'-]*|[IVX]{1,4}\b|\d{1,3}\b))*")
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for m in names
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), "iso"),
    (
        re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH_RE})\.?(?:,?\s+(\d{{4}}))?\b", re.I),
        "dmy",
    ),
    (
        re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b", re.I),
        "mdy",
    ),
    (
        re.compile(
            r"\b(?:(?:on|last|this\s+past|early\s+on|late\s+on)\s+)?"
            r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
            re.I,
        ),
        "weekday",
    ),
    (re.compile(r"\byesterday\b", re.I), "yesterday"),
    (re.compile(r"\b(?:today|this\s+morning|this\s+afternoon|tonight)\b", re.I), "today"),
]
_ABBREVIATIONS = frozenset(
    [
        "st",
        "mr",
        "mrs",
        "ms",
        "dr",
        "no",
        "gen",
        "lt",
        "col",
        "capt",
        "cpt",
        "adm",
        "cdr",
        "sgt",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "vs",
        "etc",
        "approx",
        "ft",
        "mt",
        "jr",
        "sr",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "est",
        "fig",
        "u.s",
        "u.k",
        "e.g",
        "i.e",
    ]
)
_NOT_NAMES = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "they",
        "their",
        "there",
        "then",
        "than",
        "and",
        "but",
        "or",
        "nor",
        "so",
        "yet",
        "for",
        "while",
        "when",
        "where",
        "whereas",
        "after",
        "before",
        "on",
        "in",
        "at",
        "of",
        "to",
        "from",
        "by",
        "with",
        "as",
        "if",
        "since",
        "until",
        "also",
        "however",
        "meanwhile",
        "still",
        "both",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "several",
        "many",
        "some",
        "one",
        "other",
        "another",
        "each",
        "all",
        "according",
        "social",
        "will",
        "would",
        "could",
        "should",
        "may",
        "might",
        "must",
        "moscow",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "strait",
        "straits",
        "canal",
        "sea",
        "ocean",
        "gulf",
        "bay",
        "port",
        "harbour",
        "harbor",
        "navy",
        "army",
        "forces",
        "president",
        "minister",
        "ministry",
        "government",
        "report",
        "reports",
        "soldiers",
        "defense",
        "defence",
        "intelligence",
        "british",
        "american",
        "russian",
        "syrian",
        "turkish",
        "ukrainian",
        "european",
        "chinese",
        "iranian",
        "israeli",
        "egyptian",
        "spanish",
        "french",
        "german",
        "danish",
        "norwegian",
        "swedish",
        "finnish",
        "greek",
        "italian",
        "maltese",
        "libyan",
        "nato",
        "un",
        "eu",
    ]
)


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    """Normalised country names and adjectives -> ISO alpha-2 (adjectives for flags)."""
    names = {normalise_name(name): code for name, code in mid_table().values()}
    adjectives = {
        "RUSSIAN": "RU",
        "SYRIAN": "SY",
        "TURKISH": "TR",
        "UKRAINIAN": "UA",
        "PANAMANIAN": "PA",
        "LIBERIAN": "LR",
        "MALTESE": "MT",
        "GREEK": "GR",
        "CYPRIOT": "CY",
        "BRITISH": "GB",
        "AMERICAN": "US",
        "CHINESE": "CN",
        "IRANIAN": "IR",
        "INDIAN": "IN",
        "NORWEGIAN": "NO",
        "DANISH": "DK",
        "GERMAN": "DE",
        "DUTCH": "NL",
        "FRENCH": "FR",
        "SPANISH": "ES",
        "ITALIAN": "IT",
        "EGYPTIAN": "EG",
        "CAMEROONIAN": "CM",
        "GABONESE": "GA",
        "COMORAN": "KM",
        "TOGOLESE": "TG",
        "PALAUAN": "PW",
        "BELIZEAN": "BZ",
        "SIERRA LEONEAN": "SL",
        "BAHAMIAN": "BS",
        "MARSHALLESE": "MH",
        "SINGAPOREAN": "SG",
        "JAPANESE": "JP",
        "KOREAN": "KR",
        "GEORGIAN": "GE",
        "MOLDOVAN": "MD",
    }
    return {**names, **adjectives}


# ----------------------------------------------------------------------------- structures


@dataclass
class Sentence:
    no: int  # 1-based number in the article
    paragraph: int
    text: str


@dataclass
class Mention:
    start: int
    end: int
    phrase: str


@dataclass
class Event(Mention):
    kind: str  # departure, passage, destination
    place: Place
    names: list[str] = field(default_factory=list)  # normalised names it belongs to
    date: date | None = None
    date_phrase: str | None = None
    direction: str | None = None
    direction_phrase: str | None = None
    sentence: int = 0


# ----------------------------------------------------------------------------- reading


def split_sentences(text: str) -> list[Sentence]:
    """Sentences with their number and paragraph; a line break always ends a sentence."""
    out: list[Sentence] = []
    boundary = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
    for p_no, paragraph in enumerate(text.splitlines()):
        start = 0
        for m in boundary.finditer(paragraph):
            before = paragraph[start : m.start()].rsplit(None, 1)
            word = before[-1].lower().rstrip(".") if before else ""
            if m.group(0).startswith(".") and (
                word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())
            ):
                continue
            out.append(Sentence(len(out) + 1, p_no, paragraph[start : m.end()].strip()))
            start = m.end()
        rest = paragraph[start:].strip()
        if rest:
            out.append(Sentence(len(out) + 1, p_no, rest))
    return [s for s in out if s.text]


def resolve_date(kind: str, groups: tuple[str | None, ...], published: date) -> date | None:
    """The calendar day a date phrase names, relative to the publication day."""
    try:
        if kind == "iso":
            return date(int(groups[0]), int(groups[1]), int(groups[2]))  # type: ignore[arg-type]
        if kind in ("dmy", "mdy"):
            day, month = (groups[0], groups[1]) if kind == "dmy" else (groups[1], groups[0])
            m, d = _MONTHS[str(month).lower()], int(day)  # type: ignore[arg-type]
            if groups[2]:
                return date(int(groups[2]), m, d)
            candidate = date(published.year, m, d)
            # no year: the latest such day on or before publication
            return candidate if candidate <= published else date(published.year - 1, m, d)
        if kind == "weekday":
            wanted = _WEEKDAYS.index(str(groups[0]).lower())
            return published - timedelta(days=(published.weekday() - wanted) % 7)
        if kind == "yesterday":
            return published - timedelta(days=1)
        if kind == "today":
            return published
    except ValueError:
        return None
    return None


def _dates(sentence: str, published: date) -> list[tuple[Mention, date]]:
    found: list[tuple[Mention, date]] = []
    taken: list[tuple[int, int]] = []
    for pattern, kind in _DATE_PATTERNS:
        for m in pattern.finditer(sentence):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            day = resolve_date(kind, m.groups(), published)
            if day is not None:
                taken.append((m.start(), m.end()))
                found.append((Mention(m.start(), m.end(), m.group(0).strip()), day))
    return found


def _places(sentence: str, gaz: Gazetteer) -> list[tuple[Mention, tuple[Place, ...]]]:
    """Gazetteer names in a sentence, longest first, starting at a capitalised word."""
    words = [
        (m.start(), m.end(), re.sub(r"[’']s$", "", m.group(0)))
        for m in re.finditer(r"\w+(?:[’'.-]\w+)*", sentence)
    ]
    longest = gaz.max_name_tokens
    out: list[tuple[Mention, tuple[Place, ...]]] = []
    i = 0
    while i < len(words):
        if not words[i][2][:1].isupper():
            i += 1
            continue
        for n in range(min(longest, len(words) - i), 0, -1):
            places = gaz.places(text_key(" ".join(w for _, _, w in words[i : i + n])))
            if places:
                start, end = words[i][0], words[i + n - 1][1]
                out.append((Mention(start, end, sentence[start:end]), places))
                i += n
                break
        else:
            i += 1
    return out


def _is_name(candidate: str, places: list[tuple[Mention, tuple[Place, ...]]], start: int) -> bool:
    norm = normalise_name(candidate)
    if not norm or candidate.lower() in _NOT_NAMES or norm in _country_names():
        return False
    first = candidate.split()[0].lower()
    if first in _NOT_NAMES or first in _WEEKDAYS or first in _MONTHS:
        return False
    return not any(m.start <= start < m.end for m, _ in places)


def _names(
    s: Sentence, places: list[tuple[Mention, tuple[Place, ...]]], config: ArticleConfig
) -> list[tuple[Mention, str]]:
    """Vessel names of a sentence inside a vessel passage: (mention, normalised name)."""
    text = s.text
    found: list[tuple[Mention, str]] = []
    for m in _NAME.finditer(text):
        phrase = re.sub(r"[’']s$", "", m.group(0)).strip().rstrip("’'-")
        # a leading sentence word ("While Sparta II") is not part of the name
        parts = phrase.split()
        while parts and parts[0].lower() in _NOT_NAMES:
            parts.pop(0)
        if not parts:
            continue
        phrase = " ".join(parts)
        start = m.start() + m.group(0).index(parts[0])
        if not _is_name(phrase, places, start):
            continue
        before, after = text[:start], text[start + len(phrase) :]
        by_noun = bool(
            re.search(
                r"(?:" + _SHIP_NOUN.pattern + r")\s+(?:named\s+|called\s+)?[\"“‘']?$", before, re.I
            )
        ) or bool(_PREFIX.search(before))
        by_number = bool(re.match(r"\s*[(,]?\s*(?:IMO|MMSI)\b", after, re.I))
        gap = r"\s+(?:\w+\s+){0," + str(config.subject_max_words) + r"}?"
        by_verb = any(
            re.match(gap + r"(?:" + cue.pattern + r")", " " + after, re.I)
            for cue in (_DEPARTURE_CUE, _PASSAGE_CUE, _DESTINATION_CUE)
        )
        if by_noun or by_number or by_verb:
            found.append((Mention(start, start + len(phrase), phrase), normalise_name(phrase)))
    return found


def _events(
    s: Sentence,
    places: list[tuple[Mention, tuple[Place, ...]]],
    config: ArticleConfig,
) -> list[Event]:
    """Cue phrases followed within a few words by a place of the right kind."""
    events: list[Event] = []
    wanted = {"departure": "port", "passage": "chokepoint", "destination": "port"}
    cues = [
        ("departure", _DEPARTURE_CUE),
        ("passage", _PASSAGE_CUE),
        ("destination", _DESTINATION_CUE),
    ]
    for kind, cue in cues:
        for m in cue.finditer(s.text):
            for mention, options in places:
                if mention.start < m.end():
                    continue
                between = s.text[m.end() : mention.start]
                if len(between.split()) > config.cue_max_words or re.search(r"[.;:]", between):
                    break
                chosen = [p for p in options if p.kind == wanted[kind]]
                if not chosen:
                    continue
                if any(e.start <= m.start() < e.end for e in events):
                    break  # inside a phrase already read ("departure from" vs "from")
                events.append(
                    Event(
                        m.start(),
                        mention.end,
                        s.text[m.start() : mention.end],
                        kind,
                        chosen[0],
                        sentence=s.no,
                    )
                )
                break
    return sorted(events, key=lambda e: e.start)


@dataclass
class _Passage:
    sentences: list[Sentence] = field(default_factory=list)


def _vessel_passages(sentences: list[Sentence]) -> list[_Passage]:
    """Runs of sentences about ships (see module docstring, step 2)."""
    out: list[_Passage] = []
    current: _Passage | None = None
    for s in sentences:
        speaks_of_ships = bool(_SHIP_NOUN.search(s.text))
        if (
            current
            and current.sentences[-1].paragraph == s.paragraph
            and (
                speaks_of_ships
                or _ANAPHORA.search(s.text)
                or re.search(r"[A-Z]\w+\s+[IVX]+\b", s.text)
            )
        ):
            current.sentences.append(s)
            continue
        current = _Passage([s]) if speaks_of_ships else None
        if current:
            out.append(current)
    return out


def parse_article(
    text: str, published: date, gazetteer: Gazetteer, config: ArticleConfig = ArticleConfig()
) -> pd.DataFrame:
    """One row per vessel claim in a news text (columns CLAIM_COLUMNS); pure."""
    if len(text) > config.max_chars:
        raise StraitwatchError(
            f"article too long: {len(text):,} characters (limit {config.max_chars:,})"
        )
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", " ", text)
    rows: list[dict] = []
    for passage in _vessel_passages(split_sentences(text)):
        rows.extend(_claims_of_passage(passage, published, gazetteer, config))
    frame = pd.DataFrame(rows, columns=CLAIM_COLUMNS)
    return frame.drop_duplicates(subset=["vessel_name", "claim_text"]).reset_index(drop=True)


def _claims_of_passage(
    passage: _Passage, published: date, gaz: Gazetteer, config: ArticleConfig
) -> list[dict]:
    names: dict[str, tuple[str, int, dict]] = {}  # normalised -> (as written, sentence, ids)
    group: dict[str, Event] = {}
    own: dict[str, dict[str, Event]] = {}
    used: set[int] = set()
    kind = flag = None
    kind_phrase = flag_phrase = None
    for s in passage.sentences:
        places = _places(s.text, gaz)
        sentence_names = _names(s, places, config)
        for mention, norm in sentence_names:
            ids: dict = {}
            tail = s.text[mention.end : mention.end + 40]
            if m := _IMO.match(tail.lstrip(" (,")):
                ids["imo"] = normalise_imo(m.group(1))
            if m := _MMSI.match(tail.lstrip(" (,")):
                ids["mmsi"] = int(m.group(1))
            if norm not in names:
                names[norm] = (mention.phrase, s.no, ids)
            used.add(s.no)
        for pattern, k in _KIND_WORDS:
            if kind is None and (m := pattern.search(s.text)):
                kind, kind_phrase = k, m.group(0)
        if flag is None and (m := _FLAG.search(s.text)):
            word = normalise_name(m.group("a") or m.group("b"))
            if word in _country_names():
                flag, flag_phrase = _country_names()[word], m.group(0)
        events = _events(s, places, config)
        dates = _dates(s.text, published)
        for mention, day in dates:
            if events:
                nearest = min(events, key=lambda e: abs(e.start - mention.start))
                if nearest.date is None:
                    nearest.date, nearest.date_phrase = day, mention.phrase
        for m in _DIRECTION.finditer(s.text):
            for e in events:
                if e.kind == "passage" and e.direction is None:
                    e.direction, e.direction_phrase = f"{m.group(1).lower()}bound", m.group(0)
        previous = 0
        for e in events:
            e.names = [n for m, n in sentence_names if previous <= m.start < e.start]
            previous = e.start
            used.add(s.no)
            if e.names:
                for n in e.names:
                    own.setdefault(n, {}).setdefault(e.kind, e)
            else:
                group.setdefault(e.kind, e)
    rows = []
    claim_text = " ".join(s.text for s in passage.sentences if s.no in used)
    numbers = ",".join(str(s.no) for s in passage.sentences if s.no in used)
    for norm, (written, _, ids) in names.items():
        parts = {**group, **own.get(norm, {})}
        if not parts:
            continue
        rows.append(
            _claim_row(written, ids, parts, kind, kind_phrase, flag, flag_phrase, published, gaz)
            | {"claim_text": claim_text, "sentence_numbers": numbers}
        )
    return rows


def _claim_row(
    written: str,
    ids: dict,
    parts: dict[str, Event],
    kind: str | None,
    kind_phrase: str | None,
    flag: str | None,
    flag_phrase: str | None,
    published: date,
    gaz: Gazetteer,
) -> dict:
    dep, via, dest = parts.get("departure"), parts.get("passage"), parts.get("destination")
    row: dict = {
        "vessel_name": written,
        "vessel_name_phrase": written,
        "imo": ids.get("imo"),
        "mmsi": ids.get("mmsi"),
        "published_at": datetime.combine(published, datetime.min.time(), UTC),
        "vessel_kind": kind,
        "vessel_kind_phrase": kind_phrase,
        "vessel_flag": flag,
        "vessel_flag_phrase": flag_phrase,
    }
    if dep:
        row["departure_port_id"] = dep.place.id
        row["departure_phrase"] = dep.phrase
        if dep.date:
            row["departed_after"] = datetime.combine(dep.date, datetime.min.time(), UTC)
            row["departed_before"] = row["departed_after"] + timedelta(days=1)
            row["departure_date_phrase"] = dep.date_phrase
    if dest:
        row["destination_port_id"] = dest.place.id
        row["destination_phrase"] = dest.phrase
    if via:
        row["via_chokepoint_id"] = via.place.id
        row["via_phrase"] = via.phrase
        row["via_date"] = via.date
        row["via_date_phrase"] = via.date_phrase
        allowed = gaz.directions(via.place.id) or ()
        if via.direction in allowed:
            row["via_direction"], row["via_direction_basis"] = via.direction, "stated"
            row["via_direction_phrase"] = via.direction_phrase
        else:
            implied = implied_direction(
                gaz, via.place.id, dep.place.id if dep else None, dest.place.id if dest else None
            )
            if implied.direction:
                row["via_direction"], row["via_direction_basis"] = implied.direction, "route"
                row["via_direction_phrase"] = implied.basis
    return row
