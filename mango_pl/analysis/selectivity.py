"""Which units are class-selective: strong activation, confident class, same class for every method.

The paper's composite criterion (Sec. 4.2, Fig. 7) for a unit whose MEI was searched by M methods:

* "Activation": the unit's activation by its MEI is at least 75% of the maximum possible.
* "Confidence": the network's probability of the MEI's best class is at least 75%.
* "Stability": all methods' MEIs have the same best (arg-max) class.

The exact rule implemented here, for unit ``u`` with methods ``m = 0..M-1``:

* ``c_m = argmax_c probs[m, u, c]`` and ``p_m = max_c probs[m, u, c]`` (top class and its probability);
* ``best_method = argmax_m activations[m, u]`` (the lowest index on ties);
* ``rule="best"`` (default): ``strong = activations[best_method, u] >= activation`` and
  ``confident = p_best_method >= confidence``: the best MEI found must be strong and confident;
* ``rule="all"``: ``strong = min_m activations[m, u] >= activation`` and
  ``confident = min_m p_m >= confidence``: every method's MEI must be;
* ``stable = (c_0 == c_1 == ... == c_{M-1})``; trivially true for M = 1;
* ``selective = strong & confident & stable``; ``top_class = c_0`` if stable else ``-1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from mango_pl.analysis._checks import check_finite_float, check_ndim, check_nonempty, check_probs, check_tensor
from mango_pl.checks import check_choice, check_fraction

SELECTIVITY_RULES = ("best", "all")


@dataclass(frozen=True)
class SelectivityThresholds:
    """Thresholds of the selectivity criterion (paper: 75% activation, 75% class probability).

    Args:
        activation: minimum activation (spike rate in [0, 1]) for a unit to count as strong.
        confidence: minimum top-class probability for an MEI to count as confident.
        rule: ``"best"`` judges the best-activating method's MEI, ``"all"`` requires every
            method's MEI to pass (see the module docstring).

    Raises:
        ValueError: a threshold outside [0, 1] or an unknown ``rule``.

    Example:
        >>> SelectivityThresholds(activation=0.5, confidence=0.9, rule="all")
        SelectivityThresholds(activation=0.5, confidence=0.9, rule='all')
    """

    activation: float = 0.75
    confidence: float = 0.75
    rule: str = "best"

    def __post_init__(self) -> None:
        for name in ("activation", "confidence"):
            check_fraction(f"SelectivityThresholds.{name}", getattr(self, name))
        check_choice("SelectivityThresholds.rule", self.rule, SELECTIVITY_RULES)


@dataclass(frozen=True)
class SelectivityReport:
    """Per-unit selectivity of one layer at one moment (all tensors ``[U]``, on the input's device).

    Attributes:
        strong: bool, activation criterion met.
        confident: bool, class-probability criterion met.
        stable: bool, all methods agree on the top class.
        selective: bool, ``strong & confident & stable``.
        top_class: long, the agreed class, ``-1`` where not stable.
        best_method: long, index of the method whose MEI activates the unit most.
        best_activation: float, that activation.
        top_prob: float, the probability the confidence test used (best method's top-class
            probability for ``rule="best"``, the smallest over methods for ``rule="all"``).
        strong_fraction: fraction of units that are strong.
        selective_fraction: fraction of units that are selective.
    """

    strong: Tensor
    confident: Tensor
    stable: Tensor
    selective: Tensor
    top_class: Tensor
    best_method: Tensor
    best_activation: Tensor
    top_prob: Tensor
    strong_fraction: float
    selective_fraction: float


def selectivity(
    activations: Tensor,
    probs: Tensor,
    thresholds: SelectivityThresholds = SelectivityThresholds(),
) -> SelectivityReport:
    """Apply the selectivity criterion to U units whose MEIs were found by M methods.

    Args:
        activations: ``[M, U]`` activation of each unit by each method's MEI.
        probs: ``[M, U, C]`` class probabilities of the network on each of those MEIs.
        thresholds: the criterion's thresholds and rule.

    Returns:
        A :class:`SelectivityReport`.

    Raises:
        TypeError: an argument of the wrong type.
        ValueError: wrong shapes (``probs`` must be ``[M, U, C]`` matching ``activations [M, U]``),
            empty inputs, NaN/inf, or ``probs`` that are not probabilities.

    Example:
        >>> acts = torch.tensor([[0.9, 0.2]])                      # M=1 method, U=2 units
        >>> probs = torch.tensor([[[0.1, 0.9], [0.5, 0.5]]])        # C=2 classes
        >>> selectivity(acts, probs).top_class
        tensor([1, 0])
    """
    check_tensor(activations, "activations")
    check_tensor(probs, "probs")
    if not isinstance(thresholds, SelectivityThresholds):
        raise TypeError(f"thresholds must be a SelectivityThresholds, got {type(thresholds).__name__}.")
    check_ndim(activations, 2, "activations", "[M methods, U units]")
    check_ndim(probs, 3, "probs", "[M methods, U units, C classes]")
    check_nonempty(activations, "activations")
    check_finite_float(activations, "activations")
    if probs.shape[:2] != activations.shape:
        raise ValueError(
            f"probs must have shape [M, U, C] = [{activations.shape[0]}, {activations.shape[1]}, C] to match "
            f"activations {tuple(activations.shape)}, got {tuple(probs.shape)}."
        )
    check_probs(probs, "probs")

    top_prob_per_method, top_class_per_method = probs.max(dim=-1)  # [M, U]
    best_activation, best_method = activations.max(dim=0)  # [U]
    units = torch.arange(activations.shape[1], device=activations.device)
    if thresholds.rule == "best":
        strong_value = best_activation
        top_prob = top_prob_per_method[best_method, units]
    else:
        strong_value = activations.min(dim=0).values
        top_prob = top_prob_per_method.min(dim=0).values
    strong = strong_value >= thresholds.activation
    confident = top_prob >= thresholds.confidence
    stable = (top_class_per_method == top_class_per_method[:1]).all(dim=0)
    selective = strong & confident & stable
    top_class = torch.where(stable, top_class_per_method[0], torch.full_like(top_class_per_method[0], -1))
    return SelectivityReport(
        strong=strong,
        confident=confident,
        stable=stable,
        selective=selective,
        top_class=top_class,
        best_method=best_method,
        best_activation=best_activation,
        top_prob=top_prob,
        strong_fraction=strong.float().mean().item(),
        selective_fraction=selective.float().mean().item(),
    )
