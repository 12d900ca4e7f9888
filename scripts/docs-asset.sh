#!/usr/bin/env bash
# The API reference renderer that /docs serves, fetched reproducibly from the npm registry.
#
#   scripts/docs-asset.sh [DIR]     fetch the pinned version into DIR (default internal/docs/assets)
#   scripts/docs-asset.sh --check   fetch into a temporary directory and fail when the committed
#                                   internal/docs/assets differs from it
#
# The tarball is checked against the sha512 integrity npm published for the pinned version, so a
# registry that served different bytes under the same version fails here instead of shipping. To
# move to another version, change VERSION and INTEGRITY (`npm view PKG@VERSION dist.integrity`),
# run `make docs-asset`, run the browser test (go test ./internal/docs/), and commit the result.
set -euo pipefail

PKG=@stoplight/elements
VERSION=9.0.25
INTEGRITY=sha512-rDbNsgSCNo74lyV57cBzym+8F68/R2j7UPq4r3w5qK608vX8APNJhTq+2MkbTjsM3bUhFIoRdI225tlI85KpCA==
# The browser build (a web component with everything bundled, and its stylesheet), the package's
# licence and the notices of the libraries bundled into it: all the page needs and all we owe.
FILES=(web-components.min.js styles.min.css LICENSE web-components.min.js.LICENSE.txt)

die() { echo "docs-asset.sh: $*" >&2; exit 1; }

cd "$(dirname "$0")/.."
committed=internal/docs/assets
check=false
dest=$committed
case "${1:-}" in
  --check) check=true ;;
  "") ;;
  *) dest=$1 ;;
esac

command -v npm >/dev/null 2>&1 || die "npm is needed (Debian/Ubuntu: apt-get install -y npm)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "$PKG@$VERSION" >/dev/null) || die "npm pack $PKG@$VERSION failed"
tarball=$(ls "$tmp"/*.tgz)
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
[ "$got" = "$INTEGRITY" ] || die "$PKG@$VERSION: tarball integrity $got, pinned $INTEGRITY"

mkdir -p "$tmp/x" "$tmp/out"
tar -xzf "$tarball" -C "$tmp/x" "${FILES[@]/#/package/}"
for f in "${FILES[@]}"; do cp "$tmp/x/package/$f" "$tmp/out/$f"; done
# Where the bytes came from, beside them, so that a reader of the assets needs not this script.
printf '%s@%s %s\n' "$PKG" "$VERSION" "$INTEGRITY" >"$tmp/out/SOURCE"

if $check; then
  if ! diff -r "$tmp/out" "$committed" >/dev/null; then
    diff -rq "$tmp/out" "$committed" || true
    die "$committed differs from $PKG@$VERSION: run make docs-asset and commit"
  fi
  echo "$committed matches $PKG@$VERSION"
  exit 0
fi

mkdir -p "$dest"
# Only what this script writes is replaced, so that the embedding Go file or a README beside
# the assets survives a refresh.
for f in "${FILES[@]}" SOURCE; do rm -f "$dest/$f"; cp "$tmp/out/$f" "$dest/$f"; done
echo "$dest: $PKG@$VERSION ($(cat "$tmp/out/"*.js "$tmp/out/"*.css | wc -c) bytes of script and style)"
