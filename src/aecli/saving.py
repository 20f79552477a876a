"""What a model's checkpoint holds, and the checks it passes before anything is built.

The record (store/checkpoint.py) is one safetensors file: the network's weights, the extras
(PCA baseline, code density) and, for an interrupted run, the training loop's state, with a JSON
header holding the kind, architecture, options, data adapter, history and metrics. Loading
validates every field and every declared tensor shape before a tensor is read, so an untrusted
file can neither run code nor exhaust memory.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from aecli._version import __version__
from aecli.data import adapter_from_dict
from aecli.data.adapter import Adapter
from aecli.ensemble import check_members
from aecli.errors import CheckpointError, UserError
from aecli.options import TrainOptions
from aecli.parts.architecture import Architecture
from aecli.parts.density import MAX_KERNELS
from aecli.parts.kinds import KINDS
from aecli.parts.marginals import MAX_KNOTS
from aecli.parts.networks import AutoencoderNet, build_network
from aecli.sample_choice import MAX_RESIDUALS
from aecli.scoring import MAX_VALIDATION
from aecli.store.checkpoint import MODEL_FORMAT, RecordReader, open_record, write_record
from aecli.vocabulary import MAX_COMPONENTS

if TYPE_CHECKING:
    from aecli.codec import Codec

MAX_PARAMETERS = 200_000_000  # 800 MB of float32: refuse anything claiming more
FORMAT2_OPTIONS = ("sep", "decimal", "thousands", "encoding")
RESUME = "resume."
EXTRA = "extra."
_HEADER = {
    "architecture": dict,
    "options": dict,
    "schema": dict,
    "history": dict,
    "metrics": dict,
    "kind": str,
}


@dataclass
class Loaded:
    """Everything a checkpoint holds, validated: what `Model(...)` is built from."""

    options: TrainOptions
    adapter: Adapter
    net: AutoencoderNet
    history: dict[str, Any]
    metrics: dict[str, Any]
    extras: dict[str, dict[str, np.ndarray]]
    resume: Any = None  # the training loop's state (a dict) for an interrupted run
    resume_tensors: dict[str, torch.Tensor] = field(default_factory=dict)


def save_model(
    model: Codec,
    path: str | os.PathLike[str],
    force: bool = False,
    resume: tuple[dict[str, Any], dict[str, torch.Tensor]] | None = None,
) -> Path:
    """Write `model`; with `resume` (meta, tensors) also the state to continue training from."""
    meta = {
        "aecli_version": __version__,
        "kind": model.kind,
        "architecture": model.architecture.to_dict(),
        "options": model.options.to_dict(),
        "schema": model.adapter.to_dict(),
        "history": model.history,
        "metrics": model.metrics,
    }
    tensors = {k: v.detach().cpu() for k, v in model.net.state_dict().items()}  # any device
    for group, arrays in model.extras.items():
        for name, array in arrays.items():
            tensors[f"{EXTRA}{group}.{name}"] = torch.from_numpy(np.ascontiguousarray(array))
    if resume is not None:
        meta["resume"] = resume[0]
        tensors.update({RESUME + k: v for k, v in resume[1].items()})
    return write_record(path, meta, tensors, force=force)


def read_model(path: str | os.PathLike[str], with_resume: bool = False) -> Loaded:
    """Read and validate a checkpoint (a resumable one loads as its best weights so far)."""
    target = Path(path)
    with open_record(target) as record:
        record.meta = migrate(record.meta)
        options, adapter, arch = _validate(record.meta, target)
        net = build_network(arch)
        expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        found = {k: s for k, s in record.shapes.items() if not k.startswith((RESUME, EXTRA))}
        if found != expected:
            raise CheckpointError(
                f"{target}: its tensors do not match the architecture it declares; "
                "the file is damaged or was tampered with"
            )
        state = {k: record.tensor(k) for k in expected}
        extras = _extras(record, arch, expected)
        resume = record.meta.get("resume") if with_resume else None
        tensors = _resume_tensors(record, expected) if isinstance(resume, dict) else {}
    if any(not torch.isfinite(t).all() for t in state.values()):
        raise CheckpointError(f"{target} holds NaN or infinite weights; retrain the model")
    net.load_state_dict(state)
    meta = record.meta
    return Loaded(options, adapter, net, meta["history"], meta["metrics"], extras, resume, tensors)


def _v1_to_v2(meta: dict[str, Any]) -> dict[str, Any]:
    """Format 2 (aecli 0.2) added the CSV dialect options; a format-1 file read CSV with pandas'
    defaults, which detection reproduces for every file format 1 could read."""
    options = meta.get("options")
    if isinstance(options, dict):
        meta["options"] = {**dict.fromkeys(FORMAT2_OPTIONS), **options}
    return meta


def _v2_to_v3(meta: dict[str, Any]) -> dict[str, Any]:
    """Format 3 (anomaly scores) added the optional `score` extras and metrics; a format-2 file
    has none and scores by reconstruction, without percentiles."""
    return meta


MIGRATIONS = {1: _v1_to_v2, 2: _v2_to_v3}  # format version -> the step that lifts it by one


def migrate(meta: dict[str, Any]) -> dict[str, Any]:
    """Lift a checkpoint header written at an older format version to the current one, step by
    step, so the rest of the loader reads one shape."""
    version = meta.get("format_version", MODEL_FORMAT.version)
    while isinstance(version, int) and version < MODEL_FORMAT.version:
        meta = MIGRATIONS[version](dict(meta))
        version += 1
        meta["format_version"] = version
    return meta


def _validate(meta: dict[str, Any], target: Path) -> tuple[TrainOptions, Adapter, Architecture]:
    """Check every field the loader will use: the options, the adapter, the architecture, and
    that they agree."""
    try:
        for key, typ in _HEADER.items():
            if not isinstance(meta.get(key), typ):
                raise CheckpointError(f"checkpoint metadata: {key} is missing or malformed")
        if meta["kind"] not in KINDS:
            raise CheckpointError(
                f"checkpoint metadata: unknown kind {meta['kind']!r}; upgrade aecli"
            )
        arch = Architecture.from_dict(meta["architecture"])
        if arch.parameter_count() > MAX_PARAMETERS:
            raise CheckpointError(
                f"checkpoint metadata declares {arch.parameter_count():,} parameters, more than "
                f"the {MAX_PARAMETERS:,} aecli accepts; the file is not trustworthy"
            )
        adapter = adapter_from_dict(meta["schema"])
        if (adapter.image_shape, adapter.n_features, adapter.n_condition) != (
            arch.image_shape,
            arch.n_features,
            arch.n_condition,
        ):
            raise CheckpointError("checkpoint metadata: the schema and architecture disagree")
        options = TrainOptions.from_dict(meta["options"]).validate()
    except CheckpointError as exc:
        raise CheckpointError(f"{target}: {exc}") from None
    except (UserError, TypeError, KeyError, AttributeError) as exc:
        raise CheckpointError(f"{target}: checkpoint metadata is malformed ({exc})") from None
    return options, adapter, arch


def _extras(
    record: RecordReader, arch: Architecture, expected: dict[str, tuple[int, ...]]
) -> dict[str, dict[str, np.ndarray]]:
    """PCA baseline, code density, scores, sampling and ensemble members (`expected`: the
    network's tensor shapes), each shape checked against the architecture."""
    d, k = arch.n_features, arch.latent_dim
    shapes = {
        "pca.axes": lambda s: s == (d, min(k, d)),
        "pca.mean": lambda s: s == (d,),
        "pca.variances": lambda s: len(s) == 1 and s[0] <= k,
        "pca.noise_variance": lambda s: s == (1,),
        "density.weights": lambda s: len(s) == 1 and 1 <= s[0] <= MAX_KERNELS,
        "density.means": lambda s: len(s) == 2 and s[1] == k and s[0] <= MAX_KERNELS,
        "density.covariances": lambda s: len(s) == 3 and s[1:] == (k, k) and s[0] <= MAX_COMPONENTS,
        "score.variance": lambda s: s == (d,),
        "score.code_weights": lambda s: len(s) == 1 and 1 <= s[0] <= MAX_KERNELS,
        "score.code_means": lambda s: len(s) == 2 and s[1] == k and s[0] <= MAX_KERNELS,
        "score.code_covariances": lambda s: (
            len(s) == 3 and s[1:] == (k, k) and s[0] <= MAX_COMPONENTS
        ),
        "score.validation": lambda s: len(s) == 1 and s[0] <= MAX_VALIDATION,
        "sampling.residual_sd": lambda s: s == (d,),
        "sampling.residuals": lambda s: len(s) == 2 and s[1] == d and s[0] <= MAX_RESIDUALS,
        "sampling.quantiles_from": lambda s: len(s) == 2 and s[1] == d and s[0] <= MAX_KNOTS,
        "sampling.quantiles_to": lambda s: len(s) == 2 and s[1] == d and s[0] <= MAX_KNOTS,
    }
    out: dict[str, dict[str, np.ndarray]] = {}
    members = {
        name[len(EXTRA) + 8 :]: shape
        for name, shape in record.shapes.items()
        if name.startswith(EXTRA + "members.")
    }
    if members and not check_members(members, expected):
        raise CheckpointError(f"{record.target}: its ensemble members do not match its network")
    for name, shape in record.shapes.items():
        if not name.startswith(EXTRA):
            continue
        key = name[len(EXTRA) :]
        if key.startswith("members."):
            out.setdefault("members", {})[key[8:]] = record.tensor(name).numpy()
            continue
        check = shapes.get(key)
        if check is None or not check(shape):
            raise CheckpointError(
                f"{record.target}: unexpected tensor {key!r}; the file was tampered with"
            )
        group, _, part = key.partition(".")
        out.setdefault(group, {})[part] = record.tensor(name).numpy()
    variance = out.get("score", {}).get("variance")
    if variance is not None and not (np.isfinite(variance).all() and (variance > 0).all()):
        raise CheckpointError(f"{record.target}: its score variances are not positive numbers")
    score = out.get("score", {})
    own = {k[5:]: v for k, v in score.items() if k.startswith("code_")}  # the score's density
    for density in (out.get("density"), own or None):
        if density is not None and (
            set(density) != {"weights", "means", "covariances"}
            or len(density["weights"]) != len(density["means"])
            or len(density["covariances"]) not in (1, len(density["weights"]))
        ):
            raise CheckpointError(f"{record.target}: its code density is incomplete")
    return out


def _resume_tensors(
    record: RecordReader, expected: dict[str, tuple[int, ...]]
) -> dict[str, torch.Tensor]:
    """The training state's tensors, each checked against the network's shapes first."""
    n_params = len(expected)
    shapes = list(expected.values())
    out = {}
    for name, shape in record.shapes.items():
        if not name.startswith(RESUME):
            continue
        key = name[len(RESUME) :]
        head, _, rest = key.partition(".")
        if head == "net":
            ok = expected.get(rest) == shape
        elif head == "opt":
            index, _, slot = rest.partition(".")
            ok = (
                index.isdigit()
                and int(index) < n_params
                and (shape == () if slot == "step" else shape == shapes[int(index)])
            )
        else:
            ok = key in ("rng", "running", "order") and len(shape) <= 1 and math.prod(shape) < 1e9
        if not ok:
            raise CheckpointError(f"{record.target}: resume tensor {key!r} has an unexpected shape")
        out[key] = record.tensor(name)
    return out
