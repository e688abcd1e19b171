#!/usr/bin/env bash
# The production-like topology on this machine, all on loopback (see docs/deploy.md):
# a Redis Cluster of 3 primaries with a replica each (TLS), PostgreSQL for the ledger,
# two `ocs serve --workers 2` (Diameter over TLS, gRPC with TLS) and `ocs billing-bridge`.
#
#   deploy/local-cluster.sh [DIR] [--durability local|fsync|replicated] [--demo-subscribers N]
#
# DIR defaults to ./var/local-cluster. Runs until Ctrl-C, then stops everything.
# Needs: `make install` (the .venv), Debian's redis-server (TLS) and postgresql, openssl.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
python="${OCS_PYTHON:-$here/.venv/bin/python}"
if [ ! -x "$python" ]; then
  echo "local-cluster: $python not found: run 'make install' first" >&2
  exit 2
fi
dir="var/local-cluster"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  dir="$1"
  shift
fi
cd "$here"
exec "$python" -m ocs.local_cluster "$dir" "$@"
