#!/usr/bin/env bash
# bench/all.sh [--quick] [--out DIR] — every performance target of issues 2-6 in one run.
#
# Runs, one after the other on this machine (release builds):
#   cargo bench -p acc-pki            fleet CA enrollment, next to `openssl speed ecdsap256`
#   bench/compare-nginx.sh            acc site vs nginx: keep-alive, full handshakes, 1 GiB
#   acc bench register                registration storm, 10,000 agents
#   acc bench flood --mode smart      lockout flood (and --mode classic, for contrast)
#   acc bench propagation             a policy change to 100 simulated site servers (and again with
#                                     10,000 agents long-polling too: the whole fleet)
#   acc bench events                  event ingest
#   acc bench agents                  10,000 agents long-polling the management server
#   acc bench longpoll                10,000 agents long-polling a site server's tasks
#   acc bench download                4 agents downloading 1 GiB from a site server
#   acc bench console                 the console's pages: 10,000 agents, 100 sites, 1,000,000 events
#   bench/agent-idle.sh               an idle agent's memory and CPU (600 s; --quick: 60 s)
# then bench/report.py prints one Markdown table (figure, acc, baseline from this run,
# ratio, target) and writes it to DIR/performance.md next to every benchmark's JSON and
# output. A failing benchmark is reported and the run goes on; the exit status is 1 then.
#
#   --quick     shorter runs (noisier; for trying the script, not for the README)
#   --out DIR   where the results go (default bench/results/<UTC time>)
# Needs what its parts need: openssl, nginx, wrk, h2load (nghttp2-client), curl, cc,
# python3, and `ulimit -n` of at least 12,000 (in a 10,000-agent run the benchmark process
# holds one end of every connection and the server the other).
set -uo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
QUICK=0; OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) awk 'NR>1 && /^#/ { sub(/^# ?/, ""); print; next } NR>1 { exit }' "$0"; exit 0 ;;
    *) echo "all.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-$HERE/bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT" || exit 1
want=12000
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
  ulimit -n "$want" 2>/dev/null || {
    echo "all.sh: ulimit -n is $(ulimit -n); a 10,000-agent run needs $want descriptors per process (raise the hard limit)" >&2; exit 1; }
fi
(cd "$HERE" && cargo build --release --locked -q -p acc) || exit 1
ACC=$HERE/target/release/acc
failed=()

# step NAME COMMAND...: runs it, its output to DIR/NAME.txt and the terminal.
step() {
  local name=$1; shift
  echo "== $name: $*" >&2
  if ! "$@" 2>&1 | tee "$OUT/$name.txt"; then
    echo "== $name FAILED (see $OUT/$name.txt)" >&2
    failed+=("$name")
  fi
}

agents=10000
if [ "$QUICK" = 1 ]; then
  secs=1; nginx=(--quick); events=50000; idle=60; size=256; cevents=100000
else
  secs=3; nginx=(); events=200000; idle=600; size=1024; cevents=1000000
fi
step pki env ACC_BENCH_SECONDS=$secs ACC_BENCH_JSON="$OUT/pki.json" \
  cargo bench --locked -q -p acc-pki --bench enroll --manifest-path "$HERE/Cargo.toml"
step nginx bash "$HERE/bench/compare-nginx.sh" "${nginx[@]}" --raw "$OUT/nginx"
step register "$ACC" bench register --agents "$agents" --connections 64 --json "$OUT/register.json"
step flood-smart "$ACC" bench flood --mode smart --json "$OUT/flood-smart.json"
step flood-classic "$ACC" bench flood --mode classic --json "$OUT/flood-classic.json"
step propagation "$ACC" bench propagation --sites 100 --changes 5 --json "$OUT/propagation.json"
step propagation-fleet "$ACC" bench propagation --sites 100 --agents "$agents" --changes 3 --json "$OUT/propagation-fleet.json"
step events "$ACC" bench events --events "$events" --sites 4 --batch 1000 --json "$OUT/events.json"
step agents "$ACC" bench agents --agents "$agents" --changes 3 --json "$OUT/agents.json"
step longpoll "$ACC" bench longpoll --agents "$agents" --json "$OUT/longpoll.json"
step download "$ACC" bench download --size-mib "$size" --agents 4 --json "$OUT/download.json"
step console "$ACC" bench console --events "$cevents" --json "$OUT/console.json"
step agent-idle bash "$HERE/bench/agent-idle.sh" "$idle" "$OUT/agent-idle.json"

{
  echo "Run $(date -u +%FT%TZ) on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
  echo "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); \`bash bench/all.sh$([ "$QUICK" = 1 ] && echo ' --quick')\`."
  echo
  python3 "$HERE/bench/report.py" "$OUT"
} > "$OUT/performance.md" || failed+=(report)
cat "$OUT/performance.md"
echo "results: $OUT" >&2
if [ ${#failed[@]} -gt 0 ]; then
  echo "all.sh: failed: ${failed[*]}" >&2
  exit 1
fi
