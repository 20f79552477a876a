"""Compressed files by suffix (.gz, .bz2, .xz, .zst) for reading and writing, and inputs named
by URL (read through fsspec where it is installed)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from aecli.errors import DataError, UserError

URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
COMPRESSED = (".gz", ".bz2", ".xz", ".zst")


class _Zstd:
    """zstandard's stream reader/writer behind the `open(path, mode)` of gzip, bz2 and lzma."""

    @staticmethod
    def open(path: Any, mode: str) -> Any:
        try:
            import zstandard
        except ImportError:
            raise UserError(
                ".zst files need the zstandard package: pip install zstandard"
            ) from None
        return zstandard.open(path, mode)


def _compressor(suffix: str) -> Any:
    """The module whose `open(path, mode)` reads and writes `suffix`, or None if plain."""
    import bz2
    import gzip
    import lzma

    return {".gz": gzip, ".bz2": bz2, ".xz": lzma, ".zst": _Zstd}.get(suffix)


@contextmanager
def compressed_writer(path: Path, target_suffix: str) -> Iterator[IO[bytes]]:
    """A binary handle onto `path` that compresses as `target_suffix` says (plain if none).
    gzip is written without a timestamp or name so the same rows give the same bytes."""
    import gzip

    if target_suffix == ".gz":
        with open(path, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as handle:
            yield handle  # type: ignore[misc]
        return
    opener = _compressor(target_suffix)
    if opener is None:
        with open(path, "wb") as handle:
            yield handle
        return
    with opener.open(path, "wb") as handle:
        yield handle


def fetch_url(url: str) -> bytes:
    """The bytes behind a URL, through fsspec; without it, say how to fetch the file first."""
    fetch_first = f"download it first (curl -LO {url}) and give the local file"
    try:
        import fsspec
    except ImportError:
        raise DataError(
            f"{url}: URLs are read through fsspec, which is not installed; "
            f"pip install 'aecli[remote]', or {fetch_first}"
        ) from None
    try:
        with fsspec.open(url, "rb") as handle:
            return handle.read()
    except ImportError as exc:
        raise DataError(f"{url}: {exc}; or {fetch_first}") from None
    except Exception as exc:  # network and protocol errors come in many types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise DataError(f"{url} could not be read ({first}); {fetch_first}") from None
