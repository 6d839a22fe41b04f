#!/usr/bin/env bash
# benches/queue.sh: jobs/s through a NATS JetStream queue with 1, 2 and 4
# worker processes on loopback (see benches/src/bin/queue_throughput.rs).
# Starts a private nats-server (installs nothing: it says how if missing).
#
# Usage: benches/queue.sh [jobs]      (default 20000)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/nats-server.sh
trap nats_stop EXIT
nats_start

cargo build --release --quiet -p gokio-benches --bin queue_throughput
echo "nats-server $(nats-server --version | awk '{print $NF}'), $(nproc) cores, $(date -u +%Y-%m-%d)"
target/release/queue_throughput "$NATS_URL" "${1:-20000}"
