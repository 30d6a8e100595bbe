"""The demo's HTML report: one chart per service (load and use, forecast band, CPU cap,
replicas wanted and granted, actions, the squeeze shaded) and a summary table."""
import base64
import html
import io
import os
import time


def _chart(demo, tenant, svc, prio):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = f"{tenant}/{svc}"
    rows = [r for r in demo.samples if key in r["svc"]]
    t = [r["t"] for r in rows]
    s = [r["svc"][key] for r in rows]
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    a1.plot(t, [x["target"] for x in s], color="0.6", ls="--", label="load replayed (trace)")
    a1.plot(t, [x["use"] if x["use"] is not None else float("nan") for x in s], color="C0", label="CPU use (agent)")
    lo = [x["fc_lower"] if x["fc_lower"] is not None else float("nan") for x in s]
    hi = [x["fc_upper"] if x["fc_upper"] is not None else float("nan") for x in s]
    if any(v == v for v in hi):
        a1.fill_between(t, lo, hi, color="C1", alpha=0.25, label="forecast 5m band")
        a1.plot(t, [x["fc_point"] if x["fc_point"] is not None else float("nan") for x in s], color="C1",
                label="forecast 5m")
    granted_cores = [x["granted"] * demo_request(demo) if x["granted"] is not None else float("nan") for x in s]
    a1.step(t, granted_cores, where="post", color="C2", alpha=0.7, label="granted replicas x request")
    a1.step(t, [x["cap"] if x["cap"] else float("nan") for x in s], where="post", color="C3", lw=2.5, ls="--",
            label="CPU cap in the cgroup (throttled)")
    a1.set_ylabel("cores")
    a1.legend(fontsize=7, loc="upper left")
    a1.set_title(f"{key} ({prio})")
    a2.step(t, [x["desired"] if x["desired"] is not None else float("nan") for x in s], where="post", color="C4",
            label="wanted (before arbitration)")
    a2.step(t, [x["granted"] if x["granted"] is not None else float("nan") for x in s], where="post", color="C2",
            label="granted")
    for a in demo.actions:
        act = a.get("action")
        if a.get("verified") and act and act["tenant"] == tenant and act["service"] == svc:
            at = a["time"] - demo.t0
            a2.annotate("", xy=(at, act["to_replicas"]), xytext=(at, act["from_replicas"]),
                        arrowprops=dict(arrowstyle="->", color="k"))
    for ax in (a1, a2):
        for i, x in enumerate(s):
            if x["constrained"]:
                t1 = t[i + 1] if i + 1 < len(t) else t[i] + 2
                ax.axvspan(t[i], t1, color="red", alpha=0.08, lw=0)
    a2.set_ylim(bottom=0)
    a2.set_ylabel("replicas")
    a2.set_xlabel("seconds since the load started (red: quota or capacity squeeze; arrows: webhook actions)")
    a2.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def demo_request(demo):
    import demo as d
    return d.REQUEST_CORES


def _quota_chart(demo, tenants):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 2.6))
    t = [r["t"] for r in demo.samples]
    for name, quota, _ in tenants:
        ax.plot(t, [100 * r.get("quota", {}).get(name, float("nan")) for r in demo.samples],
                label=f"{name} (quota {quota} cores)")
    ax.axhline(100, color="red", ls=":")
    ax.set_ylabel("% of CPU quota granted")
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def write(demo, out_dir, interrupted):
    import demo as d
    os.makedirs(out_dir, exist_ok=True)
    parts, rows = [], []
    have_plots = True
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        have_plots = False
    for tenant, svc, prio, mn, mx, _, _ in d.SERVICES:
        key = f"{tenant}/{svc}"
        s = [r["svc"][key] for r in demo.samples]
        acts = [a["action"] for a in demo.actions if a.get("verified") and a["action"]["tenant"] == tenant
                and a["action"]["service"] == svc]
        uses = [x["use"] for x in s if x["use"] is not None]
        rows.append((key, prio, f"{mn}-{mx}", f"{(sum(uses) / len(uses)) if uses else 0:.2f}",
                     f"{max(uses) if uses else 0:.2f}",
                     str(max((x["granted"] or 0) for x in s)),
                     str(sum(1 for a in acts if a["to_replicas"] > a["from_replicas"])),
                     str(sum(1 for a in acts if a["to_replicas"] < a["from_replicas"])),
                     f"{2 * sum(1 for x in s if x['constrained'])} s",
                     f"{2 * sum(1 for x in s if x['cap'])} s", html.escape(demo.sources.get(svc, ""))))
        if have_plots:
            png = _chart(demo, tenant, svc, prio)
            name = f"{tenant}-{svc}.png"
            with open(os.path.join(out_dir, name), "wb") as f:
                f.write(png)
            parts.append(f'<h3>{html.escape(key)}</h3><img src="data:image/png;base64,'
                         f'{base64.b64encode(png).decode()}" alt="{html.escape(key)}">')
    if have_plots:
        png = _quota_chart(demo, d.TENANTS)
        with open(os.path.join(out_dir, "quotas.png"), "wb") as f:
            f.write(png)
        parts.insert(0, f'<h3>Tenant CPU quotas</h3><img src="data:image/png;base64,{base64.b64encode(png).decode()}">')
    else:
        parts.append("<p>python3-matplotlib is not installed (scripts/setup installs it): no charts.</p>")
    verified = sum(1 for a in demo.actions if a.get("verified"))
    refused = sum(1 for a in demo.actions if a.get("verified") is False)
    has_fc = any(r["svc"][k]["fc_upper"] is not None for r in demo.samples for k in r["svc"])
    head = ["service", "priority", "replicas min-max", "mean use (cores)", "peak use", "most granted",
            "scale-ups", "scale-downs", "squeezed", "CPU-capped", "load from"]
    table = ("<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"
             + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows) + "</table>")
    summary = [f"Ran {demo.samples[-1]['t']:.0f} s of {demo.duration} s"
               + (" (interrupted)" if interrupted else "") + f", finished {time.strftime('%Y-%m-%d %H:%M:%S')}.",
               f"Cluster: {d.CLUSTER_CPU_CORES} CPU cores less a 10% reserve; each replica requests "
               f"{d.REQUEST_CORES} cores at {d.TARGET_UTIL:.0%} target utilisation; decisions every 2 s.",
               "Tenants: " + ", ".join(f"{t} (CPU quota {q} cores, weight {w})" for t, q, w in d.TENANTS) + ".",
               f"Webhook actions delivered with a valid signature: {verified}; refused: {refused}."]
    if not has_fc:
        summary.append("No forecast: the aggregator forecasts a series only from 15 minutes of history "
                       "(docs/scaling.md), which the demo backfills from Prometheus when it is installed; "
                       "without it services scale on their use until then.")
    else:
        summary.append("Forecasts from the first tick: the aggregator backfilled 3 hours of the traces' "
                       "history from Prometheus.")
    text = ("<!doctype html><meta charset=utf-8><title>prescale demo</title><style>body{font-family:sans-serif;"
            "max-width:1000px;margin:auto}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
            "padding:3px 6px}</style><h1>prescale demo</h1>"
            + "".join(f"<p>{html.escape(x)}</p>" for x in summary) + table + "".join(parts))
    path = os.path.join(out_dir, "index.html")
    with open(path, "w") as f:
        f.write(text)
    with open(os.path.join(out_dir, "summary.txt"), "w") as f:
        f.write("\n".join(summary) + "\n" + "\t".join(head) + "\n" + "\n".join("\t".join(r) for r in rows) + "\n")
    print("\n".join(summary))
    print("\t".join(head[:10]))
    for r in rows:
        print("\t".join(r[:10]))
    return path
