#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine (as root), then runs it:
# lint, the Python tests (real TensorFlow, real TensorBoard on both loaders) and the doctests.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=3 PYTHONDONTWRITEBYTECODE=1

if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
python -m pip install --quiet --disable-pip-version-check -e .

ruff check .
# pytest exits 5 when it collects no test: set -e turns that into a failure too.
python -m pytest tests tb_metrics_plugin -q -p no:cacheprovider "$@"
