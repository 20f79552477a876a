"""How a delimited text file is written: its encoding, separator, decimal mark and thousands
separator, given by the user (--encoding, --sep, --decimal, --thousands) or detected from the
first bytes (a UTF-8 byte-order mark, Latin-1 text, a semicolon file with decimal commas)."""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass, replace

from aecli.errors import AecliWarning, DataError

SAMPLE_BYTES = 1 << 16
SEPARATORS = (",", ";", "\t", "|")
DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")
DOTTED_THOUSANDS = re.compile(r"^-?\d{1,3}(\.\d{3})+(,\d+)?$")
BOMS = {b"\xef\xbb\xbf": "utf-8-sig", b"\xff\xfe": "utf-16", b"\xfe\xff": "utf-16"}


@dataclass(frozen=True)
class Dialect:
    """None means "detect" (encoding, sep, decimal) or "none" (thousands)."""

    sep: str | None = None
    decimal: str | None = None
    thousands: str | None = None
    encoding: str | None = None

    def check(self) -> Dialect:
        for flag, value in (("--sep", self.sep), ("--decimal", self.decimal)):
            if value is not None and len(value) != 1:
                raise DataError(f"{flag} takes one character, not {value!r}")
        if self.thousands is not None and len(self.thousands) != 1:
            raise DataError(f"--thousands takes one character, not {self.thousands!r}")
        if self.decimal is not None and self.decimal == self.thousands:
            raise DataError("--decimal and --thousands must differ")
        if self.encoding is not None:
            import codecs

            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise DataError(
                    f"--encoding {self.encoding!r} is not a known encoding (try utf-8 or latin-1)"
                ) from None
        return self


def dialect_of(options: object) -> Dialect:
    """The dialect a TrainOptions (or anything with sep/decimal/thousands/encoding) names."""
    names = ("sep", "decimal", "thousands", "encoding")
    return Dialect(**{n: getattr(options, n, None) for n in names})


def detect(head: bytes, default_sep: str, given: Dialect, name: str) -> Dialect:
    """Fill what the user left open from the first bytes of the (decompressed) file."""
    given.check()
    encoding = given.encoding or _encoding(head, name)
    text = _text(head, encoding)
    sep = given.sep or _separator(text, default_sep)
    decimal = given.decimal
    thousands = given.thousands
    if decimal is None:
        decimal = "," if sep != "," and _share(text, sep, DECIMAL_COMMA, DOTTED_THOUSANDS) else "."
    if thousands is None and decimal == "," and _share(text, sep, DOTTED_THOUSANDS):
        thousands = "."
    return replace(given, sep=sep, decimal=decimal, thousands=thousands, encoding=encoding)


def _encoding(head: bytes, name: str) -> str:
    for bom, encoding in BOMS.items():
        if head.startswith(bom):
            return encoding
    if b"\x00" in head:
        raise DataError(
            f"{name} is not a text file (it holds binary data); give a CSV, TSV or Parquet file"
        )
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            warnings.warn(
                f"{name} is not UTF-8; read as Latin-1 (say --encoding NAME if that is wrong)",
                AecliWarning,
                stacklevel=4,
            )
            return "latin-1"
    return "utf-8"


def _text(head: bytes, encoding: str) -> str:
    return head.decode(encoding, errors="ignore")


def _lines(text: str) -> list[str]:
    lines = text.splitlines()
    if len(lines) > 1:  # the last line of a sample may be cut short
        lines = lines[:-1]
    return [line for line in lines[:50] if line.strip()]


def _separator(text: str, default: str) -> str:
    """The default when it splits every line into the header's count of fields (more than
    one), else the first other candidate that does."""
    lines = _lines(text)
    if not lines:
        return default
    for sep in (default, *[s for s in SEPARATORS if s != default]):
        counts = {len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=sep)}
        if len(counts) == 1 and counts.pop() > 1:
            return sep
    return default


def _share(text: str, sep: str, *patterns: re.Pattern[str]) -> bool:
    """True when at least one cell matches one of `patterns` and cells that look numeric do."""
    cells = [
        c.strip()
        for row in csv.reader(io.StringIO("\n".join(_lines(text)[1:])), delimiter=sep)
        for c in row
    ]
    hits = sum(1 for c in cells if any(p.match(c) for p in patterns))
    numeric = sum(1 for c in cells if re.match(r"^-?[\d.,]+$", c))
    return hits > 0 and hits >= 0.5 * numeric
