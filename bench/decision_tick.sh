#!/usr/bin/env bash
# A decision tick over 10,000 services on each control store, side by side in one run:
# starts PostgreSQL 15 on a free loopback port in a temporary directory (bench/lib/postgres.sh;
# durable defaults; stopped at exit), runs prescale-bench-decision-tick with
# PRESCALE_BENCH_POSTGRES_URL set to it, and prints the whole tick's wall and CPU time on
# SQLite (a file, synchronous=FULL), SQLite in memory and PostgreSQL, with the goals checked:
# issue 6's 50 ms (SQLite) and issue 17's 100 ms (PostgreSQL). Without PostgreSQL's programs it
# says so and measures SQLite only.
#   BUILD_DIR=build REPETITIONS=3 (Google Benchmark flags after the script's name go to the program)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
REPETITIONS=${REPETITIONS:-3}
BENCH="$BUILD_DIR/bin/prescale-bench-decision-tick"
[[ -x "$BENCH" ]] || { echo "missing $BENCH: build first (scripts/build)" >&2; exit 1; }
source bench/lib/postgres.sh
WORK=$(mktemp -d /tmp/prescale-tick-bench.XXXXXX)
cleanup() { pg_stop; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
log() { echo "[$(date +%T)] $*" >&2; }

if pg_start; then
  log "PostgreSQL $(pg_version) on 127.0.0.1:$PG_PORT (pid $PG_PID)"
  export PRESCALE_BENCH_POSTGRES_URL="$PG_URL"
else
  log "PostgreSQL not measured: $PG_ERROR"
  unset PRESCALE_BENCH_POSTGRES_URL
fi
"$BENCH" --benchmark_repetitions="$REPETITIONS" --benchmark_report_aggregates_only=true \
  --benchmark_out="$WORK/tick.json" --benchmark_out_format=json "$@"

python3 - "$WORK/tick.json" <<'EOF'
import json, sys
runs = json.load(open(sys.argv[1]))["benchmarks"]
stores = [("sqlite", "SQLite file", 50), ("sqlite_memory", "SQLite in memory", 50), ("postgresql", "PostgreSQL", 100)]
def find(store, aggregate):
    # With one repetition there are no aggregates: the run itself stands for both.
    for want in (aggregate, ""):
        for r in runs:
            if (r.get("run_name", r["name"]).startswith(f"BM_DecisionLoopRun/{store}/")
                    and r.get("aggregate_name", "") == want and not r.get("error_occurred")):
                return r
    return None
def error(store):
    for r in runs:
        if r["name"].startswith(f"BM_DecisionLoopRun/{store}/") and r.get("error_occurred"):
            return r.get("error_message", "error")
    return None
rows = [("tick, wall ms (mean)", lambda m, d: f"{m['real_time']:.1f}"),
        ("tick, wall ms (median)", lambda m, d: f"{d['real_time']:.1f}"),
        ("tick, CPU ms of this process (mean)", lambda m, d: f"{m['cpu_time']:.1f}"),
        ("first tick ms", lambda m, d: f"{m.get('first_tick_ms', 0):.0f}"),
        ("  records it wrote", lambda m, d: f"{m.get('first_tick_records', 0):.0f}"),
        ("ticks to settle (10 s apart)", lambda m, d: f"{m.get('settle_ticks', 0):.0f}"),
        ("  records they wrote", lambda m, d: f"{m.get('settle_records', 0):.0f}"),
        ("records per measured tick", lambda m, d: f"{m.get('records_per_tick', 0):.1f}"),
        ("seeding s (10,100 objects)", lambda m, d: f"{m.get('seed_s', 0):.1f}")]
cols = [(name, title, goal, find(name, "mean"), find(name, "median") or find(name, "mean")) for name, title, goal in stores]
print()
print(f"{'BM_DecisionLoopRun, 10,000 services':38}" + "".join(f" | {t:>18}" for _, t, _, _, _ in cols))
for label, f in rows:
    print(f"{label:38}" + "".join(f" | {(f(m, d) if m else '-'):>18}" for _, _, _, m, d in cols))
for name, title, goal, m, d in cols:
    if m is None:
        print(f"{title}: not measured ({error(name) or 'no result'})")
    else:
        ok = m["real_time"] < goal
        print(f"goal, {title}: tick < {goal} ms: {'met' if ok else 'MISSED'} ({m['real_time']:.1f} ms wall, mean)")
EOF
