"""LayerObjective: P units x K candidates in one pass, no leakage, chunking, errors, final evaluation."""

from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based import layer, neuron
from torch import nn

from mango_pl.probe import LayerObjective, LayerProbe
from mango_pl.stimuli import DCTSpace, GratingSpace


class TinySJNet(nn.Module):
    """Multi-step SpikingJelly classifier on 1x8x8 images with a call counter after ``sn1``."""

    def __init__(self, time_steps: int = 4):
        super().__init__()
        self.time_steps = time_steps
        self.conv1 = layer.Conv2d(1, 6, 3, padding=1, step_mode="m")
        self.sn1 = neuron.LIFNode(tau=2.0, step_mode="m")
        self.conv2 = layer.Conv2d(6, 4, 3, stride=2, padding=1, step_mode="m")
        self.sn2 = neuron.LIFNode(tau=2.0, step_mode="m")
        self.fc = layer.Linear(4 * 4 * 4, 3, step_mode="m")
        self.fc_calls = 0
        with torch.no_grad():
            self.conv1.weight.mul_(6.0)
            self.conv2.weight.mul_(4.0)

    def forward(self, x):
        x = x.unsqueeze(0).repeat(self.time_steps, 1, 1, 1, 1)
        x = self.sn2(self.conv2(self.sn1(self.conv1(x))))
        self.fc_calls += 1
        return self.fc(x.flatten(2)).mean(0)


@pytest.fixture
def net():
    torch.manual_seed(0)
    return TinySJNet().eval()


def test_shape_and_no_leakage_between_units(net):
    space = DCTSpace(image_size=8, channels=1, coefficients=3, n=8)
    units = [0, 3, 5, 3]
    objective = LayerObjective(net, "sn1", units, space, batch_limit=64)
    index = space.grid.random_index(4, 6, generator=torch.Generator().manual_seed(1))
    values = objective(index)
    assert values.shape == (4, 6) and values.dtype == torch.float32
    assert values.max() > 0 and values.min() >= 0 and values.max() <= 1
    assert objective.queries == 24 and objective.seconds > 0
    assert objective.channels == 6
    probe = LayerProbe(net, ["sn1"], precision="float64")
    for p, unit in enumerate(units):
        alone = probe(space.decode(index[p]))["sn1"][:, unit]
        assert torch.equal(values[p], alone)


def test_chunking_gives_the_same_values(net):
    space = GratingSpace(image_size=8, channels=1, n=8)
    index = space.grid.random_index(3, 10, generator=torch.Generator().manual_seed(2))
    big = LayerObjective(net, "sn2", [0, 1, 2], space, batch_limit=256)(index)
    small = LayerObjective(net, "sn2", [0, 1, 2], space, batch_limit=7)(index)
    assert torch.equal(big, small)
    assert (big > 0).any()


def test_forward_stops_at_the_layer(net):
    space = DCTSpace(image_size=8, channels=1, coefficients=2, n=4)
    objective = LayerObjective(net, "sn1", [1, 2], space)          # float64: runs a copy of net
    evaluated = objective.probe.evaluated_model()
    evaluated.fc_calls = 0
    objective(space.grid.random_index(2, 5))
    assert evaluated.fc_calls == 0
    objective.probe.class_probabilities(space.decode(space.grid.random_index(1)))
    assert evaluated.fc_calls == 1                                  # a full forward does reach it
    v = evaluated.sn1.v
    assert (v == 0.0) if isinstance(v, float) else bool((v == 0).all())


def test_evaluate_final_stimuli(net):
    space = DCTSpace(image_size=8, channels=1, coefficients=2, n=4)
    objective = LayerObjective(net, "sn2", [0, 3], space)
    index = space.grid.random_index(2, generator=torch.Generator().manual_seed(3))
    result = objective.evaluate(index)
    assert result["activation"].shape == (2,)
    assert torch.equal(result["activation"], objective(index.unsqueeze(1)).squeeze(1))
    assert result["probs"].shape == (2, 3) and torch.allclose(result["probs"].sum(-1), torch.ones(2), atol=1e-6)
    assert result["images"].shape == (2, 1, 8, 8) and result["images"].dtype == torch.float32
    assert 0 <= result["images"].min() and result["images"].max() <= 1
    assert result["latents"].shape == (2, 4)
    assert objective.queries == 2                      # evaluate itself is not counted


def test_errors(net):
    space = DCTSpace(image_size=8, channels=1, coefficients=2, n=4)
    with pytest.raises(ValueError, match=r"unit index \[6, 9\] out of range: layer 'sn1' has 6 channels"):
        LayerObjective(net, "sn1", [0, 6, 9], space)
    with pytest.raises(ValueError, match="spiking layers are: sn1, sn2"):
        LayerObjective(net, "sn3", [0], space)
    with pytest.raises(ValueError, match="non-empty"):
        LayerObjective(net, "sn1", [], space)
    with pytest.raises(ValueError, match="with_channels"):
        LayerObjective(net, "sn1", [0], DCTSpace(image_size=8, channels=3, coefficients=2, n=4))
    objective = LayerObjective(net, "sn1", [0, 1], space)
    with pytest.raises(ValueError, match="P=2"):
        objective(space.grid.random_index(3, 4))
    with pytest.raises(ValueError, match="batch_limit"):
        LayerObjective(net, "sn1", [0], space, batch_limit=0)


def test_real_models_spiking_resnet_with_sngan_and_convsnn_with_gratings():
    from mango_pl.models import ConvSNN, SNGANGenerator, SpikingResNet18
    from mango_pl.stimuli import GeneratorSpace

    torch.manual_seed(0)
    resnet = SpikingResNet18(base_width=4, time_steps=2).eval()
    generator = SNGANGenerator(latent_dim=8, channels=8, out_channels=3, image_size=32, grid_points=8)
    space = GeneratorSpace(generator)
    objective = LayerObjective(resnet, "layer1.0.sn1", [0, 3], space, batch_limit=4)
    index = space.grid.random_index(2, 3, generator=torch.Generator().manual_seed(4))
    values = objective(index)
    assert values.shape == (2, 3) and objective.channels == 4
    assert torch.equal(objective.evaluate(index[:, 1])["activation"], values[:, 1])

    snn = ConvSNN(time_steps=3, channels=(4, 8), hidden=16).eval()           # snnTorch, float32 spikes
    gratings = GratingSpace(image_size=28, n=8)
    objective = LayerObjective(snn, "lif2", [0, 7], gratings, batch_limit=5)
    index = gratings.grid.random_index(2, 4, generator=torch.Generator().manual_seed(5))
    values = objective(index)
    assert objective.channels == 8
    assert torch.equal(objective.evaluate(index[:, 2])["activation"], values[:, 2])
