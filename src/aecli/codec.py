"""The trained network with its data adapter: model-space rows to codes and back, on a device.

`Codec` is what every verb works on (scoring, sampling, evaluation, imputation, saving, the
ensemble): the network, the adapter, the history and the arrays learned beside the weights,
and `apply`, which runs a function of the network over blocks of rows. `aecli.Model` adds the
verbs users call on top of it, so those verb modules depend on this one and not on `Model`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self

import numpy as np
import torch

from aecli.data.adapter import Adapter, block_rows
from aecli.errors import UserError
from aecli.options import TrainOptions
from aecli.parts.architecture import Architecture
from aecli.parts.likelihoods import Likelihood
from aecli.parts.networks import AutoencoderNet
from aecli.pca import square_sums
from aecli.progress import tick
from aecli.streams import inference_threads
from aecli.threads import torch_threads


class Codec:
    """A trained network with its data adapter; users hold the `aecli.Model` built on it."""

    def __init__(
        self,
        options: TrainOptions,
        adapter: Adapter,
        net: AutoencoderNet,
        history: dict[str, Any],
        metrics: dict[str, Any],
        extras: dict[str, dict[str, np.ndarray]] | None = None,
    ) -> None:
        self.options = options
        self.adapter = adapter
        self.net = net.eval()
        self.history = history
        self.metrics = metrics
        self.extras = extras if extras is not None else {}  # "pca", "density": named arrays
        self.likelihood = Likelihood(*adapter.kinds_and_widths())
        adapter.use_options(options)  # e.g. the CSV dialect the training files were read in
        self.train_seconds: float | None = None
        self.device, self.precision = torch.device("cpu"), "fp32"

    def to(self, device: Any = "auto", precision: str | None = None) -> Self:
        """Run on `device` (auto: CUDA when available; see aecli.devices), with `precision`."""
        from aecli.devices import check_precision, resolve

        self.device = resolve(device)
        self.precision = check_precision(self.device, precision or self.precision)
        self.net.to(self.device)
        self.likelihood.to(self.device)
        return self

    @property
    def schema(self) -> Adapter:
        """The data adapter (the name earlier versions used)."""
        return self.adapter

    @property
    def kind(self) -> str:
        return self.options.kind

    @property
    def architecture(self) -> Architecture:
        return self.net.arch

    @property
    def latent_dim(self) -> int:
        return self.net.arch.latent_dim

    @property
    def code_columns(self) -> list[str]:
        return [f"z{i + 1}" for i in range(self.latent_dim)]

    @property
    def variational(self) -> bool:
        return self.net.arch.variational

    @property
    def is_denoiser(self) -> bool:
        """True for a residual denoiser (--kind denoiser, the built-in photo): no codes."""
        return self.net.arch.residual is not None

    def require_codes(self, verb: str) -> None:
        """Refuse `verb` (one line saying how the model is used) for a model without codes."""
        if self.is_denoiser:
            raise UserError(
                f"this model is a denoiser (--kind {self.kind}) with no code to {verb}; "
                "use it as: aecli denoise MODEL IMAGES --out-dir OUT"
            )

    @property
    def is_image(self) -> bool:
        """True for a model trained on images (its rows are C x H x W pixels)."""
        return self.adapter.image_shape is not None

    # --- reconstruction --------------------------------------------------------------------

    @property
    def n_features(self) -> int:
        return self.net.arch.n_features

    def _decode_mean(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.likelihood.mean(self.net.decode(z, y))

    def reconstruct_array(self, x: Any, y: np.ndarray | None = None) -> np.ndarray:
        """E[x | z = encoder's code] for model-space rows (standardised; Bernoulli unscaled)."""

        def through(rows: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
            return self._decode_mean(self.net.encode(rows, cond), cond)

        return self.apply(through, x, width=self.n_features, y=y)

    def residual_sums(self, x: Any, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per model-space slot, the sum of squared reconstruction residuals over rows `x` and
        the count of present cells, block by block (memory bounded by a block, not by rows)."""

        def residual(start: int, stop: int) -> np.ndarray:
            rows = np.asarray(x[start:stop], dtype=np.float32)
            return self.reconstruct_array(rows, None if y is None else y[start:stop]) - rows

        return square_sums(residual, len(x), self.n_features)

    def apply(
        self,
        fn: Callable[..., torch.Tensor],
        array: Any,
        width: int | None = None,
        y: np.ndarray | None = None,
    ) -> np.ndarray:
        """fn over blocks of rows (and of the condition y, when given), without gradients.
        `array` is an array or anything sliceable into one (image rows decode per block)."""
        from aecli.devices import autocast

        out, block, dev = [], block_rows(max(self.n_features, width or 1)), self.device
        if self.is_image:  # a convolutional network's activations outweigh its rows
            from aecli.training import eval_rows

            block = min(block, eval_rows(self.n_features))
        threads = inference_threads(self.architecture.parameter_count(), min(block, len(array)))
        with torch.no_grad(), torch_threads(threads), autocast(dev, self.precision):
            for start in range(0, len(array), block):
                rows = torch.from_numpy(np.array(array[start : start + block], dtype=np.float32))
                cond = () if y is None else (torch.from_numpy(y[start : start + block]).to(dev),)
                result = fn(rows.to(dev), *cond)
                half = result.dtype in (torch.bfloat16, torch.float16)
                out.append((result.float() if half else result).cpu().numpy())
                tick(min(start + block, len(array)), len(array), self.adapter.noun, inner=True)
        if out:
            return np.concatenate(out)
        return np.zeros((0, width or self.latent_dim), np.float32)

    _apply = apply  # the name earlier versions used

    def summary(self) -> dict[str, Any]:
        """What `inspect --json` prints: kind, architecture, options, schema, history, baseline."""
        return {
            "kind": self.kind,
            "architecture": self.architecture.to_dict(),
            "parameters": self.architecture.parameter_count(),
            "options": self.options.to_dict(),
            "schema": self.adapter.to_dict(),
            "metrics": self.metrics,
            "history": self.history,
        }

    def __repr__(self) -> str:
        arch = self.architecture
        name, features = type(self).__name__, arch.n_features
        return f"{name}(kind={self.kind!r}, features={features}, latent_dim={arch.latent_dim})"
