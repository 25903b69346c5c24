#!/usr/bin/env bash
# Instructions per delivered SSE event, for our fan-out server and the axum
# peer: the steady figure beside run.sh's wall-clock CPU per event, which
# moves with the machine's load.
#
#   bash benches/load/instructions-sse.sh        # ~5 minutes on 2 cores, once built
#   SERVERS=ours KEEP=/tmp/cg bash benches/load/instructions-sse.sh
#
# Each server (the crate's `ch12_fanout` example, which serves through
# `stream_response` and the `Hub`, and `peer_axum_sse`) runs under
# `valgrind --tool=callgrind`, pinned to CPU 0 so its tokio runtime has one
# worker, as in run.sh. It is started with `--wait-subs SUBS --events K`:
# it publishes nothing until SUBS clients are subscribed, then exactly K
# events at RATE per second. The load generator (native, on CPU 1) opens
# the SUBS subscribers and reads until each has its K events; then the
# server is stopped and callgrind's total (Ir, every thread, start-up and
# shutdown included) is read. Each server runs with FEW and with MANY
# events: start-up, the connections and shutdown are the same in both, so
# (Ir(many) - Ir(few)) / (SUBS * (many - few)) is the user-space cost of
# one event delivered to one subscriber (the kernel's share is not counted).
# RATE is low enough that each event reaches every subscriber before the
# next is published even under valgrind: one event per wake-up, as in
# run.sh's fan-out rows.
#
# Output: one line per server, then the ratio ours/axum, printed and kept
# in benches/load/results/YYYY-MM-DD-HHMM-instructions-sse.txt (never
# overwritten). KEEP=DIR keeps the callgrind files, for
# `callgrind_annotate --inclusive=yes DIR/ours-many.out`.
#
# Knobs (environment): CARGO_TARGET_DIR, LOAD_TARGET_DIR (as run.sh), SUBS
# (default 1000), FEW and MANY (events, default 4 and 12), RATE (events
# per second, default 2), SIZE (data bytes, default 64, as run.sh),
# SERVERS, NOTE (a line for the header), OUT (another file than the dated
# one, for a trial that should not be kept).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

SUBS=${SUBS:-1000}
FEW=${FEW:-4}
MANY=${MANY:-12}
RATE=${RATE:-2}
SIZE=${SIZE:-64}
SERVERS=${SERVERS:-ours axum}
MAIN_TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
LOAD_TARGET=${LOAD_TARGET_DIR:-$ROOT/target/load}

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

echo "==> building (release)"
if [[ " $SERVERS " == *" ours "* ]]; then
  nice -n 10 cargo build --release --quiet --example ch12_fanout
fi
CARGO_TARGET_DIR=$LOAD_TARGET nice -n 10 cargo build --release --quiet \
  --manifest-path benches/load/Cargo.toml
L=$LOAD_TARGET/release

# Pinning, GLIBC_TUNABLES, WORK and its cleanup.
source benches/load/callgrind_setup.sh

server_cmd() {
  case $1 in
    ours) echo "$MAIN_TARGET/release/examples/ch12_fanout" ;;
    axum) echo "$L/peer_axum_sse" ;;
    *) echo "unknown server $1" >&2; return 1 ;;
  esac
}

# settle PID : waits until the process's CPU time (utime + stime, in
# /proc/PID/stat) is the same over a second, at most a minute.
settle() {
  local last="" now
  for _ in $(seq 60); do
    now=$(awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null) || return 0
    [[ "$now" == "$last" ]] && return 0
    last=$now
    sleep 1
  done
}

# measure SERVER EVENTS TAG : prints the server's total Ir.
measure() {
  local server=$1 events=$2 tag=$3
  local out=$WORK/$server-$tag.out log=$WORK/log
  : >"$log"
  RUST_LOG=warn "${SERVER_PIN[@]}" valgrind --tool=callgrind --callgrind-out-file="$out" \
    $(server_cmd "$server") --addr 127.0.0.1:0 --rate "$RATE" --size "$SIZE" \
    --wait-subs "$SUBS" --events "$events" >"$log" 2>"$WORK/valgrind.log" &
  SERVER_PID=$!
  local addr=""
  for _ in $(seq 600); do
    if grep -q "listening on" "$log"; then
      addr=$(grep -m1 "listening on" "$log" | sed -e 's#.*://##' -e 's#/$##')
      break
    fi
    sleep 0.1
  done
  [[ -n "$addr" ]] || { echo "$server did not start under valgrind" >&2; cat "$WORK/valgrind.log" >&2; return 1; }
  local line
  line=$(timeout 1200 "${CLIENT_PIN[@]}" "$L/loadgen" deliver --addr "$addr" \
    --subs "$SUBS" --events "$events" 2>&1 | tail -n 1) || true
  # The subscribers have closed: let the server finish with the closes
  # (its CPU time stops moving) before stopping it, so that both runs stop
  # at the same point and the closes cancel out in the slope.
  settle "$SERVER_PID"
  # TERM: callgrind still writes its counts when the program dies of it.
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  if [[ "$line" != "delivered=$(( SUBS * events )) "* ]]; then
    echo "$server: $line" >&2
    return 1
  fi
  [[ -n "$KEEP" ]] && cp "$out" "$KEEP/"
  grep -E '^(totals|summary):' "$out" | tail -n 1 | awk '{print $2}'
}

RESULTS=benches/load/results
mkdir -p "$RESULTS"
FILE=${OUT:-$RESULTS/$(date -u +%F-%H%M)-instructions-sse.txt}
{
  echo "# $(date -u +%FT%TZ) instructions per delivered SSE event (callgrind Ir, server user space), subs=$SUBS rate=$RATE size=$SIZE"
  echo "# $(uname -srm); $(nproc) cpus; $(valgrind --version); server pinned: ${SERVER_PIN[*]:-no}"
  echo "# per event = (Ir(many) - Ir(few)) / (subs * (many - few)); one event per wake-up"
  echo "# GLIBC_TUNABLES=$GLIBC_TUNABLES (memcpy/memset as vector loops: valgrind counts each rep-string iteration)"
  [[ -n "${NOTE:-}" ]] && echo "# note: $NOTE"
  printf '%-8s %6s %14s %6s %14s %14s\n' server few Ir many Ir Ir_per_event
} | tee "$FILE"

for server in $SERVERS; do
  ir_few=$(measure "$server" "$FEW" few)
  ir_many=$(measure "$server" "$MANY" many)
  awk -v srv="$server" -v a="$ir_few" -v b="$ir_many" -v f="$FEW" -v m="$MANY" -v n="$SUBS" 'BEGIN {
    printf "%-8s %6d %14.0f %6d %14.0f %14.0f\n", srv, f, a, m, b, (b - a) / (n * (m - f))
  }' | tee -a "$FILE"
done

awk '
  /^#/ || $1 == "server" { next }
  { ir[$1] = $6 }
  END {
    if (("ours" in ir) && ("axum" in ir) && ir["axum"] > 0)
      printf "# ratio ours/axum %.2f (below 1: we execute fewer instructions per delivered event)\n", ir["ours"] / ir["axum"]
  }' "$FILE" | tee -a "$FILE.ratio"
cat "$FILE.ratio" >>"$FILE"
rm -f "$FILE.ratio"
echo "==> kept in $FILE"
