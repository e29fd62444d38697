"""`straitwatch import-reports`, `extract-claims` and `match`: output and exit codes."""

from __future__ import annotations

import psycopg
import pytest

from pipeline.cli import main
from pipeline.config import SEEDS_DIR

REPORTS = SEEDS_DIR / "reports"


def test_cli_round_trip(reports_db_url: str, ref_conn: psycopg.Connection, capsys) -> None:
    base = ["--database-url", reports_db_url]
    assert main([*base, "import-reports", str(REPORTS / "example_reports.csv")]) == 0
    assert "4 report(s) imported" in capsys.readouterr().out

    article = str(REPORTS / "tartus_withdrawal_article.txt")
    assert main([*base, "extract-claims", article, "--published", "2025-02-12"]) == 0
    out = capsys.readouterr().out
    assert "2 vessel claim(s), published 2025-02-12" in out
    assert "Sparta II: from SYTTS, via gibraltar westbound 2025-02-11, to RUKGD" in out

    assert main([*base, "match", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == "6 report(s) matched: vessel_not_found 6"

    assert main([*base, "match", "--report", "trt-2025-02-12-sparta"]) == 0
    out = capsys.readouterr().out
    assert "verdict: VESSEL_NOT_FOUND" in out and "1 report(s) matched" in out


def test_cli_errors_exit_2_with_one_line(reports_db_url: str, ref_conn, tmp_path, capsys) -> None:
    base = ["--database-url", reports_db_url]
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"Sparta left Tartus \xff\n")
    assert main([*base, "extract-claims", str(bad), "--published", "2025-02-12"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("straitwatch extract-claims: ") and "not UTF-8 text" in err
    assert "\n" not in err

    assert main([*base, "import-reports", str(tmp_path / "missing.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err

    assert main([*base, "match", "--report", "no-such-report"]) == 2
    assert "no such report: no-such-report" in capsys.readouterr().err

    with pytest.raises(SystemExit) as exit_:
        main([*base, "extract-claims", str(bad), "--published", "12/02/2025"])
    assert exit_.value.code == 2
