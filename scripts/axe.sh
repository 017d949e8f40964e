#!/usr/bin/env bash
# Fetches axe-core, the accessibility rules the browser tests check every
# page of the example app with, from npm at the version pinned below, and
# leaves its axe.min.js in a cache directory outside the repository:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/twofactor/axe-core-<version>/axe.min.js
#
# internal/testenv.Axe looks for it there (TWOFACTOR_AXE names another
# file, and then this script leaves it alone). The tarball npm fetches must
# have the integrity pinned below: a changed package is refused, not used.
# To move to another version, change both pins here and AxeVersion in
# internal/testenv (a test checks that they agree).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/ci.sh"

version=4.14.1
integrity=sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==

if [ -n "${TWOFACTOR_AXE:-}" ]; then
	[ -f "$TWOFACTOR_AXE" ] || echo "axe: TWOFACTOR_AXE names $TWOFACTOR_AXE, which does not exist; the accessibility tests will $(skip_or_fail)" >&2
	exit 0
fi
dir=${XDG_CACHE_HOME:-$HOME/.cache}/twofactor/axe-core-$version
[ -f "$dir/axe.min.js" ] && exit 0

missing() {
	echo "axe: $1; the accessibility tests will $(skip_or_fail) (install npm, then run make axe, or set TWOFACTOR_AXE to an axe.min.js)" >&2
	exit 0
}
command -v npm >/dev/null || missing "npm not found"

echo "axe: installing axe-core $version from npm into $dir" >&2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/twofactor-axe.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
npm install --prefix "$tmp" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error "axe-core@$version" >&2 ||
	missing "npm install axe-core@$version failed"
got=$(node -e 'const l = require(process.argv[1]); const p = l.packages["node_modules/axe-core"] || {}; console.log(p.version + " " + p.integrity)' \
	"$tmp/node_modules/.package-lock.json" 2>/dev/null) || got=
[ "$got" = "$version $integrity" ] || missing "npm gave axe-core \"$got\", not $version with the pinned integrity"
mkdir -p "$dir" || missing "cannot create $dir"
cp "$tmp/node_modules/axe-core/axe.min.js" "$tmp/node_modules/axe-core/LICENSE" "$dir/" || missing "cannot copy axe.min.js to $dir"
exit 0
