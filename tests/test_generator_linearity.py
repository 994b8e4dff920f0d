"""benchmarks/generator_linearity.py's measures, on decoders whose answers are known: the
forward-difference Jacobian of an exactly linear decoder predicts every child exactly (also where a
coordinate sits at the top of the grid and must step down), R^2 is 1 for an exact prediction and 0
for the mean, and children move only the coordinates they should, within the grid."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import generator_linearity as gl  # noqa: E402


def test_jacobian_of_a_linear_decoder_predicts_children_exactly():
    d, n, f = 6, 10, 4
    weights = torch.randn(d, f, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def pixels(index):
        return index.double() @ weights + 1.5

    parent = torch.tensor([0, 3, 9, 5, 9, 1])  # two coordinates at the grid's top
    base, slope = gl.jacobian(pixels, parent, n)
    assert torch.allclose(base, pixels(parent[None])[0])
    assert torch.allclose(slope, weights)
    children = gl.children_of(parent, 50, 3, 4, n, torch.Generator().manual_seed(1))
    predicted = (children - parent).double() @ slope
    assert gl.r_squared(predicted, pixels(children) - base) > 1 - 1e-12


def test_r_squared_of_the_mean_is_zero_and_of_the_truth_one():
    true = torch.randn(40, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    assert gl.r_squared(true, true) == 1.0
    assert abs(gl.r_squared(true.mean(0).expand_as(true), true)) < 1e-12


def test_children_change_at_most_the_asked_coordinates_and_stay_on_the_grid():
    parent = torch.full((20,), 31)
    parent[0], parent[1] = 0, 63
    children = gl.children_of(parent, 200, 4, 6, 64, torch.Generator().manual_seed(3))
    changed = (children != parent).sum(1)
    assert changed.max() <= 4 and changed.float().mean() > 2
    assert children.min() >= 0 and children.max() <= 63
    assert ((children - parent).abs() <= 6).all()
