# Sourced by the other scripts (not run): in_ci reports whether they run in
# CI, deciding as internal/testenv.CI does, so that a script and the tests
# never disagree about whether a missing server fails or skips: CI holds
# 1, t, true, y, yes or on, in any case, surrounding spaces ignored.
in_ci() {
	local v=${CI:-}
	v=${v#"${v%%[![:space:]]*}"}
	v=${v%"${v##*[![:space:]]}"}
	case ${v,,} in
	1 | t | true | y | yes | on) return 0 ;;
	esac
	return 1
}

# skip_or_fail says what the tests that need something missing will do.
skip_or_fail() { if in_ci; then echo fail; else echo skip; fi; }
