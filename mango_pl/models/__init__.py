"""Plain ``nn.Module`` networks of mango-pl: classifiers (spiking and not) and image generators.

Classifiers take images ``[B, C, H, W]`` in [0, 1], normalize them inside, and return logits
``[B, num_classes]``; they have ``num_classes``, ``in_channels`` and ``is_spiking``; SNNs also a
mutable ``time_steps`` and logits that are the time-mean of their output layer.

Generators (stimulus spaces) have ``grid`` (a :class:`mango_pl.stimuli.Grid`), ``decode(index)`` ->
images in [0, 1] (index on any device), ``out_channels`` and ``image_size``.
"""

from mango_pl.models.alexnet import AlexNet32
from mango_pl.models.conv_snn import ConvSNN
from mango_pl.models.densenet import DENSENET_DEPTHS, DenseNet32
from mango_pl.models.gan_losses import hinge_d_loss, hinge_g_loss
from mango_pl.models.lif import BACKENDS, check_backend, make_lif
from mango_pl.models.normalization import CIFAR10_MEAN, CIFAR10_STD, ImageNormalize, default_mean_std
from mango_pl.models.sngan_discriminator import SNGANDiscriminator
from mango_pl.models.sngan_generator import SNGANGenerator
from mango_pl.models.spiking_resnet import STEMS, SpikingBasicBlock, SpikingResNet18
from mango_pl.models.state import detach_states, eval_mode, is_spiking_neuron, reset_states, spiking_layer_names
from mango_pl.models.vector_quantizer import EMAVectorQuantizer
from mango_pl.models.vgg import VGG_DEPTHS, VGG32
from mango_pl.models.vqvae import VQVAE

__all__ = [
    "AlexNet32",
    "BACKENDS",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "ConvSNN",
    "DENSENET_DEPTHS",
    "DenseNet32",
    "EMAVectorQuantizer",
    "ImageNormalize",
    "SNGANDiscriminator",
    "SNGANGenerator",
    "STEMS",
    "SpikingBasicBlock",
    "SpikingResNet18",
    "VGG32",
    "VGG_DEPTHS",
    "VQVAE",
    "check_backend",
    "default_mean_std",
    "detach_states",
    "eval_mode",
    "hinge_d_loss",
    "hinge_g_loss",
    "is_spiking_neuron",
    "make_lif",
    "reset_states",
    "spiking_layer_names",
]
