"""Masking corruption on tables with categories: a category is hidden whole."""

from __future__ import annotations

import pytest
import torch

from aecli.parts.corruption import Corruption


def test_masking_hides_a_categorys_whole_one_hot_block():
    gen = torch.Generator().manual_seed(0)
    widths = [1, 3, 1, 2]  # a number, a 3-way category, a number, a 2-way category
    x = torch.ones(4000, sum(widths))
    masked = Corruption("mask:0.2", x[0], x[0], widths=widths)(x, gen)
    block = masked[:, 1:4]
    assert bool(((block == 0).all(1) | (block == 1).all(1)).all())  # never partly hidden
    assert float((block == 0).all(1).float().mean()) == pytest.approx(0.2, abs=0.02)
    assert float((masked[:, 5:7] == 0).all(1).float().mean()) == pytest.approx(0.2, abs=0.02)
    assert float((masked[:, 0] == 0).float().mean()) == pytest.approx(0.2, abs=0.02)


def test_numeric_tables_draw_the_same_mask_as_before():
    x = torch.randn(50, 4)
    old = Corruption("mask:0.3", x[0], x[0])(x, torch.Generator().manual_seed(1))
    new = Corruption("mask:0.3", x[0], x[0], widths=[1] * 4)(x, torch.Generator().manual_seed(1))
    assert torch.equal(old, new)
