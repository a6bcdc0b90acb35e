#!/usr/bin/env bash
# Runs deploy/kubernetes.yaml on this machine with `podman kube play` and checks it as a cluster
# would: every pod starts, every server passes the gRPC health check its probes make, one
# generate and one caption go through the gateway, the metrics endpoints answer, and every
# server exits 0 when its pod is stopped (SIGTERM, drain). Builds the image first if needed.
# Drafts, logs and metrics land in out/kube-play/. Usage: deploy/kube-play.sh (as root)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh podman runc
podman image exists localhost/duet:latest || bash deploy/build-image.sh
out=out/kube-play
rm -rf "$out" && mkdir -p "$out"
work=$(mktemp -d)

# Where podman differs from a cluster, and how this script bridges it:
#  - podman has no Services: a Deployment's first pod answers to <deployment>-pod-0 on podman's
#    DNS, so the gateway's dns:/// targets are pointed at those names;
#  - podman runs no grpc probes itself: the same grpc.health.v1 check runs through `duet health`;
#  - runc and explicit ulimits, because crun refuses hybrid cgroup hierarchies and raising the
#    open-files limit needs CAP_SYS_RESOURCE, which containers may lack.
sed -e 's#dns:///\(duet-[a-z-]*\):#dns:///\1-pod-0:#g' deploy/kubernetes.yaml > "$work/kube.yaml"
nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ] && nofile=65536
cat > "$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF=$work/containers.conf

cleanup() {
  podman kube down "$work/kube.yaml" > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
podman kube down "$work/kube.yaml" > /dev/null 2>&1 || true
start=$(date +%s)
podman kube play "$work/kube.yaml" > "$out/play.log"

# name:port of every server, as its pod's container is called (<pod>-<container>).
servers=(transformer:50053 text-encoder:50051 image-codec:50052 gateway:50050)
container() { echo "duet-$1-pod-0-$1"; }
for entry in "${servers[@]}"; do
  name=${entry%%:*} port=${entry##*:}
  if ! podman exec "$(container "$name")" duet health --server "127.0.0.1:$port" --wait 120; then
    podman logs "$(container "$name")" >&2
    exit 1
  fi
done
echo "kube-play: all four pods SERVING after $(($(date +%s) - start)) s"
podman pod ps --format '{{.Name}} {{.Status}}' | grep '^duet-' | tee "$out/pods.txt"

gateway=$(container gateway)
podman exec "$gateway" duet generate --server 127.0.0.1:50050 -n 4 --seed 7 \
  -o /tmp/drafts "jack-o-lantern" | tee "$out/generate.txt"
podman cp "$gateway:/tmp/drafts/." "$out/"
podman exec "$gateway" duet caption --server 127.0.0.1:50050 \
  /opt/duet/samples/noto_jack_o_lantern.png | tee "$out/caption.jsonl"
grep -q '"caption"' "$out/caption.jsonl"
[ -s "$out/draft_0_seed7.png" ] && [ -s "$out/contact_sheet.png" ]

# Prometheus text from each server's :9090/metrics (bash's /dev/tcp: the image has no curl).
for entry in "${servers[@]}"; do
  name=${entry%%:*}
  podman exec "$(container "$name")" bash -c \
    'exec 3<>/dev/tcp/127.0.0.1/9090; printf "GET /metrics HTTP/1.0\r\n\r\n" >&3; cat <&3' \
    > "$out/metrics-$name.txt"
  grep -q '^duet_grpc_requests_total' "$out/metrics-$name.txt"
done
grep '^duet_drafts_total' "$out/metrics-gateway.txt"

# Stop as the kubelet does (SIGTERM, then the grace period): every server must exit 0.
podman pod stop --time 90 duet-gateway-pod-0 duet-transformer-pod-0 duet-text-encoder-pod-0 \
  duet-image-codec-pod-0 > /dev/null
failed=0
for entry in "${servers[@]}"; do
  name=${entry%%:*}
  podman logs "$(container "$name")" > "$out/log-$name.txt" 2>&1
  code=$(podman inspect "$(container "$name")" --format '{{.State.ExitCode}}')
  echo "kube-play: $name exited $code"
  [ "$code" = 0 ] || failed=1
done
[ $failed = 0 ]
echo "kube-play: OK (drafts, captions, metrics and logs in $out/)"
