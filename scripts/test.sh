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

# Frontend: the bundle in tb_metrics_plugin/static is committed (users never need node); a rebuild
# from the locked dependencies must reproduce it byte for byte. Then the JS unit tests.
if ! command -v npm >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
(cd frontend && npm ci --silent --no-audit --no-fund && npm run --silent build)
if [ -n "$(git status --porcelain -- tb_metrics_plugin/static)" ]; then
  git status --short -- tb_metrics_plugin/static
  echo "tb_metrics_plugin/static differs from a fresh build: run scripts/build_frontend.sh and commit it." >&2
  exit 1
fi
node --test frontend/test/
# pytest exits 5 when it collects no test: set -e turns that into a failure too. Two worker processes
# (pytest-xdist): a test mostly waits on its TensorBoard, Chromium or training child, so one worker
# leaves a core idle. Each file stays in one worker, in order (some modules check, last, what their
# tests did). `-n 0` runs everything in one process.
python -m pytest tests tb_metrics_plugin -q -p no:cacheprovider -n 2 --dist loadfile "$@"
