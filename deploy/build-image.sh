#!/usr/bin/env bash
# Builds Duet's container image from Debian packages alone, with no registry:
#   1. builds the CLI and the four servers (CPU only) into build-image/;
#   2. finds the Debian packages their shared libraries come from (ldd, then dpkg -S);
#   3. mmdebstrap makes a Debian 12 rootfs holding just those packages, Duet's binaries under
#      /opt/duet/bin, the default model under /opt/duet/models and the sample images;
#   4. podman imports the rootfs as duet:latest and duet:<commit>.
# One image for every server: its entrypoint (deploy/duet-container) takes the server's name.
# Usage: deploy/build-image.sh [--tag NAME] [--rootfs FILE.tar]   (run as root; docs/deploy.md)
set -euo pipefail
cd "$(dirname "$0")/.."

tag=duet
rootfs=build-image/rootfs.tar
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --rootfs) rootfs=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "build-image: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

bash scripts/setup.sh
bash scripts/setup.sh mmdebstrap podman runc

# CUDA stays off: the image holds only Debian packages, and Debian's LibTorch is CPU-only.
mkdir -p build-image
cmake -S . -B build-image -G Ninja -DCMAKE_BUILD_TYPE=Release -DDUET_ENABLE_CUDA=OFF \
  -DDUET_BUILD_TESTS=OFF -DDUET_BUILD_BENCH=OFF > build-image/configure.log 2>&1 ||
  { cat build-image/configure.log; exit 1; }
servers=(duet-gateway duet-text-encoder duet-image-codec duet-transformer)
cmake --build build-image -j"$(nproc)" --target duet "${servers[@]}"

stage=build-image/stage
rm -rf "$stage"
mkdir -p "$stage/opt/duet/bin" "$stage/opt/duet/models" "$stage/usr/local/bin"
for binary in duet "${servers[@]}" libduet_sentencepiece.so; do
  install -m 755 "build-image/bin/$binary" "$stage/opt/duet/bin/"
done
cp -r assets/models/duet-emoji "$stage/opt/duet/models/"
cp -r assets/samples "$stage/opt/duet/samples"
install -m 755 deploy/duet-container "$stage/usr/local/bin/duet-container"

# The package of every shared library the binaries load (the path as ldd resolves it, or the
# real file behind it: usrmerge and alternatives make either the one dpkg knows).
package_of() {
  local path=$1 owner
  for candidate in "$path" "$(readlink -f "$path")" "${path#/usr}" "/usr$path"; do
    owner=$(dpkg -S "$candidate" 2>/dev/null | head -n 1) && [ -n "$owner" ] &&
      { echo "${owner%%:*}"; return 0; }
  done
  echo "build-image: no Debian package holds $path" >&2
  return 1
}
packages=()
while read -r library; do
  packages+=("$(package_of "$library")")
done < <(for f in "$stage"/opt/duet/bin/*; do ldd "$f"; done | awk '$2 == "=>" && $3 ~ /^\// {print $3}' |
           grep -v "/build-image/" | sort -u)
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)
echo "build-image: ${#packages[@]} runtime packages: ${packages[*]}"

# The rootfs: minbase plus those packages, no recommends, no docs; a system user "duet".
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH
mmdebstrap --variant=minbase --format=tar \
  --aptopt='APT::Install-Recommends "false"' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --include="$(IFS=,; echo "${packages[*]}")" \
  --customize-hook="copy-in $stage/opt /" \
  --customize-hook="copy-in $stage/usr/local/bin /usr/local" \
  --customize-hook='chroot "$1" useradd --system --uid 10001 --home-dir /opt/duet --no-create-home --shell /usr/sbin/nologin duet' \
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
  --change 'WORKDIR /opt/duet' \
  --change 'USER 10001' \
  --change 'EXPOSE 50050 50051 50052 50053' \
  --message "Duet $commit" \
  "$rootfs" "localhost/$tag:$commit" > /dev/null
podman tag "localhost/$tag:$commit" "localhost/$tag:latest"
size=$(podman image inspect "localhost/$tag:latest" --format '{{.Size}}')
echo "build-image: localhost/$tag:latest = localhost/$tag:$commit ($((size / 1048576)) MiB, rootfs $rootfs)"
