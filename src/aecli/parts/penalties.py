"""Penalty terms Omega(h, x) of the one equation: sparsity (L1 or KL to a target rate), the
contractive Jacobian norm, and the VAE's KL to its prior. Each is an object the objective sums."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

import torch

if TYPE_CHECKING:
    from aecli.parts.networks import AutoencoderNet


@dataclass
class Code:
    """What the encoder made of one batch: what a penalty may look at."""

    h: torch.Tensor  # the code (for a VAE, the sampled z)
    x_in: torch.Tensor  # the encoder's (possibly corrupted) input
    net: AutoencoderNet
    kl: torch.Tensor | None  # a VAE's KL(q(z | x) || N(0, I)) per row, else None
    training: bool
    epoch: int


class Penalty(Protocol):
    needs_input_grad: ClassVar[bool]

    def __call__(self, code: Code) -> torch.Tensor: ...


@dataclass
class L1Sparsity:
    """weight * mean |h|."""

    weight: float
    needs_input_grad: ClassVar[bool] = False

    def __call__(self, code: Code) -> torch.Tensor:
        return self.weight * l1_sparsity(code.h)


@dataclass
class KLSparsity:
    """weight * sum over units of KL(rho || the unit's mean activation)."""

    weight: float
    rho: float
    needs_input_grad: ClassVar[bool] = False

    def __call__(self, code: Code) -> torch.Tensor:
        return self.weight * kl_sparsity(code.h, self.rho)


@dataclass
class Contractive:
    """weight * ||d f / d x||_F^2, averaged over rows."""

    weight: float
    needs_input_grad: ClassVar[bool] = True

    def __call__(self, code: Code) -> torch.Tensor:
        return self.weight * jacobian_frobenius_sq(code.net, code.x_in, code.h)


@dataclass
class PriorKL:
    """beta * KL(q(z | x) || N(0, I)): the VAE's penalty. beta ramps up linearly from 0 over the
    first `warmup` epochs of training; evaluation always scores the full objective."""

    beta: float
    warmup: int = 0
    needs_input_grad: ClassVar[bool] = False

    def beta_now(self, training: bool, epoch: int) -> float:
        if not training or not self.warmup:
            return self.beta
        return self.beta * min(1.0, (epoch - 1) / self.warmup)

    def __call__(self, code: Code) -> torch.Tensor:
        assert code.kl is not None
        return self.beta_now(code.training, code.epoch) * code.kl.mean()


def l1_sparsity(h: torch.Tensor) -> torch.Tensor:
    """Mean absolute code value."""
    return h.abs().mean()


def kl_sparsity(h: torch.Tensor, rho: float) -> torch.Tensor:
    """Sum over code units of KL(rho || mean activation of the unit); h must lie in (0, 1)."""
    rho_hat = h.mean(dim=0).clamp(1e-6, 1 - 1e-6)
    kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
    return kl.sum()


def jacobian_frobenius_sq(net: AutoencoderNet, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Mean over rows of ||d h / d x||_F^2, exactly, differentiable in the network's parameters.

    `h` must be `net.encode(x)` with `x.requires_grad`. Closed forms where the encoder is one layer
    h = a(Wx + b): linear ||W||_F^2; sigmoid sum_i (h_i (1 - h_i))^2 ||W_i||^2 (Rifai et al. 2011);
    soft threshold sum_i [h_i != 0] ||W_i||^2. Otherwise every row's full Jacobian from one batched
    backward pass (k vector-Jacobian products).
    """
    closed = _one_layer_frobenius_sq(net, h)
    if closed is not None:
        return closed
    return encoder_jacobian(net, x, h, create_graph=True).pow(2).sum(dim=(1, 2)).mean()


def _one_layer_frobenius_sq(net: AutoencoderNet, h: torch.Tensor) -> torch.Tensor | None:
    """The closed form for a one-layer deterministic encoder, or None for any other encoder."""
    if net.enc_mlp is not None or net.arch.variational:
        return None
    w_sq = net.enc_skip.weight[:, : net.arch.n_features].pow(2).sum(dim=1)  # ||W_i||^2, x only
    activation = net.arch.code_activation
    if activation is None:
        return w_sq.sum()
    if activation == "sigmoid":
        slope = h * (1 - h)
    elif activation == "shrink":
        slope = (h != 0).to(h.dtype)
    else:
        return None
    return (slope.pow(2) * w_sq).sum(dim=1).mean()


def encoder_jacobian(
    net: AutoencoderNet,
    x: torch.Tensor,
    h: torch.Tensor | None = None,
    *,
    create_graph: bool = False,
) -> torch.Tensor:
    """d h / d x for every row, shape (rows, k, d): one batched backward pass, exact.

    Rows do not interact in the encoder, so the gradient of code unit j summed over rows gives
    row r's Jacobian row j. Pass `h = net.encode(x)` (x requiring grad) to reuse a forward pass;
    a conditional network needs it (`net.encode(x, y)`), since only x is known here.
    """
    if h is None:
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            h = net.encode(x)
    k = h.shape[1]
    basis = torch.eye(k, dtype=h.dtype, device=h.device).unsqueeze(1).expand(k, *h.shape)
    (jac,) = torch.autograd.grad(
        h, x, grad_outputs=basis, is_grads_batched=True, create_graph=create_graph
    )  # (k, rows, d)
    return jac.transpose(0, 1)
