"""The training loop's shortcuts on complete data change nothing: the objective's fast path (no
NaN checks) gives the same loss and gradients as the general one, and the best epoch's weights
are kept by name whatever order the kept state lists them in (as after --resume)."""

from __future__ import annotations

import torch

from aecli.options import TrainOptions
from aecli.parts.architecture import Architecture
from aecli.parts.likelihoods import Likelihood
from aecli.parts.networks import AutoencoderNet
from aecli.parts.objective import Objective
from aecli.training import Trainer


def net_and_rows(seed: int = 0) -> tuple[AutoencoderNet, torch.Tensor]:
    torch.manual_seed(seed)
    net = AutoencoderNet(Architecture(6, 2, (8,), "gelu"))
    return net, torch.randn(40, 6)


def loss_and_grads(net: AutoencoderNet, x: torch.Tensor, complete: bool) -> list[torch.Tensor]:
    objective = Objective(Likelihood(["gaussian"] * x.shape[1]))
    objective.may_have_missing = not complete
    net.zero_grad()
    loss = objective(net, x, torch.Generator().manual_seed(0)).loss
    loss.backward()
    return [loss.detach(), *(p.grad.clone() for p in net.parameters())]


def test_complete_data_fast_path_gives_the_same_loss_and_gradients() -> None:
    net, x = net_and_rows()
    fast, general = loss_and_grads(net, x, True), loss_and_grads(net, x, False)
    assert all(torch.equal(a, b) for a, b in zip(fast, general, strict=True))
    assert torch.equal(net.encode(x, complete=True), net.encode(x))


def test_missing_cells_still_take_the_general_path() -> None:
    net, x = net_and_rows()
    x[3, 2] = float("nan")
    opts = TrainOptions(latent_dim=2, hidden=(8,), epochs=2, patience=0).resolved()
    objective = Objective(Likelihood(["gaussian"] * 6))
    trainer = Trainer(net, objective, x[:32], x[32:], opts)
    assert objective.may_have_missing
    trainer.run()
    assert all(torch.isfinite(p).all() for p in net.parameters())


def test_best_weights_are_kept_by_name_in_any_order() -> None:
    net, x = net_and_rows()
    opts = TrainOptions(latent_dim=2, hidden=(8,), epochs=1, patience=0).resolved()
    trainer = Trainer(net, Objective(Likelihood(["gaussian"] * 6)), x[:32], x[32:], opts)
    trainer.best_state = dict(reversed(list(trainer.best_state.items())))  # as a file lists them
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    trainer._keep_best()
    live = net.state_dict()
    assert all(torch.equal(trainer.best_state[k], live[k]) for k in live)
