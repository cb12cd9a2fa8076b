#!/usr/bin/env bash
# Runs the Lua suites against build/ for every interpreter present:
#   1. the documentation's "Sockets Server" and "Sockets Client" examples
#      (testdata/, unmodified) against each other;
#   2. the per-function scripts test/*_test.lua;
#   3. interop with Go programs built on the library (cmd/mistpeer).
# Interpreters that are missing are reported and skipped; if none is
# present the whole suite is skipped loudly.
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
limit=${MIST_LUA_TEST_TIMEOUT:-60}
fail=0
ran=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

abi() { case "$1" in lua5.4) echo lua5.4 ;; *) echo lua5.1 ;; esac; }

report() { # name status
	if [ "$2" = 0 ]; then echo "PASS $1"; else echo "FAIL $1"; fail=1; fi
}

# Waits (bounded) until file $1 contains text $2.
wait_for_text() {
	local i
	for ((i = 0; i < limit * 10; i++)); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# The documented examples. Each loops until done and then exits by itself:
# the server after the first message it receives, the client 10000 loop
# iterations after it received the welcome (and replied). "Exit 0" means each
# program ended on its own with status 0 within the time limit; the limit
# (timeout) only turns a hang into a failure.
seed_pair() {
	local lua=$1 cpath="$root/build/$(abi "$1")/?.so" s c sst cst
	s="$out/$lua.server" c="$out/$lua.client"
	LUA_CPATH="$cpath" timeout "$limit" "$lua" testdata/sockets_server.lua >"$s" 2>&1 &
	local spid=$!
	if ! wait_for_text "$s" "Listening on port 55556"; then
		echo "server did not start listening:"; cat "$s"
		kill "$spid" 2>/dev/null; wait "$spid"; return 1
	fi
	LUA_CPATH="$cpath" timeout "$limit" "$lua" testdata/sockets_client.lua >"$c" 2>&1
	cst=$?
	wait "$spid"
	sst=$?
	local ok=0
	[ "$sst" = 0 ] || { echo "server exit status $sst"; ok=1; }
	[ "$cst" = 0 ] || { echo "client exit status $cst"; ok=1; }
	grep -qF "$(printf 'received message\t1\tHello server! This is the client! Thank you!\tfrom connection')" "$s" ||
		{ echo "server did not print the client's message"; ok=1; }
	grep -qF "$(printf 'received message\t1\tHello client! This is the server! Welcome!\tfrom connection')" "$c" ||
		{ echo "client did not print the welcome"; ok=1; }
	if [ "$ok" != 0 ] || [ -n "${MIST_LUA_TEST_VERBOSE:-}" ]; then
		echo "--- server ($lua)"; cat "$s"; echo "--- client ($lua)"; cat "$c"
	fi
	return $ok
}

run_script() { # lua script port
	local cpath="$root/build/$(abi "$1")/?.so"
	MIST_PORT=$3 LUA_CPATH="$cpath" LUA_PATH="$root/test/?.lua;;" timeout "$limit" "$1" "$2" >"$out/script" 2>&1
	local st=$?
	if [ "$st" != 0 ] || [ -n "${MIST_LUA_TEST_VERBOSE:-}" ]; then cat "$out/script"; fi
	return $st
}

# Interop: a Go server built on the library with a Lua client, and a Go
# client with a Lua server.
interop() {
	local lua=$1 cpath="$root/build/$(abi "$1")/?.so" port=$2 peer="$out/mistpeer"
	[ -x "$peer" ] || go build -o "$peer" ./cmd/mistpeer || return 1
	"$peer" server -addr "127.0.0.1:$port" -timeout "${limit}s" >"$out/goserver" 2>&1 &
	local spid=$!
	wait_for_text "$out/goserver" "listening" || { cat "$out/goserver"; kill "$spid"; return 1; }
	MIST_PORT=$port LUA_CPATH="$cpath" LUA_PATH="$root/test/?.lua;;" timeout "$limit" "$lua" test/interop_client.lua >"$out/luaclient" 2>&1
	local cst=$?
	wait "$spid"; local sst=$?
	if [ "$cst" != 0 ] || [ "$sst" != 0 ]; then
		echo "--- Go server"; cat "$out/goserver"; echo "--- Lua client ($lua)"; cat "$out/luaclient"; return 1
	fi
	port=$((port + 1))
	MIST_PORT=$port LUA_CPATH="$cpath" LUA_PATH="$root/test/?.lua;;" timeout "$limit" "$lua" test/interop_server.lua >"$out/luaserver" 2>&1 &
	spid=$!
	wait_for_text "$out/luaserver" "listening" || { cat "$out/luaserver"; kill "$spid"; return 1; }
	"$peer" client -addr "127.0.0.1:$port" -timeout "${limit}s" >"$out/goclient" 2>&1
	cst=$?
	wait "$spid"; sst=$?
	if [ "$cst" != 0 ] || [ "$sst" != 0 ]; then
		echo "--- Lua server ($lua)"; cat "$out/luaserver"; echo "--- Go client"; cat "$out/goclient"; return 1
	fi
	return 0
}

port=55600
for lua in lua5.1 luajit lua5.4; do
	if ! command -v "$lua" >/dev/null 2>&1; then
		echo "test-lua: SKIPPED $lua: interpreter not installed (apt-get install ${lua/luajit/luajit})"
		continue
	fi
	if [ ! -f "build/$(abi "$lua")/luasteam.so" ]; then
		echo "test-lua: SKIPPED $lua: build/$(abi "$lua")/luasteam.so not built (headers missing?)"
		continue
	fi
	ran=1
	seed_pair "$lua"; report "$lua docs examples (server + client)" $?
	for t in test/*_test.lua; do
		run_script "$lua" "$t" "$port"; report "$lua $(basename "$t")" $?
		port=$((port + 10))
	done
	interop "$lua" "$port"; report "$lua interop with Go (Go server/Lua client, Lua server/Go client)" $?
	port=$((port + 10))
done

if [ "$ran" = 0 ]; then
	echo "test-lua: SKIPPED: no Lua interpreter (lua5.1, luajit, lua5.4) with a built module; as root: apt-get install lua5.1 luajit lua5.4 liblua5.1-0-dev liblua5.4-dev"
	exit 0
fi
exit $fail
