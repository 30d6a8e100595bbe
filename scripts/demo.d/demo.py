#!/usr/bin/env python3
"""The prescale demo (scripts/demo): the whole stack on this machine, on loopback.

Started from the repository root by scripts/demo after the build:
  demo.py --duration SECONDS
Starts the aggregator (SQLite in a temporary data dir), the agent, a signing-checking webhook
receiver, Prometheus when installed, and real CPU load in real cgroups
(/prescale/TENANT/SERVICE) replaying ../shared/traces. Shows a live view, writes an HTML
report, and removes every process and cgroup it made, also on Ctrl-C.
"""
import argparse
import csv
import ctypes
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = "build/bin"
CG_ROOT = "/sys/fs/cgroup"
TRACES = "../shared/traces"
STEP_S = 2.0  # one trace row per 2 s
HISTORY_MIN = 180  # trace rows before the replay, one a minute: the history Prometheus starts with

# tenant, service, priority, min, max, trace (file, column), load range in cores
SERVICES = [
    ("shop", "web", "critical", 2, 20, ("nasa_http95/nasa_jul95_requests_1min.csv", "requests", 480), (0.08, 0.38)),
    ("analytics", "etl", "normal", 1, 12, ("bitbrains_rnd/rnd_2013-08_vm338.csv", "cpu_usage_mhz", 300), (0.05, 0.25)),
    ("research", "batch", "low", 1, 12, ("nab_aws/ec2_cpu_utilization_5f5533.csv", "value", 300), (0.12, 0.30)),
    ("research", "scavenger", "best-effort", 1, 8, ("google2019_agg/instance_usage_28days_300s.csv", "avg_cpu", 300),
     (0.08, 0.20)),
]
TENANTS = [("shop", 0.9, 2), ("analytics", 0.5, 1), ("research", 0.25, 1)]  # name, cpu quota cores, weight
CLUSTER_CPU_CORES = 1.2
REQUEST_CORES = 0.05
TARGET_UTIL = 0.7


def log(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent() -> None:
    # Children die with the demo even if it is killed with -9 (PR_SET_PDEATHSIG), and sit in
    # their own process group so that Ctrl-C reaches only the demo, which stops them in order.
    os.setpgrp()
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)
    except OSError:
        pass


def http_get(url: str, token: str = "", timeout: float = 2.0) -> bytes:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


METRIC_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str, names: set) -> list:
    out = []
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        m = METRIC_RE.match(line)
        if not m or m.group(1) not in names:
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        out.append((m.group(1), dict(LABEL_RE.findall(m.group(2) or "")), value))
    return out


# ---------------------------------------------------------------------------- load schedules
def read_trace(path: str, column: str) -> list:
    values = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                values.append(float(row[column]))
            except (KeyError, ValueError):
                pass
    return values


def schedules(steps: int) -> tuple:
    """Per service a list of core fractions, one per step, the HISTORY_MIN rows before them
    (one a minute, same scale), and where they came from."""
    have = os.path.isdir(TRACES)
    if not have:
        log(f"{TRACES} is absent: replaying a synthetic ramp instead of real traces")
    out, hist, sources = {}, {}, {}
    n = HISTORY_MIN + steps
    for k, (tenant, svc, _, _, _, (path, col, offset), (lo, hi)) in enumerate(SERVICES):
        if have:
            start = max(offset - HISTORY_MIN, 0)
            vals = read_trace(os.path.join(TRACES, path), col)[start:offset + steps]
            sources[svc] = (f"{path} ({col}): history rows {start}..{offset - 1}, "
                            f"replayed rows {offset}..{start + len(vals) - 1}")
        else:
            vals = [0.5 + 0.3 * math.sin(2 * math.pi * i / 60.0 + k) for i in range(HISTORY_MIN)]
            vals += [math.sin(math.pi * i / max(steps - 1, 1)) + 0.15 * math.sin(i / 3.0 + k) for i in range(steps)]
            sources[svc] = "synthetic ramp"
        while len(vals) < n:
            vals.append(vals[-1] if vals else 0.5)
        live = vals[HISTORY_MIN:]
        vmin, vmax = min(live), max(live)
        span = (vmax - vmin) or 1.0
        scaled = [min(max(lo + (hi - lo) * (v - vmin) / span, 0.01), 0.9) for v in vals]
        hist[(tenant, svc)] = [round(x, 3) for x in scaled[:HISTORY_MIN]]
        out[(tenant, svc)] = [round(x, 3) for x in scaled[HISTORY_MIN:]]
    return out, hist, sources


def write_history(path: str, hist: dict, end_s: float) -> None:
    """The history as OpenMetrics for promtool: a CPU counter per service, one sample a minute."""
    with open(path, "w") as f:
        f.write("# TYPE container_cpu_usage_seconds counter\n")
        for (tenant, svc), vals in hist.items():
            total = 0.0
            for i, v in enumerate(vals):
                total += v * 60.0
                t = int(end_s - (len(vals) - i) * 60)
                f.write(f'container_cpu_usage_seconds_total{{tenant="{tenant}",service="{svc}",node="history"}} '
                        f"{total:.3f} {t}\n")
        f.write("# EOF\n")


# ---------------------------------------------------------------------------- cgroups
def hierarchies() -> list:
    if os.path.isfile(f"{CG_ROOT}/cgroup.controllers"):
        return [CG_ROOT]
    return [f"{CG_ROOT}/{c}" for c in ("cpu", "cpuacct", "memory", "pids", "unified") if os.path.isdir(f"{CG_ROOT}/{c}")]


class Demo:
    def __init__(self, duration: int):
        self.duration = duration
        self.procs = []  # (name, Popen)
        self.made_cgroups = []  # created directories, in creation order
        self.tmp = tempfile.mkdtemp(prefix="prescale-demo.")
        self.samples = []
        self.actions = []
        self.prom_port = None

    # ---------------------------------------------------------------- processes
    def start(self, name: str, argv: list, log_name: str) -> subprocess.Popen:
        out = open(os.path.join(self.tmp, log_name), "w")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             preexec_fn=die_with_parent)
        self.procs.append((name, p))
        return p

    def wait_http(self, url: str, name: str, p: subprocess.Popen, timeout: float = 20) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited with {p.returncode}; its log: {self.tmp}")
            try:
                http_get(url, timeout=1)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{name} did not answer {url} within {timeout:.0f} s")

    def mkcg(self, path: str) -> None:
        if not os.path.isdir(path):
            os.mkdir(path)
            self.made_cgroups.append(path)

    def cleanup(self) -> None:
        # Load first (so cgroups empty), then the agent (it puts the original CPU quotas back),
        # then the rest; then the cgroups this demo made, innermost first.
        order = sorted(self.procs, key=lambda np: {"load": 0, "agent": 1}.get(np[0].split(":")[0], 2))
        for name, p in order:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for path in reversed(self.made_cgroups):
            for _ in range(50):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                log(f"could not remove cgroup {path}")
        left = [p for p in self.made_cgroups if os.path.isdir(p)]
        log(f"stopped {len(self.procs)} processes, removed {len(self.made_cgroups) - len(left)} of "
            f"{len(self.made_cgroups)} cgroups it made")

    # ---------------------------------------------------------------- setup
    def write_secret(self, name: str, value: str) -> str:
        """A file of the work dir only root can read (0600 from the start), holding `value`."""
        path = os.path.join(self.tmp, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
        return path

    def write_configs(self) -> None:
        # The aggregator takes no request without a token (docs/aggregator.md, "Tokens"): fresh
        # random tokens each run, their SHA-256 in its config, the secrets in 0600 files.
        self.admin_token = secrets.token_hex(24)
        self.agent_token = secrets.token_hex(24)
        self.monitor_token = secrets.token_hex(24)  # Prometheus's scrape of the aggregator's /metrics
        # The web console's sign-in (docs/console.md): an operator and a viewer of the first tenant.
        self.console_tenant = TENANTS[0][0]
        self.operator_token = secrets.token_hex(24)
        self.viewer_token = secrets.token_hex(24)
        self.monitor_token_file = self.write_secret("monitor.token", self.monitor_token)
        self.agent_token_file = self.write_secret("agent.token", self.agent_token)
        self.admin_token_file = self.write_secret("admin.token", self.admin_token)
        self.secret_file = self.write_secret("webhook.secret", secrets.token_hex(32))
        sha = lambda t: "sha256:" + hashlib.sha256(t.encode()).hexdigest()
        cfg = {
            "listen": f"127.0.0.1:{self.agg_port}",
            "data_dir": os.path.join(self.tmp, "aggregator"),
            "tick_interval": "2s",
            "cluster_cpu_cores": CLUSTER_CPU_CORES,
            "capacity_reserve": 0.1,
            "directive_lease": "10s",
            "webhook_timeout": "2s",
            "tokens": [{"name": "demo-admin", "sha256": sha(self.admin_token), "role": "admin"},
                       {"name": "demo-agent", "sha256": sha(self.agent_token), "role": "agent"},
                       {"name": "demo-prometheus", "sha256": sha(self.monitor_token), "role": "monitor"},
                       {"name": "demo-operator", "sha256": sha(self.operator_token), "role": "operator",
                        "tenant": self.console_tenant},
                       {"name": "demo-viewer", "sha256": sha(self.viewer_token), "role": "viewer",
                        "tenant": self.console_tenant}],
            "tenants": [{"name": t, "quotas": {"cpu_cores": q}, "weight": w} for t, q, w in TENANTS],
            "policies": [{"name": "demo", "mode": "predictive", "horizon": "5m", "behavior": {
                "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                            "policies": [{"type": "Pods", "value": 4, "periodSeconds": 10}]},
                "scaleDown": {"stabilizationWindowSeconds": 20, "selectPolicy": "Max",
                              "policies": [{"type": "Percent", "value": 50, "periodSeconds": 10}]}}}],
            "services": [{"tenant": t, "name": s, "priority": pr,
                          "replicas": {"current": mn, "min": mn, "max": mx},
                          "requests": {"cpu_cores": REQUEST_CORES},
                          "target_utilization": {"cpu": TARGET_UTIL}, "policy": "demo",
                          "executor": {"type": "webhook", "url": f"http://127.0.0.1:{self.rx_port}/scale/{t}/{s}",
                                       "secret_file": self.secret_file}}
                         for t, s, pr, mn, mx, _, _ in SERVICES],
        }
        self.agg_config = os.path.join(self.tmp, "aggregator.yaml")
        with open(self.agg_config, "w") as f:
            json.dump(cfg, f, indent=1)  # JSON is YAML
        prom = (f"global: {{scrape_interval: 2s, evaluation_interval: 2s}}\n"
                f"scrape_configs:\n"
                f"  - job_name: prescale-aggregator\n"
                f"    authorization: {{credentials_file: {self.monitor_token_file}}}\n"
                f"    static_configs: [{{targets: ['127.0.0.1:{self.agg_port}']}}]\n"
                f"  - job_name: prescale-agent\n    static_configs: [{{targets: ['127.0.0.1:{self.agent_port}']}}]\n")
        self.prom_config = os.path.join(self.tmp, "prometheus.yml")
        with open(self.prom_config, "w") as f:
            f.write(prom)

    def start_all(self) -> None:
        self.agg_port, self.agent_port, self.rx_port = free_port(), free_port(), free_port()
        self.write_configs()
        self.rx_log = os.path.join(self.tmp, "actions.jsonl")
        open(self.rx_log, "w").close()
        py = sys.executable
        p = self.start("receiver", [py, f"{HERE}/receiver.py", str(self.rx_port), self.secret_file, self.rx_log],
                       "receiver.log")
        log(f"webhook receiver on 127.0.0.1:{self.rx_port} (checks X-Prescale-Signature)")
        steps = int(math.ceil(self.duration / STEP_S)) + 2
        self.schedule, history, self.sources = schedules(steps)

        # Prometheus first, holding three hours of the traces' history (one row a minute, the
        # rows before the replayed ones), so that the aggregator backfills its demand from it
        # and forecasts from the start: it forecasts a series only from 15 minutes of history.
        agg_argv = [f"{BIN}/prescale-aggregator", "--config", self.agg_config]
        prom, promtool = shutil.which("prometheus"), shutil.which("promtool")
        if prom:
            self.prom_port = free_port()
            tsdb = os.path.join(self.tmp, "prometheus")
            os.makedirs(tsdb)
            if promtool:
                om = os.path.join(self.tmp, "history.om")
                write_history(om, history, time.time())
                r = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", om, tsdb],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                if r.returncode == 0:
                    agg_argv += ["--prometheus-url", f"http://127.0.0.1:{self.prom_port}"]
                else:
                    log(f"promtool could not write the history ({r.stderr.strip()[:200]}): no backfill")
            p = self.start("prometheus", [prom, f"--config.file={self.prom_config}", f"--storage.tsdb.path={tsdb}",
                                          f"--web.listen-address=127.0.0.1:{self.prom_port}"], "prometheus.log")
            self.wait_http(f"http://127.0.0.1:{self.prom_port}/-/ready", "prometheus", p, timeout=30)
            log(f"Prometheus on http://127.0.0.1:{self.prom_port} scraping both"
                + (f", with {HISTORY_MIN} minutes of trace history" if len(agg_argv) > 3 else ""))
        else:
            log("prometheus is not installed: skipping it (and the history backfill: no forecasts for 15 minutes)")

        p = self.start("aggregator", agg_argv, "aggregator.log")
        self.wait_http(f"http://127.0.0.1:{self.agg_port}/readyz", "prescale-aggregator", p)
        log(f"prescale-aggregator on 127.0.0.1:{self.agg_port}, SQLite in {self.tmp}/aggregator, tick 2s, "
            f"cluster {CLUSTER_CPU_CORES} cores")
        log(f"tokens (0600): agent {self.agent_token_file}, admin {self.admin_token_file}; e.g. "
            f"curl -H \"Authorization: Bearer $(cat {self.admin_token_file})\" "
            f"127.0.0.1:{self.agg_port}/api/v1/decisions")
        log(f"web console: http://127.0.0.1:{self.agg_port}/ui/ ; sign in with the admin token above, or "
            f"tenant {self.console_tenant}'s operator token {self.operator_token} or viewer token {self.viewer_token}")
        if len(agg_argv) > 3:
            deadline = time.time() + 20
            while time.time() < deadline and "demand series" not in open(os.path.join(self.tmp, "aggregator.log")).read():
                time.sleep(0.5)
            done = [l for l in open(os.path.join(self.tmp, "aggregator.log")) if "backfill" in l]
            log(done[-1].strip() if done else "backfill not finished yet")

        hs = hierarchies()
        self.cg_paths = {}
        for h in hs:
            self.mkcg(f"{h}/prescale")
            for tenant, svc, *_ in SERVICES:
                self.mkcg(f"{h}/prescale/{tenant}")
                self.mkcg(f"{h}/prescale/{tenant}/{svc}")
        log(f"cgroups /prescale/TENANT/SERVICE made under {', '.join(hs)}")
        # The agent starts after the cgroups exist, so its first discovery finds them.
        p = self.start("agent", [f"{BIN}/prescale-agent", "--listen", f"127.0.0.1:{self.agent_port}",
                                 "--interval", "2s", "--node", "prescale-demo",
                                 "--aggregator", f"http://127.0.0.1:{self.agg_port}/api/v1/write",
                                 "--token-file", self.agent_token_file, "--data-dir", os.path.join(self.tmp, "agent"),
                                 "--directives", "true", "--directive-interval", "2s"], "agent.log")
        self.wait_http(f"http://127.0.0.1:{self.agent_port}/healthz", "prescale-agent", p)
        log(f"prescale-agent on 127.0.0.1:{self.agent_port}, pushing every 2s, directives on")

        self.t0 = time.time()
        for tenant, svc, *_ in SERVICES:
            procs = [f"{h}/prescale/{tenant}/{svc}/cgroup.procs" for h in hs]
            sched = ",".join(str(x) for x in self.schedule[(tenant, svc)])
            self.start(f"load:{tenant}/{svc}", [py, f"{HERE}/load.py", str(STEP_S), str(self.t0), sched] + procs,
                       f"load-{tenant}-{svc}.log")
        log("load started: " + "; ".join(f"{s} <- {src}" for s, src in self.sources.items()))

    # ---------------------------------------------------------------- observing
    def observe(self, prev_cpu: dict) -> dict:
        now = time.time()
        row = {"t": now - self.t0, "svc": {}}
        try:
            decisions = json.loads(http_get(f"http://127.0.0.1:{self.agg_port}/api/v1/decisions", self.admin_token))
            decisions = {(d["tenant"], d["service"]): d for d in decisions.get("data", [])}
        except (OSError, ValueError):
            decisions = {}
        cpu, caps = {}, {}
        try:
            text = http_get(f"http://127.0.0.1:{self.agent_port}/metrics").decode()
            for name, labels, v in parse_metrics(text, {"container_cpu_usage_seconds_total",
                                                        "prescale_agent_cpu_cap_cores"}):
                key = (labels.get("tenant", ""), labels.get("service", ""))
                if name == "container_cpu_usage_seconds_total":
                    cpu[key] = cpu.get(key, 0.0) + v
                else:
                    caps[key] = caps.get(key, 0.0) + v
        except OSError:
            pass
        agg = {}
        try:
            text = http_get(f"http://127.0.0.1:{self.agg_port}/metrics", self.monitor_token).decode()
            for name, labels, v in parse_metrics(text, {"prescale_forecast", "prescale_quota_utilization",
                                                        "prescale_throttled"}):
                if name == "prescale_forecast" and labels.get("resource") == "cpu" and labels.get("horizon") == "5m":
                    agg[("fc", labels["tenant"], labels["service"], labels["bound"])] = v
                elif name == "prescale_quota_utilization" and labels.get("resource") == "cpu":
                    row.setdefault("quota", {})[labels["tenant"]] = v
        except OSError:
            pass
        for tenant, svc, *_ in SERVICES:
            k = (tenant, svc)
            d = decisions.get(k, {})
            use = None
            if k in cpu and k in prev_cpu:
                dt = now - prev_cpu["_t"]
                use = max(cpu[k] - prev_cpu[k], 0.0) / dt if dt > 0 else None
            i = min(int(row["t"] / STEP_S), len(self.schedule[k]) - 1)
            row["svc"][f"{tenant}/{svc}"] = {
                "use": use, "target": self.schedule[k][max(i, 0)], "cap": caps.get(k),
                "desired": d.get("desired"), "granted": d.get("to_replicas"), "current": d.get("from_replicas"),
                "constrained": d.get("constrained"), "limited_by": d.get("limited_by"),
                "cap_decided": d.get("cpu_cap_cores"), "driver": d.get("driver"),
                "forecast": d.get("forecast"),
                "fc_point": agg.get(("fc", tenant, svc, "point")), "fc_lower": agg.get(("fc", tenant, svc, "lower")),
                "fc_upper": agg.get(("fc", tenant, svc, "upper")),
            }
        cpu["_t"] = now
        self.samples.append(row)
        return cpu

    def read_actions(self) -> None:
        self.actions = []
        with open(self.rx_log) as f:
            for line in f:
                try:
                    self.actions.append(json.loads(line))
                except ValueError:
                    pass

    def render(self, row: dict) -> None:
        self.read_actions()
        last = {}
        for a in self.actions:
            if a.get("verified"):
                act = a["action"]
                last[f"{act['tenant']}/{act['service']}"] = (a["time"] - self.t0, act)
        fmt = lambda v, p=2: "-" if v is None else f"{v:.{p}f}"
        lines = [f"prescale demo  {row['t']:5.0f}/{self.duration} s  "
                 f"[{'#' * int(30 * min(row['t'] / self.duration, 1)):<30}]  "
                 f"aggregator :{self.agg_port}  agent :{self.agent_port}"
                 + (f"  prometheus :{self.prom_port}" if self.prom_port else ""),
                 f"{'service':<20}{'prio':<12}{'load':>6}{'use':>7}{'fcast':>7}{'want':>6}{'grant':>6}{'run':>5}"
                 f"  {'throttled':<16}last action"]
        for tenant, svc, prio, *_ in SERVICES:
            s = row["svc"][f"{tenant}/{svc}"]
            thr = f"cap {s['cap']:.2f}" if s["cap"] else ("squeezed" if s["constrained"] else "no")
            la = last.get(f"{tenant}/{svc}")
            las = (f"{la[1]['from_replicas']}->{la[1]['to_replicas']} ({la[1]['reason']}) {row['t'] - la[0]:.0f}s ago"
                   if la else "-")
            lines.append(f"{tenant + '/' + svc:<20}{prio:<12}{fmt(s['target']):>6}{fmt(s['use']):>7}"
                         f"{fmt(s['forecast']):>7}{fmt(s['desired'], 0):>6}{fmt(s['granted'], 0):>6}"
                         f"{fmt(s['current'], 0):>5}  {thr:<16}{las}")
        q = row.get("quota", {})
        lines.append("quota used: " + "  ".join(f"{t} {q.get(t, 0) * 100:.0f}% of {c} cores" for t, c, _ in TENANTS)
                     + f"   webhooks verified: {sum(1 for a in self.actions if a.get('verified'))}")
        if sys.stdout.isatty():
            sys.stdout.write("\x1b[H\x1b[2J" + "\n".join(lines) + "\n")
            sys.stdout.flush()
        elif int(row["t"]) % 10 < 2:
            print("\n".join(lines), flush=True)

    def run(self) -> None:
        prev = self.observe({})
        end = self.t0 + self.duration
        while time.time() < end:
            for name, p in self.procs:
                if p.poll() is not None and not name.startswith("load"):
                    raise RuntimeError(f"{name} exited with {p.returncode}; logs in {self.tmp}")
            time.sleep(max(0.0, 2.0 - (time.time() - prev["_t"])))
            prev = self.observe(prev)
            self.render(self.samples[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=120)
    ap.add_argument("--report-dir", default="")
    args = ap.parse_args()
    demo = Demo(args.duration)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt

    # Ctrl-C even when started in the background of a script (where SIGINT starts ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    interrupted = False
    try:
        demo.start_all()
        demo.run()
    except KeyboardInterrupt:
        interrupted = True
        print()
        log("interrupted: cleaning up")
    except RuntimeError as e:
        log(f"error: {e}")
        interrupted = True
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        demo.cleanup()
    if demo.samples:
        demo.read_actions()
        out = args.report_dir or os.path.join(demo.tmp, "report")
        import report
        path = report.write(demo, out, interrupted)
        log(f"report: {path}")
        log(f"logs and data: {demo.tmp}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.dont_write_bytecode = True  # no __pycache__ in the repository
    sys.path.insert(0, HERE)
    sys.exit(main())
