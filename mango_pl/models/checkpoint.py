"""Load a trained stimulus generator (SN-GAN generator or VQ-VAE) on its own, without Lightning.

Two sources are read:

* a Lightning checkpoint of :class:`mango_pl.lit.SNGANModule` / :class:`mango_pl.lit.VQVAEModule`
  (``hyper_parameters`` + the ``generator.*`` / ``vqvae.*`` entries of ``state_dict``);
* a small standalone file written by :func:`save_generator` (constructor kwargs + state dict).
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import torch
from torch import nn

#: Marks a file written by :func:`save_generator`.
STANDALONE_FORMAT = "mango-pl-generator"
STANDALONE_VERSION = 1

#: state-dict prefix in a Lightning checkpoint -> name of the generator class in ``mango_pl.models``
CHECKPOINT_PREFIXES: dict[str, str] = {"generator.": "SNGANGenerator", "vqvae.": "VQVAE"}
_SUPPORTED = (
    "a Lightning checkpoint of SNGANModule (state_dict keys 'generator.*') or VQVAEModule ('vqvae.*'), "
    "or a file written by mango_pl.models.checkpoint.save_generator"
)


def _generator_classes() -> dict[str, type[nn.Module]]:
    """The supported generator classes by name (imported here: ``mango_pl.models`` may import this module)."""
    from mango_pl.models import VQVAE, SNGANGenerator

    return {"SNGANGenerator": SNGANGenerator, "VQVAE": VQVAE}


def _constructor_kwargs(cls: type[nn.Module], hparams: dict) -> dict:
    names = [p.name for p in inspect.signature(cls.__init__).parameters.values()
             if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return {name: hparams[name] for name in names if name in hparams}


def _constructor_record(generator: nn.Module) -> dict:
    """The constructor kwargs of ``generator``: its ``init_kwargs`` (set by :func:`load_generator` and the
    mango-pl LightningModules), else read back from its attributes and grid."""
    recorded = getattr(generator, "init_kwargs", None)
    if isinstance(recorded, dict):
        return dict(recorded)
    kwargs = {}
    grid = getattr(generator, "grid", None)
    from_grid = {}  # an SN-GAN's latent grid stores grid_points / grid_range only inside the grid
    if grid is not None and getattr(grid, "values", None) is not None:
        from_grid = {"grid_points": int(grid.n), "grid_range": float(grid.values.abs().max())}
    for p in inspect.signature(type(generator).__init__).parameters.values():
        if p.name == "self" or p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            continue
        if hasattr(generator, p.name):
            kwargs[p.name] = getattr(generator, p.name)
        elif p.name in from_grid:
            kwargs[p.name] = from_grid[p.name]
    return kwargs


def _describe_checkpoint(state_dict: dict, hparams: dict) -> str:
    class_path = hparams.get("_class_path") or "a LightningModule"
    prefixes = sorted({key.split(".", 1)[0] for key in state_dict})
    if "model" in prefixes:
        class_path += " holding a classifier (ClassifierModule keeps its network under 'model.*')"
    return f"{class_path} with state_dict prefixes {prefixes[:8]}"


def _build(cls: type[nn.Module], kwargs: dict, state_dict: dict, source: object) -> nn.Module:
    """``cls(**kwargs)`` with ``state_dict`` loaded (strict), in eval mode, remembering ``init_kwargs``."""
    try:
        # the random initialisation is overwritten at once: draw it from a forked RNG, so that
        # loading a generator never shifts the caller's random stream (a training seeded before)
        with torch.random.fork_rng(devices=[]):
            generator = cls(**kwargs)
        generator.load_state_dict(state_dict)
    except (RuntimeError, TypeError, ValueError) as err:
        raise ValueError(f"{source}: the stored weights do not fit {cls.__name__}(**{kwargs}): {err}") from err
    generator.init_kwargs = dict(kwargs)
    return generator.eval()


def load_generator(path: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """Load a trained SN-GAN generator or VQ-VAE, in eval mode, with ``.grid`` and ``.decode``.

    Args:
        path: a Lightning checkpoint of ``SNGANModule`` / ``VQVAEModule`` or a :func:`save_generator` file.
        map_location: device to load the tensors onto.

    Returns:
        An eval-mode ``SNGANGenerator`` or ``VQVAE``.

    Raises:
        FileNotFoundError: if ``path`` does not exist (the message gives the path).
        ValueError: if the file is not a generator checkpoint (says what it is and what is supported).

    Example:
        >>> from mango_pl.models.checkpoint import load_generator
        >>> import importlib.resources as res
        >>> g = load_generator(res.files("mango_pl") / "assets" / "digits_sngan.pt")
        >>> g.decode(torch.zeros(2, g.grid.d, dtype=torch.long)).shape
        torch.Size([2, 1, 16, 16])
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no generator checkpoint at {str(path)!r} (resolved: {path.resolve()}); "
                                "check the path, e.g. runs/<name>/version_<n>/checkpoints/last.ckpt.")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise ValueError(f"{path} is not a PyTorch checkpoint ({type(err).__name__}: {err}); expected {_SUPPORTED}.") from err
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{path} holds a {type(checkpoint).__name__}, not a checkpoint dict; expected {_SUPPORTED}.")

    if checkpoint.get("format") == STANDALONE_FORMAT:
        classes = _generator_classes()
        class_name = checkpoint.get("class_name")
        if class_name not in classes:
            raise ValueError(f"{path} stores a {class_name!r}; supported generator classes: {sorted(classes)}.")
        return _build(classes[class_name], dict(checkpoint["kwargs"]), checkpoint["state_dict"], path)

    state_dict = checkpoint.get("state_dict")
    if not isinstance(state_dict, dict):
        raise ValueError(f"{path} has no 'state_dict' (keys: {sorted(checkpoint)[:8]}); expected {_SUPPORTED}.")
    hparams = dict(checkpoint.get("hyper_parameters") or {})
    for prefix, class_name in CHECKPOINT_PREFIXES.items():
        cls = _generator_classes()[class_name]
        weights = {key[len(prefix):]: value for key, value in state_dict.items() if key.startswith(prefix)}
        if weights:
            return _build(cls, _constructor_kwargs(cls, hparams), weights, path)
    raise ValueError(f"{path} is not a generator checkpoint: it is {_describe_checkpoint(state_dict, hparams)}. "
                     f"load_generator reads {_SUPPORTED}.")


def save_generator(generator: nn.Module, path: str | Path, **kwargs) -> Path:
    """Write ``generator`` (an ``SNGANGenerator`` or ``VQVAE``) as a small standalone file for :func:`load_generator`.

    Args:
        generator: the trained generator.
        path: the file to write (parent folders are created).
        **kwargs: constructor arguments; by default the generator's ``init_kwargs`` (set by
            :func:`load_generator` and the mango-pl LightningModules) or its attributes and grid.

    Returns:
        The written path.

    Raises:
        TypeError: if ``generator`` is not a supported class (lists them).
        ValueError: if the constructor arguments do not rebuild a network the weights fit.

    Example:
        >>> from mango_pl.models import SNGANGenerator
        >>> g = SNGANGenerator(latent_dim=8, channels=16, out_channels=1, image_size=16)
        >>> save_generator(g, "/tmp/g.pt").name
        'g.pt'
    """
    classes = _generator_classes()
    cls = type(generator)
    if classes.get(cls.__name__) is not cls:
        raise TypeError(f"save_generator stores {sorted(classes)} generators, got {cls.__name__}.")
    init_kwargs = _constructor_kwargs(cls, kwargs or _constructor_record(generator))
    state_dict = {key: value.detach().cpu() for key, value in generator.state_dict().items()}
    try:  # the file must rebuild: the recorded kwargs have to fit the weights
        _build(cls, init_kwargs, state_dict, f"save_generator({cls.__name__})")
    except ValueError as err:
        raise ValueError(f"{err}\nPass the constructor arguments explicitly, e.g. "
                         f"save_generator(generator, path, hidden=..., ...).") from err
    record = {
        "format": STANDALONE_FORMAT,
        "version": STANDALONE_VERSION,
        "class_name": cls.__name__,
        "kwargs": init_kwargs,
        "state_dict": state_dict,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(record, path)
    return path


def _import_class(class_path: str) -> type:
    module_name, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as err:
        raise ValueError(f"cannot import the network class {class_path!r}: {err}") from err


def load_classifier(path: str | Path, network: nn.Module | None = None, attr: str = "model",
                    map_location: str | torch.device = "cpu") -> tuple[nn.Module, int]:
    """The classifier network stored in a Lightning checkpoint, in eval mode, and the checkpoint's epoch.

    The network's weights are the ``<attr>.*`` entries of the checkpoint's ``state_dict``
    (:class:`~mango_pl.lit.ClassifierModule` keeps its network under ``model``; ``attr=""``: the
    whole state dict). The network is rebuilt from the checkpoint's record of its class
    (``hyper_parameters[attr]`` with ``class_path`` and ``init_args``, as ``mango-pl fit`` writes
    it), or given as ``network`` (its weights are replaced).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a Lightning checkpoint, no weights under ``attr`` (the prefixes found are
            listed), no record of the network's class and no ``network`` given, weights that do
            not fit.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {str(path)!r} (resolved: {path.resolve()})")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise ValueError(f"{path} is not a PyTorch checkpoint ({type(err).__name__}: {err})") from err
    if isinstance(checkpoint, dict) and checkpoint.get("format") == STANDALONE_FORMAT:
        raise ValueError(f"{path} is a stimulus generator ({checkpoint.get('class_name')}), not a classifier "
                         f"checkpoint; give the checkpoints of the trained network (the generator is the space)")
    state_dict = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    if not isinstance(state_dict, dict):
        raise ValueError(f"{path} is not a Lightning checkpoint (no 'state_dict'); mango-pl search reads the "
                         f"checkpoints that Lightning's ModelCheckpoint writes")
    prefix = f"{attr}." if attr else ""
    weights = {key[len(prefix):]: value for key, value in state_dict.items() if key.startswith(prefix)}
    if not weights:
        prefixes = sorted({key.split(".", 1)[0] for key in state_dict})
        raise ValueError(f"{path} holds no classifier weights under {attr!r} (state_dict prefixes: {prefixes[:8]}); "
                         f"give the attribute that holds the network (--network_attr)")
    if network is None:
        hparams = dict(checkpoint.get("hyper_parameters") or {})
        record = hparams.get(attr) if attr else None
        if not (isinstance(record, dict) and "class_path" in record):
            raise ValueError(f"{path} does not record its network's class (hyper_parameters[{attr!r}] has no "
                             f"class_path: the module was built in Python); pass the network (Python: "
                             f"load_classifier(path, network=MyNet(...)); CLI: --model.class_path/--model.init_args)")
        cls = _import_class(record["class_path"])
        with torch.random.fork_rng(devices=[]):  # its random initialisation is overwritten at once
            network = cls(**dict(record.get("init_args") or {}))
    try:
        network.load_state_dict(weights)
    except RuntimeError as err:
        raise ValueError(f"{path}: the stored weights do not fit {type(network).__name__}: {err}") from err
    return network.eval(), int(checkpoint.get("epoch", 0))
