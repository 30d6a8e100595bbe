#!/usr/bin/env bash
# Does a receiver hold a fleet's connections? The same load (prescale-bench-connections) against
# Prometheus 2.42's remote-write receiver and then prescale-aggregator, one after the other, on
# loopback, first over plain HTTP and then over TLS:
#   - CONNECTIONS kept-alive pushers, each sending SERIES series x 1 sample (its own series, label
#     conn="<i>") every INTERVAL seconds, spread evenly over the interval;
#   - SLOWLORIS connections, each sending one byte of a never-ending request header every 5 s,
#     reopened when the receiver closes them (closes counted);
#   - a health probe every 100 ms on a fresh connection (/-/healthy, /healthz);
#   - RAMP seconds to open everything, then DURATION seconds measured.
# Every connection comes from loopback, so the pushers are spread over the source addresses
# 127.0.0.2 ... 127.0.0.(SOURCE_ADDRESSES+1), 100 connections per address by default (bound before
# connect): a receiver's per-client connection limits then see 20 clients, as they would see a
# fleet of 2,000 nodes, not one. The slowloris connections all come from 127.0.0.250 (one attacker).
# Prints for each receiver: push and health-probe latency (p50/p99/max; failed attempts included
# at the time they took), pushes ok/failed, slowloris connections the receiver closed, receiver
# CPU seconds over the measured window (utime+stime) and peak RSS (VmHWM); then one table and the
# goals: the aggregator's p99 push and health latency <= 100 ms, its CPU <= Prometheus's.
#   BUILD_DIR=build  DURATION=60  RAMP=10  CONNECTIONS=2000  SLOWLORIS=200  SERIES=50  INTERVAL=10
#   TIMEOUT=10 (every push and probe)  SOURCE_ADDRESSES=(CONNECTIONS/100)  TLS=both|0|1
#   PROM_MAX_CONNECTIONS=4096: Prometheus's --web.max-connections (its default, 512, cannot hold
#     2,200 connections; set 512 to see that)
#   AGG_HTTP_THREADS: the aggregator's http_threads (unset: its default)
#   AGG=PATH: the aggregator binary (default $BUILD_DIR/bin/prescale-aggregator)
# Needs an open-file limit above the connection count for both the load and the receivers: the
# script raises it to 65536, or to the hard limit when that is lower.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
DURATION=${DURATION:-60}
RAMP=${RAMP:-10}
CONNECTIONS=${CONNECTIONS:-2000}
SLOWLORIS=${SLOWLORIS:-200}
SERIES=${SERIES:-50}
INTERVAL=${INTERVAL:-10}
TIMEOUT=${TIMEOUT:-10}
SOURCE_ADDRESSES=${SOURCE_ADDRESSES:-$(((CONNECTIONS + 99) / 100))}
TLS=${TLS:-both}
PROM_MAX_CONNECTIONS=${PROM_MAX_CONNECTIONS:-4096}
AGG_HTTP_THREADS=${AGG_HTTP_THREADS:-}
LOAD="$BUILD_DIR/bin/prescale-bench-connections"
AGG=${AGG:-$BUILD_DIR/bin/prescale-aggregator}
for b in "$LOAD" "$AGG"; do
  [[ -x "$b" ]] || { echo "missing $b: ninja -C $BUILD_DIR prescale-bench-connections prescale-aggregator" >&2; exit 1; }
done
for c in prometheus openssl curl python3; do command -v "$c" >/dev/null || { echo "$c is not installed" >&2; exit 1; }; done
case $TLS in both) passes=(plain tls) ;; 0) passes=(plain) ;; 1) passes=(tls) ;; *) echo "TLS=both|0|1" >&2; exit 1 ;; esac

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
nofile=$(ulimit -n)
WORK=$(mktemp -d /tmp/prescale-vs-prom-conn.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
log() { echo "[$(date +%T)] $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_ready() {  # URL PID
  for _ in $(seq 1 200); do
    curl -fsS --cacert "$WORK/cert.pem" -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { echo "receiver exited: see its log" >&2; return 1; }
    sleep 0.1
  done
  echo "receiver did not become ready at $1" >&2; return 1
}
stop() {  # PID: stop a receiver and wait until it is gone, so the next one has the machine
  kill "$1" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  log "pid $1 did not exit within 10 s of SIGTERM: SIGKILL"
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

log "open-file limit (ulimit -n): $nofile (hard $(ulimit -Hn)); $CONNECTIONS pushers from $SOURCE_ADDRESSES source addresses, $SLOWLORIS slowloris from 127.0.0.250"
(( nofile > CONNECTIONS + SLOWLORIS + 200 )) || log "warning: the open-file limit is below the connection count"

# A throwaway self-signed certificate for 127.0.0.1 (ECDSA P-256), trusted by the load and curl.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
printf 'tls_server_config:\n  cert_file: %s\n  key_file: %s\n' "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/web-tls.yml"
printf 'global:\n  scrape_interval: 1h\n' >"$WORK/prometheus.yml"
# The aggregator takes pushes only with a token: one of its config (checked in memory, as an
# agent's token would be), made fresh for this run.
token=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
agg_config() {  # plain|tls
  printf 'tokens:\n  - {name: bench, role: agent, sha256: "sha256:%s"}\n' "$(printf %s "$token" | sha256sum | cut -d' ' -f1)"
  [[ -z $AGG_HTTP_THREADS ]] || printf 'http_threads: %s\n' "$AGG_HTTP_THREADS"
  [[ $1 != tls ]] || printf 'tls_cert: %s\ntls_key: %s\n' "$WORK/cert.pem" "$WORK/key.pem"
}

declare -A R  # R[receiver.pass.key] = value, from the load's key=value line
load() {  # RECEIVER PASS PID WRITE_URL HEALTHZ_URL [LOAD_ARGS...]
  local name=$1 pass=$2 pid=$3 url=$4 healthz=$5 out kv
  shift 5
  log "$name ($pass): ${RAMP}s ramp-up, then ${DURATION}s measured"
  out=$("$LOAD" --url "$url" --healthz-url "$healthz" --connections "$CONNECTIONS" --slowloris "$SLOWLORIS" \
    --series "$SERIES" --interval "$INTERVAL" --duration "$DURATION" --ramp "$RAMP" --timeout "$TIMEOUT" \
    --source-addresses "$SOURCE_ADDRESSES" --receiver-pid "$pid" "$@" 2> >(sed "s/^/    [$name $pass] /" >&2)) || {
    log "$name ($pass): the load generator failed"
    return 0
  }
  log "$name ($pass): $out"
  for kv in $out; do R[$name.$pass.${kv%%=*}]=${kv#*=}; done
}

run_prometheus() {  # PASS
  local pass=$1 port scheme=http web=() pid
  port=$(free_port)
  [[ $pass == plain ]] || { scheme=https; web=(--web.config.file="$WORK/web-tls.yml"); }
  rm -rf "$WORK/prom"
  prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
    --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver \
    --web.max-connections="$PROM_MAX_CONNECTIONS" "${web[@]}" >"$WORK/prom-$pass.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_ready "$scheme://127.0.0.1:$port/-/ready" "$pid" || { tail -5 "$WORK/prom-$pass.log" >&2; return 0; }
  load prometheus "$pass" "$pid" "$scheme://127.0.0.1:$port/api/v1/write" "$scheme://127.0.0.1:$port/-/healthy" \
    --tls-ca "$WORK/cert.pem"
  stop "$pid"
}

run_aggregator() {  # PASS
  local pass=$1 port scheme=http pid
  port=$(free_port)
  [[ $pass == plain ]] || scheme=https
  agg_config "$pass" >"$WORK/aggregator-$pass.yaml"
  rm -rf "$WORK/agg"
  "$AGG" --config "$WORK/aggregator-$pass.yaml" --listen "127.0.0.1:$port" --data-dir "$WORK/agg" \
    >"$WORK/agg-$pass.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_ready "$scheme://127.0.0.1:$port/healthz" "$pid" || { tail -5 "$WORK/agg-$pass.log" >&2; return 0; }
  load aggregator "$pass" "$pid" "$scheme://127.0.0.1:$port/api/v1/write" "$scheme://127.0.0.1:$port/healthz" \
    --tls-ca "$WORK/cert.pem" --token "$token"
  stop "$pid"
}

for pass in "${passes[@]}"; do
  run_prometheus "$pass"
  run_aggregator "$pass"
done

v() { echo "${R[$1]:--}"; }  # a figure, or "-" when that run produced none
echo
echo "$CONNECTIONS pushers ($SERIES series every ${INTERVAL}s) + $SLOWLORIS slowloris + a health probe every 100 ms;" \
  "${DURATION}s measured after ${RAMP}s; timeout ${TIMEOUT}s; open-file limit $nofile;" \
  "Prometheus --web.max-connections=$PROM_MAX_CONNECTIONS; aggregator http_threads ${AGG_HTTP_THREADS:-default}"
header="%-34s"
cols=()
for pass in "${passes[@]}"; do cols+=("prometheus $pass" "aggregator $pass"); header+=" %22s %22s"; done
# shellcheck disable=SC2059
printf "$header\n" "" "${cols[@]}"
row() {  # LABEL KEY...: one cell per receiver and pass, the keys' values joined by "/"
  local label=$1 cells=() pass name k cell
  shift
  for pass in "${passes[@]}"; do
    for name in prometheus aggregator; do
      cell=""
      for k in "$@"; do cell+="${cell:+/}$(v "$name.$pass.$k")"; done
      cells+=("$cell")
    done
  done
  # shellcheck disable=SC2059
  printf "$header\n" "$label" "${cells[@]}"
}
row "pushers open at start/end" pushers_open_start pushers_open_end
row "push p50/p99/max ms" push_p50_ms push_p99_ms push_max_ms
row "pushes ok/failed/not sent" pushes_ok pushes_failed pushes_not_sent
row "healthz p50/p99/max ms" healthz_p50_ms healthz_p99_ms healthz_max_ms
row "healthz ok/failed" healthz_ok healthz_failed
row "slowloris closed by receiver" slowloris_closed
row "slowloris open at start/end" slowloris_open_start slowloris_open_end
row "receiver CPU s (window)" receiver_cpu_s
row "receiver peak RSS MiB" receiver_hwm_mib
row "receiver open files/threads (end)" receiver_fds receiver_threads
row "load generator CPU s (window)" load_cpu_s
for pass in "${passes[@]}"; do
  for name in prometheus aggregator; do
    [[ -z ${R[$name.$pass.push_errors]:-} ]] ||
      echo "$name $pass errors: push ${R[$name.$pass.push_errors]}; healthz ${R[$name.$pass.healthz_errors]}"
  done
done
for pass in "${passes[@]}"; do
  awk -v pass="$pass" -v pp="$(v "aggregator.$pass.push_p99_ms")" -v hp="$(v "aggregator.$pass.healthz_p99_ms")" \
    -v ac="$(v "aggregator.$pass.receiver_cpu_s")" -v pc="$(v "prometheus.$pass.receiver_cpu_s")" \
    -v ao="$(v "aggregator.$pass.pushes_ok")" -v po="$(v "prometheus.$pass.pushes_ok")" \
    -v pf="$(v "aggregator.$pass.pushes_failed")" -v hf="$(v "aggregator.$pass.healthz_failed")" 'BEGIN {
    ok = (pp != "-" && pp >= 0 && pp <= 100 && pf == 0); printf "goal (%s) aggregator p99 push <= 100 ms, none failed: %s ms, %s failed -> %s\n", pass, pp, pf, ok ? "met" : "MISSED"
    ok = (hp != "-" && hp >= 0 && hp <= 100 && hf == 0); printf "goal (%s) aggregator p99 healthz <= 100 ms, none failed: %s ms, %s failed -> %s\n", pass, hp, hf, ok ? "met" : "MISSED"
    # CPU compares only for the same work: a receiver that serves fewer pushes spends less.
    verdict = (ac == "-" || pc == "-") ? "MISSED" : (ao + 0 < po + 0) ? "not comparable (fewer pushes served)" : (ac + 0 <= pc + 0) ? "met" : "MISSED"
    printf "goal (%s) aggregator CPU <= Prometheus CPU: %s s vs %s s for %s vs %s pushes ok -> %s\n", pass, ac, pc, ao, po, verdict }'
done
