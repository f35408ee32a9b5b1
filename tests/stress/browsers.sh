#!/usr/bin/env bash
# Headless Chromium and Firefox under mevi-run, N times each, exact and sampled:
# every run must end by itself (watchdog), with the browser's own status, and
# leave no process behind. A measurement for the closing notes of reliability
# work (not part of CTest: browsers take seconds per run and Firefox is not a
# build dependency).
#
#   [BROWSERS="chromium firefox"] tests/stress/browsers.sh BUILD_DIR [RUNS]
set -u
build=${1:?usage: browsers.sh BUILD_DIR [RUNS]}
runs=${2:-20}
tmp=$(mktemp -d /tmp/mevi-browsers.XXXXXX)
sock=$tmp/mevid.sock
"$build/daemon/mevid" --foreground --socket "$sock" --listen 127.0.0.1:$((20000 + RANDOM % 20000)) >"$tmp/mevid.log" 2>&1 &
mevid=$!
trap 'kill $mevid 2>/dev/null; rm -rf "$tmp"' EXIT
sleep 0.5
page='data:text/html,<h1>mevi</h1><script>let a=[];for(let i=0;i<200;i++)a.push(new Array(10000).fill(i))</script>'
run_one() { # browser mode
	local prof=$tmp/profile-$RANDOM mode=()
	[ "$2" = sampled ] && mode=(--sample)
	case $1 in
	chromium)
		cmd=(chromium --headless --no-sandbox --disable-gpu --disable-background-networking
			--disable-component-update --disable-sync --no-first-run --user-data-dir="$prof"
			--dump-dom "$page") ;;
	firefox)
		cmd=(env MOZ_HEADLESS=1 firefox-esr --headless --no-remote --profile "$prof"
			--screenshot "$prof.png" "$page")
		mkdir -p "$prof" ;;
	esac
	local t0=$(date +%s.%N)
	timeout -s KILL 120 "$build/launcher/mevi-run" --socket "$sock" --no-spawn "${mode[@]}" -- \
		"${cmd[@]}" >/dev/null 2>"$tmp/err"
	local st=$? t1=$(date +%s.%N)
	# The browser's processes still there when mevi-run returned (mevi-run's
	# own tracer, which shares the command line, finishes its teardown after
	# PROGRAM ends: it is waited for, up to 10 s, and its lag reported).
	local left=$(pgrep -f -- "$prof" | xargs -r ps -o comm= -p | grep -vc '^mevi-run$')
	local waited=0
	while pgrep -x mevi-run | xargs -r ps -o args= -p | grep -qF -- "$prof" && [ "$waited" -lt 100 ]; do
		sleep 0.1
		waited=$((waited + 1))
	done
	pkill -KILL -f -- "$prof"
	printf '%s %s status=%s time=%.1fs left=%s tracer=+%.1fs\n' "$1" "$2" "$st" \
		"$(echo "$t1 - $t0" | bc)" "$left" "$(echo "$waited / 10" | bc -l)"
}
for b in ${BROWSERS:-chromium firefox}; do
	command -v "${b/firefox/firefox-esr}" >/dev/null || { echo "skip $b: not installed"; continue; }
	for mode in exact sampled; do
		for i in $(seq "$runs"); do run_one "$b" "$mode"; done
	done
done
