#!/usr/bin/env bash
# The S3 API server the tests run against: Versity Gateway, built from its Go module (no
# prebuilt download) and cached under .tools/versitygw/<tag>/. Prints the binary's path.
# v1.8.0 is the newest tag at the time of writing; v1.7.0 is the fallback if it stops building.
set -euo pipefail
cd "$(dirname "$0")/.."
for tag in v1.8.0 v1.7.0; do
  bin=".tools/versitygw/$tag/versitygw"
  if [ -x "$bin" ]; then echo "$PWD/$bin"; exit 0; fi
done
if ! command -v go >/dev/null 2>&1; then
  echo "get-versitygw: Go is missing; install it (apt-get install golang) to build the test S3 server" >&2; exit 1
fi
for tag in v1.8.0 v1.7.0; do
  echo "get-versitygw: building github.com/versity/versitygw/cmd/versitygw@$tag (a few minutes the first time)" >&2
  if GOBIN="$PWD/.tools/versitygw/$tag" GOFLAGS=-mod=mod go install \
      -ldflags "-X main.Version=$tag" "github.com/versity/versitygw/cmd/versitygw@$tag" >&2; then
    echo "$PWD/.tools/versitygw/$tag/versitygw"; exit 0
  fi
  echo "get-versitygw: $tag did not build; trying the next tag" >&2
done
echo "get-versitygw: no Versity Gateway tag built; see the Go errors above" >&2
exit 1
