#!/usr/bin/env bash
# Runs Autobahn|Testsuite, every case including permessage-deflate (12.*,
# 13.*), against our WebSocket server (the binary's /echo) and our client
# (the ch10_client example), prints the counts per verdict,
# and exits non-zero if any case FAILED.
#
# The suite needs CPython 2.7 (pyenv's 2.7.18 on the image; override with
# PYTHON27=/path/to/python2.7). It is installed once into .autobahn/venv,
# which is git-ignored and reused while requirements.txt is unchanged.
# Reports land in .autobahn/reports/{servers,clients}/index.html.
# AUTOBAHN_INSTALL_ONLY=1 stops after installing the suite.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/tests/autobahn"
work="$root/.autobahn"
venv="$work/venv"
started=$(date +%s)
say() { printf '[autobahn %ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }

# --- the suite, in a private virtualenv -------------------------------------
py27="${PYTHON27:-}"
if [ -z "$py27" ]; then
  py27="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")/versions/2.7.18/bin/python"
fi
[ -x "$py27" ] || { echo "CPython 2.7 not found at $py27 (set PYTHON27)" >&2; exit 1; }
if ! cmp -s "$here/requirements.txt" "$venv/.requirements.txt" 2>/dev/null \
   || [ ! -x "$venv/bin/wstest" ]; then
  say "installing the suite into $venv"
  rm -rf "$venv"
  mkdir -p "$work"
  boot=$(mktemp -d)
  trap 'rm -rf "$boot"' EXIT
  "$py27" -m pip install -q --target "$boot" virtualenv==16.7.12
  PYTHONPATH="$boot" "$py27" -m virtualenv -q --no-download -p "$py27" "$venv"
  "$venv/bin/python" -m pip install -q pip==20.3.4 wheel==0.36.2
  "$venv/bin/python" -m pip install -q -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/.requirements.txt"
fi
[ "${AUTOBAHN_INSTALL_ONLY:-}" = 1 ] && { say "installed"; exit 0; }

# --- what we test -------------------------------------------------------------
say "building the server and the client"
(cd "$root" && cargo build --release --quiet --bin realtime-events --example ch10_client)
target_dir="${CARGO_TARGET_DIR:-$root/target}"
server_bin="$target_dir/release/realtime-events"
client_bin="$target_dir/release/examples/ch10_client"

reports="$work/reports"
rm -rf "$reports"
mkdir -p "$reports"

# Prints the verdict counts of an index.json and fails on any FAILED.
summarize() {
  "$venv/bin/python" - "$1" "$2" <<'PY'
import json, sys
path, label = sys.argv[1], sys.argv[2]
with open(path) as f:
    index = json.load(f)
verdicts = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
for agent, cases in sorted(index.items()):
    counts = dict((v, 0) for v in verdicts)
    bad = []
    for case, result in cases.items():
        for key in ("behavior", "behaviorClose"):
            if result[key] not in counts:
                counts[result[key]] = 0
        counts[result["behavior"]] += 1
        if result["behavior"] != "OK" or result["behaviorClose"] not in ("OK", "INFORMATIONAL"):
            bad.append("%s: %s/%s" % (case, result["behavior"], result["behaviorClose"]))
    print("%s (%s): %d cases: %s" % (label, agent, len(cases),
          ", ".join("%s %d" % (v, counts[v]) for v in verdicts)))
    # permessage-deflate (RFC 7692) on its own line: 12.* and 13.*.
    deflate = [r["behavior"] for c, r in cases.items() if c.split(".")[0] in ("12", "13")]
    print("%s (%s): of which permessage-deflate (12.*, 13.*): %d cases: %s" % (
          label, agent, len(deflate),
          ", ".join("%s %d" % (v, deflate.count(v)) for v in verdicts)))
    for line in sorted(bad):
        print("  not OK (informational cases have no right answer): " + line)
    if counts["FAILED"] or not cases:
        sys.exit(1)
PY
}

# --- both roles at once ---------------------------------------------------------
# The two runs share nothing (the client's runs in its own network
# namespace), and each is one Python process that mostly waits on the other
# side, so on two cores they take about the time of the longer one instead
# of the sum: a third of CI's budget before this.

# Our server under the fuzzing client. The suite sends 16 MiB frames and
# messages up to 64 MiB: /echo's limits are raised from the demo's 1 MiB to
# what the cases need.
test_server() {
  "$server_bin" --addr 127.0.0.1:0 --echo-max-frame 16777216 --echo-max-message 67108864 \
    >"$work/server.out" 2>"$work/server.log" &
  local server_pid=$!
  trap 'kill $server_pid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do
    grep -q '^listening on ' "$work/server.out" 2>/dev/null && break
    sleep 0.1
  done
  local addr
  addr=$(sed -n 's|^listening on http://||p' "$work/server.out" | head -n1)
  if [ -z "$addr" ]; then
    echo "server did not start"; cat "$work/server.log"; kill "$server_pid" 2>/dev/null; return 1
  fi
  cat >"$work/fuzzingclient.json" <<JSON
{
  "outdir": "$reports/servers",
  "servers": [{"agent": "realtime-events", "url": "ws://$addr/echo"}],
  "cases": ["*"],
  "exclude-cases": [],
  "exclude-agent-cases": {}
}
JSON
  say "fuzzingclient against ws://$addr/echo"
  local status=0
  (cd "$work" && "$venv/bin/wstest" -m fuzzingclient -s "$work/fuzzingclient.json" >"$work/fuzzingclient.log" 2>&1) \
    || { tail -n 30 "$work/fuzzingclient.log"; status=1; }
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  say "server role finished"
  return $status
}

# Our client against the fuzzing server. wstest's fuzzing server binds every
# interface whatever its URL says, so it runs in a network namespace of its
# own where only loopback exists.
test_client() {
  cat >"$work/fuzzingserver.json" <<JSON
{
  "url": "ws://127.0.0.1:9001",
  "outdir": "$reports/clients",
  "cases": ["*"],
  "exclude-cases": [],
  "exclude-agent-cases": {}
}
JSON
  say "fuzzingserver against the ch10_client example (in a private network namespace)"
  local status=0
  unshare --net bash -c '
    set -e
    ip link set lo up
    cd "$1"
    "$2/bin/wstest" -m fuzzingserver -s "$1/fuzzingserver.json" >"$1/fuzzingserver.log" 2>&1 &
    wstest=$!
    "$3" --autobahn ws://127.0.0.1:9001 >"$1/client.log" 2>&1 || status=$?
    kill $wstest 2>/dev/null || true
    exit ${status:-0}
  ' _ "$work" "$venv" "$client_bin" || { tail -n 30 "$work/client.log"; status=1; }
  say "client role finished"
  return $status
}

if ! command -v unshare >/dev/null || ! command -v ip >/dev/null; then
  apt-get update -qq && apt-get install -y -qq util-linux iproute2 >/dev/null
fi
# Each role's output goes to its own log, shown after both are done, so the
# two do not interleave.
test_server >"$work/server-role.out" 2>&1 &
server_role=$!
test_client >"$work/client-role.out" 2>&1 &
client_role=$!
trap 'kill $server_role $client_role 2>/dev/null || true; rm -rf "${boot:-}"' EXIT
server_ok=0; wait "$server_role" || server_ok=1
client_ok=0; wait "$client_role" || client_ok=1
cat "$work/server-role.out" "$work/client-role.out"
[ "$server_ok" = 0 ] && { summarize "$reports/servers/index.json" "server" || server_ok=1; }
[ "$client_ok" = 0 ] && { summarize "$reports/clients/index.json" "client" || client_ok=1; }

say "done"
[ "$server_ok" = 0 ] && [ "$client_ok" = 0 ]
