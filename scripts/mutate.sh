#!/usr/bin/env bash
# Mutation testing with gremlins (github.com/go-gremlins/gremlins), one
# package at a time, over the packages that hold the security rules.
#
#   scripts/mutate.sh                  # every package below
#   scripts/mutate.sh ./totp ./trust   # only these
#
# Prints one line a package: its efficacy, killed / (killed + lived), the
# counts and the time taken; then the total time. The full gremlins log, its
# JSON report (--output) and the surviving mutants of each package are
# written to $MUTATE_OUT (default mutate.out/, ignored by git).
#
# Hermetic: CI is unset, so a test whose server or browser is missing skips
# instead of failing; the tests run with -short; TWOFACTOR_CHROMIUM points
# nowhere, so the browser tests skip; the server variables are unset. None of
# these packages' tests uses PostgreSQL, MariaDB or Redis.
#
# Never touches the working tree: the tracked and untracked (not ignored)
# files are copied to a temporary directory, gremlins copies that again for
# each worker and writes its mutants there; the temporary directory is
# removed on exit, Ctrl-C included. A run killed with SIGKILL leaves only a
# twofactor-mutate.* directory in $TMPDIR behind.
#
# Environment: GREMLINS_VERSION (pinned below; the Makefile passes its own),
# MUTATE_WORKERS (1: one mutant at a time, the machine has 2 cores),
# MUTATE_TIMEOUT_COEFFICIENT (10: a mutant's tests may take 10 times as long
# as the coverage run before counting as TIMED OUT), MUTATE_FLAGS (more
# gremlins flags, e.g. --dry-run or --invert-logical), MUTATE_OUT.
set -euo pipefail

GO=${GO:-go}
GREMLINS_VERSION=${GREMLINS_VERSION:-v0.6.0}
WORKERS=${MUTATE_WORKERS:-1}
COEFFICIENT=${MUTATE_TIMEOUT_COEFFICIENT:-10}
read -r -a EXTRA <<<"${MUTATE_FLAGS:-}"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${MUTATE_OUT:-$root/mutate.out}

if [ $# -eq 0 ]; then
	set -- . ./twofactorhttp ./totp ./backupcodes ./emailcode ./smscode ./webauthn ./trust ./internal/onetime
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/twofactor-mutate.XXXXXX")
child=
cleanup() { rm -rf "$tmp"; }
interrupted() {
	# gremlins stops on SIGTERM, removing its own copies; wait for it
	# before removing the rest.
	if [ -n "$child" ]; then
		kill -TERM "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	echo "mutate: interrupted; the mutants were in $tmp, now removed: the working tree is unchanged" >&2
	exit 130
}
trap cleanup EXIT
trap interrupted INT TERM
mkdir -p "$out"

# Gremlins at a pinned version, built into the temporary directory.
GOBIN="$tmp/bin" "$GO" install "github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION"
gremlins="$tmp/bin/gremlins"

# snapshot DIR: copy the module's files (tracked and untracked, not ignored:
# no .git, no built binaries) to DIR.
snapshot() {
	mkdir -p "$1"
	if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		(cd "$root" && git ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
			tar --null -T - -cf -) | tar -xf - -C "$1"
	else
		(cd "$root" && tar --exclude=.git --exclude=./mutate.out -cf - .) | tar -xf - -C "$1"
	fi
}

# gremlins runs "go" from PATH: the same go as $GO.
PATH="$(dirname "$(command -v "$GO")"):$PATH"

# Hermetic tests: see the top of this file.
unset CI TWOFACTOR_POSTGRES_DSN TWOFACTOR_MYSQL_DSN TWOFACTOR_REDIS_ADDR
export TWOFACTOR_CHROMIUM=/nonexistent/chromium
export GOFLAGS="-buildvcs=false -short -count=1"
export NO_COLOR=1

status=0
start=$(date +%s)
n=0
for pkg in "$@"; do
	pkg=${pkg%/}
	pkg=${pkg#./}
	[ -n "$pkg" ] || pkg=.
	case "$pkg" in
	*...*) echo "mutate: one package at a time, not $pkg" >&2; exit 2 ;;
	esac
	if [ ! -d "$root/$pkg" ]; then
		echo "mutate: no package $pkg" >&2
		exit 2
	fi
	name=$(printf '%s' "$pkg" | tr '/' '-')
	[ "$pkg" != . ] || name=root
	n=$((n + 1))
	src="$tmp/$n/src"
	snapshot "$src"
	mkdir -p "$tmp/$n/tmp"
	# Files in testdata are not the package's code.
	excl=(-E '(^|/)testdata/')
	if [ "$pkg" = . ]; then
		# For the root package gremlins gathers coverage with `go test
		# ./...` and walks every directory below: drop the other packages'
		# tests from this snapshot and their files from the mutants.
		find "$src" -mindepth 2 -name '*_test.go' -delete
		excl+=(-E '/')
	fi
	log="$out/$name.log"
	t0=$(date +%s)
	rc=0
	# In the background so that a signal reaches the trap at once (bash
	# runs traps only between commands, and wait is one).
	(cd "$src/$pkg" && TMPDIR="$tmp/$n/tmp" exec "$gremlins" unleash \
		--workers "$WORKERS" --timeout-coefficient "$COEFFICIENT" \
		--output "$out/$name.json" "${excl[@]}" "${EXTRA[@]}") >"$log" 2>&1 &
	child=$!
	wait "$child" || rc=$?
	child=
	secs=$(($(date +%s) - t0))
	# The survivors, each with its line of source.
	awk -v dir="$src/$pkg" -v pkg="$pkg" '$1 == "LIVED" {
		split($4, pos, ":"); f = dir "/" pos[1]; n = 0; text = ""
		while ((getline l < f) > 0) if (++n == pos[2]) { text = l; break }
		close(f); sub(/^[ \t]+/, "", text)
		printf "%s/%s  %s  %s\n", pkg, $4, $2, text
	}' "$log" >"$out/$name.lived"
	awk -v pkg="./$pkg" -v secs="$secs" -v rc="$rc" '
		$1 == "KILLED" { k++ } $1 == "LIVED" { l++ } $1 == "TIMED" { t++ }
		$1 == "NOT" && $2 == "COVERED" { c++ } $1 == "NOT" && $2 == "VIABLE" { v++ }
		$1 == "RUNNABLE" { r++ }
		END {
			if (pkg == "./.") pkg = "."
			eff = (k + l > 0) ? sprintf("%6.2f%%", 100 * k / (k + l)) : "     -"
			printf "%-20s efficacy %s  killed %4d  lived %3d  timed out %2d  not covered %3d  not viable %2d  %dm%02ds%s\n",
				pkg, eff, k, l, t, c, v, secs / 60, secs % 60,
				(r ? "  runnable " r " (dry run)" : "") (rc ? "  FAILED (exit " rc ", see the log)" : "")
		}' "$log"
	[ "$rc" -eq 0 ] || status=1
	rm -rf "${tmp:?}/$n"
done
total=$(($(date +%s) - start))
printf 'total %dm%02ds; logs, JSON reports and survivors (*.lived) in %s\n' $((total / 60)) $((total % 60)) "$out"
exit $status
