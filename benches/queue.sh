#!/usr/bin/env bash
# benches/queue.sh: jobs/s through a NATS JetStream queue with 1, 2 and 4
# worker processes on loopback (see benches/src/bin/queue_throughput.rs).
# Starts a private nats-server (installs nothing: it says how if missing).
#
# Usage: benches/queue.sh [jobs]      (default 20000)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v nats-server >/dev/null; then
    echo "nats-server is not installed: apt-get update && apt-get install -y nats-server" >&2
    exit 1
fi
DIR=$(mktemp -d)
nats-server -js -a 127.0.0.1 -p -1 -m -1 -sd "$DIR/js" --ports_file_dir "$DIR" >"$DIR/server.log" 2>&1 &
SERVER=$!
trap 'kill -INT $SERVER; wait $SERVER || true; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do
    PORTS=$(cat "$DIR"/*.ports 2>/dev/null || true)
    [ -n "$PORTS" ] && break
    sleep 0.1
done
URL=$(echo "$PORTS" | grep -o 'nats://[0-9.:]*' | head -1)
MONITOR=$(echo "$PORTS" | grep -o 'http://[0-9.:]*' | head -1)
for _ in $(seq 100); do
    curl -fs "$MONITOR/healthz?js-enabled-only=true" >/dev/null && break
    sleep 0.1
done

cargo build --release --quiet -p gokio-benches --bin queue_throughput
echo "nats-server $(nats-server --version | awk '{print $NF}'), $(nproc) cores, $(date -u +%Y-%m-%d)"
target/release/queue_throughput "$URL" "${1:-20000}"
