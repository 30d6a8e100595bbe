#!/usr/bin/env bash
# Side by side: prescale-agent against Debian's prometheus-node-exporter 1.5,
# both scraped every second for DURATION seconds, on loopback.
#
# Creates CGROUPS real cgroups /prescale/bench<i>/svc<j> in every cgroup v1
# hierarchy mounted under CGROUP_ROOT and in the v2 hierarchy (the "unified"
# mount of a hybrid host, or the root of a pure v2 one), starts
#   prescale-agent --interval 1s --listen 127.0.0.1:<port>
#   prometheus-node-exporter --web.listen-address=127.0.0.1:<port2>   (default collectors)
# and scrapes each once a second with curl. After a WARMUP, it measures for
# each process: CPU seconds (utime+stime of /proc/<pid>/stat over CLK_TCK),
# peak RSS (VmHWM), series exported (non-comment lines of one scrape), and
# prints the agent/node_exporter ratios. Builds nothing: run it on a build.
#
# Needs root (cgroup creation). Everything it created is removed on exit.
#
# Environment:
#   BUILD_DIR       build directory holding bin/prescale-agent (default: build, relative to the repo)
#   AGENT           path of prescale-agent (default: $BUILD_DIR/bin/prescale-agent)
#   NODE_EXPORTER   path of node_exporter (default: prometheus-node-exporter from PATH)
#   DURATION        measured seconds (default 60)
#   WARMUP          seconds scraped before measuring (default 5)
#   CGROUPS         cgroups to create (default 200)
#   PER_TENANT      services per bench<i> tenant (default 10)
#   POPULATE        1: put one sleeping process into each cgroup (default 0: empty cgroups).
#                   Moves those processes out of this shell's cgroups in every hierarchy.
#   BUSY            1: the agent reads every cgroup every cycle (skip_idle_cgroups: false), its
#                   cost when all cgroups are busy (the costly files still on detail_interval)
#   KUBERNETES      1: the CGROUPS are pod containers in the kubelet's cgroupfs layout,
#                   <K8S_PREFIX>/kubepods/burstable/pod<uid>/<64-hex id> in every hierarchy, one
#                   container per pod, and the agent reads their metadata (pod_metadata,
#                   kubelet-read-only) from a PodList JSON served on 127.0.0.1 by
#                   `python3 -m http.server`, so its series carry cAdvisor's pod labels
#   K8S_PREFIX      parent of the kubepods tree (default /prescale-bench-k8s)
#   AGENT_FLAGS     more prescale-agent flags, e.g. "--detail-interval 0s" (the costly files every
#                   cycle, as before detail_interval) to compare
#   CGROUP_ROOT     default /sys/fs/cgroup
#   OUT             also write the result table as markdown to this file
#   KEEP_LOGS       1: keep the work directory with both logs and the last scrapes
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$REPO_DIR/$BUILD_DIR"
AGENT="${AGENT:-$BUILD_DIR/bin/prescale-agent}"
NODE_EXPORTER="${NODE_EXPORTER:-$(command -v prometheus-node-exporter || command -v node_exporter || true)}"
DURATION="${DURATION:-60}"
WARMUP="${WARMUP:-5}"
CGROUPS="${CGROUPS:-200}"
PER_TENANT="${PER_TENANT:-10}"
POPULATE="${POPULATE:-0}"
CGROUP_ROOT="${CGROUP_ROOT:-/sys/fs/cgroup}"
KUBERNETES="${KUBERNETES:-0}"
K8S_PREFIX="${K8S_PREFIX:-/prescale-bench-k8s}"
OUT="${OUT:-}"
KEEP_LOGS="${KEEP_LOGS:-0}"

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $EUID -eq 0 ]] || die "needs root to create cgroups"
[[ -x "$AGENT" ]] || die "no prescale-agent at $AGENT (set BUILD_DIR or AGENT; this script builds nothing)"
[[ -n "$NODE_EXPORTER" && -x "$NODE_EXPORTER" ]] || die "prometheus-node-exporter not found (set NODE_EXPORTER)"
command -v curl >/dev/null || die "curl not found"
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -gt 0 ]] || die "DURATION must be a positive integer, got '$DURATION'"
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "WARMUP must be an integer, got '$WARMUP'"
[[ "$CGROUPS" =~ ^[0-9]+$ && "$PER_TENANT" =~ ^[0-9]+$ && "$PER_TENANT" -gt 0 ]] || die "bad CGROUPS/PER_TENANT"
[[ "$KUBERNETES" != 1 || "$K8S_PREFIX" =~ ^(/[A-Za-z0-9._-]+)+$ ]] || die "K8S_PREFIX must be an absolute path, got '$K8S_PREFIX'"

CLK_TCK="$(getconf CLK_TCK)"
WORK="$(mktemp -d /tmp/prescale-vs-ne.XXXXXX)"
AGENT_PID=""
NE_PID=""
PODS_PID=""  # the http.server serving the PodList (KUBERNETES=1)
SLEEP_PIDS=()
CREATED=()  # cgroup directories this script created, in creation order

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  for pid in $AGENT_PID $NE_PID $PODS_PID; do
    kill "$pid" 2>/dev/null
  done
  for pid in "${SLEEP_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in $AGENT_PID $NE_PID $PODS_PID "${SLEEP_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  # Deepest first: the reverse of the creation order (parents were created before children).
  local left=0 i
  for ((i = ${#CREATED[@]} - 1; i >= 0; i--)); do
    local d="${CREATED[i]}" tries=0
    while [[ -d "$d" ]] && ! rmdir "$d" 2>/dev/null; do
      # A killed task may take a moment to leave its cgroup.
      ((tries++ < 50)) || { log "could not remove $d"; left=$((left + 1)); break; }
      sleep 0.1
    done
  done
  ((${#CREATED[@]} == 0)) || log "removed $((${#CREATED[@]} - left)) of ${#CREATED[@]} cgroup directories created"
  if [[ "$KEEP_LOGS" == 1 ]]; then
    log "logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Hierarchy roots: every cgroup v1 mount and the cgroup2 mount under CGROUP_ROOT
# (one mount point per superblock, so co-mounts such as cpu,cpuacct count once).
hierarchies() {
  awk -v root="$CGROUP_ROOT" '{
      sep = 0; for (i = 1; i <= NF; i++) if ($i == "-") { sep = i; break }
      if (sep == 0) next
      fstype = $(sep + 1); mnt = $5
      if (fstype != "cgroup" && fstype != "cgroup2") next
      if (mnt != root && index(mnt, root "/") != 1) next
      if (seen[$3]++) next
      print mnt
    }' /proc/self/mountinfo
}

mkcg() {  # mkdir one cgroup, remembering it only when this script created it
  if [[ ! -d "$1" ]]; then
    mkdir "$1" || die "cannot create cgroup $1"
    CREATED+=("$1")
  fi
}

# KUBERNETES=1: the pods' PodList JSON in $WORK/www/pods, as the kubelet's /pods answers it
# (one Deployment of PER_TENANT pods per namespace bench<i>, one container each, Burstable),
# and "<pod uid> <container id>" lines on stdout, ids derived from the index so runs agree.
write_pod_list() {
  mkdir -p "$WORK/www"
  python3 - "$CGROUPS" "$PER_TENANT" "$WORK/www/pods" <<'PY'
import hashlib, json, sys
count, per_ns, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
items = []
for i in range(count):
    ns, k = "bench%d" % (i // per_ns), i % per_ns
    uid = "%08x-0000-4000-8000-%012x" % (0x5ca1e000, i)
    cid = hashlib.sha256(b"prescale-bench-%d" % i).hexdigest()
    tmpl = hashlib.sha256(ns.encode()).hexdigest()[:10]
    deployment, image = "svc", "registry.example/bench/svc:1.%d" % (i // per_ns)
    items.append({
        "metadata": {"name": "%s-%s-%05d" % (deployment, tmpl, k), "namespace": ns, "uid": uid,
                     "labels": {"app": deployment, "pod-template-hash": tmpl},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                          "name": "%s-%s" % (deployment, tmpl), "uid": "rs-" + ns,
                                          "controller": True, "blockOwnerDeletion": True}]},
        "spec": {"nodeName": "bench", "containers": [{"name": "app", "image": image}]},
        "status": {"phase": "Running", "qosClass": "Burstable",
                   "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0, "image": image,
                                          "imageID": image + "@sha256:" + cid[:12],
                                          "containerID": "containerd://" + cid, "started": True}]},
    })
    print(uid, cid)
with open(out, "w") as f:
    json.dump({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}, f)
PY
}

create_pod_cgroups() {
  local h uid cid dir part line
  local -a pods parts
  mapfile -t pods < <(write_pod_list)
  ((${#pods[@]} == CGROUPS)) || die "could not write the PodList"
  for h in "${HIERARCHIES[@]}"; do
    dir="$h"
    IFS=/ read -r -a parts <<<"${K8S_PREFIX#/}/kubepods/burstable"
    for part in "${parts[@]}"; do
      dir="$dir/$part"
      mkcg "$dir"
    done
    for line in "${pods[@]}"; do
      read -r uid cid <<<"$line"
      mkcg "$dir/pod$uid"
      mkcg "$dir/pod$uid/$cid"
    done
  done
  POD_CGROUPS=("${pods[@]}")
  log "created $CGROUPS pod container cgroups $K8S_PREFIX/kubepods/burstable/pod<uid>/<id> in ${#HIERARCHIES[@]} hierarchies: ${HIERARCHIES[*]}"
}

create_cgroups() {
  local h t s n=0
  mapfile -t HIERARCHIES < <(hierarchies)
  ((${#HIERARCHIES[@]} > 0)) || die "no cgroup hierarchy mounted under $CGROUP_ROOT"
  if [[ "$KUBERNETES" == 1 ]]; then
    create_pod_cgroups
    populate
    return
  fi
  local tenants=$(((CGROUPS + PER_TENANT - 1) / PER_TENANT))
  for h in "${HIERARCHIES[@]}"; do
    mkcg "$h/prescale"
    n=0
    for ((t = 0; t < tenants && n < CGROUPS; t++)); do
      mkcg "$h/prescale/bench$t"
      for ((s = 0; s < PER_TENANT && n < CGROUPS; s++, n++)); do
        mkcg "$h/prescale/bench$t/svc$s"
      done
    done
  done
  log "created $CGROUPS cgroups /prescale/bench<i>/svc<j> in ${#HIERARCHIES[@]} hierarchies: ${HIERARCHIES[*]}"
  populate
}

leaf_cgroups() {  # the CGROUPS leaves, relative to a hierarchy root
  local t s n=0 uid cid line
  if [[ "$KUBERNETES" == 1 ]]; then
    for line in "${POD_CGROUPS[@]}"; do
      read -r uid cid <<<"$line"
      echo "$K8S_PREFIX/kubepods/burstable/pod$uid/$cid"
    done
    return
  fi
  for ((t = 0; n < CGROUPS; t++)); do
    for ((s = 0; s < PER_TENANT && n < CGROUPS; s++, n++)); do echo "/prescale/bench$t/svc$s"; done
  done
}

populate() {
  [[ "$POPULATE" == 1 ]] || return 0
  local cg h
  while read -r cg; do
    sleep 1000000 &
    local pid=$!
    SLEEP_PIDS+=("$pid")
    for h in "${HIERARCHIES[@]}"; do
      echo "$pid" >"$h$cg/cgroup.procs" 2>/dev/null || true
    done
  done < <(leaf_cgroups)
  log "one sleeping process in each cgroup"
}

cpu_ticks() {  # utime + stime (fields 14 and 15; comm may hold spaces, so cut at the last ')')
  local stat
  stat="$(<"/proc/$1/stat")" || return 1
  stat="${stat##*) }"
  local -a f
  read -r -a f <<<"$stat"
  echo $((f[11] + f[12]))
}

status_kb() {  # a kB field of /proc/<pid>/status, e.g. VmHWM
  awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

alive() { kill -0 "$1" 2>/dev/null; }

wait_http() {  # url pid name
  local deadline=$((SECONDS + 15))
  until curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null; do
    alive "$2" || die "$3 exited; its log: $(tail -n 5 "$WORK/$3.log")"
    ((SECONDS < deadline)) || die "$3 did not answer on $1 within 15 s"
    sleep 0.2
  done
}

scrape() {  # url file -> prints seconds taken
  curl -fsS --max-time 5 -o "$2" -w '%{time_total}\n' "$1" || echo "fail"
}

series_of() { grep -cv -e '^#' -e '^[[:space:]]*$' "$1" || true; }

create_cgroups

AGENT_PORT="$(free_port)"
NE_PORT="$(free_port)"
while [[ "$NE_PORT" == "$AGENT_PORT" ]]; do NE_PORT="$(free_port)"; done
AGENT_URL="http://127.0.0.1:$AGENT_PORT/metrics"
NE_URL="http://127.0.0.1:$NE_PORT/metrics"

# KUBERNETES=1: the PodList, served on loopback only, as a kubelet's read-only port would.
if [[ "$KUBERNETES" == 1 ]]; then
  PODS_PORT="$(free_port)"
  python3 -m http.server --bind 127.0.0.1 --directory "$WORK/www" "$PODS_PORT" >"$WORK/pods_server.log" 2>&1 &
  PODS_PID=$!
  wait_http "http://127.0.0.1:$PODS_PORT/pods" "$PODS_PID" pods_server
  log "PodList of $CGROUPS pods served by python3 http.server pid $PODS_PID on 127.0.0.1:$PODS_PORT"
fi

agent_config=()
: >"$WORK/agent.yaml"
[[ "${BUSY:-0}" == 1 ]] && printf 'skip_idle_cgroups: false\n' >>"$WORK/agent.yaml"
if [[ "$KUBERNETES" == 1 ]]; then
  printf 'pod_metadata: {source: kubelet-read-only, url: "http://127.0.0.1:%s/pods"}\n' "$PODS_PORT" >>"$WORK/agent.yaml"
fi
[[ -s "$WORK/agent.yaml" ]] && agent_config=(--config "$WORK/agent.yaml")
read -r -a agent_flags <<<"${AGENT_FLAGS:-}"
"$AGENT" "${agent_config[@]}" "${agent_flags[@]}" --interval 1s --listen "127.0.0.1:$AGENT_PORT" --cgroup-root "$CGROUP_ROOT" \
  --node bench >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
"$NODE_EXPORTER" --web.listen-address="127.0.0.1:$NE_PORT" >"$WORK/node_exporter.log" 2>&1 &
NE_PID=$!
log "prescale-agent pid $AGENT_PID on 127.0.0.1:$AGENT_PORT ($AGENT)"
log "node_exporter pid $NE_PID on 127.0.0.1:$NE_PORT ($NODE_EXPORTER, $("$NODE_EXPORTER" --version 2>&1 | head -n1))"
wait_http "http://127.0.0.1:$AGENT_PORT/readyz" "$AGENT_PID" agent
wait_http "$NE_URL" "$NE_PID" node_exporter

# One scrape of each per second, on a fixed schedule (a slow scrape does not shift the next ones).
declare -A SCRAPE_SUM=([agent]=0 [ne]=0) SCRAPE_MAX=([agent]=0 [ne]=0) SCRAPE_FAIL=([agent]=0 [ne]=0)
SCRAPES=0
now_us() { local t=$EPOCHREALTIME; echo $((${t%.*} * 1000000 + 10#${t#*.})); }
scrape_both() {
  local ta tn
  ta="$(scrape "$AGENT_URL" "$WORK/agent.prom")"
  tn="$(scrape "$NE_URL" "$WORK/node_exporter.prom")"
  [[ "$1" == measure ]] || return 0
  SCRAPES=$((SCRAPES + 1))
  local k t
  for k in agent ne; do
    [[ $k == agent ]] && t=$ta || t=$tn
    if [[ "$t" == fail ]]; then
      SCRAPE_FAIL[$k]=$((SCRAPE_FAIL[$k] + 1))
      continue
    fi
    SCRAPE_SUM[$k]="$(awk -v a="${SCRAPE_SUM[$k]}" -v b="$t" 'BEGIN { printf "%.6f", a + b }')"
    SCRAPE_MAX[$k]="$(awk -v a="${SCRAPE_MAX[$k]}" -v b="$t" 'BEGIN { printf "%.6f", (b > a ? b : a) }')"
  done
}
run_phase() {  # seconds mode
  local start i next now
  start=$(now_us)
  for ((i = 1; i <= $1; i++)); do
    scrape_both "$2"
    alive "$AGENT_PID" || die "prescale-agent exited: $(tail -n 5 "$WORK/agent.log")"
    alive "$NE_PID" || die "node_exporter exited: $(tail -n 5 "$WORK/node_exporter.log")"
    if [[ "$2" == measure ]] && ((i % 10 == 0)); then
      log "$(printf '%3d/%ds  agent %.2f cpu-s %5.1f MiB rss | node_exporter %.2f cpu-s %5.1f MiB rss' "$i" "$1" \
        "$(awk -v t=$(($(cpu_ticks "$AGENT_PID") - AGENT_T0)) -v h="$CLK_TCK" 'BEGIN { print t / h }')" \
        "$(awk -v k="$(status_kb "$AGENT_PID" VmRSS)" 'BEGIN { print k / 1024 }')" \
        "$(awk -v t=$(($(cpu_ticks "$NE_PID") - NE_T0)) -v h="$CLK_TCK" 'BEGIN { print t / h }')" \
        "$(awk -v k="$(status_kb "$NE_PID" VmRSS)" 'BEGIN { print k / 1024 }')")"
    fi
    next=$((start + i * 1000000))
    now=$(now_us)
    if ((next > now)); then sleep "$(awk -v us=$((next - now)) 'BEGIN { printf "%.6f", us / 1e6 }')"; fi
  done
}

log "warm-up: ${WARMUP}s of scrapes, not measured"
AGENT_T0=0 NE_T0=0
run_phase "$WARMUP" warmup
AGENT_T0="$(cpu_ticks "$AGENT_PID")"
NE_T0="$(cpu_ticks "$NE_PID")"
log "measuring ${DURATION}s: agent every 1s collection, both scraped every second"
run_phase "$DURATION" measure
AGENT_T1="$(cpu_ticks "$AGENT_PID")"
NE_T1="$(cpu_ticks "$NE_PID")"

AGENT_HWM="$(status_kb "$AGENT_PID" VmHWM)"
NE_HWM="$(status_kb "$NE_PID" VmHWM)"
AGENT_RSS="$(status_kb "$AGENT_PID" VmRSS)"
NE_RSS="$(status_kb "$NE_PID" VmRSS)"
# VmRSS = RssAnon (the process's own heap and stacks) + RssFile (pages of its binary and
# shared libraries, shared with every process that maps them) + RssShmem.
AGENT_ANON="$(status_kb "$AGENT_PID" RssAnon)"
NE_ANON="$(status_kb "$NE_PID" RssAnon)"
AGENT_FILE="$(status_kb "$AGENT_PID" RssFile)"
NE_FILE="$(status_kb "$NE_PID" RssFile)"
scrape_both final >/dev/null
AGENT_SERIES="$(series_of "$WORK/agent.prom")"
NE_SERIES="$(series_of "$WORK/node_exporter.prom")"
AGENT_BYTES="$(stat -c %s "$WORK/agent.prom")"
NE_BYTES="$(stat -c %s "$WORK/node_exporter.prom")"
INCLUDED="$(awk '/^prescale_agent_cgroups_tracked\{.*state="included"/ { print $NF }' "$WORK/agent.prom")"
# KUBERNETES=1: how many of the pods' CPU series carry their pod's name (joined to the PodList).
LABELLED="$(grep -c '^container_cpu_usage_seconds_total{.*pod="svc-' "$WORK/agent.prom" || true)"
AGENT_THREADS="$(status_kb "$AGENT_PID" Threads)"
NE_THREADS="$(status_kb "$NE_PID" Threads)"

table() {  # $1: "text" or "md"
  awk -v fmt="$1" -v dur="$DURATION" -v tck="$CLK_TCK" \
    -v at=$((AGENT_T1 - AGENT_T0)) -v nt=$((NE_T1 - NE_T0)) \
    -v ah="$AGENT_HWM" -v nh="$NE_HWM" -v ar="$AGENT_RSS" -v nr="$NE_RSS" \
    -v aa="$AGENT_ANON" -v na="$NE_ANON" -v af2="$AGENT_FILE" -v nf2="$NE_FILE" \
    -v as="$AGENT_SERIES" -v ns="$NE_SERIES" -v ab="$AGENT_BYTES" -v nb="$NE_BYTES" \
    -v athr="$AGENT_THREADS" -v nthr="$NE_THREADS" -v n="$SCRAPES" \
    -v asum="${SCRAPE_SUM[agent]}" -v nsum="${SCRAPE_SUM[ne]}" -v amax="${SCRAPE_MAX[agent]}" -v nmax="${SCRAPE_MAX[ne]}" \
    -v af="${SCRAPE_FAIL[agent]}" -v nf="${SCRAPE_FAIL[ne]}" '
    function ratio(a, b) { return b > 0 ? sprintf("%.3f", a / b) : "n/a" }
    function row(name, a, b, r) {
      if (fmt == "md") printf "| %s | %s | %s | %s |\n", name, a, b, r
      else printf "%-28s %16s %16s %10s\n", name, a, b, r
    }
    BEGIN {
      acpu = at / tck; ncpu = nt / tck
      if (fmt == "md") { print "| metric | prescale-agent | node_exporter 1.5 | agent / node_exporter |"; print "|---|---:|---:|---:|" }
      else row("", "prescale-agent", "node_exporter", "ratio")
      row(sprintf("CPU seconds in %ds", dur), sprintf("%.2f", acpu), sprintf("%.2f", ncpu), ratio(acpu, ncpu))
      row("CPU % of one core", sprintf("%.2f", 100 * acpu / dur), sprintf("%.2f", 100 * ncpu / dur), ratio(acpu, ncpu))
      row("peak RSS MiB (VmHWM)", sprintf("%.2f", ah / 1024), sprintf("%.2f", nh / 1024), ratio(ah, nh))
      row("RSS MiB at end (VmRSS)", sprintf("%.2f", ar / 1024), sprintf("%.2f", nr / 1024), ratio(ar, nr))
      row("  of it anonymous (RssAnon)", sprintf("%.2f", aa / 1024), sprintf("%.2f", na / 1024), ratio(aa, na))
      row("  of it files (RssFile)", sprintf("%.2f", af2 / 1024), sprintf("%.2f", nf2 / 1024), ratio(af2, nf2))
      row("series exported", as, ns, ratio(as, ns))
      row("scrape bytes", ab, nb, ratio(ab, nb))
      row("mean scrape ms (curl)", n > af ? sprintf("%.2f", 1000 * asum / (n - af)) : "n/a",
          n > nf ? sprintf("%.2f", 1000 * nsum / (n - nf)) : "n/a", (n > af && n > nf && nsum > 0) ? ratio(asum / (n - af), nsum / (n - nf)) : "n/a")
      row("max scrape ms (curl)", sprintf("%.2f", 1000 * amax), sprintf("%.2f", 1000 * nmax), ratio(amax, nmax))
      row("failed scrapes", af "/" n, nf "/" n, "")
      row("threads", athr, nthr, "")
    }'
}

goals() {  # idle cgroups: half node_exporter's CPU; every cgroup busy (BUSY=1): at most its CPU
  awk -v at=$((AGENT_T1 - AGENT_T0)) -v nt=$((NE_T1 - NE_T0)) -v ah="$AGENT_HWM" -v goal="$([[ ${BUSY:-0} == 1 ]] && echo 1.0 || echo 0.5)" '
    BEGIN {
      r = nt > 0 ? at / nt : 0
      printf "goal CPU <= %s x node_exporter: %.3f -> %s\n", goal, r, (r <= goal + 0 ? "met" : "MISSED")
      printf "goal peak RSS <= 12 MiB: %.2f MiB -> %s\n", ah / 1024, (ah <= 12 * 1024 ? "met" : "MISSED")
    }'
}

if [[ "$KUBERNETES" == 1 ]]; then
  LAYOUT="pod containers $K8S_PREFIX/kubepods/burstable/pod<uid>/<id>, pod metadata from a kubelet-read-only stand-in, ${LABELLED:-0} labelled with their pod"
else
  LAYOUT="/prescale/bench<i>/svc<j>"
fi
SETUP="$CGROUPS cgroups ($LAYOUT, $([[ $POPULATE == 1 ]] && echo 'one process each' || echo 'empty')) in ${#HIERARCHIES[@]} hierarchies; $([[ ${BUSY:-0} == 1 ]] && echo 'BUSY: skip_idle_cgroups false; ')$([[ -n ${AGENT_FLAGS:-} ]] && echo "agent flags: $AGENT_FLAGS; ")agent tracks ${INCLUDED:-?} included cgroups; interval 1s; both scraped every 1s for ${DURATION}s after ${WARMUP}s warm-up; $(nproc) CPUs, kernel $(uname -r)"
echo
echo "$SETUP"
table text
goals
if [[ -n "$OUT" ]]; then
  {
    echo "## prescale-agent vs node_exporter 1.5 ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo "$SETUP."
    echo
    table md
    echo
    goals | sed 's/^/- /'
  } >"$OUT"
  log "wrote $OUT"
fi
