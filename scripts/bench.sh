#!/usr/bin/env bash
# npm run bench -- NAME [args]: builds, then runs bench/NAME/main.ts. Benchmarks are not tests:
# each prints its figures next to a peer's measured in the same run, and ends with one JSON line.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-}
if [ -z "$name" ] || [ ! -f "bench/$name/main.ts" ]; then
  echo "usage: npm run bench -- NAME   (one of: $(ls bench | tr '\n' ' '))" >&2
  exit 2
fi
shift
bash scripts/install-deps.sh >&2
exec node --enable-source-maps "dist/bench/$name/main.js" "$@"
