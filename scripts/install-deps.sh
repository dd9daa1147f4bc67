#!/usr/bin/env bash
# Installs what Berth needs on a Debian 12 machine (as root) when it is missing, then npm ci and
# build. Safe to run again: it only installs what is absent and only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v runc >/dev/null || need+=(runc)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
command -v umoci >/dev/null || need+=(umoci)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v conmon >/dev/null || need+=(conmon)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v ip >/dev/null || need+=(iproute2)
command -v git >/dev/null || need+=(git)
# The agent reaches a pod's network namespace with nsenter (util-linux); HTTPS probes use openssl s_client.
command -v nsenter >/dev/null || need+=(util-linux)
command -v openssl >/dev/null || need+=(openssl)
# libs/oci makes whiteout devices and sets xattrs through a python3 helper (Node can do neither).
[ -x /usr/bin/python3 ] || need+=(python3-minimal)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  if [ "$(id -u)" != 0 ]; then echo "error: missing packages (${need[*]}); run as root or install them" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${need[@]}" >&2
fi
# Debian's docker-registry package starts a system service on :5000; Berth's tests start their own.
if systemctl is-active --quiet docker-registry 2>/dev/null; then systemctl stop docker-registry >/dev/null 2>&1 || true; fi

if ! command -v node >/dev/null; then echo "error: Node.js 20+ is required (apt-get install nodejs npm)" >&2; exit 1; fi
stamp=node_modules/.berth-lock-stamp
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
  cp package-lock.json "$stamp"
fi
node scripts/build.mjs
