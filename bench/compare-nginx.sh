#!/usr/bin/env bash
# bench/compare-nginx.sh [--quick] [--only a,b,c] [--out FILE] — acc site against nginx, same run.
#
# Both servers get the same PKI (../shared/bench/pki.sh: an openssl-made EC P-256 CA, server
# and client certificates exactly as the mTLS seed makes them) and serve the same files (nginx's
# document root IS the acc site's `software-library` share directory): a 1 KiB file and a 1 GiB
# file. ../shared/bench/load.sh measures each server in turn with the client certificate:
#   (a) keep-alive 1 KiB GETs/s, (b) full mTLS handshakes/s, (c) 1 GiB throughput,
# plus the server's CPU per operation (--server-pid). Prints one table: acc, nginx, acc/nginx.
#
#   --quick       shorter runs (duration 5 s, 1 run each; the figures are noisier)
#   --only LIST   subset of a,b,c (default a,b,c)
#   --out FILE    also write the table there
#   --raw DIR     also keep load.sh's figures there (acc.txt, nginx.txt: `name value unit` lines)
# Needs: cargo (builds target/release/acc), nginx, wrk, h2load (nghttp2-client), curl, openssl, cc.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${ACC_SHARED_BENCH:-$HERE/../shared/bench}
QUICK=0; ONLY="a,b,c"; OUT=""; RAW=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --raw) RAW=$2; shift 2 ;;
    -h|--help) awk 'NR>1 && /^#/ { sub(/^# ?/, ""); print; next } NR>1 { exit }' "$0"; exit 0 ;;
    *) echo "compare-nginx.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$SHARED/load.sh" ] || { echo "compare-nginx.sh: $SHARED/load.sh not found (set ACC_SHARED_BENCH)" >&2; exit 1; }
for t in nginx wrk h2load curl openssl cc; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || {
    echo "compare-nginx.sh: $t not installed (apt-get install -y nginx wrk nghttp2-client curl openssl gcc)" >&2; exit 1; }
done
(cd "$HERE" && cargo build --release --locked -q -p acc)
ACC=$HERE/target/release/acc

W=$(mktemp -d -t acc-vs-nginx.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$SHARED/pki.sh" "$W/pki" >/dev/null
P_ACC=$(free_port); P_NGX=$(free_port)
"$ACC" site init --data-dir "$W/site" --name BENCH-SITE --listen "127.0.0.1:$P_ACC" \
  --tls-cert "$W/pki/server.crt" --tls-key "$W/pki/server.key" >/dev/null
"$ACC" site trust add "$W/pki/ca.crt" --data-dir "$W/site" >/dev/null
SHARE=$W/site/shares/software-library
head -c 1024 /dev/urandom > "$SHARE/1k.bin"
head -c $((1 << 30)) /dev/urandom > "$SHARE/1g.bin"
chmod 0755 "$W" "$W/site" "$W/site/shares" "$SHARE"; chmod 0644 "$SHARE"/*.bin
# Write the 1 GiB file back now: otherwise the kernel flushes it while the first server (acc)
# is measured, and acc's keep-alive figure pays for it (0.96x instead of 1.14x in one run).
sync

"$ACC" site run --data-dir "$W/site" >"$W/acc.log" 2>&1 &
ACC_PID=$!; PIDS+=("$ACC_PID")
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$P_ACC") 2>/dev/null && break; sleep 0.1; done
NGX_PID=$("$SHARED/nginx-mtls.sh" "$P_NGX" "$SHARE" "$W/pki"); PIDS+=("$NGX_PID")

LOADOPTS=(--cert "$W/pki/client.crt" --key "$W/pki/client.key" --cacert "$W/pki/ca.crt" --only "$ONLY")
[ "$QUICK" = 1 ] && LOADOPTS+=(--duration 5 --runs 1 --curl-runs 2)
echo "# measuring acc site (pid $ACC_PID) ..." >&2
"$SHARED/load.sh" "${LOADOPTS[@]}" --server-pid "$ACC_PID" \
  "https://127.0.0.1:$P_ACC/v1/shares/software-library/1k.bin" \
  "https://127.0.0.1:$P_ACC/v1/shares/software-library/1g.bin" > "$W/acc.txt" || echo "# acc run reported errors (see above)" >&2
echo "# measuring nginx (pid $NGX_PID) ..." >&2
"$SHARED/load.sh" "${LOADOPTS[@]}" --server-pid "$NGX_PID" \
  "https://127.0.0.1:$P_NGX/1k.bin" "https://127.0.0.1:$P_NGX/1g.bin" > "$W/nginx.txt" || echo "# nginx run reported errors (see above)" >&2

table() {
  printf '%-26s %14s %14s %10s\n' figure acc nginx acc/nginx
  awk 'NR==FNR { n[$1]=$2; next } { a=$2; r=(n[$1]+0 > 0) ? sprintf("%.2fx", a/n[$1]) : "-";
       printf "%-26s %14s %14s %10s\n", $1, a" "$3, n[$1]" "$3, r }' "$W/nginx.txt" "$W/acc.txt"
  echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%FT%TZ)"
}
table | tee "${OUT:-/dev/null}"
if [ -n "$RAW" ]; then mkdir -p "$RAW" && cp "$W/acc.txt" "$W/nginx.txt" "$RAW/"; fi
