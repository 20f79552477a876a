"""An ensemble for filling cells: `train --ensemble N` trains N - 1 more networks beside the
model's own (seeds S+1 .. S+N-1, same rows, same options), stored in the checkpoint as the
`members` extras. `denoise` averages the reconstructions of all N in every round (numbers
averaged, category probabilities summed), which lowers the error of a single network's fill by
its seed-to-seed variance. Every other verb (encode, decode, sample, score) uses the model's own
network, member 0."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from aecli.parts.networks import build_network

if TYPE_CHECKING:
    from collections.abc import Callable

    from aecli.codec import Codec
    from aecli.options import TrainOptions
    from aecli.parts.networks import AutoencoderNet
    from aecli.training import Trainer

MAX_MEMBERS = 32  # --ensemble's upper bound, also checked when loading


def train_members(
    net: AutoencoderNet, opts: TrainOptions, start: Callable[[Any, TrainOptions], Trainer]
) -> dict[str, np.ndarray]:
    """The extra members' best weights as named arrays ("I.parameter"), each trained like the
    model's own network but for its seed: `start(net, opts)` starts a network (e.g. at PCA) and
    gives the loop that trains it (on the model's device; under torchrun, one DDP loop of every
    rank, so that each member is trained once)."""
    out: dict[str, np.ndarray] = {}
    for i in range(1, opts.ensemble):
        member_opts = dataclasses.replace(opts, seed=opts.seed + i)
        torch.manual_seed(member_opts.seed)
        trainer = start(build_network(net.arch), member_opts)
        trainer.run()
        for name, tensor in trainer.best_net().state_dict().items():
            out[f"{i}.{name}"] = tensor.numpy().copy()
    return out


def members(model: Codec) -> list[AutoencoderNet]:
    """The model's networks: its own, then the stored members in order (built once)."""
    cached = getattr(model, "_ensemble", None)
    if cached is not None and cached[0] is model.net:
        return list(cached[1])
    stored = model.extras.get("members", {})
    count = 1 + len({name.partition(".")[0] for name in stored})
    nets = [model.net]
    for i in range(1, count):
        net = build_network(model.net.arch)
        prefix = f"{i}."
        state = {
            k[len(prefix) :]: torch.from_numpy(v) for k, v in stored.items() if k.startswith(prefix)
        }
        net.load_state_dict(state)
        nets.append(net.eval())
    model._ensemble = (model.net, nets)  # type: ignore[attr-defined]
    return list(nets)


def reconstruct(model: Codec, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """E[x | code], averaged over the model's networks (the model's own alone without members)."""
    nets = members(model)
    if len(nets) == 1:
        return model.reconstruct_array(x, y)
    total = np.zeros((len(x), model.n_features), np.float32)
    for net in nets:

        def through(rows: torch.Tensor, cond: torch.Tensor | None = None, net: Any = net) -> Any:
            return model.likelihood.mean(net.decode(net.encode(rows, cond), cond))

        total += model.apply(through, x, width=model.n_features, y=y)
    return total / len(nets)


def check_members(shapes: dict[str, tuple[int, ...]], expected: dict[str, tuple[int, ...]]) -> bool:
    """Whether stored member tensors ("I.parameter" -> shape) are whole networks of the model's
    architecture, numbered 1 .. N-1 without gaps."""
    found: dict[int, set[str]] = {}
    for key, shape in shapes.items():
        index, _, name = key.partition(".")
        if not index.isdigit() or not 1 <= int(index) < MAX_MEMBERS:
            return False
        if expected.get(name) != shape:
            return False
        found.setdefault(int(index), set()).add(name)
    whole = all(names == set(expected) for names in found.values())
    return whole and sorted(found) == list(range(1, len(found) + 1))
