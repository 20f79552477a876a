"""Code penalties Omega(h, x): sparsity (L1 or KL) and the contractive Jacobian norm."""

from __future__ import annotations

import torch

from aecli.networks import AutoencoderNet


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
    (linear: ||W||_F^2; sigmoid: sum_i (h_i (1 - h_i))^2 ||W_i||^2, Rifai et al. 2011); otherwise
    the full Jacobian of every row from one batched backward pass (k vector-Jacobian products).
    """
    if net.enc_mlp is None:
        w_sq = net.enc_skip.weight.pow(2).sum(dim=1)  # ||W_i||^2 per code unit
        if net.arch.code_activation is None:
            return w_sq.sum()
        if net.arch.code_activation == "sigmoid":
            return ((h * (1 - h)).pow(2) * w_sq).sum(dim=1).mean()
    k = h.shape[1]
    basis = torch.eye(k, dtype=h.dtype).unsqueeze(1).expand(k, *h.shape)
    (jac,) = torch.autograd.grad(
        h, x, grad_outputs=basis, is_grads_batched=True, create_graph=True
    )  # (k, rows, d)
    return jac.pow(2).sum(dim=(0, 2)).mean()
