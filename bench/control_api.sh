#!/usr/bin/env bash
# The control API under a mixed load: READ_RPS requests a second reading
# services (GET one, and a page of the list) and WRITE_RPS audited writes
# (PUT replacing a service: a new version and a hash-chained audit record in
# one SQLite transaction, synchronous=FULL), at once, for DURATION seconds,
# with hey (Debian package hey) on loopback. Prints p50/p90/p99 latency of
# each and checks the goals (issue 5): p99 < 10 ms for reads, < 25 ms for writes.
#   BUILD_DIR=build READ_RPS=400 WRITE_RPS=100 DURATION=30
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
READ_RPS=${READ_RPS:-400}
WRITE_RPS=${WRITE_RPS:-100}
DURATION=${DURATION:-30}
AGG="$BUILD_DIR/bin/prescale-aggregator"
[[ -x "$AGG" ]] || { echo "missing $AGG: build first (scripts/build)" >&2; exit 1; }
command -v hey >/dev/null || { echo "hey is not installed (scripts/setup installs it)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/prescale-control-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
log() { echo "[$(date +%T)] $*" >&2; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
mkdir -p "$WORK/data"
# One token would meet the per-token limit: lifted here. hey keeps 30 connections alive; the
# event-driven front end holds no thread for a connection between requests (default threads).
printf 'api_requests_per_second: 0\n' >"$WORK/aggregator.yaml"
token=$("$AGG" token create --role admin --name bench --data-dir "$WORK/data" 2>/dev/null)
"$AGG" --config "$WORK/aggregator.yaml" --listen "127.0.0.1:$port" --data-dir "$WORK/data" >"$WORK/agg.log" 2>&1 &
agg=$!; pids+=("$agg")
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -fsS -o /dev/null "$base/healthz" 2>/dev/null && break; sleep 0.1; done
auth=(-H "Authorization: Bearer $token" -H "Content-Type: application/json")
curl -fsS -o /dev/null "${auth[@]}" -X POST -d '{"name":"acme","quotas":{"cpu_cores":64}}' "$base/api/v1/tenants"
for i in $(seq 1 200); do
  curl -fsS -o /dev/null "${auth[@]}" -X PUT -d '{"priority":"high","replicas":{"min":1,"max":20}}' \
    "$base/api/v1/tenants/acme/services/svc-$i"
done
log "aggregator pid $agg on $base: 1 tenant, 200 services; ${READ_RPS} reads/s + ${WRITE_RPS} writes/s for ${DURATION}s"
# hey paces each worker (-q per worker): 10 workers per kind.
hey -z "${DURATION}s" -c 10 -q $(( READ_RPS / 20 )) "${auth[@]}" "$base/api/v1/tenants/acme/services/svc-7" \
  >"$WORK/read-one.txt" &
r1=$!
hey -z "${DURATION}s" -c 10 -q $(( READ_RPS / 20 )) "${auth[@]}" "$base/api/v1/tenants/acme/services?limit=20" \
  >"$WORK/read-list.txt" &
r2=$!
hey -z "${DURATION}s" -c 10 -q $(( WRITE_RPS / 10 )) -m PUT "${auth[@]}" \
  -d '{"priority":"critical","replicas":{"min":2,"max":30},"requests":{"cpu_cores":0.5}}' \
  "$base/api/v1/tenants/acme/services/svc-42" >"$WORK/write.txt" &
w=$!
c0=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$agg/stat")
for ((s = 10; s < DURATION; s += 10)); do sleep 10; log "${s}s"; done
wait $r1 $r2 $w
c1=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$agg/stat")
# hey prints "  99% in 0.0042 secs" lines and "Requests/sec:" and status code counts.
pct() { awk -v p="$2%" '$1 == p && $2 == "in" {printf "%.2f", $3 * 1000}' "$1"; }
rps() { awk '/Requests\/sec:/ {printf "%.0f", $2}' "$1"; }
codes() { awk '/^  \[[0-9]+\]/ {printf "%s%s x%s", sep, $1, $2; sep=", "}' "$1"; }
verify=$(curl -fsS "${auth[@]}" "$base/api/v1/audit/verify")
echo
printf '%-28s %8s %8s %8s %8s  %s\n' "" "req/s" "p50 ms" "p90 ms" "p99 ms" "statuses"
for kind in read-one read-list write; do
  f="$WORK/$kind.txt"
  printf '%-28s %8s %8s %8s %8s  %s\n' "$kind" "$(rps "$f")" "$(pct "$f" 50)" "$(pct "$f" 90)" "$(pct "$f" 99)" "$(codes "$f")"
done
awk -v a="$c0" -v b="$c1" -v d="$DURATION" 'BEGIN {printf "aggregator CPU              %.2f cores\n", (b - a) / d}'
echo "audit chain                 $verify"
read_p99=$(awk -v a="$(pct "$WORK/read-one.txt" 99)" -v b="$(pct "$WORK/read-list.txt" 99)" 'BEGIN {print (a > b ? a : b)}')
write_p99=$(pct "$WORK/write.txt" 99)
awk -v r="$read_p99" -v w="$write_p99" 'BEGIN {
  printf "goal: reads p99 < 10 ms: %s (%.2f); audited writes p99 < 25 ms: %s (%.2f)\n",
    (r < 10 ? "met" : "MISSED"), r, (w < 25 ? "met" : "MISSED"), w }'
