"""Input files: checksums, transparent decompression (.gz, .bz2, .zst, .zip) and line blocks."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from pipeline.errors import StraitwatchError

BLOCK_BYTES = 8 << 20  # about 75,000 NOAA lines: big enough for COPY, small for memory
_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bz2",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"PK\x03\x04": "zip",
}
PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class SourceFile:
    """A readable input file and how to get at its bytes."""

    path: Path
    compression: str | None  # gzip, bz2, zstd, zip or None
    member: str | None = None  # the data file inside a zip archive

    @property
    def is_parquet(self) -> bool:
        if self.compression is not None:
            return False
        with self.path.open("rb") as f:
            return f.read(4) == PARQUET_MAGIC

    @contextmanager
    def open(self) -> Iterator[BinaryIO]:
        """The decompressed bytes as a binary stream."""
        with ExitStack() as stack:
            try:
                stream = stack.enter_context(self._open_stream(stack))
            except (OSError, zipfile.BadZipFile, KeyError) as exc:
                raise StraitwatchError(f"cannot read {self.path}: {exc}") from exc
            try:
                yield stream
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                raise StraitwatchError(f"cannot read {self.path}: {exc}") from exc

    def _open_stream(self, stack: ExitStack) -> BinaryIO:
        if self.compression == "gzip":
            return gzip.open(self.path, "rb")  # type: ignore[return-value]
        if self.compression == "bz2":
            return bz2.open(self.path, "rb")  # type: ignore[return-value]
        if self.compression == "zstd":
            import pyarrow as pa

            return pa.CompressedInputStream(pa.OSFile(str(self.path)), "zstd")
        if self.compression == "zip":
            archive = stack.enter_context(zipfile.ZipFile(self.path))
            return archive.open(self.member or "")  # type: ignore[return-value]
        return self.path.open("rb")

    def head(self, n_bytes: int = 64 << 10) -> bytes:
        """The first `n_bytes` of the decompressed content."""
        with self.open() as stream:
            return _read_some(stream, n_bytes)


def _read_some(stream: BinaryIO, n_bytes: int) -> bytes:
    try:
        return stream.read(n_bytes)
    except (OSError, EOFError, zipfile.BadZipFile, ValueError) as exc:
        raise StraitwatchError(f"cannot read: {exc}") from exc


def inspect(path: Path | str) -> SourceFile:
    """Check that `path` is a readable file and find its compression from its first bytes."""
    path = Path(path)
    if not path.exists():
        raise StraitwatchError(f"{path}: no such file")
    if path.is_dir():
        raise StraitwatchError(f"{path}: is a directory, not a file")
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise StraitwatchError(f"cannot read {path}: {exc.strerror or exc}") from exc
    compression = next((kind for m, kind in _MAGIC.items() if magic.startswith(m)), None)
    member = None
    if compression == "zip":
        try:
            with zipfile.ZipFile(path) as archive:
                names = [
                    i.filename
                    for i in archive.infolist()
                    if not i.is_dir() and not i.filename.startswith(("__MACOSX/", "."))
                ]
        except zipfile.BadZipFile as exc:
            raise StraitwatchError(f"cannot read {path}: {exc}") from exc
        if len(names) != 1:
            raise StraitwatchError(
                f"{path}: a zip archive must hold exactly one data file, found {len(names)}"
                + (f" ({', '.join(names[:5])})" if names else "")
            )
        member = names[0]
    return SourceFile(path, compression, member)


def sha256_of(path: Path) -> str:
    """SHA-256 of the file as stored (compressed bytes for compressed files)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise StraitwatchError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return digest.hexdigest()


@dataclass(frozen=True)
class LineBlock:
    """Whole lines of a file: `data` holds lines `first_line`.. with their offsets."""

    first_line: int
    data: bytes
    starts: np.ndarray  # byte offset where each line starts
    ends: np.ndarray  # byte offset of each line's end, "\r\n" / "\n" excluded

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def line_numbers(self) -> np.ndarray:
        return np.arange(self.first_line, self.first_line + len(self.starts), dtype="int64")

    def text(self, index: np.ndarray) -> list[str]:
        """Text of the lines at these positions of the block (not line numbers)."""
        data = self.data
        return [
            data[s:e].decode("utf-8", "replace")
            for s, e in zip(self.starts[index], self.ends[index], strict=True)
        ]


def line_offsets(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the lines in `data` (a last line without newline counts)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    ends = newlines
    if len(data) and data[-1:] != b"\n":
        ends = np.append(ends, len(data))
    starts = np.empty(len(ends), dtype=np.int64)
    if len(ends):
        starts[0] = 0
        starts[1:] = newlines[: len(ends) - 1] + 1
    ends = ends.astype(np.int64)
    if len(ends):
        # drop the "\r" of "\r\n" line ends
        has_cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13)
        ends = ends - has_cr
    return starts, ends


def iter_line_blocks(
    stream: BinaryIO, *, block_bytes: int = BLOCK_BYTES, first_line: int = 1
) -> Iterator[LineBlock]:
    """Read `stream` in blocks of whole lines, numbering lines from `first_line`."""
    carry = b""
    line_no = first_line
    while True:
        chunk = _read_some(stream, block_bytes)
        if not chunk:
            break
        data = carry + chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0:  # a line longer than the block: keep reading
            carry = data
            continue
        carry = data[cut:]
        block = data[:cut]
        starts, ends = line_offsets(block)
        yield LineBlock(line_no, block, starts, ends)
        line_no += len(starts)
    if carry:
        starts, ends = line_offsets(carry)
        yield LineBlock(line_no, carry, starts, ends)
