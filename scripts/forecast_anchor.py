#!/usr/bin/env python3
"""A stronger anchor than PromQL for `prescale-sim forecast`: Debian's statsmodels
ETS and Theta, scored on the same grid, origins and horizons as the sim.

  forecast_anchor.py --trace FILE.csv --horizon 15m[,1h,...] [--column NAME]
      [--time-column NAME] [--row-interval D] [--step D] [--warmup D] [--max-origins N]
      [--half first|second | --score-from F --score-until F]
      [--fit-window D] [--summary-csv FILE] [--output-csv FILE] [--quiet]
  forecast_anchor.py --report SUMMARY_DIR ANCHOR_DIR "5m 15m 1h"

The first form scores one series. The trace is read and regridded as prescale-sim
reads it (a port of sim/src/trace.cc and grid.cc: the median sample interval as the
step, linear interpolation across at most two steps, NaN in longer gaps); the origins
are the sim's (every grid point with a value after the warm-up whose target has a
value, or --max-origins of them evenly spread; --half and --score-from/--score-until
keep the sim's score window: with n grid points, origin k and target k + h in
[floor(from * n), floor(until * n)), so the first half never scores an actual of the
second). The models run only from the first scored origin to the last (their fits
still see all history before). At each origin, from the grid up to
and including the origin only (interior gaps filled linearly):
  sm_ets    statsmodels ETSModel, additive errors, chosen by AIC among no trend,
            additive trend and damped additive trend, each without and (when the fit
            window holds two days) with an additive daily season. Heuristic initial
            states (estimating 288 of them per fit would be slow), counted in the AIC
            as statsmodels counts them under its default estimated initialization.
            Refitted once a day of series time (at the first origin and every day
            after), on at most --fit-window (14d) of history; between refits the new
            points are filtered through the fitted model (fixed parameters).
  sm_theta  statsmodels ThetaModel (theta 2; daily season tested and removed when
            two days exist), refitted every hour of series time, its SES level updated
            with the fitted alpha in between. The forecast is built from
            forecast_components: statsmodels 0.13.5's ThetaModel.forecast adds 1 to
            every forecast when the seasonality test finds no season (upstream 8661).
            A constant window (which statsmodels reads as a trend) gives its value.
  sm_best   per series and horizon, the one of the two with the lower MAE (in hindsight).
Forecasts are floored at 0, as prescale's Forecasters and PromQL baselines are. A fit
that fails leaves its origins to the last value (counted on stderr).
--summary-csv writes prescale-sim's summary shape (model,answering,forecasts,mase,
smape,rmse,coverage,fit_s; no interval, so coverage is empty; fit_s is the whole run's
time in the model, shared by its horizons); with several horizons, "{h}" in the path
is replaced by each. --output-csv likewise writes every forecast in the sim's shape.

The second form is for scripts/forecast-eval: it appends the anchor's rows to the
sim's summaries (SUMMARY_DIR/KEY@H.csv, so the per-series tables show them beside
auto and the PromQL functions) and prints the markdown table of auto against the
statsmodels best (the issue's goal: median per-series ratio <= 0.9).
"""
import os

# One thread: the anchor runs beside other work, and one core per run is what
# scripts/forecast-eval's JOBS counts.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import csv
import glob
import math
import re
import statistics
import sys
import time
import warnings

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MODELS = ("sm_ets", "sm_theta", "sm_best")
THETA = 2.0


# --- The trace and the grid, as prescale-sim reads them -----------------------------

class InputError(Exception):
    """Bad input: printed and exit code 2, as prescale-sim does."""


def parse_duration_ms(text, flag="duration"):
    """shared/base ParseDuration: sums of <n><unit>, units ms s m h d w."""
    units = {"ms": 1, "s": 1000, "m": 60_000, "h": HOUR_MS, "d": DAY_MS, "w": 7 * DAY_MS}
    if not text or not re.fullmatch(r"(\d+(ms|s|m|h|d|w))+", text):
        raise InputError(f"--{flag}: invalid duration '{text}': expected e.g. 5m, 1h, 1d")
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d|w)", text))


def format_duration(ms):
    out = ""
    for unit, size in (("d", DAY_MS), ("h", HOUR_MS), ("m", 60_000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            out += f"{ms // size}{unit}"
            ms %= size
    return out or "0s"


def parse_double(text):
    """shared/base ParseDouble: decimal or scientific, [+-]Inf, NaN; None when neither."""
    body, sign = text, 1.0
    if body[:1] in "+-" and body:
        sign, body = (-1.0 if body[0] == "-" else 1.0), body[1:]
    if body in ("Inf", "inf"):
        return sign * math.inf
    if body == "NaN":
        return math.nan if text == "NaN" else None
    if not re.fullmatch(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", body):
        return None
    return sign * float(body)


def llround(x):
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def days_from_civil(y, m, d):
    y -= 1 if m <= 2 else 0
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_time_ms(text):
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z?", text)
    if m:
        y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
        if not (1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and s <= 60):
            return None
        fraction = float("0" + m.group(7)) if m.group(7) else 0.0
        return (days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * 1000 + llround(fraction * 1000)
    seconds = parse_double(text) if text else None
    if seconds is None or not math.isfinite(seconds) or not -62_167_219_200.0 <= seconds <= 253_402_300_799.0:
        return None
    return llround(seconds * 1000)


def split_cells(line):
    cells = []
    for cell in line.split(","):
        cell = cell.strip(" \t")
        if len(cell) >= 2 and cell[0] == '"' and cell[-1] == '"':
            cell = cell[1:-1]
        cells.append(cell)
    return cells


def pick_columns(header, column, time_column, where):
    if time_column:
        if time_column not in header:
            raise InputError(f"{where}: no time column '{time_column}' (columns: {', '.join(header)})")
        t = header.index(time_column)
    else:
        t = next((header.index(n) for n in ("unix_s", "timestamp", "time") if n in header), -1)
    if column:
        if column not in header:
            raise InputError(f"{where}: no column '{column}' (columns: {', '.join(header)})")
        return t, header.index(column)
    for name in ("value", "requests", "cpu_usage_mhz", "avg_cpu"):
        if name in header:
            return t, header.index(name)
    others = [i for i, h in enumerate(header) if i != t and h != "timestamp_utc"]
    if len(others) != 1:
        raise InputError(f"{where}: several value columns; choose one with --column ({', '.join(header)})")
    return t, others[0]


def load_trace(path, column="", time_column="", row_interval_ms=300_000):
    """sim/src/trace.cc ParseTraceCsv: (timestamps_ms, values, value column name)."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", errors="replace")
    except OSError as e:
        raise InputError(f"cannot open trace file {path}: {e.strerror}") from e
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    header, line_no = None, 0
    for line_no, line in enumerate(lines, 1):
        line = line[:-1] if line.endswith("\r") else line
        if line:
            header = split_cells(line)
            break
    if header is None:
        raise InputError(f"{path}: empty file, expected a header line")
    t_col, v_col = pick_columns(header, column, time_column, f"{path} line {line_no}")
    if t_col < 0 and row_interval_ms <= 0:
        raise InputError(f"{path}: no time column and no row interval")
    needed = max(t_col, v_col) + 1
    times, values = [], []
    for number, line in enumerate(lines[line_no:], line_no + 1):
        line = line[:-1] if line.endswith("\r") else line
        if not line:
            continue
        cells = split_cells(line)
        where = f"{path} line {number}"
        if len(cells) < needed:
            raise InputError(f"{where}: {len(cells)} cells, expected {len(header)}")
        ts = len(values) * row_interval_ms
        if t_col >= 0:
            ts = parse_time_ms(cells[t_col])
            if ts is None:
                raise InputError(f"{where}: bad time '{cells[t_col]}'")
        if times and ts < times[-1]:
            raise InputError(f"{where}: time goes backwards")
        if times and ts == times[-1]:
            continue  # the first row at a time stands, as in the sim and Prometheus' TSDB
        cell = cells[v_col]
        v = math.nan if cell in ("", "nan") else parse_double(cell)
        if v is None:
            raise InputError(f"{where}: bad number '{cell}' in column {header[v_col]}")
        times.append(ts)
        values.append(v)
    if not values:
        raise InputError(f"{path}: no data rows after the header")
    return times, values, header[v_col]


def median_interval_ms(times):
    """sim/src/grid.cc MedianIntervalMs."""
    if len(times) < 2:
        return 0
    gaps = sorted(b - a for a, b in zip(times, times[1:]))
    return max((gaps[len(gaps) // 2] + 500) // 1000 * 1000, 1000)


def regrid(times, values, step_ms):
    """sim/src/grid.cc Regrid: (start_ms, grid values with NaN in gaps)."""
    finite = [i for i, v in enumerate(values) if math.isfinite(v)]
    start = times[0]
    n = (times[-1] - start) // step_ms + 1
    grid = [math.nan] * n
    nxt = 0
    for k in range(n):
        t = start + k * step_ms
        while nxt < len(finite) and times[finite[nxt]] < t:
            nxt += 1
        if nxt < len(finite) and times[finite[nxt]] == t:
            grid[k] = values[finite[nxt]]
            continue
        if nxt == 0 or nxt >= len(finite):
            continue
        t0, t1 = times[finite[nxt - 1]], times[finite[nxt]]
        if t1 - t0 > 2 * step_ms:
            continue
        v0, v1 = values[finite[nxt - 1]], values[finite[nxt]]
        grid[k] = v0 + (v1 - v0) * float(t - t0) / float(t1 - t0)
    return start, grid


def span_index(fraction, n):
    """sim/src/evaluation.cc SpanIndex: the grid index a fraction of the span starts at."""
    return n if fraction >= 1 else math.floor(fraction * n)


def pick_origins(values, h, first, max_origins, score_from=0.0, score_until=1.0):
    """sim/src/evaluation.cc PickOrigins."""
    n = len(values)
    until = span_index(score_until, n)
    first = max(first, span_index(score_from, n))
    eligible = [k for k in range(first, until - h)
                if math.isfinite(values[k]) and math.isfinite(values[k + h])]
    if max_origins == 0 or len(eligible) <= max_origins:
        return eligible
    return [eligible[i * len(eligible) // max_origins] for i in range(max_origins)]


def naive_one_step_mae(values):
    diffs = [abs(b - a) for a, b in zip(values, values[1:]) if math.isfinite(a) and math.isfinite(b)]
    return sum(diffs) / len(diffs) if diffs else math.nan


# --- The models ------------------------------------------------------------------

def fill_gaps(values):
    """Interior NaN filled linearly. A filled point depends only on the finite points
    around it, so at a finite origin the history up to it is the same whatever follows."""
    import numpy as np
    y = np.asarray(values, dtype=float)
    ok = np.isfinite(y)
    idx = np.arange(len(y))
    out = y.copy()
    if ok.sum() >= 2:
        inner = ~ok & (idx > idx[ok][0]) & (idx < idx[ok][-1])
        out[inner] = np.interp(idx[inner], idx[ok], y[ok])
    return out


def fit_span(y, r, window):
    """The history cut at grid point r: [w0, end] inside the last `window` points,
    without leading or trailing gaps; None when fewer than 10 points remain."""
    import numpy as np
    w0 = max(0, r + 1 - window)
    ok = np.flatnonzero(np.isfinite(y[w0:r + 1]))
    if len(ok) < 10:
        return None
    return w0 + ok[0], w0 + ok[-1]


class Ets:
    """ETSModel, AIC-selected, refitted daily, filtered with fixed parameters between."""
    name = "sm_ets"

    def __init__(self, m):
        self.m = m
        self.fit = None
        self.refits = 0
        self.failures = 0

    def refit(self, x):
        import numpy as np
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel
        seasons = [None] + (["add"] if self.m >= 2 and len(x) >= 2 * self.m else [])
        best = None
        for seasonal in seasons:
            for trend, damped in ((None, False), ("add", False), ("add", True)):
                kw = dict(error="add", trend=trend, damped_trend=damped, seasonal=seasonal,
                          seasonal_periods=self.m if seasonal else None)
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        res = ETSModel(x, initialization_method="heuristic", **kw).fit(disp=False)
                except (ValueError, ArithmeticError, RuntimeError, np.linalg.LinAlgError):
                    continue
                # statsmodels counts initial states as parameters when it estimates
                # them (its default); the heuristic ones stand in for speed, so count them.
                aic = res.aic + 2 * (1 + (trend is not None) + (self.m if seasonal else 0))
                if math.isfinite(aic) and (best is None or aic < best[0]):
                    best = (aic, kw, res)
        self.refits += 1
        if best is None:
            self.fit = None
            self.failures += 1
            return
        _, kw, res = best
        init = dict(initial_level=res.initial_level)
        if kw["trend"]:
            init["initial_trend"] = res.initial_trend
        if kw["seasonal"]:
            init["initial_seasonal"] = np.asarray(res.initial_seasonal)
        self.fit = dict(kw=kw, init=init, params=np.asarray(res.params),
                        phi=float(res.damping_trend) if kw["damped_trend"] else 1.0,
                        short=res.model.short_name)

    def states(self, x):
        """Filters x (the fit's data and what follows) with the fitted parameters:
        level, trend and season after each point."""
        import numpy as np
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel
        f = self.fit
        model = ETSModel(x, initialization_method="known", **f["kw"], **f["init"])
        _, states = model.smooth(f["params"], return_raw=True)
        states = np.asarray(states)
        level = states[:, 0]
        trend = states[:, 1] if f["kw"]["trend"] else np.zeros(len(x))
        season = None
        if f["kw"]["seasonal"]:
            # The season of point t sits at t + m: the initial states stand for -m..-1.
            season = np.concatenate([f["init"]["initial_seasonal"], states[:, -1]])
        return level, trend, season

    def forecast(self, states, p, h):
        """The h-step forecast after point p (positions into the filtered data)."""
        level, trend, season = states
        phi = self.fit["phi"]
        damp = float(h) if phi == 1.0 else sum(phi ** i for i in range(1, h + 1))
        f = level[p] + damp * trend[p]
        if season is not None:
            f = f + season[p + h - self.m * ((h - 1) // self.m + 1) + self.m]
        return f

    def answering(self):
        return "ets_" + self.fit["short"] if self.fit else "ets_none"


class Theta:
    """ThetaModel refitted hourly, its SES level updated with the fitted alpha between."""
    name = "sm_theta"

    def __init__(self, m):
        self.m = m
        self.fit = None
        self.refits = 0
        self.failures = 0

    def refit(self, x):
        import numpy as np
        from statsmodels.tsa.forecasting.theta import ThetaModel
        seasonal = self.m >= 2 and len(x) >= 2 * self.m
        self.refits += 1
        if np.ptp(x) == 0:
            # statsmodels' add_trend skips the constant column of a constant series,
            # so its OLS reads the series as a trend (b0 = 1.02 on 288 points of 42):
            # a constant window is forecast as the newest value.
            self.fit = dict(alpha=1.0, b0=0.0, level=float(x[-1]), nobs=len(x), method=None, season=None)
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = ThetaModel(x, period=self.m if seasonal else None, deseasonalize=seasonal, method="auto")
                res = model.fit()
                comp = res.forecast_components(max(self.m, 1))
        except (ValueError, ArithmeticError, RuntimeError, np.linalg.LinAlgError):
            self.fit, self.failures = None, self.failures + 1
            return
        # method stays "auto" when the test finds no season: then there is none to
        # apply (statsmodels' own forecast would add 1 here, upstream issue 8661).
        method = model.method if model.method in ("add", "mul") else None
        nobs = len(x)
        by_position = None
        if method:
            # forecast_components gives the season of positions nobs, nobs+1, ...
            by_position = np.empty(self.m)
            by_position[(nobs + np.arange(self.m)) % self.m] = np.asarray(comp["seasonal"])
        self.fit = dict(alpha=float(res.params["alpha"]), b0=float(res.params["b0"]),
                        level=float(np.asarray(comp["ses"])[0]), nobs=nobs, method=method, season=by_position)

    def deseasonalize(self, v, p):
        f = self.fit
        if f["method"] == "mul":
            return v / f["season"][p % self.m]
        if f["method"] == "add":
            return v - f["season"][p % self.m]
        return v

    def forecast(self, level, p, h):
        """The h-step forecast after point p, level being the SES level after it."""
        f = self.fit
        alpha, nobs = f["alpha"], p + 1
        steps = h - 1 + ((1 / alpha - (1 - alpha) ** nobs / alpha) if alpha > 0 else 0.0)
        fc = (THETA - 1) / THETA * f["b0"] * steps + level
        if f["method"] == "mul":
            fc *= f["season"][(nobs + h - 1) % self.m]
        elif f["method"] == "add":
            fc += f["season"][(nobs + h - 1) % self.m]
        return fc

    def answering(self):
        if not self.fit:
            return "theta_none"
        return "theta_" + (self.fit["method"] + "_season" if self.fit["method"] else "no_season")


def run_ets(y, filled, first, m, day_steps, window, hs, out, progress):
    ets = Ets(m)
    n = len(y)
    for r in range(first, n, day_steps):
        span = fit_span(y, r, window)
        seg = [k for k in range(r, min(n, r + day_steps)) if math.isfinite(y[k])]
        progress("ets", r, n)
        if span is None or not seg:
            continue
        w0, end = span
        ets.refit(filled[w0:end + 1])
        if ets.fit is None:
            continue
        states = ets.states(filled[w0:seg[-1] + 1])
        for k in seg:
            out[k] = [ets.forecast(states, k - w0, h) for h in hs]
    return ets


def run_theta(y, filled, first, m, hour_steps, window, hs, out, progress):
    theta = Theta(m)
    n = len(y)
    for r in range(first, n, hour_steps):
        span = fit_span(y, r, window)
        seg = [k for k in range(r, min(n, r + hour_steps)) if math.isfinite(y[k])]
        progress("theta", r, n)
        if span is None or not seg:
            continue
        w0, end = span
        theta.refit(filled[w0:end + 1])
        if theta.fit is None:
            continue
        level, p = theta.fit["level"], end - w0
        for k in seg:
            while p < k - w0:
                p += 1
                x = theta.deseasonalize(filled[w0 + p], p)
                level = theta.fit["alpha"] * x + (1 - theta.fit["alpha"]) * level
            out[k] = [theta.forecast(level, p, h) for h in hs]
    return theta


def anchor_forecasts(y, step_ms, first, hs, window_ms=14 * DAY_MS, progress=None):
    """{model: (forecasts by grid index: a list per horizon in hs, model, seconds)} for
    every finite grid point from `first` on, each from y up to that point only."""
    filled = fill_gaps(y)
    day_steps = max(1, round(DAY_MS / step_ms))
    hour_steps = max(1, round(HOUR_MS / step_ms))
    window = max(1, window_ms // step_ms)
    progress = progress or (lambda *_: None)
    result = {}
    for name, run, every in (("sm_ets", run_ets, day_steps), ("sm_theta", run_theta, hour_steps)):
        out = {}
        started = time.perf_counter()
        model = run(y, filled, first, day_steps, every, window, hs, out, progress)
        result[name] = (out, model, time.perf_counter() - started)
    return result


# --- Scores and output -----------------------------------------------------------

def scores(actual, point, scale):
    n = len(actual)
    abs_err = [abs(f - a) for a, f in zip(actual, point)]
    mae = sum(abs_err) / n if n else math.nan
    smape = 100 * sum(2 * e / (abs(a) + abs(f)) if abs(a) + abs(f) > 0 else 0.0
                      for e, a, f in zip(abs_err, actual, point)) / n if n else math.nan
    rmse = math.sqrt(sum(e * e for e in abs_err) / n) if n else math.nan
    return dict(mae=mae, mase=mae / scale if scale > 0 else math.nan, smape=smape, rmse=rmse, forecasts=n)


def fmt9(v):
    return f"{v:.9g}" if math.isfinite(v) else "nan"


def write_summary(path, rows):
    with open(path, "w") as f:
        f.write("model,answering,forecasts,mase,smape,rmse,coverage,fit_s\n")
        for r in rows:
            f.write(f"{r['model']},{r['answering']},{r['forecasts']},{fmt9(r['mase'])},{fmt9(r['smape'])},"
                    f"{fmt9(r['rmse'])},,{r['fit_s']:.6f}\n")


def format_unix(ms):
    return str(ms // 1000) if ms % 1000 == 0 else f"{ms / 1e3:.3f}"


def score_horizon(y, start_ms, step_ms, origins, hi, h, forecasts, scale, records):
    """Rows for sm_ets, sm_theta and sm_best at one horizon; fills records for --output-csv."""
    rows, fallbacks = [], {}
    actual = [y[k + h] for k in origins]
    points = {}
    for name in ("sm_ets", "sm_theta"):
        out, model, seconds = forecasts[name]
        pts = []
        for k in origins:
            f = out.get(k, [math.nan] * (hi + 1))[hi]
            if not math.isfinite(f):
                fallbacks[name] = fallbacks.get(name, 0) + 1
                f = y[k]
            pts.append(max(0.0, f))
        points[name] = pts
        s = scores(actual, pts, scale)
        rows.append(dict(model=name, answering=model.answering(), fit_s=seconds, **s))
    best = min(rows, key=lambda r: r["mae"] if math.isfinite(r["mae"]) else math.inf)
    rows.append(dict(best, model="sm_best", answering=best["model"],
                     fit_s=sum(r["fit_s"] for r in rows)))
    points["sm_best"] = points[best["model"]]
    if records is not None:
        for name in MODELS:
            for k, a, f in zip(origins, actual, points[name]):
                records.append((start_ms + k * step_ms, h * step_ms, start_ms + (k + h) * step_ms, a, name, f))
    return rows, fallbacks


def format_table(rows):
    lines = [f"{'model':<26} {'forecasts':>9} {'MAE':>12} {'MASE':>8} {'sMAPE%':>8} {'RMSE':>12} {'fit_s':>8}"]
    for r in rows:
        name = f"{r['model']} ({r['answering']})"
        lines.append(f"{name:<26} {r['forecasts']:>9} {r['mae']:>12.6g} {r['mase']:>8.3f} {r['smape']:>8.2f} "
                     f"{r['rmse']:>12.6g} {r['fit_s']:>8.2f}")
    return "\n".join(lines)


def make_progress(label, quiet):
    if quiet:
        return None
    started = time.monotonic()
    state = {"last": 0.0}

    def progress(model, done, total):
        now = time.monotonic()
        if now - state["last"] < 10:
            return
        state["last"] = now
        print(f"forecast_anchor: {label}: {model} at {100 * done // total}% of the grid, "
              f"{now - started:.0f} s", file=sys.stderr, flush=True)
    return progress


def path_for(pattern, horizon, several):
    if "{h}" in pattern:
        return pattern.replace("{h}", horizon)
    if several:
        raise InputError("several horizons: put {h} in the output paths")
    return pattern


def score_window(args):
    """(score_from, score_until) from --half or --score-from/--score-until, as the sim takes them."""
    if args.half and (args.score_from is not None or args.score_until is not None):
        raise InputError("--half and --score-from/--score-until exclude each other")
    if args.half:
        return (0.0, 0.5) if args.half == "first" else (0.5, 1.0)
    window = []
    for flag, value, default in (("score-from", args.score_from, 0.0), ("score-until", args.score_until, 1.0)):
        v = default if value is None else parse_double(value)
        if v is None or not 0 <= v <= 1:
            raise InputError(f"--{flag} '{value}': expected a fraction in [0, 1]")
        window.append(v)
    if not window[0] < window[1]:
        raise InputError("--score-from must be below --score-until")
    return tuple(window)


def run(args):
    horizons = [h for h in re.split(r"[,\s]+", args.horizon) if h]
    if not horizons:
        raise InputError("--horizon is required")
    score_from, score_until = score_window(args)
    times, values, column = load_trace(args.trace, args.column, args.time_column,
                                       parse_duration_ms(args.row_interval, "row-interval"))
    step_ms = parse_duration_ms(args.step, "step") if args.step else median_interval_ms(times)
    if step_ms <= 0:
        raise InputError(f"{args.trace}: one sample is not enough; give --step")
    start_ms, y = regrid(times, values, step_ms)
    warmup_ms = parse_duration_ms(args.warmup, "warmup")
    first = (warmup_ms + step_ms - 1) // step_ms
    todo = []
    for text in horizons:
        h_ms = parse_duration_ms(text, "horizon")
        if h_ms <= 0 or h_ms % step_ms:
            print(f"forecast_anchor: {args.trace}: skipped --horizon {text}: not a positive multiple of the step "
                  f"{format_duration(step_ms)}", file=sys.stderr)
            continue
        origins = pick_origins(y, h_ms // step_ms, first, args.max_origins, score_from, score_until)
        if not origins:
            window = "" if (score_from, score_until) == (0.0, 1.0) else " inside the score window"
            raise InputError(f"{args.trace}: no forecast to score at {text}: the trace has {len(y)} steps, "
                             f"fewer than the warm-up plus the horizon{window}")
        todo.append((text, h_ms // step_ms, origins))
    if not todo:
        raise InputError(f"{args.trace}: no horizon is a positive multiple of the step {format_duration(step_ms)}")
    hs = [h for _, h, _ in todo]
    label = f"{os.path.basename(args.trace)} [{column}]"
    # Only the scored stretch is forecast (with --half, half the work): from the first
    # origin of any horizon to the last, on the grid cut after it (no look-ahead either way).
    lo = min(o[0] for _, _, o in todo)
    hi_k = max(o[-1] for _, _, o in todo)
    forecasts = anchor_forecasts(y[:hi_k + 1], step_ms, lo, hs, parse_duration_ms(args.fit_window, "fit-window"),
                                 make_progress(label, args.quiet))
    scale = naive_one_step_mae(y)
    for hi, (text, h, origins) in enumerate(todo):
        records = [] if args.output_csv else None
        rows, fallbacks = score_horizon(y, start_ms, step_ms, origins, hi, h, forecasts, scale, records)
        print(f"{args.trace} [{column}], horizon {text}, step {format_duration(step_ms)}: {len(origins)} origins, "
              f"MASE scale (one-step naive MAE) {scale:.6g}\n{format_table(rows)}")
        for name, count in fallbacks.items():
            print(f"forecast_anchor: {label} @ {text}: {name} had no fit at {count} origins; the last value "
                  "stood in", file=sys.stderr)
        if args.summary_csv:
            write_summary(path_for(args.summary_csv, text, len(todo) > 1), rows)
        if args.output_csv:
            with open(path_for(args.output_csv, text, len(todo) > 1), "w") as f:
                f.write("origin_ts,horizon_s,target_ts,actual,model,point,lower,upper\n")
                for o, hz, t, a, name, p in records:
                    f.write(f"{format_unix(o)},{format_unix(hz)},{format_unix(t)},{a:.17g},{name},"
                            f"{p:.17g},{p:.17g},{p:.17g}\n")
    for name in ("sm_ets", "sm_theta"):
        model = forecasts[name][1]
        if model.failures:
            print(f"forecast_anchor: {label}: {name}: {model.failures} of {model.refits} fits failed",
                  file=sys.stderr)
    return 0


# --- forecast-eval's report ------------------------------------------------------

def median(values):
    values = [v for v in values if math.isfinite(v)]
    return statistics.median(values) if values else math.nan


def fmt(v, digits=3):
    return "-" if not math.isfinite(v) else f"{v:.{digits}f}"


def num(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def report(summary_dir, anchor_dir, horizons):
    """Appends the anchor's rows to the sim's summaries; returns the markdown lines."""
    runs = {}
    for path in sorted(glob.glob(os.path.join(summary_dir, "*@*.csv"))):
        key, horizon = os.path.basename(path)[:-4].rsplit("@", 1)
        with open(path) as f:
            rows = {r["model"]: r for r in csv.DictReader(f)}
        anchor_path = os.path.join(anchor_dir, os.path.basename(path))
        anchor = {}
        if os.path.exists(anchor_path):
            with open(anchor_path) as f:
                anchor = {r["model"]: r for r in csv.DictReader(f)}
        if not all(m in rows for m in MODELS):
            # A missing anchor run still gets rows, so every summary has the same models.
            with open(path, "a") as f:
                for m in MODELS:
                    r = anchor.get(m) or dict(model=m, answering="-", forecasts="0", mase="nan", smape="nan",
                                              rmse="nan", coverage="", fit_s="0")
                    f.write(",".join(r[c] for c in ("model", "answering", "forecasts", "mase", "smape", "rmse",
                                                    "coverage", "fit_s")) + "\n")
                    rows[m] = r
        runs.setdefault(horizon, {})[key.replace("__", "/")] = rows
    out = ["", "### auto against the statsmodels anchor (goal: median per-series ratio <= 0.9)", "",
           "statsmodels ETS (AIC-selected, refitted daily) and Theta (refitted hourly) on the same origins "
           "(`scripts/forecast_anchor.py`); statsmodels best = the better of the two per series and horizon, "
           "in hindsight; best PromQL likewise among the prom_* runs. Median MASE over series.", "",
           "| horizon | series | auto | sm_ets | sm_theta | statsmodels best | best PromQL "
           "| median per-series auto / statsmodels best | auto beats it | goal |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    ratios_by_series = {}
    for h in horizons:
        per = {s: r for s, r in runs.get(h, {}).items() if "auto" in r and math.isfinite(num(r["sm_best"]["mase"]))}
        if not per:
            continue
        col = {m: median([num(r[m]["mase"]) for r in per.values()]) for m in ("auto",) + MODELS}
        prom = median([min((num(v["mase"]) for m, v in r.items() if m.startswith("prom")), default=math.nan)
                       for r in per.values()])
        ratios = {s: num(r["auto"]["mase"]) / num(r["sm_best"]["mase"]) for s, r in per.items()
                  if num(r["sm_best"]["mase"]) > 0}
        for s, v in ratios.items():
            ratios_by_series.setdefault(s, {})[h] = v
        ratio = median(list(ratios.values()))
        wins = sum(1 for v in ratios.values() if v < 1)
        out.append(f"| {h} | {len(per)} | {fmt(col['auto'])} | {fmt(col['sm_ets'])} | {fmt(col['sm_theta'])} "
                   f"| {fmt(col['sm_best'])} | {fmt(prom)} | {fmt(ratio)} | {wins}/{len(ratios)} "
                   f"| {'met' if ratio <= 0.9 else 'MISSED'} |")
    if ratios_by_series:
        out += ["", "auto / statsmodels best per series (MASE ratio; below 1: auto is better):", "",
                "| series | " + " | ".join(horizons) + " |", "|---|" + "---:|" * len(horizons)]
        for s in sorted(ratios_by_series):
            out.append(f"| {s} | " + " | ".join(fmt(ratios_by_series[s].get(h, math.nan)) for h in horizons) + " |")
    return out


# --- Command line -----------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(prog="forecast_anchor.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--report", nargs=3, metavar=("SUMMARY_DIR", "ANCHOR_DIR", "HORIZONS"))
    p.add_argument("--trace")
    p.add_argument("--horizon", default="")
    p.add_argument("--column", default="")
    p.add_argument("--time-column", default="")
    p.add_argument("--row-interval", default="5m")
    p.add_argument("--step", default="")
    p.add_argument("--warmup", default="1d")
    p.add_argument("--max-origins", type=int, default=0)
    p.add_argument("--half", choices=("first", "second"))
    p.add_argument("--score-from")
    p.add_argument("--score-until")
    p.add_argument("--fit-window", default="14d", help="history the models are fitted on (default 14d)")
    p.add_argument("--summary-csv", default="")
    p.add_argument("--output-csv", default="")
    p.add_argument("--quiet", action="store_true")
    # prescale-sim's model flags, which scripts/forecast-eval may pass in EXTRA: no
    # meaning for the anchor.
    for flag in ("--models", "--coverage", "--prom-range", "--prom-sf", "--prom-tf", "--plot", "--plot-model"):
        p.add_argument(flag, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    try:
        if args.report:
            summary_dir, anchor_dir, horizons = args.report
            print("\n".join(report(summary_dir, anchor_dir, horizons.split())))
            return 0
        if not args.trace:
            raise InputError("--trace is required (or --report)")
        return run(args)
    except InputError as e:
        print(f"forecast_anchor: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
