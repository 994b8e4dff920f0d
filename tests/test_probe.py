"""LayerProbe: layer names, spike-rate semantics, early stop, state reset, batch invariance."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import snntorch as snn
import torch
from spikingjelly.activation_based import layer, neuron
from torch import nn

from mango_pl.probe import LayerProbe, class_probabilities, resolve_layer, spike_rate


class TinySJNet(nn.Module):
    """Multi-step SpikingJelly net: image repeated over T steps, two conv + LIF/IF stages, mean logits."""

    def __init__(self, time_steps: int = 4, in_channels: int = 1, classes: int = 3, size: int = 8):
        super().__init__()
        self.time_steps = time_steps
        self.conv1 = layer.Conv2d(in_channels, 4, 3, padding=1, step_mode="m")
        self.sn1 = neuron.LIFNode(tau=2.0, step_mode="m")
        self.conv2 = layer.Conv2d(4, 6, 3, stride=2, padding=1, step_mode="m")
        self.sn2 = neuron.IFNode(step_mode="m")
        self.fc = layer.Linear(6 * (size // 2) ** 2, classes, step_mode="m")
        with torch.no_grad():
            self.conv1.weight.mul_(4.0)
            self.conv2.weight.mul_(4.0)

    def forward(self, x):
        x = x.unsqueeze(0).repeat(self.time_steps, 1, 1, 1, 1)
        x = self.sn2(self.conv2(self.sn1(self.conv1(x))))
        return self.fc(x.flatten(2)).mean(0)


class Counter(nn.Module):
    """Identity that counts its calls."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x


def known_rate_net(time_steps: int = 4) -> nn.Module:
    """1x1 conv with weights 2, -1, 0.5 on an all-ones image into an IF neuron (threshold 1):
    channel 0 spikes every step, channel 1 never, channel 2 every other step."""
    conv = layer.Conv2d(1, 3, 1, bias=False, step_mode="m")
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([2.0, -1.0, 0.5]).view(3, 1, 1, 1))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.sn, self.after = conv, neuron.IFNode(step_mode="m"), Counter()

        def forward(self, x):
            return self.after(self.sn(self.conv(x.unsqueeze(0).repeat(time_steps, 1, 1, 1, 1)))).mean((0, 3, 4))

    return Net()


class TinySnnTorch(nn.Module):
    """snnTorch single-step net: Leaky modules called once per step for T steps."""

    def __init__(self, time_steps: int = 4, init_hidden: bool = True):
        super().__init__()
        self.time_steps, self.init_hidden = time_steps, init_hidden
        self.conv = nn.Conv2d(1, 3, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([2.0, -1.0, 0.5]).view(3, 1, 1, 1))
        self.lif1 = snn.Leaky(beta=0.9, threshold=1.0, init_hidden=init_hidden)
        self.fc = nn.Linear(3 * 4 * 4, 5)
        self.lif2 = snn.Leaky(beta=0.9, init_hidden=init_hidden)
        self.after = Counter()

    def forward(self, x):
        total, mem1, mem2 = 0.0, self.lif1.init_leaky(), self.lif2.init_leaky()
        for _ in range(self.time_steps):
            if self.init_hidden:
                spk2 = self.lif2(self.fc(self.lif1(self.conv(x)).flatten(1)))
            else:
                spk1, mem1 = self.lif1(self.conv(x), mem1)
                spk2, mem2 = self.lif2(self.fc(spk1.flatten(1)), mem2)
            total = total + self.after(spk2)
        return total / self.time_steps


def tiny_ann() -> nn.Module:
    return nn.Sequential(OrderedDict(
        stem=nn.Identity(), conv=nn.Conv2d(2, 3, 3, padding=1), relu=nn.ReLU(),
        flat=nn.Flatten(), fc=nn.Linear(3 * 3 * 3, 4)))


# -- layer names ---------------------------------------------------------------------------------

def test_layer_names_resolve_and_unknown_lists_spiking_layers():
    net = TinySJNet()
    assert resolve_layer(net, "sn2") is net.sn2
    assert resolve_layer(net, "conv1") is net.conv1
    with pytest.raises(ValueError, match=r"'sn9'.*sn1, sn2"):
        resolve_layer(net, "sn9")
    with pytest.raises(ValueError, match="spiking layers"):
        LayerProbe(net, ["sn1", "nope"])
    with pytest.raises(ValueError, match="conv/linear layers are: conv, fc"):
        resolve_layer(tiny_ann(), "layer1")
    many = nn.Sequential(*[nn.Linear(2, 2) for _ in range(60)])
    with pytest.raises(ValueError, match=r"\(\d+ more\)") as error:
        resolve_layer(many, "x")
    assert "59" in str(error.value)
    with pytest.raises(ValueError, match="at least one layer"):
        LayerProbe(net, [])
    with pytest.raises(ValueError, match="precision"):
        LayerProbe(net, ["sn1"], precision="half")


# -- spike-rate semantics ------------------------------------------------------------------------

def test_spike_rate_known_answer_multistep():
    net = known_rate_net(time_steps=4).eval()
    with LayerProbe(net, ["sn"]) as probe:
        rates = probe(torch.ones(2, 1, 5, 5))["sn"]
    assert rates.shape == (2, 3)
    assert torch.equal(rates, torch.tensor([[1.0, 0.0, 0.5]] * 2))


def test_spike_rate_function_layouts():
    spikes = torch.zeros(4, 1, 2, 3, 3)
    spikes[:1, :, 0] = 1                       # channel 0 spikes in 1 of 4 steps everywhere
    spikes[:, :, 1, 1, 1] = 1                  # channel 1 spikes only at the centre, always
    assert torch.allclose(spike_rate(spikes, time_first=True), torch.tensor([[0.25, 1 / 9]], dtype=torch.float64))
    assert torch.equal(spike_rate(spikes, time_first=True, center_only=True),
                       torch.tensor([[0.25, 1.0]], dtype=torch.float64))
    per_call = list(spikes)                    # the same as T single-step calls
    assert torch.equal(spike_rate(per_call), spike_rate(spikes, time_first=True))
    flat = torch.tensor([[[1.0, 0.0]], [[1.0, 1.0]]])   # [T=2, B=1, F=2]
    assert torch.equal(spike_rate(flat, time_first=True), torch.tensor([[1.0, 0.5]], dtype=torch.float64))
    with pytest.raises(ValueError, match="no unit"):
        spike_rate(torch.zeros(3))


def test_ann_spatial_mean_and_center_only():
    net = tiny_ann().eval()
    image = torch.zeros(1, 2, 3, 3)
    image[0, 0, 1, 1] = 0.9                    # centre of channel 0
    image[0, 1] = 0.5
    image[0, 1, 0, 0] = 1.0
    mean = LayerProbe(net, ["stem"])(image)["stem"]
    centre = LayerProbe(net, ["stem"], center_only=True)(image)["stem"]
    assert torch.allclose(mean, torch.tensor([[0.1, 5.0 / 9]]))
    assert torch.allclose(centre, torch.tensor([[0.9, 0.5]]))
    fc = LayerProbe(net, ["fc"])(image)["fc"]
    assert torch.allclose(fc, net(image), atol=1e-6)


@pytest.mark.parametrize("init_hidden", [True, False])
def test_snntorch_single_step_accumulates_over_calls(init_hidden):
    torch.manual_seed(0)
    net = TinySnnTorch(time_steps=4, init_hidden=init_hidden).eval()
    images = torch.ones(2, 1, 4, 4)
    expected_lif1 = torch.zeros(2, 3)
    lif = snn.Leaky(beta=0.9, threshold=1.0, init_hidden=True)
    current = net.conv(images)
    for _ in range(4):
        expected_lif1 += lif(current).mean((2, 3))
    expected_lif1 /= 4
    assert torch.equal(expected_lif1[:, :2], torch.tensor([[1.0, 0.0]] * 2))
    with LayerProbe(net, ["lif1", "lif2"], precision="float32") as probe:
        rates = probe(images)
    assert torch.equal(rates["lif1"], expected_lif1)
    assert rates["lif2"].shape == (2, 5)
    assert ((rates["lif2"] * 4) == (rates["lif2"] * 4).round()).all()   # multiples of 1/T


# -- early stop and state --------------------------------------------------------------------------

def test_forward_stops_after_deepest_probed_layer_and_state_is_reset():
    net = known_rate_net().eval()
    probe = LayerProbe(net, ["sn"], precision="float32")
    probe(torch.ones(1, 1, 3, 3))                     # first batch: finds the deepest layer
    net.after.calls = 0
    rates = probe(torch.ones(3, 1, 3, 3))["sn"]
    assert net.after.calls == 0
    assert torch.equal(rates[0], torch.tensor([1.0, 0.0, 0.5]))
    v = net.sn.v
    assert (v == 0.0) if isinstance(v, float) else bool((v == 0).all())
    probe.close()
    net(torch.ones(1, 1, 3, 3))
    assert net.after.calls == 1                       # hooks are gone


def test_single_step_stop_waits_for_the_last_call():
    torch.manual_seed(1)
    net = TinySnnTorch(time_steps=5).eval()
    images = torch.rand(3, 1, 4, 4)
    full = LayerProbe(net, ["lif1", "lif2"], precision="float32")(images)["lif1"]
    probe = LayerProbe(net, ["lif1"], precision="float32")
    first = probe(images)["lif1"]
    net.after.calls = 0
    second = probe(images)["lif1"]
    assert net.after.calls == 4                       # steps 0..3 ran past lif1; step 4 stopped there
    assert torch.equal(first, full) and torch.equal(second, full)
    assert float(net.lif1.mem.abs().sum()) == 0.0 and float(net.lif2.mem.abs().sum()) == 0.0


def test_probe_keeps_mode_and_class_probabilities_sum_to_one():
    torch.manual_seed(2)
    net = TinySJNet().train()
    LayerProbe(net, ["sn1"], precision="float32")(torch.rand(2, 1, 8, 8))
    assert net.training and net.sn1.training
    net.eval()
    probs = class_probabilities(net, torch.rand(5, 1, 8, 8))
    assert probs.shape == (5, 3) and probs.dtype == torch.float32
    assert torch.allclose(probs.sum(-1), torch.ones(5), atol=1e-6)
    v = net.sn2.v
    assert (v == 0.0) if isinstance(v, float) else bool((v == 0).all())
    probe = LayerProbe(net, ["sn2"], precision="float64")
    assert torch.allclose(probe.class_probabilities(torch.rand(4, 1, 8, 8)).sum(-1), torch.ones(4), atol=1e-6)


# -- precision ----------------------------------------------------------------------------------

def test_batch_invariance_float64_exact():
    torch.manual_seed(3)
    net = TinySJNet(time_steps=6, in_channels=3, size=16).eval()
    images = torch.rand(16, 3, 16, 16)
    probe = LayerProbe(net, ["sn1", "sn2"], precision="float64")
    batch = probe(images)
    assert batch["sn2"].sum() > 0 and (batch["sn2"] < 1).any()       # a non-trivial case
    for i in range(16):
        alone = probe(images[i:i + 1])
        for name in ("sn1", "sn2"):
            assert torch.equal(alone[name][0], batch[name][i]), (name, i)
    assert next(net.parameters()).dtype == torch.float32             # the model itself is untouched


def test_sync_refreshes_the_float64_copy():
    torch.manual_seed(4)
    net = TinySJNet().eval()
    images = torch.rand(4, 1, 8, 8)
    probe = LayerProbe(net, ["sn1"], precision="float64")
    before = probe(images)["sn1"]
    with torch.no_grad():
        net.conv1.weight.mul_(-1.0)
    assert torch.equal(probe(images)["sn1"], before)                 # the copy is not refreshed yet
    probe.sync()
    after = probe(images)["sn1"]
    assert torch.equal(after, LayerProbe(net, ["sn1"], precision="float64")(images)["sn1"])
    assert not torch.equal(after, before)


def test_two_probes_on_one_model_do_not_interfere():
    torch.manual_seed(5)
    net = TinySJNet().eval()
    images = torch.rand(3, 1, 8, 8)
    reference = {}
    for name, precision in (("sn1", "float32"), ("sn2", "float32"), ("sn2", "float64")):
        with LayerProbe(net, [name], precision=precision) as alone:
            reference[name, precision] = alone(images)[name]
    early = LayerProbe(net, ["sn1"], precision="float32")
    late = LayerProbe(net, ["sn2"], precision="float32")
    wide = LayerProbe(net, ["sn2"], precision="float64")              # its copy must not carry their hooks
    for _ in range(2):
        assert torch.equal(early(images)["sn1"], reference["sn1", "float32"])
        assert torch.equal(late(images)["sn2"], reference["sn2", "float32"])
        assert torch.equal(wide(images)["sn2"], reference["sn2", "float64"])
    copy = wide.evaluated_model()
    assert [name for name, m in copy.named_modules() if m._forward_hooks] == ["sn2"]
