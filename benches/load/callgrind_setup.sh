# Sourced by instructions.sh and instructions-sse.sh: what both need to
# count a server's instructions under callgrind the same way.
#
# Sets SERVER_PIN/CLIENT_PIN (the server on CPU 0, its load on CPU 1, as in
# run.sh), WORK (a scratch folder removed on exit, with the server that
# SERVER_PID names killed), KEEP (a folder for the callgrind files, if
# asked for), and GLIBC_TUNABLES.

command -v valgrind >/dev/null || {
  echo "valgrind is needed (apt-get install valgrind)" >&2
  exit 1
}

SERVER_PIN=(); CLIENT_PIN=()
if command -v taskset >/dev/null && (( $(nproc) >= 2 )); then
  SERVER_PIN=(taskset -c 0); CLIENT_PIN=(taskset -c 1)
fi

# Valgrind counts every iteration of a `rep movsb` or `rep stosb` as one
# instruction, so a 128 KiB memset that glibc does with `rep stosb` counts
# 131,072 where its vector loop counts about 4,000 for the same work. These
# thresholds make glibc's memcpy and memset use their vector loops at every
# size, for every server alike, so the counts stay proportional to work.
export GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=1099511627776:glibc.cpu.x86_rep_stosb_threshold=1099511627776

WORK=$(mktemp -d)
KEEP=${KEEP:-}
[[ -n "$KEEP" ]] && mkdir -p "$KEEP"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
