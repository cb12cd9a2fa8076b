#!/usr/bin/env bash
# Regenerates the protobuf code and fails if it differs from what is committed.
set -eu
cd "$(dirname "$0")/.."
[ -d internal/pb ] || { echo "check-generated: no internal/pb yet"; exit 0; }
if ! command -v protoc >/dev/null 2>&1; then
	echo "check-generated: SKIPPED: protoc missing (apt-get install protobuf-compiler)"
	exit 0
fi
go generate ./internal/pb
if ! git diff --exit-code --stat -- internal/pb; then
	echo "check-generated: generated code is stale: run 'go generate ./internal/pb' and commit"
	exit 1
fi
echo "check-generated: ok"
