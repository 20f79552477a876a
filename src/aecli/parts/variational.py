"""The variational parts: reparameterised sampling, KL(q || N(0, I)), the ELBO and the
importance-weighted bound (IWAE) on log p(x), all in nats per row."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from aecli.parts.likelihoods import Likelihood

if TYPE_CHECKING:
    from aecli.parts.networks import AutoencoderNet

IWAE_VALUES = 1 << 22  # decoder outputs per batched call of the IWAE bound (16 MiB)


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per row, in closed form."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(dim=-1)


def reparameterise(mu: torch.Tensor, logvar: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """z = mu + sigma * eps with eps ~ N(0, I): differentiable in mu and sigma."""
    eps = torch.randn(mu.shape, generator=gen, dtype=mu.dtype).to(mu.device)
    return mu + eps * torch.exp(0.5 * logvar)


def decoder_logvar(net: AutoencoderNet) -> torch.Tensor:
    """Per-feature log-variance of the Gaussian likelihood (0 = unit variance when fixed)."""
    if net.arch.learned_variance:
        return net.dec_logvar.clamp(-12, 12)
    return torch.zeros(net.arch.n_features, device=next(net.parameters()).device)


def elbo_terms(
    net: AutoencoderNet,
    lik: Likelihood,
    x_in: torch.Tensor,
    x: torch.Tensor,
    gen: torch.Generator,
    y: torch.Tensor | None = None,
    present: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(-E_q log p(x|z) with one sample, KL(q || p), z) per row; y: the condition, if any;
    `present`: which cells of x count (missing ones are left out)."""
    mu, logvar = net.encode_dist(x_in, y)
    z = reparameterise(mu, logvar, gen)
    nll = lik.nll(net.decode(z, y), x.nan_to_num(0.0), decoder_logvar(net), present)
    return nll, kl_standard_normal(mu, logvar), z


@torch.no_grad()
def iwae_bound(
    net: AutoencoderNet,
    lik: Likelihood,
    x: torch.Tensor,
    samples: int,
    gen: torch.Generator,
    y: torch.Tensor | None = None,
) -> torch.Tensor:
    """log (1/K) sum_k p(x, z_k) / q(z_k | x), z_k ~ q: a lower bound on log p(x) per row that
    tightens as K grows (K = 1 is the ELBO). Missing cells (NaN) are left out: the bound is on
    the likelihood of the present cells."""
    present = lik.present(x)
    target = x.nan_to_num(0.0)
    mu, logvar = net.encode_dist(x, y)
    std = torch.exp(0.5 * logvar)
    logvar_x = decoder_logvar(net)
    n, k = mu.shape
    chunk = max(1, min(samples, IWAE_VALUES // max(1, n * x.shape[1])))  # samples per decode
    weights = []
    for done in range(0, samples, chunk):
        c = min(chunk, samples - done)  # c samples of every row decoded in one call
        eps = torch.randn((c, n, k), generator=gen, dtype=mu.dtype).to(mu.device)
        z = (mu + eps * std).reshape(c * n, k)
        log_q = -0.5 * (math.log(2 * math.pi) + logvar + eps.pow(2)).sum(-1)
        log_prior = -0.5 * (math.log(2 * math.pi) + z.pow(2)).sum(-1).reshape(c, n)
        rep = None if y is None else y.repeat(c, 1)
        out = net.decode(z, rep)
        nll = lik.nll(
            out, target.repeat(c, 1), logvar_x, None if present is None else present.repeat(c, 1)
        )
        weights.append(-nll.reshape(c, n) + log_prior - log_q)
    stacked = torch.cat(weights)
    return torch.logsumexp(stacked, dim=0) - math.log(samples)
