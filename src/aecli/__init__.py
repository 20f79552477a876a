"""aecli: autoencoders for tabular data, from the shell or from Python.

    >>> import aecli
    >>> model = aecli.train(frame, kind="undercomplete", latent_dim=3)
    >>> codes = model.encode(frame)
    >>> model.save("model.safetensors")
    >>> model = aecli.load("model.safetensors")
    >>> pipe = make_pipeline(aecli.Autoencoder(latent_dim=3), LogisticRegression())  # scikit-learn

Heavy modules (torch, scikit-learn) load on first use, so ``import aecli`` and ``aecli --help``
stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aecli._version import __version__

__all__ = [
    "KINDS",
    "Autoencoder",
    "Model",
    "TrainOptions",
    "UserError",
    "__version__",
    "load",
    "train",
]

if TYPE_CHECKING:
    from aecli.api import load, train
    from aecli.errors import UserError
    from aecli.estimator import Autoencoder
    from aecli.model import Model
    from aecli.options import TrainOptions
    from aecli.parts.kinds import KINDS

_LAZY = {
    "train": "aecli.api",
    "load": "aecli.api",
    "Model": "aecli.model",
    "Autoencoder": "aecli.estimator",
    "TrainOptions": "aecli.options",
    "KINDS": "aecli.parts.kinds",
    "UserError": "aecli.errors",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'aecli' has no attribute {name!r}")
