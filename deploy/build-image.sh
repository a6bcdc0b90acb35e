#!/usr/bin/env bash
# Builds Duet's container image from Debian packages, with no registry:
#   1. builds the CLI and the four servers (CPU only) into build-image/;
#   2. finds the Debian packages their shared libraries come from (ldd, then dpkg -S);
#   3. mmdebstrap makes a Debian 12 rootfs holding just those packages, Duet's binaries under
#      /opt/duet/bin, the default model under /opt/duet/models and the sample images;
#   4. podman imports the rootfs as localhost/duet:latest and localhost/duet:<commit>.
# One image for every server: its entrypoint (deploy/duet-container) takes the server's name.
#
# --gpu-node [TORCH_PREFIX] makes the GPU node image instead, localhost/duet-gpu: the GPU node
# build (DUET_GPU_NODE, CUDA kernels on) of duet-transformer alone, against the LibTorch that
# CMake finds under TORCH_PREFIX (a CUDA LibTorch, e.g. PyTorch's torch.utils.cmake_prefix_path;
# default: Debian's). Libraries no Debian package holds (LibTorch with CUDA, the CUDA runtime)
# are copied into /opt/duet/lib; everything else still comes from Debian packages.
# Usage: deploy/build-image.sh [--gpu-node [TORCH_PREFIX]] [--tag NAME] (as root; docs/deploy.md)
set -euo pipefail
cd "$(dirname "$0")/.."

variant=cpu
torch_prefix=""
tag=""
while [ $# -gt 0 ]; do
  case "$1" in
    --gpu-node)
      variant=gpu
      if [ $# -gt 1 ] && [ "${2#--}" = "$2" ]; then torch_prefix=$2; shift; fi
      shift ;;
    --tag) tag=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "build-image: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

bash scripts/setup.sh
bash scripts/setup.sh mmdebstrap podman runc

if [ $variant = cpu ]; then
  # CUDA stays off: this image holds only Debian packages, and Debian's LibTorch is CPU-only.
  build=build-image
  tag=${tag:-duet}
  options=(-DDUET_ENABLE_CUDA=OFF)
  servers=(duet-gateway duet-text-encoder duet-image-codec duet-transformer)
  binaries=(duet "${servers[@]}" libduet_sentencepiece.so)
  targets=(duet "${servers[@]}" duet_sentencepiece)
else
  build=build-image-gpu
  tag=${tag:-duet-gpu}
  options=(-DDUET_GPU_NODE=ON)
  [ -z "$torch_prefix" ] || options+=("-DCMAKE_PREFIX_PATH=$torch_prefix")
  servers=(duet-transformer)
  binaries=("${servers[@]}")
  targets=("${servers[@]}")
fi
mkdir -p "$build"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDUET_BUILD_TESTS=OFF \
  -DDUET_BUILD_BENCH=OFF "${options[@]}" > "$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" 2>&1 | grep -v "Winvalid-pch" || true
for binary in "${binaries[@]}"; do
  [ -x "$build/bin/$binary" ] || { echo "build-image: $build/bin/$binary was not built" >&2; exit 1; }
done

stage=$build/stage
rm -rf "$stage"
mkdir -p "$stage/opt/duet/bin" "$stage/opt/duet/lib" "$stage/opt/duet/models" "$stage/usr/local/bin"
for binary in "${binaries[@]}"; do install -m 755 "$build/bin/$binary" "$stage/opt/duet/bin/"; done
cp -r assets/models/duet-emoji "$stage/opt/duet/models/"
cp -r assets/samples "$stage/opt/duet/samples"
install -m 755 deploy/duet-container "$stage/usr/local/bin/duet-container"

# The package of a shared library as ldd resolves it (or the real file behind it: usrmerge and
# alternatives make either the path dpkg knows); nothing when no package holds it.
package_of() {
  local path=$1 owner
  for candidate in "$path" "$(readlink -f "$path")" "${path#/usr}" "/usr$path"; do
    owner=$(dpkg -S "$candidate" 2>/dev/null | head -n 1) && [ -n "$owner" ] &&
      { echo "${owner%%:*}"; return 0; }
  done
  return 0
}
# Every shared library the binaries load, as the loader finds it.
closure() { for f in "$@"; do ldd "$f"; done | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u; }
# Only those that the given files name themselves (NEEDED): apt brings what those need in turn.
needed() {
  local f
  for f in "$@"; do
    ldd "$f" | awk -v needed="$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')" '
      BEGIN { n = split(needed, names, " "); for (i = 1; i <= n; i++) want[names[i]] = 1 }
      $2 == "=>" && $3 ~ /^\// && ($1 in want) {print $3}'
  done | sort -u
}
# A library no package holds stops the default image; the GPU node image copies it (LibTorch
# with CUDA, the CUDA runtime), and then also needs the packages the copies name.
copied=()
while read -r library; do
  [ -z "$(package_of "$library")" ] || continue
  if [ $variant = cpu ]; then
    echo "build-image: no Debian package holds $library" >&2
    exit 1
  fi
  cp -L "$library" "$stage/opt/duet/lib/" && copied+=("$(basename "$library")")
done < <(closure "$stage"/opt/duet/bin/* | grep -v "/$build/")
packages=()
while read -r library; do
  package=$(package_of "$library")
  [ -z "$package" ] || packages+=("$package")
done < <(needed "$stage"/opt/duet/bin/* "${copied[@]/#/$stage/opt/duet/lib/}" | grep -v "/$build/")
# LibTorch asks for any libblas.so.3, and apt would pick the reference BLAS, about 15x slower.
packages+=(libopenblas0-pthread)
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)
echo "build-image: ${#packages[@]} runtime packages: ${packages[*]}"
[ ${#copied[@]} -eq 0 ] || echo "build-image: copied into /opt/duet/lib: ${copied[*]}"

# The rootfs: minbase plus those packages, no recommends, no docs; a system user "duet".
rootfs=$build/rootfs.tar
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH
mmdebstrap --variant=minbase --format=tar --quiet \
  --aptopt='APT::Install-Recommends "false"' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --include="$(IFS=,; echo "${packages[*]}")" \
  --customize-hook="copy-in $stage/opt /" \
  --customize-hook="copy-in $stage/usr/local/bin /usr/local" \
  --customize-hook='chroot "$1" useradd --uid 10001 --home-dir /opt/duet --no-create-home --shell /usr/sbin/nologin duet' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm "$rootfs" \
  "deb http://deb.debian.org/debian bookworm main" \
  "deb http://deb.debian.org/debian bookworm-updates main" \
  "deb http://deb.debian.org/debian-security bookworm-security main"

commit=$(git rev-parse --short HEAD 2>/dev/null || echo local)
podman import \
  --change 'ENTRYPOINT ["/usr/local/bin/duet-container"]' \
  --change 'CMD ["help"]' \
  --change 'ENV PATH=/opt/duet/bin:/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV LD_LIBRARY_PATH=/opt/duet/lib' \
  --change 'WORKDIR /opt/duet' \
  --change 'USER 10001' \
  --change 'EXPOSE 50050' --change 'EXPOSE 50051' --change 'EXPOSE 50052' \
  --change 'EXPOSE 50053' --change 'EXPOSE 9090' \
  --message "Duet $commit ($variant)" \
  "$rootfs" "localhost/$tag:$commit" > /dev/null
podman tag "localhost/$tag:$commit" "localhost/$tag:latest"
size=$(podman image inspect "localhost/$tag:latest" --format '{{.Size}}')
echo "build-image: localhost/$tag:latest = localhost/$tag:$commit ($((size / 1048576)) MiB; rootfs $rootfs)"
