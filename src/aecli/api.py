"""The library verbs the CLI is a thin layer over: `train` and `load`."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from aecli.code_size import default_code_size
from aecli.config import resolved_from
from aecli.data import adapter_for, fit_training
from aecli.data.adapter import Fitted, split_rows
from aecli.data.moments import Moments
from aecli.data.table_pass import SAMPLE_ROWS
from aecli.errors import CheckpointError, DataError, TrainingInterrupted, UserError
from aecli.model import Model
from aecli.option_values import describe
from aecli.options import TrainOptions
from aecli.parts import assemble
from aecli.parts.architecture import Architecture
from aecli.parts.density import fit_code_density
from aecli.parts.kinds import KINDS
from aecli.parts.networks import build_network
from aecli.pca import pca_basis, pca_reconstruction_error, pca_summary
from aecli.results import TrainingMetrics, meaningful_ratio
from aecli.sample_choice import choose_sampling
from aecli.saving import Loaded, read_model
from aecli.scoring import fit_score_extras
from aecli.threads import auto_threads, torch_threads
from aecli.training import EpochCallback, Trainer

if TYPE_CHECKING:
    from aecli.distributed import Placement

__all__ = ["load", "split_rows", "train"]


@dataclass
class Split:
    """The training data split for the loop: model-space rows x (then the condition y) of the
    training and validation rows, and the fingerprint a resumed run must match."""

    fitted: Fitted
    train_rows: np.ndarray
    val_rows: np.ndarray
    xy: np.ndarray
    fingerprint: str
    seed: int = 0

    @property
    def fit_rows(self) -> np.ndarray:
        """The training rows the code density, sampling defaults and score figures fit on: at
        most SAMPLE_ROWS (a seeded sample), so their cost does not grow with the rows."""
        rows = self.train_rows
        if len(rows) <= SAMPLE_ROWS:
            return rows
        pick = np.random.default_rng([self.seed, 6]).choice(len(rows), SAMPLE_ROWS, replace=False)
        return rows[np.sort(pick)]

    def part(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        x, y = self.fitted.x, self.fitted.y
        return take(x, rows), None if y is None else take(y, rows)

    @property
    def train_total(self) -> int:
        """The training rows of every process (a stream's: all it draws from)."""
        fitted = self.fitted
        if fitted.stream is not None:
            return len(fitted.stream)
        return fitted.share.train_total if fitted.share is not None else len(self.train_rows)


def take(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """array[rows]; a view, not a copy, where `rows` are consecutive (as fit_training lays them)."""
    if len(rows) and rows[-1] - rows[0] == len(rows) - 1 and (np.diff(rows) == 1).all():
        return array[int(rows[0]) : int(rows[0]) + len(rows)]
    return array[rows]


def train(
    data: Any,
    *,
    on_epoch: EpochCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress_path: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 0,
    resume: str | os.PathLike[str] | None = None,
    config: str | os.PathLike[str] | None = None,
    device: str = "auto",
    precision: str = "fp32",
    **options: Any,
) -> Model:
    """Train an autoencoder on a table (a DataFrame, a 2-D NumPy array with columns x0, x1, ...,
    or a CSV / TSV / Parquet path) or on images (a folder, a glob or an image file).

    Keyword options are the fields of `TrainOptions`, listed below; `config` names a TOML file
    of them (what `aecli train --config` reads), which keyword options override. An unknown
    name, a wrong type or a value out of range raises `aecli.UserError` (one line, with a
    suggestion).
    Progress: `on_epoch(record, epochs)` is called after every epoch with the epoch's record
    (a dict: epoch, train_loss, val_loss) and the planned number of epochs.
    With `progress_path`, a resumable checkpoint is written there every `checkpoint_every` epochs
    and when `should_stop()` turns true after a batch (then `TrainingInterrupted` is raised).
    `resume` continues from such a checkpoint (its options win) to the same final weights.
    `device` (auto, cpu, cuda, cuda:N, mps) and `precision` (fp32, bf16, fp16) say where and
    how it computes; under torchrun every process trains one shared model (aecli.distributed).
    """
    from aecli.distributed import placement

    with placement(device, precision) as place:
        how = (on_epoch, should_stop, progress_path, checkpoint_every, resume, config)
        return _train(data, place, *how, options)


def _train(
    data: Any,
    place: Placement,
    on_epoch: EpochCallback | None,
    should_stop: Callable[[], bool] | None,
    progress_path: str | os.PathLike[str] | None,
    checkpoint_every: int,
    resume: str | os.PathLike[str] | None,
    config: str | os.PathLike[str] | None,
    options: dict[str, Any],
) -> Model:
    started = time.perf_counter()
    saved = _resumable(resume, place) if resume is not None else None
    before = float(saved.history.get("seconds", 0.0)) if saved is not None else 0.0
    opts = saved.options if saved is not None else resolved_from(config, **options)
    if KINDS[opts.kind].residual and adapter_for(data).type != "images":
        raise UserError(f"--kind {opts.kind} is for images; give a folder, a glob or an image file")
    if opts.ensemble > 1 and adapter_for(data).type == "images":
        raise UserError("--ensemble is for tables (denoise averages the networks' fills)")
    residual = KINDS[opts.kind].residual  # a denoiser: fresh crops for every step
    fitted = fit_training(data, opts, KINDS[opts.kind].variational, residual, place.part)
    split = _split(fitted, opts)
    if saved is not None and saved.history.get("data_sha256") != split.fingerprint:
        raise DataError(
            f"{data} is not the data the interrupted run was training on; resume with the same file"
        )
    x_train = split.part(split.train_rows)[0]
    moments = getattr(split.fitted.stream, "moments", None)  # a streamed table's: all rows
    basis = moments if moments is not None else x_train if residual else pca_basis(x_train)
    opts.latent_dim = default_code_size(split.fitted, opts, basis)
    data_shape = _data_shape(split.fitted, x_train, opts, place)
    source = _init_model(opts) if residual else None
    like = source.architecture if source is not None else None
    arch = assemble.architecture(opts, data_shape, opts.latent_dim, like)
    threads = opts.threads or auto_threads(arch.parameter_count(), opts.batch_size)
    with torch_threads(threads):
        net, pca = _network(arch, opts, basis, source)
        objective = assemble.objective(opts, data_shape)
        trainer = _trainer(net, objective, split, opts, place)
        if saved is not None:
            trainer.restore(saved.resume, saved.resume_tensors, saved.net.state_dict())

        def snapshot() -> Model:
            history = {**trainer.history(), "data_sha256": split.fingerprint, **place.record()}
            history.update(_elapsed(before, started))
            extras = {"pca": pca} if pca else {}
            model = Model(opts, split.fitted.adapter, trainer.best_net(), history, {}, extras)
            model.to(place.device)
            model.metrics = _denoiser_metrics(trainer) if residual else _metrics(model, split, pca)
            return model

        def save_progress() -> None:
            state = (trainer.state_meta(), trainer.state_tensors())  # every rank takes part
            model = snapshot()
            if progress_path is not None and place.writes:
                model.save(progress_path, force=True, resume=state)

        stop = None if should_stop is None else lambda: trainer.feed.agreed(should_stop())
        if not trainer.run(on_epoch, stop, checkpoint_every, save_progress):
            save_progress()
            raise TrainingInterrupted(progress_path, trainer.epoch)
        model = snapshot()
        if not residual:  # a denoiser has no codes to sample from
            if opts.ensemble > 1:  # trained once, under torchrun by every rank together
                model.extras["members"] = _members(trainer, split, pca, place)
            _code_extras(model, split, opts)
    if hasattr(split.fitted.stream, "close"):
        split.fitted.stream.close()  # a table's cache of training rows, in a temporary folder
    model.train_seconds = time.perf_counter() - started
    model.history.update(_elapsed(before, started))  # inspect shows it
    return model


def _elapsed(before: float, started: float) -> dict[str, float]:
    """The training time the checkpoint records, or nothing under SOURCE_DATE_EPOCH (the
    reproducible-builds convention), so the same data, options and seed give the same bytes."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return {}
    return {"seconds": round(before + time.perf_counter() - started, 2)}


train.__doc__ = f"{train.__doc__}\n    Options:\n\n{describe(TrainOptions, '    ')}\n"


def _rows(split: Split) -> tuple[Any, torch.Tensor]:
    """The training rows (a tensor, or the stream of fresh crops) and the validation rows."""
    stream = split.fitted.stream
    rows = stream if stream is not None else torch.from_numpy(take(split.xy, split.train_rows))
    return rows, torch.from_numpy(take(split.xy, split.val_rows))


def _trainer(
    net: torch.nn.Module, objective: Any, split: Split, opts: TrainOptions, place: Placement
) -> Trainer:
    """The training loop on this process's device, over its shard of the training and
    validation rows under torchrun (which a table's fit kept alone, or a stream draws from)."""
    if not place.launch.distributed:
        return Trainer(net, objective, *_rows(split), opts, place.feed(0, opts.batch_size))
    stream = split.fitted.stream
    kept = stream is not None or split.fitted.share is not None
    own = split.train_rows if kept else place.shard(split.train_rows)
    feed = place.feed(len(own), opts.batch_size)
    rows = stream if stream is not None else torch.from_numpy(split.xy[own])
    x_val = torch.from_numpy(split.xy[place.shard(split.val_rows, at_least=0)])
    return Trainer(net, objective, rows, x_val, opts, feed)


def _init_model(opts: TrainOptions) -> Model | None:
    """The denoiser a denoiser fine-tunes (--init photo, or a checkpoint), or None."""
    if opts.init in (None, "random"):
        return None
    assert opts.init is not None
    source = load(opts.init, device="cpu")
    if not isinstance(source, Model) or source.architecture.residual is None:
        raise UserError(
            f"--init {opts.init}: fine-tuning starts from a denoiser (--kind denoiser, or a "
            f"built-in such as photo), not from a {source.kind} model"
        )
    return source


def _network(
    arch: Architecture, opts: TrainOptions, x_train: np.ndarray | Moments, source: Model | None
) -> tuple[torch.nn.Module, dict[str, np.ndarray]]:
    """The network to train (seeded), and the PCA baseline of the bottleneck kinds (which
    `--init pca` starts from); a denoiser starts from its --init model's weights, if any."""
    torch.manual_seed(opts.seed)
    net = build_network(arch)
    if arch.residual is not None:
        if source is not None:
            net.load_state_dict(source.net.state_dict())
        return net, {}
    pca = pca_summary(x_train, opts.latent_dim)
    if opts.init == "pca":
        net.init_pca(torch.from_numpy(pca["axes"]), torch.from_numpy(pca["mean"]))
    return net, pca


def _code_extras(model: Model, split: Split, opts: TrainOptions) -> None:
    """What a model with codes keeps beside its weights: the code density `sample` draws from,
    the sampling defaults chosen on the validation rows, and the anomaly-score figures."""
    x_train, y_train = split.part(split.fit_rows)
    codes = model.apply(model.net.encode, x_train, y=y_train)
    density = fit_code_density(codes, opts.seed, opts.code_density, opts.components)
    model.extras["density"] = density
    val = split.part(split.val_rows)
    choose_sampling(model, codes, (x_train, y_train), val, opts.seed)
    held_out = split.part(split.val_rows if len(split.val_rows) else split.train_rows)
    # the likelihood score keeps the mixture BIC chose (a likelihood criterion), made spherical,
    # also where the sample choice replaced it with a density that generates more realistic rows
    _, figures = fit_score_extras(model, (x_train, y_train), held_out, opts.seed, density)
    split_name = "validation" if len(split.val_rows) else "training"
    model.metrics["score"] = {"split": split_name, **figures}


def _members(trainer: Trainer, split: Split, pca: Any, place: Placement) -> dict[str, Any]:
    """`--ensemble N`: the N - 1 further networks, started and trained like the first (on
    its device; under torchrun each one by every rank together, on its shard of the rows)."""
    from aecli.ensemble import train_members

    def start(member: Any, member_opts: TrainOptions) -> Trainer:
        if member_opts.init == "pca":
            member.init_pca(torch.from_numpy(pca["axes"]), torch.from_numpy(pca["mean"]))
        return _trainer(member, trainer.objective, split, member_opts, place)

    return train_members(trainer.net, trainer.options, start)


def _denoiser_metrics(trainer: Trainer) -> dict[str, Any]:
    """A denoiser's figures: its loss on the training and held-out crops at the best epoch,
    beside the loss of the noisy input itself (the network that changes nothing)."""
    from aecli.parts.residual import Unchanged
    from aecli.training import evaluate

    best = trainer.records[trainer.best_epoch]
    seed = trainer.options.seed
    unchanged_net = Unchanged(trainer.net.arch).to(trainer.feed.device)
    unchanged = evaluate(unchanged_net, trainer.objective, trainer.monitor, seed, trainer.feed)
    return TrainingMetrics(
        split="validation" if len(trainer.x_val) else "training",
        rows_train=trainer.n,
        rows_val=len(trainer.x_val),
        train_mse=best["train_loss"] if best["train_loss"] is not None else best["val_loss"],
        val_mse=best["val_loss"],
        pca_val_mse=unchanged,
        ratio_to_pca=meaningful_ratio(best["val_loss"], unchanged),
        baseline="input",
    ).to_dict()


def _resumable(path: str | os.PathLike[str], place: Placement) -> Loaded:
    saved = read_model(path, with_resume=True)
    if not isinstance(saved.resume, dict):
        raise CheckpointError(f"{path} holds a finished model, not a resumable training state")
    place.check_resume(saved.history)
    return saved


def _split(fitted: Fitted, opts: TrainOptions) -> Split:
    x, y = fitted.x, fitted.y
    xy = x if y is None else np.concatenate([x, y], axis=1)  # the loop's rows: x, then y
    if fitted.share is not None:  # one process's share under torchrun
        share = fitted.share
        return Split(fitted, share.train, share.val, xy, share.fingerprint, opts.seed)
    fingerprint = hashlib.sha256(np.ascontiguousarray(xy).data).hexdigest()  # no copy
    if fitted.stream is not None:  # training rows come fresh from the stream; x validates
        everything = np.arange(len(x))
        both = hashlib.sha256((fitted.stream.fingerprint + fingerprint).encode()).hexdigest()
        sampled = getattr(fitted.stream, "sample_rows", 0)  # a table's: x starts with a sample
        return Split(fitted, everything[:sampled], everything[sampled:], xy, both, opts.seed)
    train_rows, val_rows = split_rows(len(x), opts.val_fraction, opts.seed)
    return Split(fitted, train_rows, val_rows, xy, fingerprint, opts.seed)


def _data_shape(
    fitted: Fitted, x_train: np.ndarray, opts: TrainOptions, place: Placement
) -> assemble.DataShape:
    """What the parts are built for; under torchrun from every process's rows alike."""
    adapter = fitted.adapter
    low, high = place.extent(*adapter.value_range(x_train))
    missing = np.isnan(fitted.x).any() or getattr(fitted.stream, "has_missing", 0)
    likelihoods, widths = adapter.kinds_and_widths()
    return assemble.DataShape(
        n_features=adapter.n_features,
        n_condition=adapter.n_condition,
        likelihoods=likelihoods,
        widths=widths,
        body=adapter.body(opts),
        image_shape=adapter.image_shape,
        has_missing=place.agreed(bool(missing)),
        low=torch.from_numpy(np.asarray(low)),
        high=torch.from_numpy(np.asarray(high)),
        noise_unit=adapter.noise_unit,
    )


def _metrics(model: Model, split: Split, pca: dict[str, np.ndarray]) -> dict[str, Any]:
    """Reconstruction MSE (standardised units) of the model, beside PCA's on the same rows."""
    train, val = split.part(split.train_rows), split.part(split.val_rows)
    held_out = val if len(val[0]) else train
    pca_val = pca_reconstruction_error(pca["axes"], pca["mean"], held_out[0])

    def mse(rows: tuple[np.ndarray, np.ndarray | None]) -> float:
        total, count = model.residual_sums(*rows)  # block by block: memory bounded
        return float(total.sum() / count.sum()) if count.sum() else float("nan")

    model_val = mse(held_out)
    return TrainingMetrics(
        split="validation" if len(val[0]) else "training",
        rows_train=split.train_total,
        rows_val=len(val[0]),
        train_mse=mse(train),
        val_mse=model_val,
        pca_val_mse=pca_val,
        ratio_to_pca=meaningful_ratio(model_val, pca_val),
    ).to_dict()  # model.metrics stays a plain dict: it travels in the checkpoint's JSON


def load(path: str | os.PathLike[str], device: str = "auto", precision: str = "fp32") -> Model:
    """Load a checkpoint written by `Model.save` (safetensors + JSON; nothing is unpickled), or
    a built-in model by name (`aecli models` lists them), to run on `device` (auto: CUDA when
    available, else CPU) with `precision` (see `Model.to`). Weights load on the CPU, whatever
    device saved them, and are then moved."""
    from aecli.models import resolve
    from aecli.models.photo import FORMAT as PHOTO_FORMAT
    from aecli.store.checkpoint import read_format

    target = resolve(path)
    if read_format(target) == PHOTO_FORMAT.name:  # a denoiser's weights from earlier versions
        from aecli.models.photo import legacy_model

        return legacy_model(target).to(device, precision)  # type: ignore[no-any-return]
    loaded = read_model(target)
    model = Model(
        loaded.options, loaded.adapter, loaded.net, loaded.history, loaded.metrics, loaded.extras
    )
    return model.to(device, precision)
