#!/usr/bin/env bash
# Regenerates the Go code for the .proto files in this directory with protoc
# and the protoc-gen-go version pinned in go.mod.
set -eu
cd "$(dirname "$0")"
plugin_dir=$(mktemp -d)
trap 'rm -rf "$plugin_dir"' EXIT
# protoc needs an executable named protoc-gen-go; wrap the pinned module tool.
cat >"$plugin_dir/protoc-gen-go" <<'SH'
#!/bin/sh
exec go tool protoc-gen-go "$@"
SH
chmod +x "$plugin_dir/protoc-gen-go"
protoc --plugin=protoc-gen-go="$plugin_dir/protoc-gen-go" \
	--go_out=. --go_opt=paths=source_relative \
	-I . crypto.proto p2p.proto stats.proto udp.proto
