#!/bin/sh
# Fetches the emoji sources from the npm registry at pinned versions, checks their sha256 sums and
# unpacks them for `duet data emoji --sources DIR`. Usage: training/fetch_emoji.sh [DIR]
set -eu

DIR=${1:-data/emoji-sources}
# package@version sha256 of the `npm pack` tarball. Only the Google (Noto, Apache-2.0) and
# Twitter (Twemoji, CC-BY 4.0) images are used; emoji-datasource's other styles are not openly
# licensed and are never read.
PINS="
emoji-datasource@16.0.0 2006725061dc0098daa832d65f854a7bec0740af2eb47cb5b23d89f7e2c849f9
emoji-datasource-google@16.0.0 fb5fd131b362aab7a55542d2a147a79708cce0a8b1c1bbacd470172708b5c438
emoji-datasource-twitter@16.0.0 f64a530c63bca463bd8317fdc4615ce63a53a0c65018e4ce2d848aaba7a28877
emojibase-data@17.0.0 d01d0e2ca4e22cb402679532155342c71e2e871f25c32223c013b8b166ebdf5a
"

mkdir -p "$DIR"
echo "$PINS" | while read -r spec sum; do
  [ -n "$spec" ] || continue
  name=${spec%@*}
  version=${spec#*@}
  tarball="$DIR/$name-$version.tgz"
  if [ ! -f "$tarball" ]; then
    (cd "$DIR" && npm pack --silent "$spec" >/dev/null)
  fi
  actual=$(sha256sum "$tarball" | cut -d' ' -f1)
  if [ "$actual" != "$sum" ]; then
    echo "fetch_emoji.sh: $tarball has sha256 $actual, expected $sum" >&2
    exit 1
  fi
  rm -rf "${DIR:?}/$name"
  mkdir -p "$DIR/$name"
  tar xzf "$tarball" -C "$DIR/$name"
  echo "$spec ok"
done
echo "sources ready in $DIR; next: duet data emoji --sources $DIR -o data/emoji"
