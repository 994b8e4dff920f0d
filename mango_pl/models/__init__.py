"""Plain ``nn.Module`` networks of mango-pl: classifiers (spiking and not) and image generators.

Classifiers take images ``[B, C, H, W]`` in [0, 1], normalize them inside, and return logits
``[B, num_classes]``; they have ``num_classes``, ``in_channels`` and ``is_spiking``; SNNs also a
mutable ``time_steps`` and logits that are the time-mean of their output layer.

Generators (stimulus spaces) have ``grid`` (a :class:`mango_pl.stimuli.Grid`), ``decode(index)`` ->
images in [0, 1] (index on any device), ``out_channels`` and ``image_size``.

Each name below is imported from its submodule the first time it is used (SpikingJelly, snnTorch and
torchvision load only for the networks that need them).
"""

from mango_pl.lazy_exports import lazy_exports

#: submodule -> the public names it defines
_EXPORTS = {
    "alexnet": ("AlexNet32",),
    "conv_snn": ("ConvSNN",),
    "densenet": ("DENSENET_DEPTHS", "DenseNet32"),
    "gan_losses": ("hinge_d_loss", "hinge_g_loss"),
    "lif": ("BACKENDS", "check_backend", "make_lif"),
    "normalization": ("CIFAR10_MEAN", "CIFAR10_STD", "ImageNormalize", "default_mean_std"),
    "sngan_discriminator": ("SNGANDiscriminator",),
    "sngan_generator": ("SNGANGenerator",),
    "spiking_resnet": ("STEMS", "SpikingBasicBlock", "SpikingResNet18"),
    "state": ("detach_states", "eval_mode", "is_spiking_neuron", "reset_states", "spiking_layer_names"),
    "vector_quantizer": ("EMAVectorQuantizer",),
    "vgg": ("VGG_DEPTHS", "VGG32"),
    "vqvae": ("VQVAE",),
}

__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
