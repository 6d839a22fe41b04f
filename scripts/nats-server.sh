# Sourced by .ci/run, benches/queue.sh and examples/distributed_pool.sh:
# starts a private nats-server with JetStream and stops it.
#
#   source scripts/nats-server.sh
#   nats_start          # sets NATS_URL, NATS_PID, NATS_DIR; waits until healthy
#   ...
#   nats_stop           # kill -INT (TERM exits non-zero on 2.9), wait, rm -rf
#
# The server binds 127.0.0.1 on free ports (`-p -1 -m -1`), keeps its
# JetStream files in a fresh temporary directory, and writes its ports to
# a file there, from which NATS_URL is read. It installs nothing: without
# nats-server, nats_start says how to install it and fails.

# Whether GET http://$1$2 answers 200: curl if there is one, else bash's
# /dev/tcp (in a subshell, so a refused connection is just a "no").
nats_http_ok() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -o /dev/null "http://$1$2" 2>/dev/null
        return
    fi
    (
        exec 3<>"/dev/tcp/${1%:*}/${1##*:}"
        printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$2" "$1" >&3
        read -r status <&3
        [[ $status == *" 200"* ]]
    ) 2>/dev/null
}

nats_start() {
    if ! command -v nats-server >/dev/null 2>&1; then
        echo "nats-server is not installed: apt-get update && apt-get install -y nats-server" >&2
        return 1
    fi
    NATS_DIR="$(mktemp -d)"
    nats-server -js -a 127.0.0.1 -p -1 -m -1 -sd "$NATS_DIR/js" --ports_file_dir "$NATS_DIR" \
        >"$NATS_DIR/server.log" 2>&1 &
    NATS_PID=$!
    local ports monitor _
    NATS_URL=""
    for _ in $(seq 200); do
        ports="$(cat "$NATS_DIR"/*.ports 2>/dev/null || true)"
        NATS_URL="$(grep -o 'nats://[^"]*' <<<"$ports" || true)"
        monitor="$(grep -o 'http://[^"]*' <<<"$ports" || true)"
        monitor="${monitor#http://}"
        if [ -n "$NATS_URL" ] && [ -n "$monitor" ] &&
            nats_http_ok "$monitor" "/healthz?js-enabled-only=true"; then
            export NATS_URL
            return 0
        fi
        NATS_URL=""
        sleep 0.1
    done
    echo "nats-server did not become healthy; its log:" >&2
    cat "$NATS_DIR/server.log" >&2
    return 1
}

nats_stop() {
    if [ -n "${NATS_PID:-}" ]; then
        kill -INT "$NATS_PID" 2>/dev/null || true
        wait "$NATS_PID" 2>/dev/null || true
        NATS_PID=""
    fi
    if [ -n "${NATS_DIR:-}" ]; then
        rm -rf "$NATS_DIR"
        NATS_DIR=""
    fi
}
