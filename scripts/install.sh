#!/usr/bin/env bash
# Install mango-pl (editable) with its test tools into the active Python environment.
#
#   bash scripts/install.sh            # CPU or GPU; keeps a torch you already have
#   EXTRAS=test,cuda bash scripts/install.sh   # GPU users who want the CuPy spiking backend
#
# 1. torch: an installed torch is kept as it is; with none, torch==2.13.0 is installed.
# 2. Every later pip call gets a constraints file pinning that torch, and torchvision is
#    pinned to the release that pairs with it (0.(minor+15)): otherwise a dependency may make
#    pip fetch another torch, a multi-GB CUDA build.
# 3. If the torchvision wheel cannot load its compiled ops beside this torch (a CUDA wheel
#    beside a CPU torch), scripts/torchvision_repair.py installs a start-up hook that lets it
#    import; it changes nothing where torchvision works.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
EXTRAS=${EXTRAS:-test}
pip_install() { "$PYTHON" -m pip install --disable-pip-version-check "$@"; }

if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    pip_install "torch==${TORCH_VERSION:-2.13.0}"
fi
torch_version=$("$PYTHON" -c "import torch; print(torch.__version__.split('+')[0])")
tv_minor=$("$PYTHON" -c "import torch; print(int(torch.__version__.split('.')[1]) + 15)")
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
echo "torch==${torch_version}" > "$constraints"

# torchvision first (pinned), then the project; both under the torch constraint
if ! "$PYTHON" -c "import importlib.metadata as m, sys; sys.exit(0 if m.version('torchvision').startswith('0.${tv_minor}.') else 1)" >/dev/null 2>&1; then
    pip_install -c "$constraints" "torchvision==0.${tv_minor}.*"
fi
pip_install -c "$constraints" -e ".[${EXTRAS}]"
"$PYTHON" scripts/torchvision_repair.py
"$PYTHON" -c "import mango_pl, callbacks, lightning, spikingjelly, protes, nevergrad, ttopt; print('mango-pl installed; torch', __import__('torch').__version__)"
