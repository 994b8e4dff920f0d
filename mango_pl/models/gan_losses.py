"""Hinge losses of SN-GAN training (discriminator scores in, scalar loss out)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def hinge_d_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Discriminator hinge loss ``mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))``.

    Example:
        >>> hinge_d_loss(torch.tensor([2.0]), torch.tensor([-2.0]))
        tensor(0.)
    """
    return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()


def hinge_g_loss(fake_scores: Tensor) -> Tensor:
    """Generator hinge loss ``-mean(D(fake))``."""
    return -fake_scores.mean()
