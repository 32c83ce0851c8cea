#!/usr/bin/env bash
# The demo for a fresh machine: set up, build, and run the demo (no cluster needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pnpm -s build
pnpm -s demo "$@"
