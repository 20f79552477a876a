"""The per-column likelihoods: the Student-t residuals of the likelihood score."""

from __future__ import annotations

import torch

from aecli.parts.likelihoods import Likelihood, student_t_nll


def test_student_t_cells_match_torch_and_tend_to_the_gaussian():
    residual = torch.linspace(-6, 6, 41, dtype=torch.float64)[:, None]
    logvar = torch.tensor([-1.0, 0.0, 1.5], dtype=torch.float64)
    for dof in (1.0, 3.0, 10.0):
        ours = student_t_nll(residual, logvar, dof)
        exact = -torch.distributions.StudentT(dof, 0.0, torch.exp(0.5 * logvar)).log_prob(residual)
        assert torch.allclose(ours, exact, atol=1e-10)
    lik = Likelihood(["gaussian"] * 3)
    out, x = torch.zeros(41, 3, dtype=torch.float64), residual.repeat(1, 3)
    gaussian = lik.nll(out, x, logvar)
    far = lik.nll(out, x, logvar, dof=1e7)
    assert torch.allclose(far, gaussian, rtol=1e-5)
    heavy = lik.nll(out, x, logvar, dof=3.0)
    assert heavy[0] < gaussian[0] and heavy[20] > gaussian[20]  # heavier tails, lower peak
