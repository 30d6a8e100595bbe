#!/usr/bin/env bash
# A fleet of simulated agents against one prescale-aggregator on this machine:
# NODES nodes x SERIES series each (200 cgroups x ~25 series = 5000), one push
# per node every INTERVAL seconds, for DURATION seconds. Reports whether the
# aggregator keeps up (rounds finished late), its CPU (cores), peak RSS,
# series held, samples/s and RSS bytes per series, with progress every 10 s; at the end
# what one series and one sample cost (the per-series figures of docs/ha.md's sizing):
# RSS and the store's own accounting (prescale_aggregator_store_bytes) per series, and
# aggregator CPU per sample.
#   BUILD_DIR=build NODES=500 SERIES=5000 INTERVAL=10 DURATION=300 CONNECTIONS=4 RETENTION=15m DATA_DIR=0
#   LABELS=short
# (RETENTION is the aggregator's raw_retention; run longer than it to see the steady state.
# DATA_DIR=1: the aggregator gets a data directory, as in production: every push goes to the
# write-ahead log first, and the store is snapshotted every minute. LABELS=kubernetes: the label
# set the agent gives a pod's container, about 486 bytes a series instead of 115, over the agent's
# 23 container_* names: SERIES=4600 is 200 cgroups; see prescale-bench-remote-write.)
# Goal (issue 3): keeps up within one core and 4 GiB RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
NODES=${NODES:-500}
SERIES=${SERIES:-5000}
INTERVAL=${INTERVAL:-10}
DURATION=${DURATION:-300}
CONNECTIONS=${CONNECTIONS:-4}
RETENTION=${RETENTION:-15m}
DATA_DIR=${DATA_DIR:-0}
LABELS=${LABELS:-short}
LOAD="$BUILD_DIR/bin/prescale-bench-remote-write"
AGG="$BUILD_DIR/bin/prescale-aggregator"
for b in "$LOAD" "$AGG"; do [[ -x "$b" ]] || { echo "missing $b: build first (scripts/build)" >&2; exit 1; }; done
WORK=$(mktemp -d /tmp/prescale-fleet.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
log() { echo "[$(date +%T)] $*" >&2; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
hz=$(getconf CLK_TCK)
cpu_seconds() { awk -v hz="$hz" '{print ($14+$15)/hz}' "/proc/$1/stat"; }
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
# The aggregator takes pushes only with a token: one of its config (checked in memory, as the
# agents' token would be), made fresh for this run and shared by every simulated node; and its
# /metrics only with an admin's or a monitor's: another one, for this script's scrapes.
token=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
monitor=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
printf 'raw_retention: %s\ntokens:\n  - {name: fleet, role: agent, sha256: "sha256:%s"}\n  - {name: scrape, role: monitor, sha256: "sha256:%s"}\n' \
  "$RETENTION" "$(printf %s "$token" | sha256sum | cut -d' ' -f1)" "$(printf %s "$monitor" | sha256sum | cut -d' ' -f1)" \
  >"$WORK/aggregator.yaml"
scrape() { curl -fsS -H "Authorization: Bearer $monitor" "http://127.0.0.1:$port/metrics"; }
metric() { scrape | awk -v m="$1" '$1 == m {print $2}'; }
agg_args=()
[[ "$DATA_DIR" == 1 ]] && agg_args=(--data-dir "$WORK/agg")
"$AGG" --config "$WORK/aggregator.yaml" --listen "127.0.0.1:$port" --max-series 10000000 "${agg_args[@]}" \
  >"$WORK/agg.log" 2>&1 &
agg=$!; pids+=("$agg")
for _ in $(seq 1 50); do curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break; sleep 0.1; done
log "aggregator pid $agg on 127.0.0.1:$port; $NODES nodes x $SERIES series ($LABELS labels) every ${INTERVAL}s for ${DURATION}s" \
  "$([[ "$DATA_DIR" == 1 ]] && echo "(data directory: write-ahead log, snapshots)" || echo "(memory only)")"
c0=$(cpu_seconds "$agg")
"$LOAD" --url "http://127.0.0.1:$port/api/v1/write" --nodes "$NODES" --series "$SERIES" --interval "$INTERVAL" \
  --duration "$DURATION" --connections "$CONNECTIONS" --token "$token" --labels "$LABELS" \
  >"$WORK/load.out" 2>"$WORK/load.err" &
load=$!; pids+=("$load")
start=$(date +%s)
while kill -0 "$load" 2>/dev/null; do
  sleep 10
  kill -0 "$load" 2>/dev/null || break
  log "$(( $(date +%s) - start ))s: series $(metric prescale_aggregator_active_series), demand series $(metric prescale_aggregator_demand_series), raw store $(( $(scrape | awk '$1 == "prescale_aggregator_store_bytes{part=\"raw\"}" {printf "%.0f", $2}') / 1048576 )) MiB, cpu $(awk -v a="$(cpu_seconds "$agg")" -v b="$c0" 'BEGIN{printf "%.1f", a-b}') s, rss $(( $(kib "$agg" VmRSS) / 1024 )) MiB"
done
wait "$load" || true
c1=$(cpu_seconds "$agg")
elapsed=$(( $(date +%s) - start ))
series=$(metric prescale_aggregator_active_series)
hwm=$(kib "$agg" VmHWM); rss=$(kib "$agg" VmRSS); anon=$(kib "$agg" RssAnon)
store_metrics=$(scrape)
raw=$(awk '$1 == "prescale_aggregator_store_bytes{part=\"raw\"}" {printf "%.0f", $2}' <<<"$store_metrics")
rollups=$(awk '$1 == "prescale_aggregator_store_bytes{part=\"rollups\"}" {printf "%.0f", $2}' <<<"$store_metrics")
demand=$(awk '$1 == "prescale_aggregator_demand_series" {print $2}' <<<"$store_metrics")
out=$(cat "$WORK/load.out")
log "load generator: $out $(head -c 300 "$WORK/load.err")"
samples=$(sed -n 's/.*samples_ok=\([0-9]*\).*/\1/p' <<<"$out")
late=$(sed -n 's/.*late_rounds=\([0-9]*\).*/\1/p' <<<"$out")
max_late=$(sed -n 's/.*max_late_ms=\([0-9]*\).*/\1/p' <<<"$out")
echo
awk -v s="$series" -v n="$samples" -v e="$elapsed" -v c0="$c0" -v c1="$c1" -v hwm="$hwm" -v rss="$rss" \
    -v anon="$anon" -v raw="$raw" -v rollups="$rollups" -v demand="$demand" \
    -v late="$late" -v ml="$max_late" 'BEGIN {
  cores = (c1 - c0) / e
  printf "series held               %d\n", s
  printf "samples/s                 %.0f\n", n / e
  printf "aggregator CPU (cores)    %.2f\n", cores
  printf "peak RSS MiB              %.0f\n", hwm / 1024
  printf "RSS at the end MiB        %.0f (anonymous %.0f)\n", rss / 1024, anon / 1024
  printf "RSS bytes per series      %.0f\n", (s > 0 ? rss * 1024 / s : 0)
  printf "store bytes per series    %.0f raw (%.0f MiB); rollups %.1f MiB for %d demand series\n",
    (s > 0 ? raw / s : 0), raw / 1048576, rollups / 1048576, demand
  printf "CPU per sample            %.2f us (%.0f samples per CPU-second)\n",
    (n > 0 ? (c1 - c0) / n * 1e6 : 0), (c1 > c0 ? n / (c1 - c0) : 0)
  printf "rounds finished late      %d (max %d ms)\n", late, ml
  printf "goal: keeps up within one core and 4 GiB: %s\n", (late == 0 && cores <= 1 && hwm <= 4 * 1024 * 1024 ? "met" : "MISSED")
}'
