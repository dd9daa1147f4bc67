#!/usr/bin/env bash
# Brings up a single-host Berth cluster in the foreground: embedded Redis, control plane and the
# local agent (once it exists). Installs what is missing first. Ctrl-C stops everything it started.
#   bash scripts/up.sh [--data-dir DIR] [--port N] [berthctl up flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
args=("$@")
[[ " ${args[*]-} " == *" --data-dir "* ]] || args+=(--data-dir "${BERTH_DATA_DIR:-/var/lib/berth}")
[[ " ${args[*]-} " == *" --port "* ]] || args+=(--port "${BERTH_PORT:-6443}")
exec ./bin/berthctl up "${args[@]}"
