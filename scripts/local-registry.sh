#!/usr/bin/env bash
# A local image registry for a machine without internet: starts Debian's docker-registry on
# 127.0.0.1:${BERTH_REGISTRY_PORT:-5000} (data in ${BERTH_REGISTRY_DIR:-/var/lib/berth-registry}), builds a
# busybox image from busybox-static with umoci and pushes it with skopeo as library/busybox:latest
# and :1.36, then stays in the foreground (Ctrl-C stops the registry).
# Run the cluster with `--registry-mirror docker.io=http://127.0.0.1:5000` so `image: busybox` resolves here.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >/dev/null
port=${BERTH_REGISTRY_PORT:-5000}
dir=${BERTH_REGISTRY_DIR:-/var/lib/berth-registry}
mkdir -p "$dir/storage"
cat > "$dir/config.yml" <<YAML
version: 0.1
log: { level: warn }
storage: { filesystem: { rootdirectory: $dir/storage }, delete: { enabled: true } }
http: { addr: 127.0.0.1:$port }
YAML
docker-registry serve "$dir/config.yml" >>"$dir/registry.log" 2>&1 &
reg=$!
trap 'kill $reg 2>/dev/null; wait $reg 2>/dev/null; rm -rf "$work"' EXIT INT TERM
work=$(mktemp -d)
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done

umoci init --layout "$work/oci" >/dev/null
umoci new --image "$work/oci:busybox" >/dev/null
umoci unpack --image "$work/oci:busybox" "$work/bundle" >/dev/null
root=$work/bundle/rootfs
mkdir -p "$root"/{bin,etc,tmp,root,var,proc,sys,dev}
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
umoci repack --image "$work/oci:busybox" "$work/bundle" >/dev/null
umoci config --image "$work/oci:busybox" --config.cmd sh --config.env PATH=/bin >/dev/null
for tag in latest 1.36; do
  skopeo copy -q --dest-tls-verify=false "oci:$work/oci:busybox" "docker://127.0.0.1:$port/library/busybox:$tag"
done
echo "registry on http://127.0.0.1:$port holds library/busybox:latest and :1.36 (Ctrl-C stops it)"
wait $reg
