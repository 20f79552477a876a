"""Convert a photo-denoiser weights file of the earlier format (`aecli-photo-denoiser`, written by
the training script of aecli 0.2) into an ordinary `denoiser` checkpoint, the format every aecli
model uses. The weights are copied unchanged, so outputs stay the same; the training recipe moves
into the checkpoint's history. This is how src/aecli/models/photo.safetensors was made:

    .venv/bin/python scripts/convert_photo_denoiser.py OLD.safetensors \
        src/aecli/models/photo.safetensors --force
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aecli.models.photo import legacy_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    model = legacy_model(args.source)
    model.save(args.target, force=args.force)
    print(f"wrote {args.target}: {model.architecture.parameter_count():,} parameters")


if __name__ == "__main__":
    main()
