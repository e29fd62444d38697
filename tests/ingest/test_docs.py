"""The README's reject reasons are the ones the code gives."""

from __future__ import annotations

import re

from pipeline.config import REPO_DIR
from pipeline.ingest.records import REJECT_REASONS


def test_readme_lists_every_reject_reason_in_order() -> None:
    text = (REPO_DIR / "README.md").read_text(encoding="utf-8")
    section = text.split("## Ingesting AIS", 1)[1].split("\n## ", 1)[0]
    table = section.split("Reject reasons", 1)[1]
    listed = re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE)
    assert listed == list(REJECT_REASONS)
