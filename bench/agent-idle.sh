#!/usr/bin/env bash
# The idle agent's footprint (issue 5: resident memory under 15 MiB, CPU time per hour):
# a real management server, a joined site server and an enrolled agent on loopback, all
# release builds; the agent checks in, holds its policy and task long-polls, and is left
# alone for SECONDS (default 120). Prints its resident memory and its CPU time scaled to
# one hour, read from /proc. With JSON_FILE, also writes the figures there as JSON.
#   bash bench/agent-idle.sh [SECONDS [JSON_FILE]]
set -euo pipefail
secs="${1:-120}"
json="${2:-}"
case "$secs" in ''|*[!0-9]*) echo "agent-idle.sh: SECONDS: '$secs' is not a whole number of seconds" >&2; exit 2 ;; esac
acc="$(cd "$(dirname "$0")/.." && pwd)/target/release/acc"
[ -x "$acc" ] || cargo build --release --locked
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"
"$acc" server init --data-dir srv --domain CORP --listen 127.0.0.1:0 > /dev/null
"$acc" server run --data-dir srv --listen 127.0.0.1:0 > server.out 2> server.err & pids+=($!)
until grep -q https:// server.out; do sleep 0.1; done
url=$(grep -o 'https://[^ ]*' server.out | head -1)
ctl() { "$acc" ctl --server "$url" --ca srv/tls/ca.crt --token-file srv/admin-token "$@"; }
ctl site-token create | "$acc" site join --token - --data-dir site1 --name SITE1 --listen 127.0.0.1:0 > /dev/null
"$acc" site run --data-dir site1 > site.out 2> site.err & pids+=($!)
until grep -q https:// site.out; do sleep 0.1; done
echo 'Idle-Bench-Password-2026' | ctl settings auth set --mode credential --username ACC_user --password-stdin > /dev/null
ctl enroll-token create | "$acc" agent enroll --token - --config agent/acc.yml --host-name idle01 \
  --log-file acc.log --state-dir state > /dev/null
"$acc" agent run --config agent/acc.yml 2> agent.err & agent=$!; pids+=($agent)
until grep -q "as ACC_user" agent/acc.log 2>/dev/null; do sleep 0.2; done
ticks() { awk '{print $14 + $15}' "/proc/$agent/stat"; }
start=$(ticks)
sleep "$secs"
used=$(( $(ticks) - start ))
hz=$(getconf CLK_TCK)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$agent/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$agent/status")
awk -v rss="$rss" -v hwm="$hwm" -v used="$used" -v hz="$hz" -v secs="$secs" 'BEGIN {
  printf "idle agent resident memory   %.1f MiB (peak %.1f MiB)\n", rss / 1024, hwm / 1024
  printf "idle agent CPU time          %.2f s per hour (%.2f s in %d s)\n", used / hz * 3600 / secs, used / hz, secs
  printf "target (under 15 MiB)        %s\n", (rss / 1024 < 15) ? "met" : "NOT MET"
}'
if [ -n "$json" ]; then
  awk -v rss="$rss" -v hwm="$hwm" -v used="$used" -v hz="$hz" -v secs="$secs" 'BEGIN {
    printf "{\"scenario\":\"agent-idle\",\"seconds\":%d,\"rss_kib\":%d,\"peak_rss_kib\":%d,\"cpu_s\":%.2f,\"cpu_s_per_hour\":%.3f}\n",
      secs, rss, hwm, used / hz, used / hz * 3600 / secs
  }' > "$json"
fi
