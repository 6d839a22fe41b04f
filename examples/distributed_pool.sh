#!/usr/bin/env bash
# The distributed worker pool, end to end: starts a private nats-server with
# JetStream, submits jobs, runs three worker processes of
# `examples/distributed_pool.rs`, kills one with SIGKILL mid-batch, waits
# for the queue to drain, and prints the accounting. Exits non-zero if a
# job was lost.
#
#   bash examples/distributed_pool.sh [jobs]      (default 500)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

JOBS=${1:-500}
source scripts/nats-server.sh
DIR=$(mktemp -d)
cleanup() {
    status=$?
    if [ "$status" != 0 ]; then
        for f in "$DIR"/w*.err; do [ -s "$f" ] && { echo "--- $f"; tail -5 "$f"; }; done
    fi
    kill -9 "${PIDS[@]:-}" 2>/dev/null || true
    nats_stop
    rm -rf "$DIR"
}
trap cleanup EXIT
nats_start
echo "nats-server $(nats-server --version | awk '{print $NF}') at $NATS_URL"

cargo build --release --quiet --example distributed_pool
BIN=target/release/examples/distributed_pool

$BIN produce "$JOBS"

# Each worker reads its stdin from a FIFO this script holds open: closing it
# is the worker's signal to finish the jobs in hand and exit.
# The write ends are opened only once every worker has started, so that no
# worker inherits another's.
PIDS=()
FDS=()
for w in 1 2 3; do
    mkfifo "$DIR/w$w.in"
    $BIN work "w$w" <"$DIR/w$w.in" >"$DIR/w$w.log" 2>"$DIR/w$w.err" &
    PIDS+=($!)
done
for w in 1 2 3; do
    exec {fd}>"$DIR/w$w.in"
    FDS+=("$fd")
done

# Kill worker 1 with SIGKILL once it has processed 40 jobs: it dies holding
# unacked jobs, which the queue redelivers to w2 and w3 after the ack wait.
until [ "$(grep -c '^processed' "$DIR/w1.log" || true)" -ge 40 ]; do sleep 0.05; done
kill -9 "${PIDS[0]}"
wait "${PIDS[0]}" 2>/dev/null || true
echo "killed w1 (kill -9) after $(grep -c '^processed' "$DIR/w1.log") jobs"

# Wait until nothing is waiting or in flight (bounded: 120 s).
for _ in $(seq 1200); do
    REPORT=$($BIN report | tail -1)
    case "$REPORT" in *"waiting 0, in flight 0") break ;; esac
    sleep 0.1
done

for i in 1 2; do
    fd=${FDS[$i]}
    exec {fd}>&-
    wait "${PIDS[$i]}"
done
PIDS=()

$BIN report | grep '^dead letter' || true
PROCESSED=$(cat "$DIR"/w*.log | grep '^processed' | awk '{print $2}' | sort -n)
DISTINCT=$(echo "$PROCESSED" | uniq | grep -c . || true)
TOTAL=$(echo "$PROCESSED" | grep -c . || true)
DEAD=$($BIN report | grep -c '^dead letter' || true)
LOST=$((JOBS - DISTINCT - DEAD))
echo
echo "submitted     $JOBS"
echo "processed     $DISTINCT distinct ($((TOTAL - DISTINCT)) duplicates: jobs w1 finished but had not acked)"
echo "by worker     w1 $(grep -c '^processed' "$DIR/w1.log") (killed), w2 $(grep -c '^processed' "$DIR/w2.log"), w3 $(grep -c '^processed' "$DIR/w3.log")"
echo "redelivered   $(cat "$DIR"/w2.err "$DIR"/w3.err | grep -o 'redelivered: [0-9]*' | awk '{n += $2} END {print n + 0}') deliveries to w2 and w3 (w1's unacked jobs after the ack wait, and the poison jobs' retries)"
echo "dead-lettered $DEAD (poison jobs, after 3 deliveries)"
echo "lost          $LOST"
[ "$LOST" -eq 0 ]
