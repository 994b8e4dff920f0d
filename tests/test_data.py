"""Tests of mango_pl.data: the offline digits fully, the torchvision modules without any download,
and ImageFolderDataModule on a tiny folder of images made in tmp_path."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from mango_pl.data import (
    CIFAR10DataModule,
    DigitsDataModule,
    FashionMNISTDataModule,
    ImageFolderDataModule,
    MNISTDataModule,
    load_digit_images,
    seeded_split,
)
from mango_pl.data.transforms import image_transform


# --- digits ------------------------------------------------------------------------------------

@pytest.mark.parametrize("image_size,channels", [(8, 1), (16, 1), (16, 3), (28, 3)])
def test_digits_batches_have_requested_shape_and_unit_range(image_size, channels):
    dm = DigitsDataModule(image_size=image_size, channels=channels, batch_size=16)
    dm.setup("fit")
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (16, channels, image_size, image_size)
    assert images.dtype == torch.float32 and labels.dtype == torch.long
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    assert float(images.max()) > 0.5  # not normalized away: real strokes reach near 1
    assert dm.num_classes == 10 and dm.image_shape == (channels, image_size, image_size)


def test_digits_three_channels_repeat_the_gray_image():
    gray, labels_gray = load_digit_images(16, 1)
    rgb, labels_rgb = load_digit_images(16, 3)
    assert torch.equal(labels_gray, labels_rgb)
    for c in range(3):
        assert torch.equal(rgb[:, c], gray[:, 0])


def test_digits_native_size_is_the_raw_data_scaled_to_unit_range():
    from sklearn.datasets import load_digits

    images, labels = load_digit_images(8, 1)
    raw = load_digits()
    assert images.shape == (1797, 1, 8, 8)
    assert torch.allclose(images[:, 0], torch.as_tensor(raw.images, dtype=torch.float32) / 16.0)
    assert labels.tolist() == raw.target.tolist()


def test_digits_split_is_disjoint_complete_and_seeded():
    a, b, c = (DigitsDataModule(seed=s) for s in (3, 3, 4))
    for dm in (a, b, c):
        dm.setup()
    parts = [set(a.split_indices[k]) for k in ("train", "val", "test")]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert set().union(*parts) == set(range(1797))
    assert len(a.val_set) == len(a.test_set) == round(0.15 * 1797)
    assert a.split_indices == b.split_indices
    assert a.split_indices["val"] != c.split_indices["val"]
    assert torch.equal(a.val_set.tensors[0], b.val_set.tensors[0])


def test_digits_every_stage_has_a_loader_and_all_classes_appear():
    dm = DigitsDataModule(batch_size=512)
    dm.setup()
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
        labels = torch.cat([y for _, y in loader])
        assert set(labels.tolist()) == set(range(10))


@pytest.mark.parametrize("kwargs,match", [
    ({"channels": 2}, "channels must be one of"),
    ({"image_size": 2}, "image_size"),
    ({"batch_size": 0}, "batch_size"),
    ({"num_workers": -1}, "num_workers"),
    ({"val_fraction": 0.0}, "val_fraction"),
    ({"val_fraction": 0.5, "test_fraction": 0.45}, "below 0.9"),
])
def test_digits_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DigitsDataModule(**kwargs)


def test_loader_before_setup_says_to_call_setup():
    with pytest.raises(RuntimeError, match="setup"):
        DigitsDataModule().train_dataloader()


def test_seeded_split_rejects_sizes_that_do_not_add_up():
    with pytest.raises(ValueError, match="sum to"):
        seeded_split(10, [5, 4], seed=0)


# --- torchvision-backed sets: construction only, never a download ------------------------------

@pytest.mark.parametrize("cls,size,channels", [
    (CIFAR10DataModule, 32, 3), (MNISTDataModule, 28, 1), (FashionMNISTDataModule, 28, 1),
])
def test_torchvision_modules_defaults(cls, size, channels, tmp_path):
    dm = cls(data_dir=str(tmp_path), download=False)
    assert dm.num_classes == 10
    assert dm.image_shape == (channels, size, size)
    assert dm.num_workers == 0 and dm.data_dir == str(tmp_path)


def test_torchvision_module_converts_size_and_channels_in_its_transform():
    dm = MNISTDataModule(image_size=32, channels=3)
    transform = image_transform(dm.image_size, dm.channels, native_size=dm.native_size)
    out = transform(Image.new("L", (28, 28), color=255))
    assert out.shape == (3, 32, 32) and torch.allclose(out, torch.ones_like(out))


def test_torchvision_module_missing_files_without_download_is_a_clear_error(tmp_path):
    dm = CIFAR10DataModule(data_dir=str(tmp_path), download=False)
    dm.prepare_data()  # download=False: does nothing, in particular no network access
    with pytest.raises(FileNotFoundError, match="prepare_data"):
        dm.setup("fit")


@pytest.mark.parametrize("val_size", [0, 50000, 1.5])
def test_torchvision_module_rejects_bad_val_size(val_size):
    with pytest.raises(ValueError, match="val_size"):
        CIFAR10DataModule(val_size=val_size)


def test_augmentation_crops_and_flips_only_where_requested():
    image = Image.new("L", (16, 16))
    image.putpixel((0, 8), 255)  # one bright pixel on the left edge
    flips = image_transform(16, 1, augment=True, native_size=16, flip=True)
    plain = image_transform(16, 1, augment=False, native_size=16)
    assert torch.equal(plain(image), plain(image))
    torch.manual_seed(0)
    outs = [flips(image) for _ in range(30)]
    assert any(not torch.equal(o, outs[0]) for o in outs)
    assert all(o.shape == (1, 16, 16) for o in outs)
    assert "RandomHorizontalFlip" not in repr(image_transform(16, 1, augment=True, flip=False))
    assert "RandomHorizontalFlip" in repr(flips)


# --- image folders -----------------------------------------------------------------------------

def _make_folder(root, classes=("cat", "dog"), per_class=5):
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            side = 20 + 3 * i  # different sizes: every image is resized
            Image.new("RGB", (side, side + 2), color=(40 * k, 20 * i, 200)).save(root / name / f"{i}.png")
    return root


def test_image_folder_resizes_converts_and_splits(tmp_path):
    root = _make_folder(tmp_path / "train")
    dm = ImageFolderDataModule(str(root), image_size=12, channels=1, batch_size=4, val_fraction=0.2)
    assert dm.num_classes == 2 and dm.classes == ["cat", "dog"]
    dm.setup("fit")
    assert len(dm.train_set) == 8 and len(dm.val_set) == 2
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (4, 1, 12, 12)
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    assert set(labels.tolist()) <= {0, 1}
    val_images, _ = next(iter(dm.test_dataloader()))  # no test_dir: the validation set
    assert val_images.shape[1:] == (1, 12, 12)


def test_image_folder_with_separate_val_and_test_folders(tmp_path):
    root = _make_folder(tmp_path / "train")
    val = _make_folder(tmp_path / "val", per_class=2)
    test = _make_folder(tmp_path / "test", per_class=1)
    dm = ImageFolderDataModule(str(root), image_size=8, channels=3, batch_size=16, val_dir=str(val), test_dir=str(test))
    dm.setup()
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (10, 4, 2)
    assert next(iter(dm.val_dataloader()))[0].shape == (4, 3, 8, 8)


def test_image_folder_bad_folders_raise_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        ImageFolderDataModule(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="class sub-folders"):
        ImageFolderDataModule(str(tmp_path / "empty"))
    root = _make_folder(tmp_path / "train")
    other = _make_folder(tmp_path / "other", classes=("cat", "fox"), per_class=1)
    with pytest.raises(ValueError, match="same class sub-folders"):
        ImageFolderDataModule(str(root), val_dir=str(other))
