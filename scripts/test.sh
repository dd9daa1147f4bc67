#!/usr/bin/env bash
# Runs every test: typecheck, lint, unit specs (*.spec.ts beside the code) and end-to-end suites
# (test/**/*.e2e-spec.ts, real redis-server/runc/registry processes). Ends with one line
# "N passed, N failed, N skipped" summing all of them.
#   bash scripts/test.sh [PATH-SUBSTRING...]   only the spec files whose path contains one of them
#   BERTH_SKIP_INSTALL=1  skip the install step;  BERTH_SKIP_CHECKS=1  skip typecheck and lint
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${BERTH_SKIP_INSTALL:-}" = 1 ]; then
  node scripts/build.mjs || { echo "0 passed, 1 failed"; exit 1; }
else
  bash scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
fi

passed=0; failed=0; skipped=0
check() { # name, command...
  local name=$1; shift
  if "$@" >/tmp/berth-check.$$ 2>&1; then
    echo "ok - $name"; passed=$((passed+1))
  else
    cat /tmp/berth-check.$$; echo "not ok - $name"; failed=$((failed+1))
  fi
  rm -f /tmp/berth-check.$$
}
if [ "${BERTH_SKIP_CHECKS:-}" != 1 ] && [ $# -eq 0 ]; then
  check typecheck npx tsc -p tsconfig.json --noEmit
  check lint npx eslint .
fi

mapfile -t files < <(find dist -type f \( -name '*.spec.js' -o -name '*.e2e-spec.js' \) | sort)
if [ $# -gt 0 ]; then
  sel=()
  for f in "${files[@]}"; do for p in "$@"; do [[ "$f" == *"$p"* ]] && { sel+=("$f"); break; }; done; done
  files=("${sel[@]}")
fi

tap=$(mktemp)
if [ ${#files[@]} -gt 0 ]; then
  node --enable-source-maps --test --test-concurrency=2 --test-timeout=600000 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" "${files[@]}"
  n() { grep -E "^# $1 [0-9]+$" "$tap" | tail -1 | awk '{print $3}'; }
  passed=$((passed + $(n pass)))
  failed=$((failed + $(n fail) + $(n cancelled)))
  skipped=$((skipped + $(n skipped) + $(n todo)))
fi
rm -f "$tap"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
