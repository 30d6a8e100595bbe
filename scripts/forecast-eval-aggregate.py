#!/usr/bin/env python3
"""Aggregates prescale-sim --summary-csv files (FAMILY__SERIES:COLUMN@HORIZON.csv)
into the markdown tables of docs/forecasting.md: per family and overall, auto against
the best PromQL function in hindsight (prom_best) and against the statsmodels anchor
(sm_best, when scripts/forecast_anchor.py joined its rows), auto's interval coverage,
auto against naive, then the medians and the per-series tables.

Usage: forecast-eval-aggregate.py DIR "5m 15m 1h" [--half first|second]
"""
import argparse
import csv
import glob
import math
import os
import statistics

SHORT = {"seasonal_naive": "snaive", "holt_winters": "hw"}
# The goals: median per-series MAE ratio at these horizons.
GOAL_HORIZONS = ("15m", "1h")
PROM_GOAL = 0.8
ANCHOR_GOAL = 0.9
COVERAGE_RANGE = (0.85, 0.95)
NAIVE_SLACK = 1.05  # auto "worse than naive" = MAE more than 5% above naive's


def num(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


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


def family_of(series):
    return series.split("/", 1)[0]


def median(values):
    values = [v for v in values if math.isfinite(v)]
    return statistics.median(values) if values else math.nan


def fmt(v, digits=3):
    return "-" if not math.isfinite(v) else f"{v:.{digits}f}"


def models_of(runs):
    """Every model in the run, in the order of the first summary that has it."""
    models = []
    for per_series in runs.values():
        for rows in per_series.values():
            models += [m for m in rows if m not in models]
    return models


def is_prom(model):
    return model.startswith("prom_")


def ratio(rows, model, reference):
    """MAE(model) / MAE(reference) of one series: the MASE ratio (same scale in a series)."""
    if model not in rows or reference not in rows:
        return math.nan
    a, b = num(rows[model]["mase"]), num(rows[reference]["mase"])
    return a / b if b > 0 and math.isfinite(a) else math.nan


def families_of(runs):
    return sorted({family_of(s) for per in runs.values() for s in per})


def groups(runs):
    """(label, series filter) per family, then all."""
    out = [(f, lambda s, f=f: family_of(s) == f) for f in families_of(runs)]
    return out + [("**all**", lambda s: True)]


def intro(runs, half):
    series = sorted({s for per in runs.values() for s in per})
    counts = {}
    for s in series:
        counts[family_of(s)] = counts.get(family_of(s), 0) + 1
    which = {"second": "the **second half** of each series' span (origins from the middle of the span on)",
             "first": "the **first half** of each series' span (origins and their targets before the middle; "
                      "the tuning half)",
             "all": "every origin after the warm-up"}[half]
    text = [f"Rows score {which}: every origin on the series' grid (5 minutes for most series) after one "
            "day of warm-up (fewer, evenly spread, if the run was given --max-origins).",
            ""]
    if half == "second":
        text[-1:] = ["Hyper-parameters (the models' and `auto`'s) were tuned on first halves only "
                     "(`scripts/forecast-eval --half first`); no figure below was looked at while tuning.", ""]
    text += [f"{len(series)} series in {len(counts)} {'family' if len(counts) == 1 else 'families'}: "
             + ", ".join(f"{f} {n}" for f, n in sorted(counts.items())) + ". "
             "`prom_best` = per series and horizon, the member of the PromQL grid (`predict_linear` over "
             "1h, 3h, 12h; `holt_winters` over 3h with sf, tf in {0.1, 0.3, 0.6}) with the lowest MAE over "
             "the scored origins: **chosen in hindsight**, which no operator can do. Ratios are per series "
             "MAE(auto) / MAE(reference) (= the MASE ratio), medians over series; below 1 auto is better."]
    return text


def goal_table(runs, horizons, reference, goal, title, label):
    """Per family and overall: the median per-series ratio auto / reference at each horizon."""
    goal_hs = [h for h in horizons if h in GOAL_HORIZONS]
    out = ["", f"### {title} (goal: median per-series ratio <= {goal} at {', '.join(goal_hs) or '-'})", "",
           f"Cells: median of MAE(auto) / MAE({label}) over the family's series, and the series where auto is "
           "better.", "",
           "| family | series | " + " | ".join(horizons) + " | goal |",
           "|---|---:|" + "---:|" * len(horizons) + "---|"]
    for name, keep in groups(runs):
        cells, missed, n_series = [], [], set()
        for h in horizons:
            ratios = [ratio(r, "auto", reference) for s, r in runs.get(h, {}).items() if keep(s)]
            ratios = [v for v in ratios if math.isfinite(v)]
            n_series.update(s for s in runs.get(h, {}) if keep(s))
            m = median(ratios)
            if h in goal_hs and not (m <= goal):
                missed.append(h)
            better = sum(1 for v in ratios if v < 1)
            cells.append(f"{fmt(m)} ({better}/{len(ratios)})" if ratios else "-")
        status = "-" if not goal_hs else ("met" if not missed else "MISSED at " + ", ".join(missed))
        out.append(f"| {name} | {len(n_series)} | " + " | ".join(cells) + f" | {status} |")
    return out


def ceiling_table(runs, horizons, models, reference="prom_best", goal=PROM_GOAL):
    """Per family and overall: auto's median ratio to `reference` beside what picking one model per
    series in hindsight would give: the best of the library's single models (auto's candidates and
    the others, not auto itself), then, against prom_best, also statsmodels' (sm_ets, sm_theta). A
    selection without hindsight rarely beats that ceiling; where it lies above the goal, no choice
    among these models meets it."""
    library = [m for m in models if not is_prom(m) and not m.startswith("sm_") and m != "auto"]
    anchors = [m for m in models if m in ("sm_ets", "sm_theta", "sm_best")] if reference == "prom_best" else []
    columns = [("library", library)] + ([("library + statsmodels", library + anchors)] if anchors else [])
    goal_hs = ", ".join(h for h in horizons if h in GOAL_HORIZONS) or "-"
    out = ["", f"### What a choice in hindsight would reach (ratio to {reference}; goal {goal} at {goal_hs})", "",
           f"Cells: median over the family's series of MAE(auto) / MAE({reference}), then of the best single "
           f"model's MAE in hindsight / MAE({reference}): " + "; ".join(f"**{name}**" for name, _ in columns) +
           " (" + ", ".join(library) + ("; and " + ", ".join([a for a in anchors if a != "sm_best"] or anchors)
                                         if anchors else "") +
           f"). Chosen after the fact per series and horizon, as {reference} is: a ceiling for any selection "
           "among these models, not a forecaster.", "",
           "| family | " + " | ".join(f"{h}: auto / " + " / ".join(n for n, _ in columns) for h in horizons) + " |",
           "|---|" + "---:|" * len(horizons)]
    for name, keep in groups(runs):
        cells = []
        for h in horizons:
            per = [r for s, r in runs.get(h, {}).items() if keep(s) and reference in r]
            parts = [median([ratio(r, "auto", reference) for r in per])]
            for _, pool in columns:
                values = []
                for r in per:
                    best = min((num(r[m]["mase"]) for m in pool if m in r and math.isfinite(num(r[m]["mase"]))),
                               default=math.nan)
                    ref = num(r[reference]["mase"])
                    values.append(best / ref if ref > 0 else math.nan)
                parts.append(median(values))
            cells.append(" / ".join(fmt(v) for v in parts) if per else "-")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return out


def coverage_table(runs, horizons):
    lo, hi = COVERAGE_RANGE
    out = ["", f"### auto's 90% intervals per family (goal: {100 * lo:.0f}-{100 * hi:.0f}% on every series)", "",
           f"Cells: coverage pooled over the family's forecasts / series outside {100 * lo:.0f}-{100 * hi:.0f}%.",
           "", "| family | " + " | ".join(horizons) + " | goal |", "|---|" + "---:|" * len(horizons) + "---|"]
    for name, keep in groups(runs):
        cells, outside_any = [], 0
        for h in horizons:
            rows = [r["auto"] for s, r in runs.get(h, {}).items() if keep(s) and "auto" in r and r["auto"]["coverage"]]
            cov = [num(r["coverage"]) for r in rows]
            n = [int(r["forecasts"]) for r in rows]
            pooled = sum(c * k for c, k in zip(cov, n)) / sum(n) if sum(n) else math.nan
            outside = [c for c in cov if not lo <= c <= hi]
            outside_any += len(outside)
            cells.append(f"{fmt(100 * pooled, 1)}% / {len(outside)} of {len(cov)}" if cov else "-")
        out.append(f"| {name} | " + " | ".join(cells) + f" | {'met' if outside_any == 0 else 'MISSED'} |")
    return out


def naive_table(runs, horizons):
    out = ["", f"### auto against naive (series where auto's MAE is more than "
           f"{100 * (NAIVE_SLACK - 1):.0f}% above naive's)", "",
           "Cells: such series / series (the worst ratio MAE(auto) / MAE(naive)).", "",
           "| family | " + " | ".join(horizons) + " |", "|---|" + "---:|" * len(horizons)]
    for name, keep in groups(runs):
        cells = []
        for h in horizons:
            ratios = [ratio(r, "auto", "naive") for s, r in runs.get(h, {}).items() if keep(s)]
            ratios = [v for v in ratios if math.isfinite(v)]
            worse = sum(1 for v in ratios if v > NAIVE_SLACK)
            cells.append(f"{worse}/{len(ratios)} ({fmt(max(ratios), 2)})" if ratios else "-")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return out


def median_table(runs, horizons, models):
    out = ["", "### Median MASE per model (over series)", ""]
    out.append("| model | " + " | ".join(horizons) + " |")
    out.append("|---|" + "---:|" * len(horizons))
    for m in models:
        cells = [fmt(median([num(r[m]["mase"]) for r in runs.get(h, {}).values() if m in r])) for h in horizons]
        out.append(f"| {m} | " + " | ".join(cells) + " |")
    return out


def prom_best_counts(runs, horizons):
    counts = {}
    for h in horizons:
        for rows in runs.get(h, {}).values():
            if "prom_best" in rows:
                member = rows["prom_best"]["answering"]
                counts.setdefault(member, {}).setdefault(h, 0)
                counts[member][h] += 1
    if not counts:
        return []
    out = ["", "### Which PromQL setting is prom_best (series per horizon)", "",
           "| setting | " + " | ".join(horizons) + " |", "|---|" + "---:|" * len(horizons)]
    for member in sorted(counts, key=lambda m: -sum(counts[m].values())):
        out.append(f"| {member} | " + " | ".join(str(counts[member].get(h, 0)) for h in horizons) + " |")
    return out


def model_coverage_table(runs, horizons, models):
    out = ["", "### 90% interval coverage per model (goal: 85-95%)", ""]
    out.append("| model | " + " | ".join(f"{h} median / pooled / series in 85-95%" for h in horizons) + " |")
    out.append("|---|" + "---:|" * len(horizons))
    for m in models:
        if is_prom(m) or m.startswith("sm_"):
            continue  # no interval
        cells = []
        for h in horizons:
            rows = [r[m] for r in runs.get(h, {}).values() if m in r and r[m]["coverage"]]
            cov = [num(r["coverage"]) for r in rows]
            n = [int(r["forecasts"]) for r in rows]
            pooled = sum(c * k for c, k in zip(cov, n)) / sum(n) if sum(n) else math.nan
            inside = sum(1 for c in cov if COVERAGE_RANGE[0] <= c <= COVERAGE_RANGE[1])
            cells.append(f"{fmt(100 * median(cov), 1)}% / {fmt(100 * pooled, 1)}% / {inside}/{len(cov)}")
        out.append(f"| {m} | " + " | ".join(cells) + " |")
    return out


def time_table(runs, horizons, models):
    out = ["", "### Median time in the model per forecast (us; Observe and Forecast, fitting included; "
           "prom_best: the whole grid)", ""]
    out.append("| model | " + " | ".join(horizons) + " |")
    out.append("|---|" + "---:|" * len(horizons))
    for m in models:
        cells = []
        for h in horizons:
            per = [1e6 * num(r[m]["fit_s"]) / int(r[m]["forecasts"]) for r in runs.get(h, {}).values()
                   if m in r and int(r[m]["forecasts"]) > 0]
            cells.append(fmt(median(per), 1))
        out.append(f"| {m} | " + " | ".join(cells) + " |")
    return out


def series_tables(runs, horizons, models):
    """Per series: the library's models, prom_best (and sm_best), auto's ratios; the grid's
    members are left out (their medians are above)."""
    shown = [m for m in models if not is_prom(m) and not m.startswith("sm_")]
    shown += [m for m in ("prom_best", "sm_best") if m in models]
    out = []
    for h in horizons:
        per = runs.get(h, {})
        if not per:
            continue
        out += ["", f"### MASE per series, horizon {h}", ""]
        out.append("| series | " + " | ".join(SHORT.get(m, m) for m in shown)
                   + " | prom_best is | auto / prom_best | auto's model | auto coverage |")
        out.append("|---|" + "---:|" * len(shown) + "---|---:|---|---:|")
        for name, rows in sorted(per.items()):
            values = [num(rows[m]["mase"]) if m in rows else math.nan for m in shown]
            best = min((v for v in values if math.isfinite(v)), default=math.nan)
            cells = [f"**{fmt(v)}**" if v == best else fmt(v) for v in values]
            auto = rows.get("auto", {"coverage": "", "answering": "-"})
            cov = num(auto["coverage"]) if auto["coverage"] else math.nan
            member = rows["prom_best"]["answering"] if "prom_best" in rows else "-"
            out.append(f"| {name} | " + " | ".join(cells) + f" | {member} | {fmt(ratio(rows, 'auto', 'prom_best'))} "
                       f"| {auto['answering']} | {fmt(100 * cov, 1)}% |")
    return out


def has_model(runs, model):
    return any(model in r and math.isfinite(num(r[model]["mase"])) for per in runs.values() for r in per.values())


def aggregate(directory, horizons, half):
    runs, skipped = load(directory)
    models = models_of(runs)
    lines = intro(runs, half)
    if has_model(runs, "auto") and has_model(runs, "prom_best"):
        lines += goal_table(runs, horizons, "prom_best", PROM_GOAL, "auto against the best PromQL function in "
                            "hindsight", "prom_best")
    if has_model(runs, "auto") and has_model(runs, "sm_best"):
        lines += goal_table(runs, horizons, "sm_best", ANCHOR_GOAL, "auto against the statsmodels anchor's best "
                            "in hindsight", "sm_best")
    if has_model(runs, "auto") and has_model(runs, "prom_best"):
        lines += ceiling_table(runs, horizons, models)
    if has_model(runs, "auto") and has_model(runs, "sm_best"):
        lines += ceiling_table(runs, horizons, models, "sm_best", ANCHOR_GOAL)
    if has_model(runs, "auto"):
        lines += coverage_table(runs, horizons)
        if has_model(runs, "naive"):
            lines += naive_table(runs, horizons)
    lines += median_table(runs, horizons, models)
    lines += prom_best_counts(runs, horizons)
    lines += model_coverage_table(runs, horizons, models)
    lines += time_table(runs, horizons, models)
    if skipped:
        lines += ["", "Not run (horizon shorter than the series' step, or no origin in the half): " +
                  ", ".join(f"{s} @ {h}" for s, h in skipped) + "."]
    lines += series_tables(runs, horizons, models)
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("directory")
    p.add_argument("horizons")
    p.add_argument("--half", choices=("first", "second", "all"), default="second",
                   help="which origins the summaries scored (prescale-sim --half); default second")
    args = p.parse_args(argv)
    print(aggregate(args.directory, args.horizons.split(), args.half))


if __name__ == "__main__":
    main()
