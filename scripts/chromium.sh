#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests when it is absent, and
# a Japanese font (the pages ship in Japanese, whose characters the
# default fonts lack: without one the screenshots show empty boxes).
# TWOFACTOR_CHROMIUM names another binary.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/ci.sh"
bin=${TWOFACTOR_CHROMIUM:-/usr/bin/chromium}
need=()
[ -x "$bin" ] || need+=(chromium)
if command -v fc-list >/dev/null && ! fc-list :lang=ja 2>/dev/null | grep -q .; then
	need+=(fonts-ipafont-gothic)
fi
[ ${#need[@]} = 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "chromium: installing Debian's ${need[*]} for the browser tests" >&2
	apt-get update -qq >/dev/null 2>&1
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1
fi
[ -x "$bin" ] || echo "chromium: $bin not found (apt-get install chromium, or set TWOFACTOR_CHROMIUM); browser tests will $(skip_or_fail)" >&2
exit 0
