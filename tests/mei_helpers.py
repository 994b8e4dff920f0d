"""Small, real components shared by the callback tests: a planted-preference problem, a tiny
spiking classifier on the offline digits, and a recorder of training losses."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mango_pl.stimuli.grid import Grid

ASSET_GENERATOR = "mango_pl/assets/digits_sngan.pt"


class PlantedGenerator(nn.Module):
    """A "generator" whose image is its grid index, pixel by pixel: index j of a side×side image is
    pixel j, with value index / (n - 1). A linear unit reading that image then has a known,
    unique best grid point: the corner given by the signs of its weights."""

    def __init__(self, n: int = 8, side: int = 2):
        super().__init__()
        self.side = side
        self.grid = Grid(side * side, n, torch.linspace(0.0, 1.0, n))
        self.out_channels = 1
        self.image_size = side

    def decode(self, index: torch.Tensor) -> torch.Tensor:
        values = self.grid.to_values(index).float()
        return values.view(-1, 1, self.side, self.side)


class PlainClassifier(pl.LightningModule):
    """A LightningModule that is not one of mango-pl's: a frozen planted conv layer, a trained head.

    Unit u of ``features`` is a side×side filter over a side×side image (one output position): its
    activation is w_u · x + b, maximized at pixel j = 1 where w_u[j] > 0 and 0 elsewhere.
    """

    def __init__(self, units: int = 4, n: int = 8, seed: int = 0, lr: float = 0.1, side: int = 2):
        super().__init__()
        self.lr = lr
        g = torch.Generator().manual_seed(seed)
        self.features = nn.Conv2d(1, units, kernel_size=side)
        with torch.no_grad():
            weight = torch.randn(units, 1, side, side, generator=g)
            weight = weight.sign() * (0.2 + weight.abs())  # no weight near 0: a unique optimum
            self.features.weight.copy_(weight)
            self.features.bias.zero_()
        self.features.requires_grad_(False)
        self.head = nn.Linear(units, 10)
        self.n = n

    def planted_optimum(self) -> torch.Tensor:
        """[units, side²] grid index of each unit's best image."""
        return (self.features.weight.flatten(1) > 0).long() * (self.n - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.features(x)).flatten(1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.head.parameters(), lr=self.lr)


def planted_loader(samples: int = 32, seed: int = 0, side: int = 2) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(samples, 1, side, side, generator=g)
    y = torch.randint(0, 10, (samples,), generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=8)


class LossRecorder(pl.Callback):
    """Keeps every training loss, exactly as computed."""

    def __init__(self):
        self.losses: list[torch.Tensor] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self.losses.append(loss.detach().clone())
