"""Training options from a TOML file, with keyword options (or command-line flags) over it, and
resolved options written back as TOML: the file `aecli train --config` reads, `--print-config`
prints and `aecli inspect MODEL --config` gives back, so a run can be reproduced from it."""

from __future__ import annotations

import os
from typing import Any

from aecli.option_values import read_toml, to_toml
from aecli.options import TrainOptions

HEADER = "aecli train options (TOML): aecli train DATA --config THIS_FILE"
UNSET = {"sparsity": "none"}  # None would be read back as "the kind's default" (l1 for sparse)


def options_from(config: str | os.PathLike[str] | None = None, **options: Any) -> TrainOptions:
    """The options a TOML file sets, with `options` overriding them, checked (names, types and
    values: UserError) but not yet filled in by kind."""
    given = read_toml(config) if config is not None else {}
    where = f"{config}: " if config is not None else ""
    from_file = TrainOptions.from_dict(given, where).to_dict() if given else {}
    return TrainOptions.from_dict({**from_file, **options}).validate()


def resolved_from(config: str | os.PathLike[str] | None = None, **options: Any) -> TrainOptions:
    """`options_from`, with the kind's preset and the base defaults filled in: what training
    runs with (the code size, when not given, still follows from the data)."""
    return options_from(config, **options).resolved()


def config_text(options: TrainOptions, source: str = "") -> str:
    """The options as the TOML file `--config` reads; `source` says where they came from."""
    header = HEADER + (f"\n{source}" if source else "")
    return to_toml(options, header, unset=UNSET)
