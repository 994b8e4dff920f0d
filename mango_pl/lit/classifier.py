"""Train any mango-pl classifier (spiking or not) with cross-entropy."""

from __future__ import annotations

import warnings

import torch.nn.functional as F
from lightning.pytorch import LightningModule
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy

from mango_pl.checks import check_number, check_positive_number
from mango_pl.lit.optim import build_optimizer, build_scheduler, check_optimizer_name, check_scheduler_name
from mango_pl.models.state import reset_states


def infer_num_classes(model: nn.Module) -> int:
    """``model.num_classes`` if set, else the ``out_features`` of its last ``nn.Linear``.

    Raises:
        ValueError: if neither exists (pass ``num_classes`` explicitly).
    """
    value = getattr(model, "num_classes", None)
    if isinstance(value, int) and value >= 2:
        return value
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if linears:
        return linears[-1].out_features
    raise ValueError(f"cannot tell how many classes {type(model).__name__} predicts (no num_classes attribute and "
                     "no nn.Linear layer); pass num_classes=... to ClassifierModule.")


class ClassifierModule(LightningModule):
    """Cross-entropy training of an image classifier; SNN state is reset before and after every batch.

    The network stays at ``self.model`` (callbacks such as ``MEISearchCallback`` look for it there).
    Logs ``train/loss``, ``train/acc``, ``val/loss``, ``val/acc`` (progress bar), ``test/loss``, ``test/acc``.

    Args:
        model: the classifier, images ``[B, C, H, W]`` in [0, 1] -> logits ``[B, num_classes]``
            (for SNNs the time-mean output). In YAML give it as a nested ``class_path``/``init_args``.
        lr: learning rate.
        optimizer: one of ``"adam"``, ``"adamw"``, ``"sgd"``.
        weight_decay: L2 / decoupled weight decay.
        momentum: SGD momentum.
        scheduler: ``None``, ``"cosine"`` or ``"step"`` (stepped each epoch).
        max_epochs_for_schedule: epochs of the cosine schedule (default: ``trainer.max_epochs``).
        step_size: epochs between learning-rate drops of the ``"step"`` schedule.
        gamma: factor of each ``"step"`` drop.
        label_smoothing: cross-entropy label smoothing in [0, 1).
        num_classes: number of classes (default: ``model.num_classes`` or the last linear layer's width).

    Raises:
        ValueError: for an unknown optimizer/scheduler name (lists the choices) or out-of-range numbers.

    Example:
        >>> from mango_pl.models import SpikingResNet18
        >>> module = ClassifierModule(SpikingResNet18(num_classes=10, in_channels=1, base_width=8, time_steps=2))
        >>> module(torch.rand(2, 1, 16, 16)).shape
        torch.Size([2, 10])

        In YAML::

            model:
              class_path: mango_pl.lit.ClassifierModule
              init_args:
                lr: 0.001
                model:
                  class_path: mango_pl.models.SpikingResNet18
                  init_args: {num_classes: 10, in_channels: 1, base_width: 16, time_steps: 4}
    """

    def __init__(
        self,
        model: nn.Module,
        lr: float = 1e-3,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        scheduler: str | None = None,
        max_epochs_for_schedule: int | None = None,
        step_size: int = 30,
        gamma: float = 0.1,
        label_smoothing: float = 0.0,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module (e.g. mango_pl.models.SpikingResNet18), got {type(model).__name__}.")
        check_optimizer_name(optimizer)
        check_scheduler_name(scheduler)
        check_positive_number("lr", lr, hint="the learning rate")
        check_number("label_smoothing", label_smoothing, 0, 1, open_high=True, hint="0 = plain cross-entropy")
        with warnings.catch_warnings():  # the network's weights live in the state dict, not in the hparams
            warnings.filterwarnings("ignore", message=".*is an instance of `nn.Module`.*")
            self.save_hyperparameters()
        if isinstance(self.hparams.get("model"), nn.Module):  # built in Python (not by LightningCLI): drop the object
            self._hparams.pop("model")
            self._hparams_initial.pop("model", None)
        self.model = model
        self.num_classes = num_classes or infer_num_classes(model)
        self.train_acc = MulticlassAccuracy(self.num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(self.num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(self.num_classes, average="micro")

    def forward(self, images: Tensor) -> Tensor:
        return self.model(images)

    # SNN state: fresh before every batch, released after it (also frees the graph the state holds).
    def _reset(self, *args) -> None:
        reset_states(self.model)

    on_train_batch_start = on_train_batch_end = _reset
    on_validation_batch_start = on_validation_batch_end = _reset
    on_test_batch_start = on_test_batch_end = _reset
    on_predict_batch_start = on_predict_batch_end = _reset

    def _step(self, batch: tuple[Tensor, Tensor], stage: str, accuracy: MulticlassAccuracy) -> Tensor:
        images, labels = batch
        logits = self.model(images)
        loss = F.cross_entropy(logits, labels, label_smoothing=self.hparams.label_smoothing)
        accuracy(logits.detach(), labels)
        on_step = stage == "train"
        self.log(f"{stage}/loss", loss, on_step=on_step, on_epoch=True, batch_size=len(labels))
        self.log(f"{stage}/acc", accuracy, on_step=False, on_epoch=True, prog_bar=stage == "val")
        return loss

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train", self.train_acc)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "val", self.val_acc)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "test", self.test_acc)

    def predict_step(self, batch, batch_idx: int) -> Tensor:
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.model(images).softmax(-1)

    def configure_optimizers(self):
        hp = self.hparams
        optimizer = build_optimizer(hp.optimizer, self.model.parameters(), hp.lr, hp.weight_decay, hp.momentum)
        if hp.scheduler is None:
            return optimizer
        epochs = hp.max_epochs_for_schedule or (self.trainer.max_epochs if self._trainer is not None else 0) or 0
        scheduler = build_scheduler(hp.scheduler, optimizer, max(int(epochs), 0), hp.step_size, hp.gamma)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
