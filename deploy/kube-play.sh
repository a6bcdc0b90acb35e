#!/usr/bin/env bash
# Runs deploy/kubernetes.yaml on this machine with `podman kube play` and checks it as a cluster
# would: every pod starts, every server passes the gRPC health check its probes make, one
# generate and one caption go through the gateway, the metrics endpoints answer, and every
# server exits 0 when its pod is stopped (SIGTERM, drain). Builds the image from this checkout
# first (incremental).
# --gpu-node plays the transformer from deploy/kubernetes-gpu.yaml instead (the GPU node image;
# on a machine without a GPU its --device=cuda becomes auto, so it runs on the CPU).
# Drafts, logs and metrics land in out/kube-play/. Usage: deploy/kube-play.sh [--gpu-node]
set -euo pipefail
cd "$(dirname "$0")/.."

gpu_node=0
case "${1:-}" in
  --gpu-node) gpu_node=1 ;;
  "") ;;
  *) echo "kube-play: unknown argument '$1'" >&2; exit 2 ;;
esac
bash scripts/setup.sh podman runc
# Always from this checkout: the build is incremental, and a stale image would test old code.
bash deploy/build-image.sh
[ $gpu_node = 0 ] || bash deploy/build-image.sh --gpu-node
out=out/kube-play
rm -rf "$out" && mkdir -p "$out"
work=$(mktemp -d)

# Where podman differs from a cluster, and how this script bridges it:
#  - podman has no Services: a Deployment's first pod answers to <deployment>-pod-0 on podman's
#    DNS, so the gateway's dns:/// targets are pointed at those names;
#  - podman publishes every container port on the host, so each Deployment gets one replica;
#  - podman runs no grpc probes itself: the same grpc.health.v1 check runs through `duet health`
#    in the gateway's container, across the pod network the gateway itself uses;
#  - runc and explicit ulimits, because crun refuses hybrid cgroup hierarchies and raising the
#    open-files limit needs CAP_SYS_RESOURCE, which containers may lack.
manifest() {
  if [ $gpu_node = 0 ]; then cat deploy/kubernetes.yaml; return; fi
  # Every document but the CPU transformer's Deployment, then the GPU one.
  awk 'BEGIN { RS = "\n---\n"; ORS = "\n---\n" }
       !(/kind: Deployment/ && /name: duet-transformer,/)' deploy/kubernetes.yaml
  if command -v nvidia-smi > /dev/null && nvidia-smi -L > /dev/null 2>&1; then
    cat deploy/kubernetes-gpu.yaml
  else
    sed 's/--device=cuda/--device=auto/' deploy/kubernetes-gpu.yaml
  fi
}
manifest | sed -e 's#dns:///\(duet-[a-z-]*\):#dns:///\1-pod-0:#g' -e 's/replicas: [0-9]*/replicas: 1/' \
  > "$work/kube.yaml"
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

# name:port of every server; its pod is duet-<name>-pod-0, its container duet-<name>-pod-0-<name>.
servers=(transformer:50053 text-encoder:50051 image-codec:50052 gateway:50050)
container() { echo "duet-$1-pod-0-$1"; }
gateway=$(container gateway)
for entry in "${servers[@]}"; do
  name=${entry%%:*} port=${entry##*:}
  if ! podman exec "$gateway" duet health --server "duet-$name-pod-0:$port" --wait 120; then
    podman logs "$(container "$name")" >&2
    exit 1
  fi
done
echo "kube-play: all four pods SERVING after $(($(date +%s) - start)) s"
podman pod ps --format '{{.Name}} {{.Status}}' | grep '^duet-' | tee "$out/pods.txt"

podman exec "$gateway" duet generate --server 127.0.0.1:50050 -n 4 --seed 7 \
  -o /tmp/drafts "jack-o-lantern" | tee "$out/generate.txt"
podman cp "$gateway:/tmp/drafts/." "$out/"
podman exec "$gateway" duet caption --server 127.0.0.1:50050 \
  /opt/duet/samples/noto_jack_o_lantern.png | tee "$out/caption.jsonl"
grep -q '"caption"' "$out/caption.jsonl"
[ -s "$out/draft_000_seed_7.png" ] && [ -s "$out/contact_sheet.png" ]

# Prometheus text from each server's /metrics (port 90xx beside gRPC port 500xx), fetched from
# the gateway's container as a Prometheus server in the cluster would (bash's /dev/tcp: the
# image has no curl).
for entry in "${servers[@]}"; do
  name=${entry%%:*} port=${entry##*:}
  podman exec "$gateway" bash -c "exec 3<>/dev/tcp/duet-$name-pod-0/90${port: -2}
    printf 'GET /metrics HTTP/1.0\r\nHost: duet-$name-pod-0\r\n\r\n' >&3; cat <&3" \
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
