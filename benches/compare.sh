#!/usr/bin/env bash
# benches/compare.sh: run every workload for Go, gokio and raw tokio +
# async-channel, interleaved (Go gokio raw Go gokio raw ...), and print a
# markdown table of medians with gokio/Go and gokio/raw ratios.
#
# Usage: benches/compare.sh [workload ...]      (default: every workload)
#
# Environment:
#   GOMAXPROCS         worker count for Go and for the tokio runtimes (default 2)
#   RUNS               runs per workload and variant (default 5)
#   GOKIO_BENCH_SCALE  multiplies every element count (default 1.0), passed through
#   RUST_WORKLOAD      use this runner binary instead of building
#                      target/release/workload (for testing the script)
#
# Installs nothing: it stops with a hint if Go is missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v go >/dev/null 2>&1; then
    echo "Go is not installed: run apt-get update && apt-get install -y golang-go" >&2
    exit 1
fi

export GOMAXPROCS="${GOMAXPROCS:-2}"
# The Rust runner sizes its runtime from GOMAXPROCS; TOKIO_WORKER_THREADS is
# set as well so any runtime built with defaults gets the same count.
export TOKIO_WORKER_THREADS="$GOMAXPROCS"
RUNS="${RUNS:-5}"
if [[ -n "${GOKIO_BENCH_SCALE:-}" ]]; then
    export GOKIO_BENCH_SCALE
fi
if ! [[ "$RUNS" =~ ^[1-9][0-9]*$ ]]; then
    echo "RUNS must be a positive integer, got '$RUNS'" >&2
    exit 2
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "building Go workloads (benches/go)..." >&2
(cd "$root/benches/go" && go build -o "$tmp/gobench" .)
gobench="$tmp/gobench"

if [[ -n "${RUST_WORKLOAD:-}" ]]; then
    workload="$RUST_WORKLOAD"
    echo "using Rust runner from RUST_WORKLOAD=$workload" >&2
else
    if ! command -v cargo >/dev/null 2>&1; then
        echo "cargo is not installed (see https://rustup.rs)" >&2
        exit 1
    fi
    echo "building Rust runner (cargo build --release -p gokio-benches --bin workload)..." >&2
    cargo build --release -p gokio-benches --bin workload >&2
    workload="${CARGO_TARGET_DIR:-$root/target}/release/workload"
fi
if [[ ! -x "$workload" ]]; then
    echo "Rust runner not found or not executable: $workload" >&2
    exit 1
fi

if [[ $# -gt 0 ]]; then
    names=("$@")
else
    mapfile -t names < <("$gobench" --list)
fi
known_go=" $("$gobench" --list | tr '\n' ' ') "
known_rust=" $("$workload" --list | tr '\n' ' ') "
for name in "${names[@]}"; do
    if [[ "$known_go" != *" $name "* ]]; then
        echo "unknown workload '$name' (Go knows:$known_go)" >&2
        exit 2
    fi
    if [[ "$known_rust" != *" $name "* ]]; then
        echo "warning: the Rust runner does not list '$name'; its cells will say 'failed'" >&2
    fi
done

# run_one NAME VARIANT -> appends the value to $tmp/NAME.VARIANT, the unit to
# $tmp/NAME.VARIANT.unit; a failed or malformed run is reported and skipped.
run_one() {
    local name="$1" variant="$2" out line
    local -a f
    if [[ "$variant" == go ]]; then
        out="$("$gobench" "$name" 2>"$tmp/err")" || {
            echo "  $name/$variant failed: $(tail -n 3 "$tmp/err")" >&2
            return 0
        }
    else
        out="$("$workload" "$name" "$variant" 2>"$tmp/err")" || {
            echo "  $name/$variant failed: $(tail -n 3 "$tmp/err")" >&2
            return 0
        }
    fi
    line="$(printf '%s\n' "$out" | grep -E "^$name $variant " | tail -n 1 || true)"
    read -r -a f <<<"$line"
    if [[ ${#f[@]} -ne 4 ]] || ! [[ "${f[2]}" =~ ^[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)?$ ]]; then
        echo "  $name/$variant: unexpected output: $out" >&2
        return 0
    fi
    echo "${f[2]}" >>"$tmp/$name.$variant"
    echo "${f[3]}" >"$tmp/$name.$variant.unit"
    echo "  $name $variant ${f[2]} ${f[3]}" >&2
}

# median FILE -> median of the numbers in FILE, or "failed" if none.
median() {
    if [[ ! -s "$1" ]]; then
        echo failed
        return
    fi
    sort -g "$1" | awk '{ v[NR] = $1 }
        END { if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2;
              if (m >= 1000) printf "%.0f\n", m; else printf "%.1f\n", m }'
}

# ratio A B -> A/B with two decimals, or "-" if either is missing.
ratio() {
    if [[ "$1" == failed || "$2" == failed ]]; then
        echo "-"
        return
    fi
    awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f\n", a / b }'
}

variants=(go gokio raw)
for name in "${names[@]}"; do
    echo "$name: $RUNS x (go gokio raw)" >&2
    for ((i = 1; i <= RUNS; i++)); do
        for v in "${variants[@]}"; do
            run_one "$name" "$v"
        done
    done
done

cpu="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || true)"
echo
echo "Machine: $(nproc) CPUs, ${cpu:-unknown CPU}; $(go version | sed 's/^go version //'); $(rustc --version 2>/dev/null || echo 'rustc unknown'); $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "GOMAXPROCS=$GOMAXPROCS, tokio worker threads=$GOMAXPROCS; median of $RUNS interleaved runs; GOKIO_BENCH_SCALE=${GOKIO_BENCH_SCALE:-1.0}"
echo
echo "| workload | unit | Go | gokio | raw tokio | gokio/Go | gokio/raw |"
echo "|---|---|---:|---:|---:|---:|---:|"
for name in "${names[@]}"; do
    unit="?"
    for v in "${variants[@]}"; do
        if [[ -s "$tmp/$name.$v.unit" ]]; then
            u="$(cat "$tmp/$name.$v.unit")"
            if [[ "$unit" == "?" ]]; then
                unit="$u"
            elif [[ "$u" != "$unit" ]]; then
                echo "warning: $name: $v reports unit '$u', expected '$unit'" >&2
            fi
        fi
    done
    g="$(median "$tmp/$name.go")"
    k="$(median "$tmp/$name.gokio")"
    r="$(median "$tmp/$name.raw")"
    echo "| $name | $unit | $g | $k | $r | $(ratio "$k" "$g") | $(ratio "$k" "$r") |"
done
