"""Claims read from news text: the seed article exactly, other phrasings, hostile input."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import psycopg
import pytest

from pipeline.config import SEEDS_DIR
from pipeline.errors import StraitwatchError
from pipeline.reports.article import ArticleConfig, parse_article, resolve_date, split_sentences
from pipeline.reports.claims import extract_claims, read_text_file

SEED = (SEEDS_DIR / "reports" / "tartus_withdrawal_article.txt").read_text(encoding="utf-8")
PUBLISHED = date(2025, 2, 12)
EPISODE = (
    "Two ships sailing the Russian flag were laden with supplies during the course of the Russian "
    "departure from Tartus. On Tuesday, they both passed through the Strait of Gibraltar and have "
    "arrived off the coast of Spain. While Sparta II is its route to the Russian pocket of "
    "Kaliningrad, Sparta itself is destined for St. Petersburg."
)


def test_seed_article_gives_exactly_the_two_ships(gazetteer) -> None:
    claims = parse_article(SEED, PUBLISHED, gazetteer)
    assert claims["vessel_name"].tolist() == ["Sparta II", "Sparta"]
    common = {
        "departure_port_id": "SYTTS",
        "via_chokepoint_id": "gibraltar",
        "via_date": date(2025, 2, 11),  # the last Tuesday on or before Wednesday 12 Feb
        "via_date_phrase": "On Tuesday",
        "via_direction": "westbound",
        "via_direction_basis": "route",
        "vessel_kind": "cargo",
        "vessel_flag": "RU",
        "published_at": datetime(2025, 2, 12, tzinfo=UTC),
        "departure_phrase": "departure from Tartus",
        "via_phrase": "passed through the Strait of Gibraltar",
        "vessel_kind_phrase": "laden with supplies",
        "vessel_flag_phrase": "sailing the Russian flag",
        "claim_text": EPISODE,
        "sentence_numbers": "39,40,41",
    }
    for _, row in claims.iterrows():
        for field, expected in common.items():
            assert row[field] == expected, field
        assert pd.isna(row["departed_after"]) and pd.isna(row["departed_before"])
        assert row["imo"] is None and row["mmsi"] is None
    sparta_ii, sparta = claims.iloc[0], claims.iloc[1]
    assert sparta_ii["destination_port_id"] == "RUKGD"
    assert sparta_ii["destination_phrase"] == "route to the Russian pocket of Kaliningrad"
    assert sparta["destination_port_id"] == "RULED"
    assert sparta["destination_phrase"] == "destined for St. Petersburg"
    assert sparta["via_direction_phrase"] == (
        "the sea route Tartus -> Sankt-Peterburg crosses Gibraltar from the Mediterranean to the "
        "Atlantic side"
    )


def test_convoy_people_and_air_bases_give_nothing(gazetteer) -> None:
    convoy = SEED.split("Two ships sailing")[0]
    assert "Khmeimim" in convoy and "trucks" in convoy
    assert parse_article(convoy, PUBLISHED, gazetteer).empty


def test_sentences_do_not_end_at_abbreviations() -> None:
    sentences = split_sentences("The ship left St. Petersburg on Jan. 3. It sailed for Tartus.")
    assert [s.text for s in sentences] == [
        "The ship left St. Petersburg on Jan. 3.",
        "It sailed for Tartus.",
    ]


@pytest.mark.parametrize(
    ("kind", "groups", "expected"),
    [
        ("weekday", ("Tuesday",), date(2025, 2, 11)),
        ("weekday", ("wednesday",), date(2025, 2, 12)),  # the publication day itself
        ("weekday", ("Thursday",), date(2025, 2, 6)),
        ("yesterday", (), date(2025, 2, 11)),
        ("dmy", ("9", "February", None), date(2025, 2, 9)),
        ("mdy", ("Dec", "30", None), date(2024, 12, 30)),  # no year: the latest before
        ("iso", ("2025", "02", "30"), None),  # not a day
    ],
)
def test_dates_resolve_against_publication(kind, groups, expected) -> None:
    assert resolve_date(kind, groups, PUBLISHED) == expected


def test_other_phrasings(gazetteer) -> None:
    text = (
        "The Russian-flagged cargo ship Sparta IV (IMO 9743033) left Baltiysk on 3 February "
        "and is bound for Sankt-Peterburg.\n"
        "Meanwhile the tanker General Skobelev transited the Strait of Gibraltar westbound "
        "on Sunday."
    )
    claims = parse_article(text, PUBLISHED, gazetteer).set_index("vessel_name")
    assert sorted(claims.index) == ["General Skobelev", "Sparta IV"]
    iv = claims.loc["Sparta IV"]
    assert (iv["imo"], iv["departure_port_id"], iv["destination_port_id"]) == (
        "9743033",
        "RUBLT",
        "RULED",
    )
    assert iv["departed_after"] == datetime(2025, 2, 3, tzinfo=UTC)
    assert iv["departed_before"] == datetime(2025, 2, 4, tzinfo=UTC)
    assert (iv["vessel_kind"], iv["vessel_flag"]) == ("cargo", "RU")
    gs = claims.loc["General Skobelev"]
    assert (gs["via_chokepoint_id"], gs["via_direction"], gs["via_direction_basis"]) == (
        "gibraltar",
        "westbound",
        "stated",
    )
    assert gs["via_date"] == date(2025, 2, 9) and gs["vessel_kind"] == "tanker"


HOSTILE = [
    "Sparta'); DROP TABLE straitwatch.positions; -- left Tartus.",
    'The ship "Robert\'); DROP TABLE straitwatch.reported_departures;--" left Tartus '
    "on Monday and is bound for St Petersburg.",
    "“Quoted” ‘ships’ “”'' \" ' ` ; -- /* */ $$ \\x00 \\ %s %(x)s {0}",
    "\x00\x01\x02 vessel \x1b[31m Sparta left Tartus",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_data_not_sql(ref_conn: psycopg.Connection, text: str) -> None:
    ids = extract_claims(ref_conn, text, PUBLISHED, "hostile")
    ref_conn.commit()
    assert ref_conn.execute("SELECT count(*) FROM straitwatch.positions").fetchone() == (0,)
    stored = ref_conn.execute(
        "SELECT vessel_name, claim_text FROM straitwatch.reported_departures ORDER BY 1"
    ).fetchall()
    assert len(stored) == len(ids)
    for name, claim_text in stored:
        assert "\x00" not in claim_text and name in claim_text


def test_hostile_ship_name_is_stored_verbatim(ref_conn: psycopg.Connection) -> None:
    ids = extract_claims(ref_conn, HOSTILE[1], PUBLISHED, "hostile")
    ref_conn.commit()
    rows = ref_conn.execute(
        "SELECT vessel_name, departure_port_id, destination_port_id "
        "FROM straitwatch.reported_departures WHERE report_id = ANY(%s)",
        (ids,),
    ).fetchall()
    assert rows == [("Robert", "SYTTS", "RULED")]
    assert ref_conn.execute("SELECT to_regclass('straitwatch.reported_departures')").fetchone()[0]


def test_five_megabytes_of_text(ref_conn: psycopg.Connection, gazetteer) -> None:
    noise = (
        "Lorem ipsum dolor sit amet, the port of Tartus was quiet; trucks left Khmeimim. " * 65_000
    )[:5_000_000]
    assert parse_article(noise, PUBLISHED, gazetteer).empty
    repeated = (SEED + "\n") * 1300  # 5 MB of the same article: the same two claims
    assert len(repeated) > 5_000_000
    ids = extract_claims(ref_conn, repeated, PUBLISHED, "repeated")
    assert len(ids) == 2
    with pytest.raises(StraitwatchError, match="article too long"):
        parse_article("x" * 101, PUBLISHED, gazetteer, ArticleConfig(max_chars=100))


def test_non_utf8_and_binary_files_are_refused(tmp_path) -> None:
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Sparta left Tartus.\nCaf\xe9 ".encode("latin-1"))
    with pytest.raises(
        StraitwatchError, match=r"line 2: not UTF-8 text \(byte 0xe9 at offset 23\)"
    ):
        read_text_file(latin1)
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"Sparta\x00\xff\xfe")
    with pytest.raises(StraitwatchError, match="contains NUL bytes"):
        read_text_file(binary)
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeffSparta left Tartus.".encode())
    assert read_text_file(bom) == "Sparta left Tartus."


def test_extract_claims_is_idempotent(ref_conn: psycopg.Connection) -> None:
    first = extract_claims(ref_conn, SEED, PUBLISHED, "seed")
    second = extract_claims(ref_conn, SEED, PUBLISHED, "seed")
    assert first == second and len(first) == 2
    assert ref_conn.execute("SELECT count(*) FROM straitwatch.reported_departures").fetchone() == (
        2,
    )
    phrases = ref_conn.execute(
        "SELECT phrases FROM straitwatch.reported_departures WHERE vessel_name = 'Sparta'"
    ).fetchone()[0]
    assert phrases["via_date"] == "On Tuesday"
    assert phrases["destination_port"] == "destined for St. Petersburg"
    assert phrases["sentences"] == [39, 40, 41]
