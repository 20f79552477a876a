"""Parsing of --noise specs ('gaussian:0.5', 'mask:0.2', 'saltpepper:0.1'). No torch here."""

from __future__ import annotations

from aecli.errors import UserError

NOISE_TYPES = ("gaussian", "mask", "saltpepper")


def parse_noise(spec: str) -> tuple[str, float]:
    """Return (type, level); gaussian levels are standard deviations, the others probabilities."""
    name, _, level_text = spec.partition(":")
    name = name.strip().lower()
    if name not in NOISE_TYPES or not level_text:
        raise UserError(
            f"--noise {spec!r} is not understood; write gaussian:SIGMA, mask:P or saltpepper:P"
        )
    try:
        level = float(level_text)
    except ValueError:
        raise UserError(f"--noise {spec!r}: {level_text!r} is not a number") from None
    if name == "gaussian" and not 0 <= level <= 100:
        raise UserError(f"--noise {spec!r}: SIGMA must be between 0 and 100")
    if name != "gaussian" and not 0 <= level < 1:
        raise UserError(f"--noise {spec!r}: P must be at least 0 and below 1")
    return name, level
