#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, when run as root and they
# are missing. Otherwise prints what to install; the suites that need a missing
# tool skip themselves loudly.
set -u
need=()
have() { command -v "$1" >/dev/null 2>&1; }
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for p in lua5.1 luajit lua5.4 liblua5.1-0-dev liblua5.4-dev libenet-dev protobuf-compiler pkg-config chromium chromium-driver iproute2 nftables; do
	pkg_installed "$p" || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && have apt-get; then
	echo "deps: installing ${need[*]}"
	apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null ||
		echo "deps: WARNING: apt-get install failed; suites needing ${need[*]} will be skipped"
else
	echo "deps: WARNING: missing Debian packages: ${need[*]}"
	echo "deps: install them with: sudo apt-get install -y ${need[*]}"
fi
exit 0
