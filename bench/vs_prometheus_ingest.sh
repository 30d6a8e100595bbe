#!/usr/bin/env bash
# Remote-write ingest, side by side: the same load (prescale-bench-remote-write)
# against prescale-aggregator's /api/v1/write and against Prometheus 2.42's own
# receiver (--web.enable-remote-write-receiver), one after the other, on
# loopback. Prints samples/s, receiver CPU seconds, samples per CPU-second and
# peak RSS of each receiver, and the ratios.
#   BUILD_DIR=build  DURATION=20  CONNECTIONS=4  SERIES=500  SAMPLES=1  DATA_DIR=1
#   (SERIES=500 SAMPLES=1 is Prometheus's own request shape; try SAMPLES=100 for large batches)
# DATA_DIR=1 (the default, as in production): the aggregator has a data directory, so every push
# is written to its write-ahead log before it is acknowledged, as Prometheus writes its WAL;
# DATA_DIR=0: memory only (no snapshots, no log), for comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-4}
SERIES=${SERIES:-500}
SAMPLES=${SAMPLES:-1}
DATA_DIR=${DATA_DIR:-1}
LOAD="$BUILD_DIR/bin/prescale-bench-remote-write"
AGG="$BUILD_DIR/bin/prescale-aggregator"
for b in "$LOAD" "$AGG"; do [[ -x "$b" ]] || { echo "missing $b: build first (scripts/build)" >&2; exit 1; }; done
command -v prometheus >/dev/null || { echo "prometheus is not installed (scripts/setup)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/prescale-vs-prom.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
log() { echo "[$(date +%T)] $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$1/stat"; }
hwm_mib() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
wait_ready() {  # URL PID
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { echo "receiver exited" >&2; return 1; }
    sleep 0.1
  done
  echo "receiver did not become ready at $1" >&2; return 1
}

run() {  # NAME PID WRITE_URL [LOAD_ARGS...] -> "samples_per_s cpu_s samples_per_cpu_s hwm"
  local name=$1 pid=$2 url=$3
  shift 3
  local c0 c1 out sps
  c0=$(cpu_seconds "$pid")
  log "$name: $CONNECTIONS connections x ${SERIES} series x ${SAMPLES} samples per request for ${DURATION}s"
  out=$("$LOAD" --url "$url" --connections "$CONNECTIONS" --duration "$DURATION" --series "$SERIES" --samples "$SAMPLES" "$@")
  c1=$(cpu_seconds "$pid")
  log "$name: $out"
  sps=$(sed -n 's/.*samples_per_second=\([0-9.]*\).*/\1/p' <<<"$out")
  local ok
  ok=$(sed -n 's/.*samples_ok=\([0-9]*\).*/\1/p' <<<"$out")
  awk -v sps="$sps" -v ok="$ok" -v c0="$c0" -v c1="$c1" -v hwm="$(hwm_mib "$pid")" \
    'BEGIN { cpu = c1 - c0; printf "%.0f %.2f %.0f %s\n", sps, cpu, (cpu > 0 ? ok / cpu : 0), hwm }'
}

agg_port=$(free_port)
# The aggregator takes pushes only with a token: one of its config (checked in memory, as an
# agent's token would be), made fresh for this run.
token=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
printf 'tokens:\n  - {name: bench, role: agent, sha256: "sha256:%s"}\n' \
  "$(printf %s "$token" | sha256sum | cut -d' ' -f1)" >"$WORK/aggregator.yaml"
agg_args=()
[[ "$DATA_DIR" == 1 ]] && agg_args=(--data-dir "$WORK/agg")
"$AGG" --config "$WORK/aggregator.yaml" --listen "127.0.0.1:$agg_port" "${agg_args[@]}" >"$WORK/agg.log" 2>&1 &
agg_pid=$!; pids+=("$agg_pid")
wait_ready "http://127.0.0.1:$agg_port/healthz" "$agg_pid"
read -r a_sps a_cpu a_eff a_hwm < <(run prescale-aggregator "$agg_pid" "http://127.0.0.1:$agg_port/api/v1/write" \
  --token "$token")
# The run is shorter than the snapshot interval (1m): no segment was removed yet.
wal_bytes=0
[[ "$DATA_DIR" == 1 ]] && wal_bytes=$(find "$WORK/agg/wal" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
kill "$agg_pid"

prom_port=$(free_port)
printf 'global:\n  scrape_interval: 1h\n' >"$WORK/prometheus.yml"
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
  --web.listen-address="127.0.0.1:$prom_port" --web.enable-remote-write-receiver >"$WORK/prom.log" 2>&1 &
prom_pid=$!; pids+=("$prom_pid")
wait_ready "http://127.0.0.1:$prom_port/-/ready" "$prom_pid"
read -r p_sps p_cpu p_eff p_hwm < <(run prometheus "$prom_pid" "http://127.0.0.1:$prom_port/api/v1/write")

echo
printf '%-28s %18s %18s %10s\n' "" prescale-aggregator "prometheus 2.42" ratio
awk -v a="$a_sps" -v p="$p_sps" 'BEGIN { printf "%-28s %18.0f %18.0f %10.2f\n", "samples/s", a, p, (p > 0 ? a / p : 0) }'
awk -v a="$a_cpu" -v p="$p_cpu" 'BEGIN { printf "%-28s %18.2f %18.2f %10.2f\n", "receiver CPU seconds", a, p, (p > 0 ? a / p : 0) }'
awk -v a="$a_eff" -v p="$p_eff" 'BEGIN { printf "%-28s %18.0f %18.0f %10.2f\n", "samples per CPU-second", a, p, (p > 0 ? a / p : 0) }'
awk -v a="$a_hwm" -v p="$p_hwm" 'BEGIN { printf "%-28s %18.1f %18.1f %10.2f\n", "receiver peak RSS MiB", a, p, (p > 0 ? a / p : 0) }'
if [[ "$DATA_DIR" == 1 ]]; then
  awk -v b="$wal_bytes" -v s="$a_sps" -v d="$DURATION" 'BEGIN {
    printf "aggregator write-ahead log: %.0f MiB, %.1f bytes a sample\n", b / 1048576, (s > 0 ? b / (s * d) : 0) }'
else
  echo "aggregator without a data directory (DATA_DIR=0): no write-ahead log"
fi
awk -v a="$a_eff" -v p="$p_eff" 'BEGIN {
  printf "goal >= 1e6 samples per CPU-second: %.0f -> %s\n", a, (a >= 1e6 ? "met" : "MISSED");
  printf "goal >= 3x Prometheus per CPU-second: %.2fx -> %s\n", (p > 0 ? a / p : 0), (p > 0 && a >= 3 * p ? "met" : "MISSED") }'
