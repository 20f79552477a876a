"""The one checkpoint format: a safetensors file whose metadata holds JSON describing the model.

Loading parses only safetensors and JSON and validates the metadata (types, ranges, sizes, format
version) before it allocates anything, so an untrusted file cannot run code or exhaust memory.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from aecli._version import __version__
from aecli.data.images import MAX_SIDE, ImageSchema
from aecli.data.table_schema import MAX_CATEGORIES, MAX_CONDITION_VALUES, TableSchema
from aecli.errors import CheckpointError, UserError
from aecli.model import Model
from aecli.options import TrainOptions
from aecli.parts.density import MAX_KERNELS
from aecli.parts.kinds import KINDS
from aecli.parts.likelihoods import LIKELIHOODS
from aecli.parts.networks import ACTIVATIONS, CODE_ACTIVATIONS, Architecture, AutoencoderNet
from aecli.store.atomic import atomic_path
from aecli.store.header import parse_metadata

FORMAT = "aecli"
FORMAT_VERSION = 1
METADATA_KEY = "aecli"
MAX_PARAMETERS = 200_000_000  # 800 MB of float32: refuse anything claiming more
MAX_WIDTH = 1_000_000


RESUME = "resume."
EXTRA = "extra."
MAX_COMPONENTS = 64


def save(
    model: Model,
    path: str | os.PathLike[str],
    force: bool = False,
    resume: tuple[dict[str, Any], dict[str, torch.Tensor]] | None = None,
) -> Path:
    """Write `model`; with `resume` (meta, tensors) also the state to continue training from."""
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "aecli_version": __version__,
        "kind": model.kind,
        "architecture": model.architecture.to_dict(),
        "options": model.options.to_dict(),
        "schema": model.schema.to_dict(),
        "history": model.history,
        "metrics": model.metrics,
    }
    tensors = {k: v.detach().contiguous() for k, v in model.net.state_dict().items()}
    for group, arrays in model.extras.items():
        for name, array in arrays.items():
            tensors[f"{EXTRA}{group}.{name}"] = torch.from_numpy(np.ascontiguousarray(array))
    if resume is not None:
        meta["resume"] = resume[0]
        tensors.update({RESUME + k: v.contiguous() for k, v in resume[1].items()})
    target = Path(path)
    with atomic_path(target, force) as tmp:
        save_file(tensors, str(tmp), metadata={METADATA_KEY: json.dumps(meta, sort_keys=True)})
    return target


def load(path: str | os.PathLike[str]) -> Model:
    """Load a model (a resumable checkpoint loads as its best weights so far)."""
    return _load(path, with_resume=False)[0]


def load_resume(
    path: str | os.PathLike[str],
) -> tuple[Model, dict[str, Any], dict[str, torch.Tensor]]:
    """Load a resumable checkpoint: the model, the loop's state and its tensors."""
    model, meta, tensors = _load(path, with_resume=True)
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path} holds a finished model, not a resumable training state")
    return model, meta, tensors


def _load(path: str | os.PathLike[str], with_resume: bool) -> tuple[Model, Any, dict[str, Any]]:
    target = Path(path)
    if not target.is_file():
        from aecli.models.photo import BUILTINS

        if str(path) in BUILTINS:
            raise CheckpointError(
                f"{path} is a built-in denoiser, used as: aecli denoise {path} IMAGE -o OUT"
            )
        raise CheckpointError(f"{target}: no such checkpoint file; check the path")
    try:
        with safe_open(str(target), framework="pt") as handle:
            header = handle.metadata() or {}
            meta = _parse(header, target)
            arch = _validate(meta, target)
            net = AutoencoderNet(arch)
            expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
            names = list(handle.keys())
            found = {
                k: tuple(handle.get_slice(k).get_shape())
                for k in names
                if not k.startswith((RESUME, EXTRA))
            }
            if found != expected:
                raise CheckpointError(
                    f"{target}: its tensors do not match the architecture it declares; "
                    "the file is damaged or was tampered with"
                )
            state = {k: handle.get_tensor(k) for k in expected}
            extras = _extras(handle, names, arch, target)
            resume: dict[str, torch.Tensor] = {}
            if with_resume and isinstance(meta.get("resume"), dict):
                resume = _resume_tensors(handle, names, expected, target)
    except SafetensorError as exc:
        raise CheckpointError(
            f"{target} is not a readable safetensors checkpoint ({exc}); it may be truncated"
        ) from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{target} could not be read as a checkpoint ({exc})") from None
    if any(not torch.isfinite(t).all() for t in state.values()):
        raise CheckpointError(f"{target} holds NaN or infinite weights; retrain the model")
    net.load_state_dict(state)
    model = Model(
        TrainOptions.from_dict(meta["options"]),
        _schema(meta["schema"]),
        net,
        meta["history"],
        meta["metrics"],
        extras,
    )
    return model, meta.get("resume"), resume


def _schema(data: dict[str, Any]) -> TableSchema | ImageSchema:
    if data.get("type") == "images":
        return ImageSchema.from_dict(data)
    return TableSchema.from_dict(data)


def _validate_images(schema: dict[str, Any], arch: Architecture) -> None:
    """An image schema must name the shape the convolutional network declares."""
    ok = (
        set(schema) == {"type", "height", "width", "channels", "likelihood", "patches"}
        and isinstance(schema["patches"], bool)
        and schema["likelihood"] in LIKELIHOODS
        and schema["channels"] in (1, 3)
        and all(
            isinstance(schema[s], int) and 1 <= schema[s] <= MAX_SIDE for s in ("height", "width")
        )
        and arch.image_shape == (schema["channels"], schema["height"], schema["width"])
        and arch.n_condition == 0
    )
    if not ok:
        raise CheckpointError("checkpoint metadata: the image schema is malformed")


def _extras(handle: Any, names: list[str], arch: Architecture, target: Path) -> dict[str, Any]:
    """PCA baseline and code density, each shape checked against the architecture."""
    d, k = arch.n_features, arch.latent_dim
    shapes = {
        "pca.axes": lambda s: s == (d, min(k, d)),
        "pca.mean": lambda s: s == (d,),
        "pca.variances": lambda s: len(s) == 1 and s[0] <= k,
        "pca.noise_variance": lambda s: s == (1,),
        "density.weights": lambda s: len(s) == 1 and 1 <= s[0] <= MAX_KERNELS,
        "density.means": lambda s: len(s) == 2 and s[1] == k and s[0] <= MAX_KERNELS,
        "density.covariances": lambda s: len(s) == 3 and s[1:] == (k, k) and s[0] <= MAX_COMPONENTS,
    }
    out: dict[str, dict[str, np.ndarray]] = {}
    for name in names:
        if not name.startswith(EXTRA):
            continue
        key = name[len(EXTRA) :]
        check = shapes.get(key)
        if check is None or not check(tuple(handle.get_slice(name).get_shape())):
            raise CheckpointError(
                f"{target}: unexpected tensor {key!r}; the file was tampered with"
            )
        group, _, field = key.partition(".")
        out.setdefault(group, {})[field] = handle.get_tensor(name).numpy()
    density = out.get("density")
    if density is not None and (
        set(density) != {"weights", "means", "covariances"}
        or len(density["weights"]) != len(density["means"])
        or len(density["covariances"]) not in (1, len(density["weights"]))
    ):
        raise CheckpointError(f"{target}: its code density is incomplete")
    return out


def _resume_tensors(
    handle: Any, names: list[str], expected: dict[str, tuple[int, ...]], target: Path
) -> dict[str, torch.Tensor]:
    """The training state's tensors, each checked against the network's shapes first."""
    n_params = len(expected)
    shapes = list(expected.values())
    out = {}
    for name in names:
        if not name.startswith(RESUME):
            continue
        key = name[len(RESUME) :]
        shape = tuple(handle.get_slice(name).get_shape())
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
            raise CheckpointError(f"{target}: resume tensor {key!r} has an unexpected shape")
        out[key] = handle.get_tensor(name)
    return out


def _parse(header: dict[str, str], target: Path) -> dict[str, Any]:
    return parse_metadata(
        header,
        target,
        key=METADATA_KEY,
        fmt=FORMAT,
        version=FORMAT_VERSION,
        what="an aecli checkpoint",
    )


def _int(value: Any, name: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise CheckpointError(f"checkpoint metadata: {name} = {value!r} is not in [{low}, {high}]")
    return value


def _image_shape(shape: Any, d: int) -> tuple[int, int, int] | None:
    """(C, H, W) of an image model, matching its n_features; None for a table model."""
    if shape is None:
        return None
    if not isinstance(shape, list) or len(shape) != 3:
        raise CheckpointError("checkpoint metadata: image_shape must be [channels, height, width]")
    c, h, w = (_int(v, "image_shape", 1, MAX_SIDE) for v in shape)
    if c not in (1, 3) or c * h * w != d:
        raise CheckpointError("checkpoint metadata: image_shape does not match n_features")
    return c, h, w


def _width(column: dict[str, Any]) -> int:
    """A schema column's model-space width: its category count, or 1."""
    categories = column.get("categories")
    if categories is None:
        return 1
    if not isinstance(categories, list) or not all(isinstance(v, str) for v in categories):
        raise CheckpointError("checkpoint metadata: a column's categories are malformed")
    if not 1 <= len(categories) <= MAX_CATEGORIES:
        raise CheckpointError("checkpoint metadata: a column declares too many categories")
    return len(categories)


def _validate_condition(cond: Any, width: int) -> None:
    """The condition spec must match the one-hot width the network declares."""
    if cond is None:
        if width:
            raise CheckpointError("checkpoint metadata: n_condition without a condition column")
        return
    ok = (
        isinstance(cond, dict)
        and set(cond) == {"name", "values", "counts", "dtype", "position"}
        and isinstance(cond["name"], str)
        and isinstance(cond["values"], list)
        and len(cond["values"]) == width
        and all(isinstance(v, str) for v in cond["values"])
        and isinstance(cond["counts"], list)
        and len(cond["counts"]) == width
        and all(isinstance(c, int) and c >= 0 for c in cond["counts"])
        and cond["dtype"] in ("int", "float", "bool", "str")
        and isinstance(cond["position"], int)
    )
    if not ok:
        raise CheckpointError("checkpoint metadata: the condition column is malformed")


def _validate(meta: dict[str, Any], target: Path) -> Architecture:
    """Check every field the loader will use; return the architecture to build."""
    try:
        for key, typ in (
            ("architecture", dict),
            ("options", dict),
            ("schema", dict),
            ("history", dict),
            ("metrics", dict),
            ("kind", str),
        ):
            if not isinstance(meta.get(key), typ):
                raise CheckpointError(f"checkpoint metadata: {key} is missing or malformed")
        if meta["kind"] not in KINDS:
            raise CheckpointError(
                f"checkpoint metadata: unknown kind {meta['kind']!r}; upgrade aecli"
            )
        a = meta["architecture"]
        fields = {"n_features", "latent_dim", "hidden", "activation", "code_activation"}
        flags = {"variational", "learned_variance", "mask_inputs"}
        if not fields <= set(a) <= fields | flags | {"n_condition", "image_shape"} or any(
            not isinstance(a.get(f, False), bool) for f in flags
        ):
            raise CheckpointError("checkpoint metadata: architecture has unexpected fields")
        d = _int(a["n_features"], "n_features", 1, MAX_WIDTH)
        k = _int(a["latent_dim"], "latent_dim", 1, MAX_WIDTH)
        if not isinstance(a["hidden"], list) or len(a["hidden"]) > 16:
            raise CheckpointError("checkpoint metadata: hidden must be a list of at most 16 sizes")
        hidden = tuple(_int(h, "hidden size", 1, MAX_WIDTH) for h in a["hidden"])
        if a["activation"] not in ACTIVATIONS or a["code_activation"] not in CODE_ACTIVATIONS:
            raise CheckpointError("checkpoint metadata: unknown activation")
        arch = Architecture(
            d,
            k,
            hidden,
            a["activation"],
            a["code_activation"],
            a.get("variational", False),
            a.get("learned_variance", False),
            _int(a.get("n_condition", 0), "n_condition", 0, MAX_CONDITION_VALUES),
            a.get("mask_inputs", False),
            _image_shape(a.get("image_shape"), d),
        )
        if (meta["schema"].get("type") == "images") != (arch.image_shape is not None):
            raise CheckpointError("checkpoint metadata: the schema and architecture disagree")
        if arch.parameter_count() > MAX_PARAMETERS:
            raise CheckpointError(
                f"checkpoint metadata declares {arch.parameter_count():,} parameters, more than "
                f"the {MAX_PARAMETERS:,} aecli accepts; the file is not trustworthy"
            )
        if arch.image_shape is not None:
            _validate_images(meta["schema"], arch)
            TrainOptions.from_dict(meta["options"]).validate()
            return arch
        _validate_condition(meta["schema"].get("condition"), arch.n_condition)
        columns = meta["schema"].get("columns")
        if not isinstance(columns, list) or not all(isinstance(c, dict) for c in columns):
            raise CheckpointError("checkpoint metadata: the schema's columns are malformed")
        if sum(_width(c) for c in columns) != d:
            raise CheckpointError("checkpoint metadata: the schema does not match n_features")
        for c in columns:
            ok = (
                isinstance(c.get("name"), str)
                and c.get("dtype") in ("float", "int", "bool", "str")
                and all(
                    isinstance(c.get(s), int | float) and math.isfinite(c[s])
                    for s in ("mean", "scale", "min", "max")
                )
                and c["scale"] > 0
                and c.get("likelihood", "gaussian") in LIKELIHOODS
            )
            if not ok:
                raise CheckpointError("checkpoint metadata: a schema column is malformed")
        TrainOptions.from_dict(meta["options"]).validate()
        TableSchema.from_dict(meta["schema"])
    except CheckpointError as exc:
        raise CheckpointError(f"{target}: {exc}") from None
    except (UserError, TypeError, KeyError, AttributeError) as exc:
        raise CheckpointError(f"{target}: checkpoint metadata is malformed ({exc})") from None
    return arch
