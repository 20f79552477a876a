"""The one data-adapter interface. An adapter is fitted on training data (schema, scaling, sizes),
turns a source into blocks of model-space rows with their keys (row order, kept columns, file
names), and turns model-space rows back into the user's format. It travels in the checkpoint
(`to_dict` / `from_dict`, which validates), so nothing outside `data/` asks "table or images?".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from aecli.options import TrainOptions

BLOCK_VALUES = 1 << 22  # model-space values per block (16 MiB of float32)


@dataclass
class Rows:
    """A block of a source: model-space rows `x` (an array, or anything sliceable into one),
    the one-hot condition `y` (None unless the model is conditional), the `keys` that travel
    with the rows (kept columns, or image paths), for tables the source `frame` itself, and
    `start`, the number of rows before this block."""

    keys: pd.DataFrame
    x: Any
    y: np.ndarray | None = None
    frame: pd.DataFrame | None = None
    start: int = 0  # rows of the source before this block


@dataclass
class Feature:
    """One of the user's features as the model sees it: `width` model-space slots from `start`,
    scaled by `scale` (1 for categories, whose one-hot slots are probabilities)."""

    name: str
    start: int
    width: int
    scale: float
    categorical: bool


@dataclass
class Targets:
    """Where a command writes its result: a table file (`output`, '-' for stdout), or images
    in a folder (`out_dir`) and/or one contact sheet (`grid`)."""

    output: str | None = None
    out_dir: Path | None = None
    grid: Path | None = None


@dataclass
class Written:
    """What a write produced: the machine-readable `summary`, `where` it went for people ('' for
    stdout) and how many rows or images."""

    summary: dict[str, Any]
    where: str
    count: int


@dataclass
class Fitted:
    """What fitting an adapter on training data gives: the adapter and its model-space rows."""

    adapter: Adapter
    x: np.ndarray
    y: np.ndarray | None
    n_inputs: int  # the user's own columns (or 1 for images): what "compress" is measured in
    # fresh training rows for every batch (`batch(count, seed, step)`, `len` = rows an epoch
    # draws, `fingerprint`), or None; with a stream, `x` holds only the validation rows
    stream: Any = None
    # one process's share of the rows under torchrun (see `Share`), or None: x holds them all
    share: Share | None = None


@dataclass(frozen=True)
class Share:
    """What one of `world` processes keeps of the rows (`fit_training(..., part=(rank,
    world))`): its training rows, every world-th of the training split from its rank on, then
    every validation row; the figures of all the rows that every process agrees on."""

    train: np.ndarray  # positions in `Fitted.x` of this process's training rows
    val: np.ndarray  # positions in `Fitted.x` of the validation rows (all of them)
    train_total: int  # training rows of every process
    fingerprint: str  # sha256 of every row's model-space values, the same in every process


class Adapter(ABC):
    """The interface every data adapter implements (see the module docstring)."""

    type: ClassVar[str]  # "table" or "images": the checkpoint's schema "type"
    noun: ClassVar[str]  # what one row is called in messages: "rows" or "images"
    feature_noun: ClassVar[str]  # what one feature is called: "columns" or "pixels"
    noise_unit: ClassVar[float]  # the scale --noise levels are given in (1, or 255 for pixels)
    condition: Any = None  # the condition column of a conditional table model
    streams_out: ClassVar[bool] = True  # rows_out of each block can be written as it comes
    n_condition: int = 0

    @classmethod
    @abstractmethod
    def accepts(cls, source: Any) -> bool:
        """Whether `source` (a path, glob, '-' or DataFrame) is this adapter's kind of data."""

    @classmethod
    @abstractmethod
    def fit_training(
        cls,
        source: Any,
        options: TrainOptions,
        variational: bool,
        stream: bool = False,
        part: tuple[int, int] | None = None,
    ) -> Fitted:
        """Fit on training data; the statistics come from the training split only. `stream`
        asks for fresh training rows every batch where the adapter can draw them (crops).
        `part` (rank, world): one process of a torchrun job, which keeps only its share of the
        training rows where the adapter can (`Fitted.share`, or a stream of its rows)."""

    @classmethod
    @abstractmethod
    def from_dict(cls, data: dict[str, Any]) -> Adapter:
        """Rebuild from `to_dict`'s output, validating every field (CheckpointError)."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]: ...

    @property
    @abstractmethod
    def n_features(self) -> int:
        """Model-space width of one row."""

    def features(self) -> list[Feature]:
        """The user's features, each with its own figures in `evaluate` (none by default: an
        image's pixels are summarised by the overall figures)."""
        return []

    def log_scale(self) -> float:
        """log |d model-space / d data units| of one row: what turns a density in model space
        into one in the user's units (0 when rows are used as they are)."""
        return 0.0

    @abstractmethod
    def kinds_and_widths(self) -> tuple[list[str], list[int]]:
        """Each output column's likelihood and model-space width."""

    @abstractmethod
    def blocks(
        self, source: Any, keep: Sequence[str] = (), recursive: bool = False
    ) -> Iterator[Rows]:
        """The source as blocks of rows, in order, each with its keys."""

    @abstractmethod
    def rows_out(self, values: np.ndarray, keys: pd.DataFrame | None = None, **how: Any) -> Any:
        """Model-space rows back in the user's format (a table, or named images)."""

    def join_out(self, parts: Sequence[Any]) -> Any:
        """`rows_out`'s results for successive blocks as one result."""
        return [item for part in parts for item in part]

    @abstractmethod
    def value_range(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The lowest and highest value of each feature (what salt-and-pepper noise uses)."""

    @abstractmethod
    def default_latent_dim(self, n_inputs: int) -> int:
        """The code size used when --latent-dim is not given."""

    @abstractmethod
    def body(self, options: TrainOptions) -> tuple[int, ...]:
        """The hidden sizes of the network's residual body (MLP widths or conv channels)."""

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        """(C, H, W) when rows are images, for the convolutional body; None otherwise."""
        return None

    @abstractmethod
    def code_keys(self, codes: pd.DataFrame, keep: Sequence[str]) -> pd.DataFrame:
        """The columns of a codes table that travel to the decoded output (`keep`, or the
        image paths that name decoded images)."""

    @abstractmethod
    def check_targets(self, targets: Targets, force: bool, inputs: Sequence[Any]) -> Targets:
        """Refuse, before any work, targets this kind of output cannot go to (one line saying
        what to give instead), or that would clobber a file or an input."""

    @abstractmethod
    def write(self, result: Any, targets: Targets, force: bool, inputs: Sequence[Any]) -> Written:
        """Write `rows_out`'s result to the targets, atomically; what was written."""

    def use_options(self, options: TrainOptions) -> None:
        """Take what the training options say about reading this kind of data (a table's CSV
        dialect); nothing by default."""
        return None

    def condition_of(self, frame: pd.DataFrame, hint: str = "") -> np.ndarray | None:
        """The one-hot condition of a conditional model's rows; None for other models."""
        return None

    def read(self, source: Any, keep: Sequence[str] = (), recursive: bool = False) -> Rows:
        """The whole source as one block."""
        import numpy as np
        import pandas as pd

        parts = list(self.blocks(source, keep, recursive))
        if len(parts) == 1:
            return parts[0]
        frames = [p.frame for p in parts if p.frame is not None]
        return Rows(
            pd.concat([p.keys for p in parts], ignore_index=True),
            np.concatenate([np.asarray(p.x) for p in parts]),
            None if parts[0].y is None else np.concatenate([p.y for p in parts]),
            pd.concat(frames, ignore_index=True) if frames else None,
        )

    def require(self, adapter_type: str, what: str) -> None:
        """Refuse `what` (one line with a hint) unless this adapter is of `adapter_type`."""
        from aecli.errors import UserError

        if self.type == adapter_type:
            return
        if adapter_type == "table":
            raise UserError(
                f"{what} is for table models; this model makes images (decode_images, "
                "sample_images, denoise_image; --out-dir on the command line)"
            )
        raise UserError(
            f"{what} is for models trained on images; this one was trained on a table "
            "(for photos, the built-in model: aecli denoise photo IMAGE)"
        )


def split_rows(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded shuffle into training and validation rows (none held out below 10 rows)."""
    import numpy as np

    order = np.random.default_rng(seed).permutation(n)
    n_val = round(n * val_fraction) if n >= 10 else 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def block_rows(width: int) -> int:
    """Rows per block for rows `width` values wide, so that a block stays about 16 MiB."""
    return max(1, BLOCK_VALUES // max(1, width))
