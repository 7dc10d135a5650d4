#!/usr/bin/env bash
# Rebuilds the bundled frontend, tb_metrics_plugin/static/index.js, from frontend/src with the
# locked npm dependencies. Users never need this: the built bundle is committed.
set -euo pipefail
cd "$(dirname "$0")/../frontend"
npm ci --silent --no-audit --no-fund
npm run --silent build
