#!/usr/bin/env bash
# Instructions per echoed message, for our server and each WebSocket peer:
# a figure that does not move with the machine's load, beside the
# wall-clock ones of run.sh that do.
#
#   bash benches/load/instructions.sh          # ~5 minutes on 2 cores, once built
#   SCENARIOS=text20 SERVERS=ours bash benches/load/instructions.sh
#
# Each server (the release binary's /echo, the tokio-tungstenite and the
# fastwebsockets peers) runs under `valgrind --tool=callgrind`, pinned to
# CPU 0 so its tokio runtime has one worker, as in run.sh. The same load
# generator (run natively, on CPU 1) opens CONNS connections and echoes a
# fixed number of messages on each, ping-pong, then the server is stopped
# and callgrind's total of instructions (Ir, every thread, start-up and
# shutdown included) is read. Each case runs twice, with FEW and with MANY
# messages per connection: start-up, the handshakes and shutdown are the
# same in both, so the difference divided by the difference in messages
# is the cost of one echoed message (the slope), in the server's user
# space only (the kernel's work is not counted by valgrind).
#
# Scenarios: text20, binary20 (20 bytes), text64k, binary64k (64 KiB);
# text messages are UTF-8 checked by every server. Output: one line per
# server and scenario, then ours/peer ratios, printed and kept in
# benches/load/results/YYYY-MM-DD-HHMM-instructions.txt (never
# overwritten). KEEP=DIR keeps the callgrind files, for
# `callgrind_annotate --inclusive=yes DIR/ours-text20-many.out`.
#
# Knobs (environment): CARGO_TARGET_DIR, LOAD_TARGET_DIR (as run.sh),
# CONNS (default 10), SERVERS, SCENARIOS, NOTE (a line for the header, for
# example what else the machine was doing), OUT (another file than the
# dated one, for a trial run that should not be kept).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

CONNS=${CONNS:-10}
SERVERS=${SERVERS:-ours tungstenite fastwebsockets}
SCENARIOS=${SCENARIOS:-text20 binary20 text64k binary64k}
MAIN_TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
LOAD_TARGET=${LOAD_TARGET_DIR:-$ROOT/target/load}

echo "==> building (release)"
if [[ " $SERVERS " == *" ours "* ]]; then
  nice -n 10 cargo build --release --quiet --bin realtime-events
fi
CARGO_TARGET_DIR=$LOAD_TARGET nice -n 10 cargo build --release --quiet \
  --manifest-path benches/load/Cargo.toml
L=$LOAD_TARGET/release

# Pinning, GLIBC_TUNABLES, WORK and its cleanup.
source benches/load/callgrind_setup.sh

server_cmd() {
  case $1 in
    ours) echo "$MAIN_TARGET/release/realtime-events" ;;
    tungstenite) echo "$L/peer_tungstenite" ;;
    fastwebsockets) echo "$L/peer_fastws" ;;
    *) echo "unknown server $1" >&2; return 1 ;;
  esac
}

# scenario -> "size text-flag few many" (messages per connection)
scenario_args() {
  case $1 in
    text20) echo "20 --text 500 2500" ;;
    binary20) echo "20 - 500 2500" ;;
    text64k) echo "65536 --text 50 250" ;;
    binary64k) echo "65536 - 50 250" ;;
    *) echo "unknown scenario $1" >&2; return 1 ;;
  esac
}

# measure SERVER SCENARIO PER_CONN TAG : prints the server's total Ir.
measure() {
  local server=$1 scenario=$2 per_conn=$3 tag=$4
  local size text few many
  read -r size text few many <<<"$(scenario_args "$scenario")"
  local out=$WORK/$server-$scenario-$tag.out log=$WORK/log
  : >"$log"
  RUST_LOG=warn "${SERVER_PIN[@]}" valgrind --tool=callgrind --callgrind-out-file="$out" \
    $(server_cmd "$server") --addr 127.0.0.1:0 >"$log" 2>"$WORK/valgrind.log" &
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
  local flags=(echo --url "ws://$addr/echo" --conns "$CONNS" --size "$size"
    --secs 100000 --max-msgs "$per_conn" --reply-secs 120)
  [[ $text == --text ]] && flags+=(--text)
  local line
  line=$(timeout 1200 "${CLIENT_PIN[@]}" "$L/loadgen" "${flags[@]}" | tail -n 1)
  local got=${line##*msgs=}
  # TERM, not INT: a background job of a script ignores SIGINT unless the
  # program installs its own handler, and the peers do not. Callgrind
  # still writes its counts when the program dies of the signal.
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  if [[ "$got" != $(( CONNS * per_conn )) ]]; then
    echo "$server $scenario: echoed $got of $(( CONNS * per_conn )) messages ($line)" >&2
    return 1
  fi
  [[ -n "$KEEP" ]] && cp "$out" "$KEEP/"
  # callgrind's last line: "totals: <Ir>" (older versions: "summary:").
  grep -E '^(totals|summary):' "$out" | tail -n 1 | awk '{print $2}'
}

RESULTS=benches/load/results
mkdir -p "$RESULTS"
FILE=${OUT:-$RESULTS/$(date -u +%F-%H%M)-instructions.txt}
{
  echo "# $(date -u +%FT%TZ) instructions per echoed message (callgrind Ir, server user space), conns=$CONNS"
  echo "# $(uname -srm); $(nproc) cpus; $(valgrind --version); server pinned: ${SERVER_PIN[*]:-no}"
  echo "# per message = (Ir(many) - Ir(few)) / (msgs(many) - msgs(few)); ping-pong, one message in flight per connection"
  echo "# GLIBC_TUNABLES=$GLIBC_TUNABLES (memcpy/memset as vector loops: valgrind counts each rep-string iteration)"
  [[ -n "${NOTE:-}" ]] && echo "# note: $NOTE"
  printf '%-10s %-15s %8s %14s %8s %14s %12s\n' scenario server few Ir many Ir Ir_per_msg
} | tee "$FILE"

ROUND=0
for scenario in $SCENARIOS; do
  read -r _ _ few many <<<"$(scenario_args "$scenario")"
  ROUND=$(( ROUND + 1 ))
  order=$SERVERS
  # Reversed every other scenario, as run.sh does; counts should not care.
  (( ROUND % 2 )) || order=$(printf '%s\n' $SERVERS | tac | xargs)
  for server in $order; do
    ir_few=$(measure "$server" "$scenario" "$few" few)
    ir_many=$(measure "$server" "$scenario" "$many" many)
    awk -v s="$scenario" -v srv="$server" -v a="$ir_few" -v b="$ir_many" \
      -v nf=$(( CONNS * few )) -v nm=$(( CONNS * many )) 'BEGIN {
        printf "%-10s %-15s %8d %14.0f %8d %14.0f %12.0f\n", s, srv, nf, a, nm, b, (b - a) / (nm - nf)
      }' | tee -a "$FILE"
  done
done

# The ratios: ours / each peer, per scenario, peers in the order they
# first appear.
awk '
  /^#/ || $1 == "scenario" { next }
  {
    ir[$1 " " $2] = $7
    if (!($1 in seen)) { seen[$1] = 1; scen[++n] = $1 }
    if ($2 != "ours" && !($2 in known)) { known[$2] = 1; peer[++m] = $2 }
  }
  END {
    print "# ratios, ours / peer (below 1: we execute fewer instructions per message)"
    for (i = 1; i <= n; i++) {
      s = scen[i]
      if (!((s " ours") in ir)) continue
      for (j = 1; j <= m; j++) {
        key = s " " peer[j]
        if (!(key in ir) || ir[key] == 0) continue
        printf "%-10s ours/%-15s %6.2f\n", s, peer[j], ir[s " ours"] / ir[key]
      }
    }
  }' "$FILE" | tee -a "$FILE.ratios"
cat "$FILE.ratios" >>"$FILE"
rm -f "$FILE.ratios"
echo "==> kept in $FILE"
