"""The training size of an image model: `--image-size HxW` parsed and bounded. No heavy imports,
so options are checked before any data library loads."""

from __future__ import annotations

from aecli.errors import UserError

MAX_SIDE = 2048  # of the training size: a dense bottleneck over more pixels is not useful


def parse_size(text: str) -> tuple[int, int]:
    """'28x28' -> (height, width)."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        height, width = (int(p) for p in parts)
    except ValueError:
        raise UserError(f"--image-size {text!r}: write it as HEIGHTxWIDTH, e.g. 28x28") from None
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise UserError(f"--image-size {text!r}: each side must be between 1 and {MAX_SIDE}")
    return height, width
