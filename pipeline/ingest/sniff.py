"""Format detection: which reader (and which column layout) fits a file.

Looks at the first bytes only: Parquet magic; an AIS sentence on the first line that is not
blank or a `#` comment (NMEA); a header with MMSI and BaseDateTime (NOAA); a header with
`# Timestamp` and `Type of mobile` (DMA); a shipped mapping in seeds/mappings/ whose columns are
all in the header; well-known column names for mmsi / lat / lon (generic CSV).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipeline.errors import StraitwatchError
from pipeline.ingest import dma, nmea, noaa
from pipeline.ingest.records import Batch
from pipeline.ingest.source import BLOCK_BYTES, SourceFile, inspect
from pipeline.ingest.tabular import (
    Layout,
    iter_csv_batches,
    iter_parquet_batches,
    layout_for_header,
    load_mapping,
    parquet_columns,
    read_header,
)

FORMATS = ("noaa", "dma", "nmea", "csv", "parquet")
_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class Detected:
    """A file, its format (ingested_files.format) and, for tables, the column layout."""

    source: SourceFile
    fmt: str
    layout: Layout | None = None

    @property
    def mapping_name(self) -> str | None:
        if self.layout is None or self.fmt in ("noaa", "dma"):
            return None
        return self.layout.name

    def iter_batches(
        self, received_at: datetime | None = None, *, batch_bytes: int = BLOCK_BYTES
    ) -> Iterator[Batch]:
        """The file's batches; `batch_bytes` of input text (or an equivalent row count)."""
        if self.fmt == "nmea":
            return nmea.iter_batches(
                self.source.path,
                received_at=received_at,
                source=self.source,
                batch_lines=max(1, batch_bytes // 80),
            )
        assert self.layout is not None
        if self.fmt == "parquet":
            return iter_parquet_batches(
                self.source,
                self.layout,
                received_at=received_at,
                batch_rows=max(1, batch_bytes // 100),
            )
        return iter_csv_batches(
            self.source, self.layout, received_at=received_at, block_bytes=batch_bytes
        )


def _first_content_line(head: bytes) -> bytes | None:
    for line in head.splitlines():
        text = line.strip().lstrip(b"\xef\xbb\xbf")
        if text and not text.startswith(b"#"):
            return text
    return None


def _sniff_delimiter(src: SourceFile) -> tuple[str, list[str]]:
    best = (",", read_header(src, ","))
    for delimiter in _DELIMITERS[1:]:
        header = read_header(src, delimiter)
        if len(header[1]) > len(best[1][1]):
            best = (delimiter, header)
    return best[0], best[1][1]


def detect(path: Path | str, fmt: str | None = None, mapping: Path | str | None = None) -> Detected:
    """Find the reader for `path`; `fmt` and `mapping` (as given on the command line) win."""
    if fmt is not None and fmt not in FORMATS:
        raise StraitwatchError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    src = inspect(path)
    if mapping is not None and fmt in ("noaa", "dma", "nmea"):
        raise StraitwatchError(f"--mapping applies to csv and parquet files, not {fmt}")
    if fmt == "parquet" or (fmt is None and src.is_parquet):
        if not src.is_parquet:
            raise StraitwatchError(f"{path}: not a Parquet file")
        names = parquet_columns(src)
        if mapping is not None:
            return Detected(src, "parquet", load_mapping(mapping, "parquet"))
        if noaa.matches(names):
            return Detected(src, "parquet", dataclasses.replace(noaa.layout(names), fmt="parquet"))
        layout = layout_for_header(names, "parquet")
        if layout is None:
            raise StraitwatchError(
                f"{path}: cannot tell which Parquet columns hold mmsi, lat and lon; "
                "give --mapping FILE"
            )
        return Detected(src, "parquet", layout)
    if src.is_parquet:
        raise StraitwatchError(f"{path}: a Parquet file, not {fmt}")
    head = src.head()
    if not head.strip():
        raise StraitwatchError(f"{path}: empty file")
    first = _first_content_line(head)
    if fmt == "nmea" or (fmt is None and mapping is None and first and nmea.looks_like_nmea(first)):
        return Detected(src, "nmea")
    if b"\x00" in head:
        raise StraitwatchError(f"{path}: binary content; cannot tell its format (give --format)")
    if mapping is not None:
        return Detected(src, "csv", load_mapping(mapping, "csv"))
    delimiter, header = _sniff_delimiter(src)
    if fmt in (None, "noaa") and noaa.matches(header):
        return Detected(src, "noaa", noaa.layout(header))
    if fmt in (None, "dma") and dma.matches(header):
        return Detected(src, "dma", dma.layout(header))
    if fmt in ("noaa", "dma"):
        raise StraitwatchError(f"{path}: header is not {fmt.upper()}'s: {','.join(header)[:200]}")
    layout = layout_for_header(header, "csv")
    if layout is None:
        raise StraitwatchError(
            f"{path}: cannot tell its format (not NMEA, NOAA or DMA; no mapping fits the "
            f"header {','.join(header)[:120]!r}); give --format and --mapping"
        )
    if layout.delimiter != delimiter and layout.source is None:
        layout = dataclasses.replace(layout, delimiter=delimiter)
    return Detected(src, "csv", layout)
