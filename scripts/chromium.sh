#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests when it is absent.
# TWOFACTOR_CHROMIUM names another binary.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/ci.sh"
bin=${TWOFACTOR_CHROMIUM:-/usr/bin/chromium}
[ -x "$bin" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "chromium: installing Debian's chromium package for the browser tests" >&2
	apt-get update -qq >/dev/null 2>&1
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1
fi
[ -x "$bin" ] || echo "chromium: $bin not found (apt-get install chromium, or set TWOFACTOR_CHROMIUM); browser tests will $(skip_or_fail)" >&2
exit 0
