"""Repair a torchvision whose compiled ops cannot load beside the installed torch.

PyPI's torchvision wheels are CUDA builds. Installed next to a CPU build of torch their
``_C`` extension fails to load (undefined ``c10::cuda`` symbols), torchvision then never
defines the ``torchvision::nms`` / ``torchvision::qnms`` operators, and ``import torchvision``
(and so ``import lightning`` via torchmetrics) dies with
``RuntimeError: operator torchvision::nms does not exist``.

This script is run by ``scripts/install.sh``. It checks, in a fresh interpreter, whether
``import torchvision`` works. Only if it fails with exactly that error does it install a
``.pth`` start-up hook into site-packages. The hook waits for the first ``import torchvision``
and, at that moment, tries to load torchvision's compiled ops itself; only if they cannot
load does it define the two operator schemas in pure Python (with a pure-PyTorch ``nms``
kernel, so ``torchvision.ops.nms`` still works). A user whose torchvision loads its ops
(a matching CUDA or CPU build) is never touched: the script removes any hook it installed
earlier and exits.

Kept out of the ``mango_pl`` package on purpose: it repairs the environment, not the product.

Usage: ``python scripts/torchvision_repair.py [--check] [--remove]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import sysconfig
from pathlib import Path

HOOK_MODULE = "_mango_pl_torchvision_repair"
PTH_NAME = "mango_pl_torchvision_repair.pth"
SYMPTOM = "operator torchvision::nms does not exist"

HOOK_SOURCE = '''"""Installed by mango-pl's scripts/torchvision_repair.py; remove with
``python scripts/torchvision_repair.py --remove``. See that script for why."""
import importlib.abc
import sys


def _define_missing_ops():
    import importlib.util
    import os

    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return
    folder = list(spec.submodule_search_locations)[0]
    libs = [f for f in os.listdir(folder) if f.startswith("_C.") and f.endswith((".so", ".pyd"))]
    if libs:
        try:
            torch.ops.load_library(os.path.join(folder, libs[0]))
            return  # the compiled ops load: nothing to repair
        except (OSError, RuntimeError, ImportError):
            pass
    try:
        torch.ops.torchvision.nms
        return  # defined by someone else already
    except (AttributeError, RuntimeError):
        pass
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")

    sys.modules[__name__]._library = lib  # keep the registration alive


class _RepairOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "torchvision":
            return None
        sys.meta_path.remove(self)
        try:
            _define_missing_ops()
        except Exception as error:  # never break an import that might have worked anyway
            print(f"mango-pl torchvision repair skipped: {error!r}", file=sys.stderr)
        return None


if not any(isinstance(f, _RepairOnImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _RepairOnImport())
'''


def site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def torchvision_import_error() -> str | None:
    """Import torchvision in a fresh interpreter; return its error text, or None if it works."""
    run = subprocess.run(
        [sys.executable, "-c", "import torchvision"], capture_output=True, text=True
    )
    return None if run.returncode == 0 else (run.stderr.strip().splitlines() or ["?"])[-1]


def remove() -> bool:
    removed = False
    for path in (site_packages() / PTH_NAME, site_packages() / f"{HOOK_MODULE}.py"):
        if path.exists():
            path.unlink()
            removed = True
    return removed


def install() -> None:
    (site_packages() / f"{HOOK_MODULE}.py").write_text(HOOK_SOURCE)
    (site_packages() / PTH_NAME).write_text(f"import {HOOK_MODULE}\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report, change nothing")
    parser.add_argument("--remove", action="store_true", help="remove the repair hook")
    args = parser.parse_args()
    if args.remove:
        print("torchvision repair removed" if remove() else "no torchvision repair was installed")
        return 0
    # judge torchvision as it is, without a hook this script may have left earlier
    had_hook = (site_packages() / PTH_NAME).exists()
    if had_hook and not args.check:
        remove()
    error = torchvision_import_error()
    if error is None:
        print("torchvision imports and loads its ops: no repair needed")
        return 0
    if SYMPTOM not in error:
        print(f"torchvision fails to import for another reason, not repaired: {error}")
        return 1
    if args.check:
        print("torchvision needs the repair (its compiled ops cannot load beside this torch)")
        return 0
    install()
    error = torchvision_import_error()
    if error is not None:
        remove()
        print(f"torchvision repair did not help, removed it again: {error}")
        return 1
    print(f"torchvision's compiled ops cannot load beside this torch: repair hook installed in {site_packages()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
