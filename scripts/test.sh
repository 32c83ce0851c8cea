#!/usr/bin/env bash
# The test command for a fresh machine: set up, then build, lint, typecheck and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-prometheus
pnpm -s build
pnpm -s lint
pnpm -s typecheck
mkdir -p reports
pnpm -s vitest run --reporter=default --reporter=json --outputFile.json=reports/vitest.json
