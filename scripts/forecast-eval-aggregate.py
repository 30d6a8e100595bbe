#!/usr/bin/env python3
"""Aggregates prescale-sim --summary-csv files (SERIES@HORIZON.csv) into the
markdown tables of docs/forecasting.md. Usage: forecast-eval-aggregate.py DIR "5m 15m 1h"."""
import csv
import glob
import math
import os
import statistics
import sys

SHORT = {
    "seasonal_naive": "snaive",
    "holt_winters": "hw",
    "prom_predict_linear": "prom_lin",
    "prom_double_exponential_smoothing": "prom_des",
}
PROM = ["prom_predict_linear", "prom_double_exponential_smoothing"]


def num(text):
    try:
        v = float(text)
    except ValueError:
        return math.nan
    return v


def load(directory):
    """{horizon: {series: {model: row}}}, and the skipped (series, horizon) pairs."""
    runs, skipped = {}, []
    for path in sorted(glob.glob(os.path.join(directory, "*@*.csv"))):
        key, horizon = os.path.basename(path)[:-4].rsplit("@", 1)
        with open(path) as f:
            rows = {r["model"]: r for r in csv.DictReader(f)}
        runs.setdefault(horizon, {})[key.replace("__", "/")] = rows
    for path in sorted(glob.glob(os.path.join(directory, "*@*.skipped"))):
        key, horizon = os.path.basename(path)[:-8].rsplit("@", 1)
        skipped.append((key.replace("__", "/"), horizon))
    return runs, skipped


def median(values):
    values = [v for v in values if math.isfinite(v)]
    return statistics.median(values) if values else math.nan


def fmt(v, digits=3):
    return "-" if not math.isfinite(v) else f"{v:.{digits}f}"


def models_of(runs):
    for per_series in runs.values():
        for rows in per_series.values():
            return list(rows.keys())
    return []


def summary_tables(runs, horizons, models):
    out = ["### Median MASE per model (over series)", ""]
    out.append("| model | " + " | ".join(horizons) + " |")
    out.append("|---|" + "---:|" * len(horizons))
    for m in models:
        cells = [fmt(median([num(r[m]["mase"]) for r in runs.get(h, {}).values()])) for h in horizons]
        out.append(f"| {m} | " + " | ".join(cells) + " |")
    if "auto" not in models or not all(p in models for p in PROM):
        return out  # a partial run (EXTRA="--models ..."): the medians only
    out += ["", "### auto against the better Prometheus function (goal: ratio <= 0.8)", ""]
    out.append("| horizon | series | auto | prom_lin | prom_des | ratio of medians | median per-series ratio "
               "| auto beats both | goal |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for h in horizons:
        per = runs.get(h, {})
        auto = median([num(r["auto"]["mase"]) for r in per.values()])
        proms = [median([num(r[p]["mase"]) for r in per.values()]) for p in PROM]
        better = min(proms)
        ratio = auto / better if better > 0 else math.nan
        per_series = [num(r["auto"]["mase"]) / min(num(r[p]["mase"]) for p in PROM) for r in per.values()]
        wins = sum(1 for r in per.values() if num(r["auto"]["mase"]) < min(num(r[p]["mase"]) for p in PROM))
        goal = "met" if ratio <= 0.8 else "MISSED"
        out.append(f"| {h} | {len(per)} | {fmt(auto)} | {fmt(proms[0])} | {fmt(proms[1])} | {fmt(ratio)} "
                   f"| {fmt(median(per_series))} | {wins}/{len(per)} | {goal} |")
    out += ["", "### 90% interval coverage (goal: 85-95%)", ""]
    out.append("| model | " + " | ".join(f"{h} median / pooled / series in 85-95%" for h in horizons) + " |")
    out.append("|---|" + "---:|" * len(horizons))
    for m in models:
        if m in PROM:
            continue
        cells = []
        for h in horizons:
            rows = [r[m] for r in runs.get(h, {}).values() if r[m]["coverage"]]
            cov = [num(r["coverage"]) for r in rows]
            n = [int(r["forecasts"]) for r in rows]
            pooled = sum(c * k for c, k in zip(cov, n)) / sum(n) if n else math.nan
            inside = sum(1 for c in cov if 0.85 <= c <= 0.95)
            cells.append(f"{fmt(100 * median(cov), 1)}% / {fmt(100 * pooled, 1)}% / {inside}/{len(cov)}")
        out.append(f"| {m} | " + " | ".join(cells) + " |")
    out += ["", "### Median time in the model per forecast (us; Observe and Forecast, fitting included)", ""]
    out.append("| model | " + " | ".join(horizons) + " |")
    out.append("|---|" + "---:|" * len(horizons))
    for m in models:
        cells = []
        for h in horizons:
            per = [1e6 * num(r[m]["fit_s"]) / int(r[m]["forecasts"]) for r in runs.get(h, {}).values()
                   if int(r[m]["forecasts"]) > 0]
            cells.append(fmt(median(per), 1))
        out.append(f"| {m} | " + " | ".join(cells) + " |")
    return out


def series_tables(runs, horizons, models):
    out = []
    for h in horizons:
        per = runs.get(h, {})
        if not per:
            continue
        out += ["", f"### MASE per series, horizon {h}", ""]
        out.append("| series | " + " | ".join(SHORT.get(m, m) for m in models) + " | auto's model | auto coverage |")
        out.append("|---|" + "---:|" * len(models) + "---|---:|")
        for name, rows in sorted(per.items()):
            best = min(num(rows[m]["mase"]) for m in models)
            cells = []
            for m in models:
                v = num(rows[m]["mase"])
                cells.append(f"**{fmt(v)}**" if v == best else fmt(v))
            auto = rows.get("auto", {"coverage": "", "answering": "-"})
            cov = num(auto["coverage"]) if auto["coverage"] else math.nan
            out.append(f"| {name} | " + " | ".join(cells) + f" | {auto['answering']} | {fmt(100 * cov, 1)}% |")
    return out


def main():
    directory, horizons = sys.argv[1], sys.argv[2].split()
    runs, skipped = load(directory)
    models = models_of(runs)
    lines = summary_tables(runs, horizons, models)
    if skipped:
        lines += ["", "Not run (horizon shorter than the series' step): " +
                  ", ".join(f"{s} @ {h}" for s, h in skipped) + "."]
    lines += series_tables(runs, horizons, models)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
