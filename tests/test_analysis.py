"""Tests of mango_pl.analysis: known answers on hand-made inputs and clear errors on bad input."""

from __future__ import annotations

import math

import pytest
import torch

from mango_pl.analysis import (
    SelectivityThresholds,
    class_entropy,
    classes_seen,
    compression_ratios,
    first_strong_epoch,
    latent_diversity,
    mei_grid,
    selectivity,
    specialization_fractions,
    update_first_strong,
)

# ---------------------------------------------------------------- class_entropy


def test_class_entropy_uniform_is_one_and_one_hot_is_zero() -> None:
    probs = torch.stack([torch.full((10,), 0.1), torch.nn.functional.one_hot(torch.tensor(3), 10).float()])
    entropy = class_entropy(probs)
    assert entropy.shape == (2,)
    torch.testing.assert_close(entropy, torch.tensor([1.0, 0.0]))


def test_class_entropy_known_value_and_batch_shape() -> None:
    # two of four classes at 1/2: H = log 2, normalized by log 4 -> 0.5
    probs = torch.tensor([0.5, 0.5, 0.0, 0.0]).expand(2, 3, 4)
    entropy = class_entropy(probs)
    assert entropy.shape == (2, 3)
    torch.testing.assert_close(entropy, torch.full((2, 3), 0.5))
    softmax = torch.softmax(torch.randn(5, 7, generator=torch.Generator().manual_seed(0)), dim=-1)
    assert ((class_entropy(softmax) >= 0) & (class_entropy(softmax) <= 1)).all()


@pytest.mark.parametrize(
    ("probs", "message"),
    [
        (torch.tensor([2.0, -1.0]), "negative"),
        (torch.tensor([0.5, 0.6]), "sum to 1"),
        (torch.tensor([[1.0]]), "at least 2 classes"),
        (torch.tensor([1, 0]), "floating-point"),
        (torch.tensor([float("nan"), 1.0]), "NaN"),
    ],
)
def test_class_entropy_rejects_bad_probs(probs: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        class_entropy(probs)


def test_class_entropy_rejects_non_tensor() -> None:
    with pytest.raises(TypeError, match="torch.Tensor"):
        class_entropy([0.5, 0.5])  # type: ignore[arg-type]


# ---------------------------------------------------------------- selectivity


def _three_method_case() -> tuple[torch.Tensor, torch.Tensor]:
    """M=3 methods, U=4 units, C=3 classes.

    unit 0: all methods say class 1 (p=0.9), best activation 0.9   -> selective, class 1
    unit 1: methods say classes 0, 0, 2 (unstable), strong          -> not selective, class -1
    unit 2: all say class 2 (p=0.9), activations at most 0.7        -> not strong, class 2
    unit 3: all say class 0, but the best method's MEI has p=0.6    -> not confident, class 0
    """
    activations = torch.tensor(
        [
            [0.8, 0.9, 0.5, 0.8],
            [0.9, 0.9, 0.6, 0.95],
            [0.5, 0.9, 0.7, 0.8],
        ]
    )

    def p(top: int, prob: float) -> list[float]:
        rest = (1.0 - prob) / 2
        return [prob if c == top else rest for c in range(3)]

    probs = torch.tensor(
        [
            [p(1, 0.9), p(0, 0.9), p(2, 0.9), p(0, 0.9)],
            [p(1, 0.9), p(0, 0.9), p(2, 0.9), p(0, 0.6)],
            [p(1, 0.9), p(2, 0.9), p(2, 0.9), p(0, 0.9)],
        ]
    )
    return activations, probs


def test_selectivity_three_methods_best_rule() -> None:
    activations, probs = _three_method_case()
    report = selectivity(activations, probs)
    assert report.strong.tolist() == [True, True, False, True]
    assert report.stable.tolist() == [True, False, True, True]
    assert report.confident.tolist() == [True, True, True, False]
    assert report.selective.tolist() == [True, False, False, False]
    assert report.top_class.tolist() == [1, -1, 2, 0]
    assert report.best_method.tolist() == [1, 0, 2, 1]
    torch.testing.assert_close(report.top_prob, torch.tensor([0.9, 0.9, 0.9, 0.6]))
    assert report.strong_fraction == pytest.approx(0.75)
    assert report.selective_fraction == pytest.approx(0.25)


def test_selectivity_all_rule_requires_every_method() -> None:
    activations, probs = _three_method_case()
    report = selectivity(activations, probs, SelectivityThresholds(rule="all"))
    assert report.strong.tolist() == [False, True, False, True]  # unit 0 has a 0.5 method
    assert report.selective.tolist() == [False, False, False, False]
    looser = selectivity(activations, probs, SelectivityThresholds(activation=0.5, confidence=0.5, rule="all"))
    assert looser.selective.tolist() == [True, False, True, True]
    assert looser.selective_fraction == pytest.approx(0.75)


def test_selectivity_single_method_is_trivially_stable() -> None:
    activations = torch.tensor([[0.9, 0.2]])
    probs = torch.tensor([[[0.1, 0.9], [0.8, 0.2]]])
    report = selectivity(activations, probs)
    assert report.stable.tolist() == [True, True]
    assert report.top_class.tolist() == [1, 0]
    assert report.selective.tolist() == [True, False]


def test_selectivity_errors() -> None:
    activations, probs = _three_method_case()
    with pytest.raises(ValueError, match=r"\[M, U, C\]"):
        selectivity(activations, probs[:2])
    with pytest.raises(ValueError, match=r"\[M methods, U units\]"):
        selectivity(activations[0], probs)
    with pytest.raises(ValueError, match="sum to 1"):
        selectivity(activations, probs * 2)
    with pytest.raises(TypeError, match="SelectivityThresholds"):
        selectivity(activations, probs, 0.75)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"one of \('best', 'all'\)"):
        SelectivityThresholds(rule="any")
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        SelectivityThresholds(activation=75)


# ---------------------------------------------------------------- compression


def test_compression_constant_compresses_far_better_than_noise() -> None:
    generator = torch.Generator().manual_seed(0)
    noise = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8, generator=generator)
    constant = torch.full((2, 3, 32, 32), 0.5)
    jpeg, zipped = compression_ratios(torch.cat([constant, noise.float() / 255]))
    assert jpeg.shape == zipped.shape == (4,)
    assert ((jpeg > 0) & (jpeg <= 1.1)).all() and ((zipped > 0) & (zipped <= 1.1)).all()
    assert (jpeg[:2] * 4 < jpeg[2:].min()).all()
    assert (zipped[:2] * 10 < zipped[2:].min()).all()
    assert zipped[2:].min() > 0.95  # uniform noise does not compress
    # same pixels as uint8 and as float -> same sizes; deterministic across calls
    again = compression_ratios(noise)
    torch.testing.assert_close(again[0], jpeg[2:])
    torch.testing.assert_close(again[1], zipped[2:])


def test_compression_grayscale_and_quality() -> None:
    ramp = torch.linspace(0, 1, 32).expand(1, 1, 32, 32).contiguous()
    low_q, zip_gray = compression_ratios(ramp, jpeg_quality=10)
    high_q, _ = compression_ratios(ramp, jpeg_quality=95)
    assert low_q.item() < high_q.item()
    assert 0 < zip_gray.item() < 0.5


@pytest.mark.parametrize(
    ("images", "quality", "error", "message"),
    [
        (torch.rand(1, 2, 8, 8), 75, ValueError, r"\(1, 3\) channels"),
        (torch.rand(3, 8, 8), 75, ValueError, r"\[N, C, H, W\]"),
        (torch.rand(1, 3, 8, 8) * 2, 75, ValueError, r"in \[0, 1\]"),
        (torch.ones(1, 3, 8, 8, dtype=torch.int32), 75, ValueError, "uint8"),
        (torch.rand(1, 3, 8, 8), 0, ValueError, "jpeg_quality"),
        ("image", 75, TypeError, "torch.Tensor"),
    ],
)
def test_compression_errors(images: object, quality: int, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        compression_ratios(images, jpeg_quality=quality)  # type: ignore[arg-type]


# ---------------------------------------------------------------- latent diversity


def test_latent_diversity_identical_is_zero_and_orthogonal_cosine_is_one() -> None:
    same = torch.randn(1, 5, 16, generator=torch.Generator().manual_seed(1)).expand(3, 5, 16)
    euclidean, cosine = latent_diversity(same)
    assert euclidean.shape == cosine.shape == (5,)
    torch.testing.assert_close(euclidean, torch.zeros(5), atol=1e-6, rtol=0)
    torch.testing.assert_close(cosine, torch.zeros(5), atol=1e-6, rtol=0)

    basis = torch.eye(3).unsqueeze(1)  # M=3 orthogonal unit vectors, U=1, D=3
    euclidean, cosine = latent_diversity(basis)
    torch.testing.assert_close(euclidean, torch.tensor([math.sqrt(2)]))
    torch.testing.assert_close(cosine, torch.tensor([1.0]))


def test_latent_diversity_mean_over_pairs_and_single_method() -> None:
    # points 1, 2, 4 on a line: pair distances 1, 3, 2 -> mean 2; all parallel -> cosine distance 0
    line = torch.tensor([[[1.0]], [[2.0]], [[4.0]]])
    euclidean, cosine = latent_diversity(line)
    torch.testing.assert_close(euclidean, torch.tensor([2.0]))
    torch.testing.assert_close(cosine, torch.tensor([0.0]))
    euclidean, cosine = latent_diversity(torch.randn(1, 4, 8))
    assert euclidean.tolist() == [0.0] * 4 and cosine.tolist() == [0.0] * 4
    assert latent_diversity(torch.tensor([[[1, 2]], [[3, 4]]]))[0].dtype == torch.float32


def test_latent_diversity_errors() -> None:
    with pytest.raises(ValueError, match=r"\[M methods, U units, D latent dims\]"):
        latent_diversity(torch.randn(3, 8))
    with pytest.raises(ValueError, match="NaN"):
        latent_diversity(torch.full((2, 1, 2), float("inf")))
    with pytest.raises(ValueError, match="empty"):
        latent_diversity(torch.randn(2, 0, 4))


# ---------------------------------------------------------------- tracking over epochs


def test_first_strong_epoch_and_incremental_update_agree() -> None:
    activations = torch.tensor(
        [
            [0.1, 0.80, 0.2, 0.75],
            [0.9, 0.10, 0.2, 0.10],
            [0.9, 0.90, 0.3, 0.10],
        ]
    )
    epochs = [0, 5, 20]
    first = first_strong_epoch(activations, epochs)
    assert first.dtype == torch.long
    assert first.tolist() == [5, 0, -1, 0]
    assert first_strong_epoch(activations, epochs, threshold=0.85).tolist() == [5, 20, -1, -1]

    running = torch.full((4,), -1, dtype=torch.long)
    for epoch, row in zip(epochs, activations):
        before = running.clone()
        updated = update_first_strong(running, row, epoch)
        assert torch.equal(running, before)  # input left untouched
        running = updated
    assert torch.equal(running, first)


def test_tracking_errors() -> None:
    activations = torch.rand(3, 4)
    with pytest.raises(ValueError, match="one epoch number per row"):
        first_strong_epoch(activations, [0, 1])
    with pytest.raises(ValueError, match="strictly increasing"):
        first_strong_epoch(activations, [0, 2, 2])
    with pytest.raises(ValueError, match="non-negative int"):
        first_strong_epoch(activations, [-1, 0, 1])
    with pytest.raises(ValueError, match="threshold"):
        first_strong_epoch(activations, [0, 1, 2], threshold=75)
    with pytest.raises(ValueError, match="same shape"):
        update_first_strong(torch.full((3,), -1), torch.rand(4), epoch=1)
    with pytest.raises(ValueError, match="integer tensor"):
        update_first_strong(torch.full((4,), -1.0), torch.rand(4), epoch=1)


def test_specialization_fractions_on_constructed_history() -> None:
    # 5 units over 4 epochs (-1 = not selective that epoch)
    history = torch.tensor(
        [
            [3, -1, -1, 1, -1],
            [3, 2, -1, 4, -1],
            [-1, 2, -1, 1, -1],
            [3, 2, -1, -1, 7],
        ]
    )
    assert classes_seen(history) == [{3}, {2}, set(), {1, 4}, {7}]
    fractions = specialization_fractions(history)
    assert fractions == pytest.approx({"stable": 0.6, "labile": 0.2, "non_specialized": 0.2})
    assert sum(fractions.values()) == pytest.approx(1.0)
    as_list = specialization_fractions(list(history))
    assert as_list == fractions


def test_specialization_errors() -> None:
    with pytest.raises(ValueError, match="is empty"):
        specialization_fractions([])
    with pytest.raises(ValueError, match="same units"):
        specialization_fractions([torch.tensor([1, 2]), torch.tensor([1, 2, 3])])
    with pytest.raises(ValueError, match="below -1"):
        specialization_fractions(torch.tensor([[-2, 0]]))
    with pytest.raises(ValueError, match="integer class indices"):
        classes_seen(torch.tensor([[0.5, 1.0]]))
    with pytest.raises(TypeError, match="list of \\[U\\] tensors"):
        classes_seen(42)  # type: ignore[arg-type]


# ---------------------------------------------------------------- mei_grid


def test_mei_grid_shape_range_and_upscaling() -> None:
    images = torch.rand(5, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    grid = mei_grid(images, None, nrow=3, scale=2, padding=1)
    # 3 columns, 2 rows of 32x32 tiles with 1 px padding, no caption strip
    assert grid.shape == (3, 1 + 2 * 33, 1 + 3 * 33)
    assert grid.dtype == torch.float32 and grid.min() >= 0 and grid.max() <= 1
    tile = grid[:, 1:33, 1:33]
    expected = torch.nn.functional.interpolate(images[:1], scale_factor=2, mode="nearest")[0]
    torch.testing.assert_close(tile, (expected * 255).round() / 255)


def test_mei_grid_grayscale_captions_and_auto_scale() -> None:
    images = torch.zeros(2, 1, 16, 16)
    plain = mei_grid(images, nrow=8, padding=0)
    captioned = mei_grid(images, ["u3 0.92 7:0.81", "u4 0.10 2:0.33\nsecond line"], nrow=8, padding=0)
    assert plain.shape == (3, 96, 192)  # auto scale 6 -> 96 px tiles, one row of 2
    assert captioned.shape[0] == 3 and captioned.shape[1] > 96 and captioned.shape[2] == plain.shape[2]
    assert torch.equal(captioned[0], captioned[1])  # grayscale -> identical channels
    strip = captioned[:, 96:, :]
    assert strip.max() == 1.0  # white caption text drawn on the black strip
    assert captioned[:, :96, :].max() == 0.0  # the (black) tiles untouched by the captions


def test_mei_grid_errors() -> None:
    images = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match="one caption per image"):
        mei_grid(images, ["only one"])
    with pytest.raises(TypeError, match="must be a str"):
        mei_grid(images, ["a", 3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="nrow"):
        mei_grid(images, nrow=0)
    with pytest.raises(ValueError, match="scale"):
        mei_grid(images, scale=0)
    with pytest.raises(ValueError, match=r"\(1, 3\) channels"):
        mei_grid(torch.rand(2, 4, 8, 8))
