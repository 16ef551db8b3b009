#!/bin/sh
# Smoke tests of bin/warm that need no daemon: words, direct runs, exit
# statuses, messages, multi-call symlinks, the socket directory checks.
# WARM_NODE=/bin/false makes every daemon start fail at once.
set -u
here=$(cd "$(dirname "$0")" && pwd)
W="$here/../bin/warm"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -m 700 "$tmp/xdg"
XDG_RUNTIME_DIR="$tmp/xdg" WARM_NODE=/bin/false
export XDG_RUNTIME_DIR WARM_NODE
unset WARM_DEBUG WARM_DISABLE
version=$(sed -n 's/^[[:space:]]*"version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$here/../package.json" | head -n 1)
fails=0

# check <name> <expected status> <expected stdout> <expected stderr> -- cmd...
check() {
	name=$1 want_rc=$2 want_out=$3 want_err=$4
	shift 5
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out") err=$(cat "$tmp/err")
	if [ "$rc" = "$want_rc" ] && [ "$out" = "$want_out" ] && [ "$err" = "$want_err" ]; then
		echo "ok $name"
	else
		echo "FAIL $name: status $rc (want $want_rc), stdout [$out] (want [$want_out]), stderr [$err] (want [$want_err])"
		fails=$((fails + 1))
	fi
}

check version 0 "warm $version" "" -- "$W" --version
check help 0 "$("$W" --help)" "" -- "$W" -h
check no-args 2 "" "$("$W" --help)" -- "$W"
check unknown-option 2 "" "warm: unknown option -x" -- "$W" -x ls
check dashdash-alone 2 "" "$("$W" --help)" -- "$W" --
check disabled 0 "hi" "" -- env WARM_DISABLE=1 "$W" echo hi
check direct-fallback 0 "hi" "" -- "$W" echo hi
check exit-status 7 "" "" -- "$W" sh -c 'exit 7'
check not-found 127 "" "warm: nosuchcmd-warm-test: command not found" -- "$W" nosuchcmd-warm-test
check missing-path 127 "" "warm: ./nosuch: No such file or directory" -- "$W" ./nosuch
printf 'echo x\n' >"$tmp/noexec"
check not-executable 126 "" "warm: $tmp/noexec: Permission denied" -- "$W" "$tmp/noexec"
mkdir "$tmp/p" && cp "$tmp/noexec" "$tmp/p/noexec-tool"
check not-executable-on-path 126 "" "warm: noexec-tool: Permission denied" -- env PATH="$tmp/p:$PATH" "$W" noexec-tool
check is-a-directory 126 "" "warm: $tmp/p: Is a directory" -- "$W" "$tmp/p"
printf 'echo "no shebang $1"\n' >"$tmp/script" && chmod +x "$tmp/script"
check enoexec-sh 0 "no shebang a" "" -- "$W" "$tmp/script" a
printf '#!/bin/sh\necho "fake status"\n' >"$tmp/p/status" && chmod +x "$tmp/p/status"
check dashdash-word 0 "fake status" "" -- env PATH="$tmp/p:$PATH" "$W" -- status
check status-none 1 "" "warm: no daemon running" -- "$W" status
check stop-none 0 "" "warm: no daemon running" -- "$W" stop
check status-bad-arg 2 "" "warm: status: unknown argument --x" -- "$W" status --x

# Multi-call: a symlink named echo first on PATH runs the real echo.
mkdir "$tmp/links" && ln -s "$W" "$tmp/links/echo"
check multi-call 0 "hi there" "" -- env PATH="$tmp/links:$PATH" "$tmp/links/echo" hi there
check multi-call-path 0 "via path" "" -- env PATH="$tmp/links:$PATH" sh -c 'exec echo via path'

# An insecure socket directory: refuse it, say so once, run directly.
# (A script: a native binary such as echo runs without the socket.)
printf '#!/bin/sh\necho "$@"\n' >"$tmp/say" && chmod +x "$tmp/say"
mkdir -p "$tmp/open/warm" && chmod 755 "$tmp/open/warm"
check insecure-dir 0 "hi" "warm: refusing $tmp/open/warm: mode 0755 (must be a directory owned by uid $(id -u) with mode 0700); running $tmp/say directly" \
	-- env XDG_RUNTIME_DIR="$tmp/open" "$W" "$tmp/say" hi
mkdir "$tmp/file" && : >"$tmp/file/warm"
check not-a-dir 0 "hi" "warm: refusing $tmp/file/warm: not a directory (must be a directory owned by uid $(id -u) with mode 0700); running $tmp/say directly" \
	-- env XDG_RUNTIME_DIR="$tmp/file" "$W" "$tmp/say" hi

# WARM_DEBUG traces; without it nothing of warm's own is printed.
WARM_DEBUG=1 "$W" true 2>"$tmp/trace"
if grep -q '^warm\[[0-9]*\] +[0-9]*\.[0-9][0-9][0-9]ms exec /.*true directly$' "$tmp/trace"; then
	echo "ok debug-trace"
else
	echo "FAIL debug-trace: $(cat "$tmp/trace")"
	fails=$((fails + 1))
fi

[ "$fails" = 0 ] || { echo "$fails smoke test(s) failed"; exit 1; }
