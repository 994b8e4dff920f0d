"""Tests of mango_pl.models: shapes, gradients, names, state and determinism of every network (tiny sizes, CPU)."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from torch import nn

from mango_pl.models import (
    VGG32,
    VQVAE,
    AlexNet32,
    ConvSNN,
    DenseNet32,
    EMAVectorQuantizer,
    ImageNormalize,
    SNGANDiscriminator,
    SNGANGenerator,
    SpikingResNet18,
    hinge_d_loss,
    hinge_g_loss,
    make_lif,
    reset_states,
    spiking_layer_names,
)
from mango_pl.models.grid import Grid


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny convolutions run far faster on one thread than on two contended ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def assert_finite_grads(model: nn.Module) -> None:
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, f"no gradient for {name}"
            assert torch.isfinite(p.grad).all(), f"non-finite gradient for {name}"


def forward_backward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    out.float().pow(2).mean().backward()
    assert_finite_grads(model)
    return out


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------------------------- LIF / state

def test_lif_is_paper_decay_and_hard_reset():
    lif = make_lif(decay=0.9)
    spikes = lif(torch.full((4, 1), 0.5)).flatten()
    # v: 0.5, 0.95, 1.355 -> spike, reset to 0 -> 0.5
    assert spikes.tolist() == [0.0, 0.0, 1.0, 0.0]
    assert lif.v.item() == pytest.approx(0.5)


def test_make_lif_rejects_bad_decay():
    with pytest.raises(ValueError, match=r"decay must be a number in \(0, 1\)"):
        make_lif(decay=1.0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")
def test_cupy_backend_without_cuda_names_the_fix():
    with pytest.raises(RuntimeError, match=r'backend="torch".*pip install cupy-cuda13x'):
        SpikingResNet18(base_width=8, time_steps=2, backend="cupy")


def test_unknown_backend_and_stem_list_choices():
    with pytest.raises(ValueError, match="torch"):
        SpikingResNet18(base_width=8, backend="jax")
    with pytest.raises(ValueError, match="imagenet"):
        SpikingResNet18(base_width=8, stem="tiny")


def test_reset_states_zeroes_spikingjelly_membranes():
    torch.manual_seed(0)
    net = SpikingResNet18(base_width=8, time_steps=3).eval()
    with torch.no_grad():
        net(torch.rand(2, 3, 16, 16))
    assert net.sn1.v.abs().sum() > 0
    reset_states(net)
    for name in spiking_layer_names(net):
        v = net.get_submodule(name).v
        assert float(torch.as_tensor(v).abs().sum()) == 0.0, name


def test_reset_states_zeroes_snntorch_membranes_and_ignores_anns():
    torch.manual_seed(0)
    net = ConvSNN(image_size=16, time_steps=3)
    with torch.no_grad():
        net(torch.rand(2, 1, 16, 16))
    assert net.lif1.mem.abs().sum() > 0
    reset_states(net)
    for lif in (net.lif1, net.lif2, net.lif3, net.lif4):
        assert lif.mem.abs().sum() == 0
    ann = nn.Sequential(nn.Linear(2, 2))
    before = ann[0].weight.clone()
    reset_states(ann)
    assert torch.equal(ann[0].weight, before)


@pytest.mark.parametrize("make, shape, picklable", [
    (lambda: SpikingResNet18(base_width=8, time_steps=2), (2, 3, 16, 16), True),
    (lambda: ConvSNN(image_size=16, time_steps=2, spike_grad="fast_sigmoid"), (2, 1, 16, 16), True),
    # torch's parametrized spectral norm supports deepcopy and state_dict, not pickle
    (lambda: SNGANDiscriminator(channels=8, image_size=16), (2, 3, 16, 16), False),
], ids=["spiking_resnet", "conv_snn", "sngan_d"])
def test_models_deepcopy_and_pickle_after_a_training_step(make, shape, picklable):
    torch.manual_seed(0)
    net = make()
    x = torch.rand(*shape)
    net(x).sum().backward()  # SNN state must not keep the graph (deepcopy refuses non-leaf tensors)
    twins = [copy.deepcopy(net)] + ([pickle.loads(pickle.dumps(net))] if picklable else [])
    net.eval()
    with torch.no_grad():
        expected = net(x)
        for twin in twins:
            assert torch.equal(twin.eval()(x), expected)


def test_image_normalize_defaults_and_errors():
    assert torch.allclose(ImageNormalize(1)(torch.full((1, 1, 2, 2), 0.5)), torch.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match="one value per channel"):
        ImageNormalize(3, mean=(0.5,), std=(0.5,))


# ----------------------------------------------------------------------------------------------- spiking ResNet18

EXPECTED_SN = ["sn1"] + [f"layer{s}.{b}.sn{k}" for s in range(1, 5) for b in range(2) for k in (1, 2)]


def test_spiking_resnet_forward_backward_and_attributes():
    torch.manual_seed(0)
    net = SpikingResNet18(num_classes=7, in_channels=3, base_width=8, time_steps=3)
    out = forward_backward(net, torch.rand(2, 3, 16, 16))
    assert out.shape == (2, 7)
    assert (net.num_classes, net.in_channels, net.time_steps, net.is_spiking) == (7, 3, 3, True)
    assert net.layer4[1].conv2.out_channels == 64


def test_spiking_resnet_layer_names_are_promised_and_in_forward_order():
    net = SpikingResNet18(base_width=8, time_steps=2)
    assert spiking_layer_names(net) == EXPECTED_SN
    assert spiking_layer_names(net, torch.rand(1, 3, 16, 16)) == EXPECTED_SN
    spikes = {}
    net.get_submodule("layer1.0.sn1").register_forward_hook(lambda m, i, o: spikes.setdefault("s", o))
    with torch.no_grad():
        net(torch.rand(2, 3, 16, 16))
    assert spikes["s"].shape == (2, 2, 8, 16, 16)  # [T, B, C, H, W]
    assert set(spikes["s"].unique().tolist()) <= {0.0, 1.0}


def test_stem_once_equals_stem_per_step():
    torch.manual_seed(0)
    once = SpikingResNet18(base_width=8, time_steps=6, stem_once=True).eval()
    per_step = SpikingResNet18(base_width=8, time_steps=6, stem_once=False).eval()
    per_step.load_state_dict(once.state_dict())
    x = torch.rand(3, 3, 16, 16, generator=seeded())
    seen = {}
    for tag, net in (("once", once), ("per_step", per_step)):
        net.layer2.register_forward_hook(lambda m, i, o, tag=tag: seen.setdefault(tag, o))
    with torch.no_grad():
        a, b = once.forward_sequence(x), per_step.forward_sequence(x)
    assert seen["once"].sum() > 0  # spikes reach layer2, so the comparison is not vacuous
    assert torch.equal(seen["once"], seen["per_step"])
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_spiking_resnet_eval_forward_is_deterministic_and_time_steps_mutable():
    torch.manual_seed(0)
    net = SpikingResNet18(base_width=8, time_steps=2).eval()
    x = torch.rand(2, 3, 16, 16, generator=seeded(1))
    with torch.no_grad():
        first = net(x)
        net(torch.rand(2, 3, 16, 16))  # different input in between: state must not leak
        assert torch.equal(net(x), first)
        net.time_steps = 3
        assert net.forward_sequence(x).shape == (3, 2, 10)
    with pytest.raises(ValueError, match="time_steps must be a positive int, got 0"):
        net.time_steps = 0


def test_spiking_resnet_imagenet_stem_and_one_channel():
    torch.manual_seed(0)
    net = SpikingResNet18(num_classes=5, in_channels=1, base_width=8, time_steps=2, stem="imagenet")
    out = forward_backward(net, torch.rand(2, 1, 32, 32))
    assert out.shape == (2, 5)
    with pytest.raises(ValueError, match=r"\[B, 1, H, W\]"):
        net(torch.rand(2, 3, 32, 32))


# ----------------------------------------------------------------------------------------------- snnTorch ConvSNN

@pytest.mark.parametrize("image_size", [28, 16])
def test_conv_snn_forward_backward(image_size):
    torch.manual_seed(0)
    net = ConvSNN(num_classes=10, in_channels=1, image_size=image_size, time_steps=3)
    out = forward_backward(net, torch.rand(2, 1, image_size, image_size))
    assert out.shape == (2, 10)
    assert spiking_layer_names(net) == ["lif1", "lif2", "lif3", "lif4"]
    assert (net.time_steps, net.is_spiking) == (3, True)


def test_conv_snn_hook_fires_per_step_and_eval_is_deterministic():
    torch.manual_seed(0)
    net = ConvSNN(image_size=16, time_steps=4, readout="spikes").eval()
    calls = []
    net.lif1.register_forward_hook(lambda m, i, o: calls.append(o[0].shape))
    x = torch.rand(2, 1, 16, 16, generator=seeded())
    with torch.no_grad():
        first = net(x)
        assert torch.equal(net(x), first)
    assert calls == [(2, 12, 6, 6)] * 8
    assert ((first >= 0) & (first <= 1)).all()  # spike rates
    with pytest.raises(ValueError, match="image_size >= 16"):
        ConvSNN(image_size=12)


# ----------------------------------------------------------------------------------------------- ANNs

@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize("make", [lambda c: AlexNet32(num_classes=10, in_channels=c),
                                  lambda c: VGG32(num_classes=10, in_channels=c, depth=11)],
                         ids=["alexnet", "vgg11"])
def test_small_anns_forward_backward(make, in_channels):
    torch.manual_seed(0)
    net = make(in_channels)
    assert (net.num_classes, net.in_channels, net.is_spiking) == (10, in_channels, False)
    assert forward_backward(net, torch.rand(2, in_channels, 32, 32)).shape == (2, 10)
    with torch.no_grad():
        assert net(torch.rand(2, in_channels, 16, 16)).shape == (2, 10)


def test_densenet_forward_backward_and_32px():
    torch.manual_seed(0)
    net = DenseNet32(num_classes=4, in_channels=1)
    assert forward_backward(net, torch.rand(2, 1, 16, 16)).shape == (2, 4)
    net3 = DenseNet32(num_classes=10, in_channels=3).eval()
    with torch.no_grad():
        assert net3(torch.rand(1, 3, 32, 32)).shape == (1, 10)


def test_ann_depth_choices_and_small_input_error():
    assert VGG32(depth=19).features[0].in_channels == 3
    with pytest.raises(ValueError, match=r"\(11, 13, 16, 19\)"):
        VGG32(depth=12)
    with pytest.raises(ValueError, match="121"):
        DenseNet32(depth=100)
    with pytest.raises(ValueError, match="at least 15x15"):
        AlexNet32()(torch.rand(1, 3, 8, 8))


# ----------------------------------------------------------------------------------------------- SN-GAN

@pytest.mark.parametrize("image_size", [32, 16])
def test_sngan_generator_decode_shape_range_and_grid(image_size):
    torch.manual_seed(0)
    g = SNGANGenerator(latent_dim=16, channels=32, image_size=image_size, grid_points=64, grid_range=4.0).eval()
    assert len(g.blocks) == {32: 3, 16: 2}[image_size]
    assert (g.grid.d, g.grid.n) == (16, 64)
    assert g.grid.values[0].item() == -4.0 and g.grid.values[-1].item() == 4.0
    index = g.grid.random_index(3, generator=seeded())
    with torch.no_grad():
        images = g.decode(index)
        assert images.shape == (3, 3, image_size, image_size)
        assert images.min() >= 0 and images.max() <= 1
        torch.testing.assert_close(images, (g(g.grid.to_values(index)) + 1) / 2)
        assert g.decode(index.view(1, 3, 16)).shape == (1, 3, 3, image_size, image_size)
    assert (g.out_channels, g.image_size) == (3, image_size)


def test_sngan_train_step_grads_and_hinge_losses():
    torch.manual_seed(0)
    g = SNGANGenerator(latent_dim=16, channels=32, image_size=16, out_channels=1)
    d = SNGANDiscriminator(in_channels=1, channels=32, image_size=16)
    real = torch.rand(4, 1, 16, 16)
    fake = g.generate(torch.randn(4, 16))
    assert fake.shape == (4, 1, 16, 16)
    d_loss = hinge_d_loss(d(real), d(fake.detach()))
    d_loss.backward()
    assert_finite_grads(d)
    hinge_g_loss(d(fake)).backward()
    assert_finite_grads(g)
    assert d(real).shape == (4,)
    assert hinge_d_loss(torch.tensor([2.0, 0.5]), torch.tensor([-3.0, 0.0])).item() == pytest.approx(0.25 + 0.5)
    assert hinge_g_loss(torch.tensor([1.0, 3.0])).item() == -2.0


def test_sngan_size_errors():
    with pytest.raises(ValueError, match="bottom"):
        SNGANGenerator(image_size=24, bottom=4)
    with pytest.raises(ValueError, match="power of two"):
        SNGANDiscriminator(image_size=24)
    g = SNGANGenerator(latent_dim=4, channels=8, image_size=8).eval()
    with pytest.raises(ValueError, match="0..63"):
        g.decode(torch.full((1, 4), 64))


# ----------------------------------------------------------------------------------------------- VQ-VAE

def tiny_vqvae(**kwargs) -> VQVAE:
    return VQVAE(**{"image_size": 16, "hidden": 16, "res_hidden": 8, "num_codes": 32, "code_dim": 8, **kwargs})


def test_vqvae_forward_encode_decode_shapes_and_grads():
    torch.manual_seed(0)
    vq = tiny_vqvae()
    x = torch.rand(2, 3, 16, 16)
    recon, vq_loss, perplexity = vq(x)
    assert recon.shape == x.shape and recon.min() >= 0 and recon.max() <= 1
    assert vq_loss.dim() == 0 and 1.0 <= perplexity.item() <= 32
    (torch.nn.functional.mse_loss(recon, x) + vq_loss).backward()
    assert_finite_grads(vq)
    index = vq.encode(x)
    assert index.shape == (2, 16) and index.dtype == torch.long
    assert vq.grid == Grid.categorical(16, 32)
    assert vq.decode(index).shape == (2, 3, 16, 16)
    assert (vq.out_channels, vq.image_size, vq.latent_positions) == (3, 16, 16)


def test_vqvae_default_grid_is_64_positions_of_512_codes():
    vq = VQVAE(in_channels=1, hidden=16, res_hidden=8).eval()
    assert (vq.grid.d, vq.grid.n) == (64, 512)
    with torch.no_grad():
        images = vq.decode(vq.grid.random_index(2, generator=seeded()))
    assert images.shape == (2, 1, 32, 32)


def test_vqvae_grid_features_are_its_codebook_as_a_plain_tensor():
    vq = tiny_vqvae()
    table = vq.grid_features()
    assert type(table) is torch.Tensor and table.dtype == torch.float64 and not table.requires_grad
    assert torch.equal(table, vq.quantizer.codebook.double())


def test_models_import_no_layer_above_them():
    """DESIGN: models are plain nn.Modules (torch, spikingjelly, snntorch, torchvision, mango_pl.checks)."""
    import ast
    from pathlib import Path

    import mango_pl.models

    allowed = ("mango_pl.models", "mango_pl.checks", "mango_pl.lazy_exports")
    for path in sorted(Path(mango_pl.models.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith("mango_pl") or name.startswith(allowed), f"{path.name} imports {name}"


def test_ema_codebook_updates_in_train_mode_only():
    torch.manual_seed(0)
    vq = tiny_vqvae()
    x = torch.rand(4, 3, 16, 16)
    before = vq.quantizer.codebook.clone()
    vq.eval()
    with torch.no_grad():
        vq(x)
    assert torch.equal(vq.quantizer.codebook, before)
    vq.train()
    vq(x)
    assert not torch.equal(vq.quantizer.codebook, before)
    assert vq.quantizer.cluster_size.sum() > 0


def test_ema_update_moves_used_code_to_its_inputs():
    quantizer = EMAVectorQuantizer(num_codes=2, code_dim=2, decay=0.5, eps=1e-9)
    quantizer.codebook.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0]]))
    quantizer.embed_sum.copy_(quantizer.codebook)
    quantizer.cluster_size.fill_(1.0)
    z = torch.ones(1, 2, 1, 2)  # [N, D, h, w]: two vectors (1, 1)
    _, _, perplexity, index = quantizer(z)
    assert index.tolist() == [[0, 0]] and perplexity.item() == pytest.approx(1.0)
    # cluster_size[0] = 0.5 * 1 + 0.5 * 2 = 1.5; embed_sum[0] = 0.5 * 0 + 0.5 * (2, 2) = (1, 1)
    torch.testing.assert_close(quantizer.codebook[0], torch.tensor([1 / 1.5, 1 / 1.5]))
    torch.testing.assert_close(quantizer.codebook[1], torch.tensor([10.0, 10.0]))
