"""Parsing of --noise specs ('gaussian:0.5', 'gaussian:0-50', 'mask:0.2', 'saltpepper:0.1',
'poisson:10-100', and terms joined by '+': 'poisson:10-100+gaussian:0-10' is Poisson-Gaussian
noise). No torch here."""

from __future__ import annotations

from aecli.errors import UserError

NOISE_TYPES = ("gaussian", "mask", "saltpepper", "poisson")
MAX_PEAK = 1e6  # photons at full scale of poisson noise


def parse_noise(spec: str) -> tuple[str, float, float]:
    """Return (type, low, high): a level, or a range LOW-HIGH drawn uniformly for each row.

    Gaussian levels are standard deviations (standardised units for tables, 0-255 for images),
    the others probabilities."""
    name, _, level_text = spec.partition(":")
    name = name.strip().lower()
    if name not in NOISE_TYPES or not level_text:
        raise UserError(
            f"--noise {spec!r} is not understood; write gaussian:SIGMA, gaussian:LOW-HIGH, "
            "mask:P, saltpepper:P or poisson:PEAK (terms may be joined by +)"
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
    if name == "poisson" and not (low > 0 and high <= MAX_PEAK):
        raise UserError(
            f"--noise {spec!r}: PEAK (photons at full scale) must be above 0 and at most "
            f"{MAX_PEAK:g}"
        )
    if name in ("mask", "saltpepper") and not (low >= 0 and high < 1):
        raise UserError(f"--noise {spec!r}: P must be at least 0 and below 1")
    return name, low, high


def parse_noises(spec: str) -> list[tuple[str, float, float]]:
    """The terms of a spec joined by '+', each as `parse_noise` returns it, applied in order."""
    return [parse_noise(term) for term in spec.split("+")]


def is_masking(spec: str | None) -> bool:
    """Whether --noise `spec` hides cells (mask:P), so the model learns to fill missing ones."""
    return spec is not None and any(name == "mask" for name, _, _ in parse_noises(spec))
