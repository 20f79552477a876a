"""The regularised kinds do what the theory says: sparse codes, denoising, a contractive encoder.

Each behaviour check trains on breast cancer (569 rows x 30 columns) with 8 codes beside the
`undercomplete` model users get (PCA start, same code size, hidden layer and step budget), and
measures on the held-out rows.
"""

from __future__ import annotations

import json
import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest
import torch
from threadpoolctl import threadpool_limits
from torch.func import functional_call

import aecli
from aecli.api import split_rows
from aecli.errors import AecliWarning, UserError
from aecli.options import TrainOptions
from aecli.parts.architecture import Architecture
from aecli.parts.corruption import Corruption
from aecli.parts.kinds import KINDS
from aecli.parts.likelihoods import Likelihood
from aecli.parts.networks import AutoencoderNet
from aecli.parts.noise_spec import parse_noise
from aecli.parts.objective import Objective
from aecli.parts.penalties import (
    _one_layer_frobenius_sq,
    encoder_jacobian,
    jacobian_frobenius_sq,
    kl_sparsity,
    l1_sparsity,
)
from conftest import FAST, SAMPLE, invoke

DATA = SAMPLE / "breast_cancer.csv"
SETTINGS = {"latent_dim": 8, "hidden": (32,), "steps": 600, "seed": 0, "threads": 1}


@pytest.fixture(autouse=True)
def one_blas_thread():
    """Training ends with a small mixture fit; BLAS threads only contend on a shared machine."""
    with threadpool_limits(limits=1):
        yield


@cache
def trained(kind: str, **options: object) -> aecli.Model:
    """One model per distinct option set, shared by the tests of this module."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AecliWarning)
        return aecli.train(DATA, kind=kind, **{**SETTINGS, **options})


@cache
def rows(part: str) -> torch.Tensor:
    """The training or validation rows of every model here, standardised as they saw them."""
    model = trained("undercomplete")
    x = model.schema.to_array(pd.read_csv(DATA))
    train_rows, val_rows = split_rows(len(x), model.options.val_fraction, SETTINGS["seed"])
    return torch.from_numpy(x[train_rows if part == "train" else val_rows])


def held_out() -> torch.Tensor:
    return rows("validation")


def codes(model: aecli.Model) -> torch.Tensor:
    with torch.no_grad():
        return model.net.encode(held_out())


def val_mse(model: aecli.Model, x_in: torch.Tensor | None = None) -> float:
    """Mean squared error against the clean held-out rows, of the model fed `x_in` (or them)."""
    clean = held_out()
    with torch.no_grad():
        return float((model.net(clean if x_in is None else x_in) - clean).pow(2).mean())


def share_near_zero(h: torch.Tensor) -> float:
    """Share of code values below 1% of the largest magnitude their unit takes on these rows."""
    return float((h.abs() < 0.01 * h.abs().max(dim=0).values).float().mean())


def mean_jacobian_sq(model: aecli.Model) -> float:
    return float(encoder_jacobian(model.net, held_out()).pow(2).sum(dim=(1, 2)).mean())


# --- sparse --------------------------------------------------------------------------------------


def test_l1_penalty_and_kl_penalty_values():
    h = torch.tensor([[0.5, -1.0], [0.0, 2.0]])
    assert float(l1_sparsity(h)) == pytest.approx(0.875)
    probs = torch.tensor([[0.1, 0.3], [0.3, 0.5]])  # unit means 0.2 and 0.4
    rho = 0.2
    expected = rho * np.log(rho / 0.4) + (1 - rho) * np.log((1 - rho) / 0.6)  # unit 1 is on target
    assert float(kl_sparsity(probs, rho)) == pytest.approx(expected, rel=1e-5)
    assert float(kl_sparsity(torch.full((5, 3), rho), rho)) == pytest.approx(0.0, abs=1e-7)


def test_l1_sparse_codes_are_twice_as_often_zero_at_nearly_the_same_error():
    base, sparse = trained("undercomplete"), trained("sparse")
    assert sparse.options.sparsity == "l1" and sparse.options.sparsity_weight > 0
    assert sparse.net.arch.code_activation == "shrink"
    assert base.options.init == sparse.options.init == "pca"
    base_share, sparse_share = share_near_zero(codes(base)), share_near_zero(codes(sparse))
    assert sparse_share >= 2 * base_share
    assert sparse_share >= 0.1  # a real share of zeros, not twice a rounding error
    assert val_mse(sparse) <= 1.25 * val_mse(base)


def test_a_larger_l1_weight_gives_sparser_smaller_codes():
    light = trained("sparse")  # the default weight, 0.01
    heavy = trained("sparse", sparsity_weight=0.1)
    assert light.options.sparsity_weight < heavy.options.sparsity_weight
    assert share_near_zero(codes(heavy)) > share_near_zero(codes(light)) + 0.02
    assert float(codes(heavy).abs().mean()) < 0.8 * float(codes(light).abs().mean())


def test_kl_sparse_codes_fire_rarely_at_nearly_the_same_error():
    # the baseline is the same network with the same sigmoid codes, without the KL penalty;
    # rho 0.1 leaves 8 codes room to reconstruct (0.05 means 0.4 active codes per row)
    options = {"sparsity": "kl", "target_rho": 0.1, "lr": 1e-2}
    base = trained("sparse", **options, sparsity_weight=0.0)
    sparse = trained("sparse", **options)
    assert sparse.net.arch.code_activation == "sigmoid"
    base_mean, sparse_mean = codes(base).mean(dim=0), codes(sparse).mean(dim=0)
    assert float(sparse_mean.mean()) <= 0.5 * float(base_mean.mean())
    assert float(sparse_mean.max()) <= 3 * 0.1  # every unit near its target rate
    assert val_mse(sparse) <= 1.25 * val_mse(base)


def test_overcomplete_codes_warn_for_undercomplete_only(wine):
    tiny = {"latent_dim": 16, "steps": 20, "hidden": (8,), "threads": 1}  # wine has 13 columns
    with pytest.warns(AecliWarning, match="latent-dim 16"):
        aecli.train(wine, kind="undercomplete", **tiny)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AecliWarning)
        model = aecli.train(wine, kind="sparse", **tiny)
    assert model.latent_dim == 16
    with torch.no_grad():
        h = model.net.encode(torch.from_numpy(model.schema.to_array(pd.read_csv(wine))))
    assert bool((h[:, 13:] != 0).any(dim=0).all())  # codes past the 13 columns are alive


# --- denoising -----------------------------------------------------------------------------------


def test_noise_specs_parse_and_bad_ones_name_the_flag():
    assert parse_noise("gaussian:0.5") == ("gaussian", 0.5, 0.5)
    assert parse_noise(" Mask:0.2") == ("mask", 0.2, 0.2)
    assert parse_noise("saltpepper:0") == ("saltpepper", 0.0, 0.0)
    assert parse_noise("gaussian:0-50") == ("gaussian", 0.0, 50.0)
    bad_specs = ("gaussian", "blur:0.1", "mask:1", "mask:-0.1", "gaussian:x", "saltpepper:1.5")
    for bad in (*bad_specs, "gaussian:50-10", "gaussian:0-300", "mask:0.1-1"):
        with pytest.raises(UserError, match="--noise"):
            parse_noise(bad)


def test_corruptions_hit_the_stated_share_of_cells_and_are_fresh_every_batch():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 10, generator=gen)
    low, high = x.min(dim=0).values, x.max(dim=0).values
    noisy = Corruption("gaussian:0.5", low, high)(x, gen)
    assert float((noisy - x).std()) == pytest.approx(0.5, rel=0.02)
    masked = Corruption("mask:0.2", low, high)(x, gen)
    assert float((masked == 0).float().mean()) == pytest.approx(0.2, abs=0.01)
    assert torch.equal(masked[masked != 0], x[masked != 0])
    salted = Corruption("saltpepper:0.1", low, high)(x, gen)
    hit = salted != x
    assert float(hit.float().mean()) == pytest.approx(0.1, abs=0.01)
    extremes = (salted == low) | (salted == high)
    assert bool(extremes[hit].all())
    assert float((salted[hit] == high.expand_as(x)[hit]).float().mean()) == pytest.approx(
        0.5, abs=0.05
    )
    again = Corruption("mask:0.2", low, high)(x, gen)
    assert not torch.equal(again == 0, masked == 0)  # a fresh draw, not a fixed mask


def test_denoising_objective_scores_against_the_clean_rows():
    torch.manual_seed(0)
    net = AutoencoderNet(Architecture(6, 3, (8,), "gelu"))
    x = torch.randn(32, 6)
    options = TrainOptions(kind="denoising").resolved()
    corrupt = Corruption(options.noise, x.min(dim=0).values, x.max(dim=0).values)
    objective = Objective(Likelihood(["gaussian"] * 6), corrupt)
    terms = objective(net, x, torch.Generator().manual_seed(5))
    corrupted = objective.corrupt(x, torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected = (net(corrupted) - x).pow(2).mean()
        fed_clean = (net(x) - x).pow(2).mean()
    recon = terms.reconstruction.item()
    assert recon == pytest.approx(float(expected), rel=1e-6)
    assert recon != pytest.approx(float(fed_clean), rel=1e-3)


@pytest.mark.parametrize("noise", ["gaussian:0.5", "mask:0.2", "saltpepper:0.1"])
def test_denoising_beats_undercomplete_on_held_out_rows_corrupted_the_same_way(noise):
    denoiser = trained("denoising", noise=noise)
    assert denoiser.options.noise == noise
    fit = rows("train")  # salt and pepper use the training columns' extremes, as in training
    corrupt = Corruption(noise, fit.min(dim=0).values, fit.max(dim=0).values)
    x_noisy = corrupt(held_out(), torch.Generator().manual_seed(123))
    assert val_mse(denoiser, x_noisy) < 0.95 * val_mse(trained("undercomplete"), x_noisy)


# --- contractive ---------------------------------------------------------------------------------

ENCODERS = [
    ((), None),
    ((), "sigmoid"),
    ((), "shrink"),
    ((16,), None),
    ((16, 8), "sigmoid"),
    ((16,), "shrink"),
]


def reference_jacobians(net: AutoencoderNet, x: torch.Tensor) -> torch.Tensor:
    """d h / d x of every row with torch.autograd.functional.jacobian, one row at a time."""
    return torch.stack(
        [torch.autograd.functional.jacobian(lambda r: net.encode(r[None])[0], row) for row in x]
    )


def random_net(hidden: tuple[int, ...], code: str | None, seed: int = 0) -> AutoencoderNet:
    torch.manual_seed(seed)
    net = AutoencoderNet(Architecture(7, 5, hidden, "tanh" if seed else "gelu", code))
    with torch.no_grad():
        net.enc_skip.weight.mul_(3)  # codes spread past the shrink threshold on both sides
    return net


@pytest.mark.parametrize(("hidden", "code"), ENCODERS)
def test_contractive_penalty_is_the_exact_jacobian_norm(hidden, code):
    net = random_net(hidden, code)
    x = torch.randn(64, 7, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    h = net.encode(x)
    is_closed_form = _one_layer_frobenius_sq(net, h) is not None
    assert is_closed_form == (hidden == ())  # both paths are under test
    value = jacobian_frobenius_sq(net, x, h).item()
    reference = reference_jacobians(net, x.detach())
    assert value == pytest.approx(float(reference.pow(2).sum(dim=(1, 2)).mean()), rel=1e-5)
    assert torch.allclose(encoder_jacobian(net, x.detach()), reference, rtol=1e-5, atol=1e-6)
    if code == "shrink":  # both slopes of the soft threshold occur
        assert 0 < float((h == 0).float().mean()) < 1


class PenaltyOf(torch.nn.Module):
    """The contractive penalty of `net` on fixed rows, as a module for `functional_call`."""

    def __init__(self, net: AutoencoderNet, x: torch.Tensor) -> None:
        super().__init__()
        self.net, self.x = net, x

    def forward(self) -> torch.Tensor:
        x = self.x.clone().requires_grad_(True)
        return jacobian_frobenius_sq(self.net, x, self.net.encode(x))


@pytest.mark.parametrize(("hidden", "code"), [((), "sigmoid"), ((6,), None), ((6,), "shrink")])
def test_contractive_penalty_gradient_matches_finite_differences(hidden, code):
    net = random_net(hidden, code, seed=1).double()
    x = torch.randn(5, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    module = PenaltyOf(net, x)
    names = [n for n, _ in module.named_parameters() if n.startswith("net.enc")]
    params = dict(module.named_parameters())
    values = tuple(params[n].detach().clone().requires_grad_(True) for n in names)

    def penalty(*tensors: torch.Tensor) -> torch.Tensor:
        return functional_call(module, dict(zip(names, tensors, strict=True)), ())

    assert torch.autograd.gradcheck(penalty, values, eps=1e-6, atol=1e-6)


def test_contractive_encoder_is_at_least_twice_as_flat_on_held_out_rows():
    base, contractive = trained("undercomplete"), trained("contractive")
    assert contractive.options.contractive_weight > 0
    assert mean_jacobian_sq(contractive) * 2 <= mean_jacobian_sq(base)
    # not only a rescaled code: the Jacobian is smaller relative to the codes' spread too
    relative = [mean_jacobian_sq(m) / float(codes(m).var(dim=0).sum()) for m in (base, contractive)]
    assert relative[1] < relative[0]
    assert val_mse(contractive) <= 1.5 * val_mse(base)


# --- composition ---------------------------------------------------------------------------------


DETERMINISTIC = [n for n, kind in KINDS.items() if not kind.variational and not kind.residual]


@pytest.mark.parametrize("kind", DETERMINISTIC)
def test_noise_sparsity_and_contraction_compose_with_every_deterministic_kind(kind, wine):
    parts = {"noise": "mask:0.2", "sparsity": "l1", "contractive_weight": 0.02}
    model = aecli.train(wine, kind=kind, latent_dim=3, steps=60, hidden=(8,), **parts)
    resolved = model.options
    assert (resolved.kind, resolved.noise, resolved.sparsity) == (kind, "mask:0.2", "l1")
    assert resolved.contractive_weight == 0.02 and resolved.sparsity_weight > 0
    assert model.net.arch.code_activation == "shrink"
    assert model.history["epochs_run"] > 0 and np.isfinite(model.metrics["val_mse"])


def test_denoising_with_l1_trains_saves_loads_and_encodes_through_the_cli(tmp_path, runner, wine):
    model = tmp_path / "dae_l1.safetensors"
    args = ["--kind", "denoising", "--sparsity", "l1", "--sparsity-weight", "0.05", "-k", "4"]
    result = invoke(runner, "train", wine, "-o", model, *args, *FAST)
    assert result.exit_code == 0, result.output
    info = json.loads(invoke(runner, "inspect", model, "--json").stdout)
    options = info["options"]
    assert options["kind"] == "denoising" and options["noise"] == "gaussian:0.5"
    assert options["sparsity"] == "l1" and options["sparsity_weight"] == 0.05
    assert options["contractive_weight"] == 0.0
    assert info["architecture"]["code_activation"] == "shrink"
    out = tmp_path / "codes.csv"
    result = invoke(runner, "encode", model, wine, "-o", out)
    assert result.exit_code == 0, result.output
    z = pd.read_csv(out)
    assert list(z.columns) == ["z1", "z2", "z3", "z4"] and len(z) == len(pd.read_csv(wine))
    assert (z.to_numpy() == 0).any()  # soft-thresholded codes hold exact zeros
    loaded = aecli.load(model).encode(pd.read_csv(wine))
    assert np.allclose(loaded.to_numpy(), z.to_numpy(), atol=1e-5)
