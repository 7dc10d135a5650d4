#!/usr/bin/env bash
# Installs the package with what the demo needs, trains the demo models, and serves TensorBoard.
# Usage: bash scripts/demo.sh [LOGDIR]   (then open http://localhost:6006)
set -euo pipefail
cd "$(dirname "$0")/.."
logdir="${1:-logs/demo}"
python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
python -m pip install --quiet --disable-pip-version-check -e .
exec python -m tb_metrics_plugin.demo --logdir "$logdir" --serve
