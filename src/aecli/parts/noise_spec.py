"""Parsing of --noise specs ('gaussian:0.5', 'gaussian:0-50', 'mask:0.2', 'saltpepper:0.1').
No torch here."""

from __future__ import annotations

from aecli.errors import UserError

NOISE_TYPES = ("gaussian", "mask", "saltpepper")


def parse_noise(spec: str) -> tuple[str, float, float]:
    """Return (type, low, high): a level, or a range LOW-HIGH drawn uniformly for each row.

    Gaussian levels are standard deviations (standardised units for tables, 0-255 for images),
    the others probabilities."""
    name, _, level_text = spec.partition(":")
    name = name.strip().lower()
    if name not in NOISE_TYPES or not level_text:
        raise UserError(
            f"--noise {spec!r} is not understood; write gaussian:SIGMA, gaussian:LOW-HIGH, "
            "mask:P or saltpepper:P"
        )
    low_text, dash, high_text = level_text.partition("-")
    try:
        low = float(low_text)
        high = float(high_text) if dash else low
    except ValueError:
        raise UserError(f"--noise {spec!r}: {level_text!r} is not a number or a range") from None
    if high < low:
        raise UserError(f"--noise {spec!r}: the range must run from low to high")
    if name == "gaussian" and not (low >= 0 and high <= 255):
        raise UserError(f"--noise {spec!r}: SIGMA must be between 0 and 255")
    if name != "gaussian" and not (low >= 0 and high < 1):
        raise UserError(f"--noise {spec!r}: P must be at least 0 and below 1")
    return name, low, high


def is_masking(spec: str | None) -> bool:
    """Whether --noise `spec` hides cells (mask:P), so the model learns to fill missing ones."""
    return spec is not None and parse_noise(spec)[0] == "mask"
