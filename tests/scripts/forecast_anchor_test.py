#!/usr/bin/env python3
"""Tests of scripts/forecast_anchor.py, the statsmodels anchor of scripts/forecast-eval:
its grid and origins are prescale-sim's, its forecast at an origin is the one
recomputed from the data cut at that origin (no look-ahead), its closed forms agree
with statsmodels' own forecasts, and its Theta avoids statsmodels 0.13.5's +1 bug.
Run by CTest (tests/CMakeLists.txt) with Debian's python3; exits 77 (skipped) when
statsmodels is missing. PRESCALE_SIM names the prescale-sim binary to compare with."""
import contextlib
import io
import math
import os
import subprocess
import sys
import tempfile
import unittest
import warnings

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
try:
    import numpy as np
    import statsmodels
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    from statsmodels.tsa.forecasting.theta import ThetaModel
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
except ImportError as e:
    print(f"SKIPPED: {e}: install Debian's python3-statsmodels (scripts/setup)")
    sys.exit(77)
import forecast_anchor as fa  # noqa: E402

STEP_MS = 900_000  # 15 min: a day is 96 points, an hour 4
DAY = 96


def synthetic(days=5, seed=7, season=True, level=50.0):
    """A daily cycle, a slow trend and noise; non-negative."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * DAY)
    y = level + 0.01 * t + rng.normal(0, 2, len(t))
    if season:
        y += 15 * np.sin(2 * np.pi * t / DAY) + 8 * (np.abs(t % DAY - 60) < 6)
    return [float(v) for v in np.maximum(y, 0)]


def forecasts_at(y, k, hs=(1, 4)):
    """The anchor's forecasts at origin k from a run over y."""
    got = fa.anchor_forecasts(np.asarray(y, dtype=float), STEP_MS, DAY, list(hs))
    return {name: got[name][0].get(k) for name in ("sm_ets", "sm_theta")}


def sim_path():
    path = os.environ.get("PRESCALE_SIM") or os.path.join(ROOT, "build", "bin", "prescale-sim")
    return path if os.access(path, os.X_OK) else None


class NoLookAhead(unittest.TestCase):
    def test_forecast_at_origin_equals_one_from_data_cut_there(self):
        y = synthetic(days=4)
        y[300:306] = [math.nan] * 6  # a gap, filled only up to the origin
        full = fa.anchor_forecasts(np.asarray(y), STEP_MS, DAY, [1, 4])
        # An ETS refit origin (day 2 starts at 192), one between refits, one right
        # after the gap, and the last point.
        for k in (2 * DAY, 2 * DAY + 37, 306, len(y) - 1):
            with self.subTest(origin=k):
                cut = forecasts_at(y[:k + 1], k)
                for name in ("sm_ets", "sm_theta"):
                    self.assertIsNotNone(full[name][0].get(k), name)
                    np.testing.assert_allclose(cut[name], full[name][0][k], rtol=1e-12, err_msg=name)

    def test_future_values_do_not_change_past_forecasts(self):
        y = synthetic(days=4)
        k = 3 * DAY + 10
        changed = y[:k + 1] + [v * 3 + 100 for v in y[k + 1:]]
        a, b = forecasts_at(y, k), forecasts_at(changed, k)
        for name in a:
            np.testing.assert_allclose(a[name], b[name], rtol=1e-12, err_msg=name)


class AgreesWithStatsmodels(unittest.TestCase):
    def test_ets_filtered_forecast_equals_statsmodels_forecast_on_cut_data(self):
        y = np.asarray(synthetic(days=4))
        ets = fa.Ets(DAY)
        r = 3 * DAY
        ets.refit(y[:r + 1])
        self.assertTrue(ets.fit["kw"]["seasonal"], "a daily cycle with three days of data is seasonal")
        states = ets.states(y)
        for k in (r, r + 1, r + 50):
            model = ETSModel(y[:k + 1], initialization_method="known", **ets.fit["kw"], **ets.fit["init"])
            expected = np.asarray(model.smooth(ets.fit["params"]).forecast(DAY + 5))
            for h in (1, 4, 12, DAY, DAY + 5):
                self.assertAlmostEqual(ets.forecast(states, k, h), expected[h - 1], places=8,
                                       msg=f"origin {k}, h {h}")

    def test_ets_without_season_before_two_days(self):
        ets = fa.Ets(DAY)
        ets.refit(np.asarray(synthetic(days=2)[:DAY + 30]))
        self.assertIsNone(ets.fit["kw"]["seasonal"])

    def test_theta_at_refit_equals_statsmodels_forecast_with_a_season(self):
        y = np.asarray(synthetic(days=4))
        theta = fa.Theta(DAY)
        theta.refit(y)
        self.assertEqual(theta.fit["method"], "mul")
        expected = np.asarray(ThetaModel(y, period=DAY).fit().forecast(12))
        for h in (1, 4, 12):
            self.assertAlmostEqual(theta.forecast(theta.fit["level"], len(y) - 1, h), expected[h - 1], places=8)

    def test_theta_without_season_is_not_shifted_by_one(self):
        # A random walk: the seasonality test finds no season, where statsmodels
        # 0.13.5's forecast adds 1 (upstream issue 8661); the anchor must not.
        y = np.cumsum(np.random.default_rng(3).normal(0, 1, 3 * DAY)) + 100
        res = ThetaModel(y, period=DAY).fit()
        self.assertEqual(res.model.method, "auto", "the test found no season")
        comp = res.forecast_components(4)
        expected = 0.5 * np.asarray(comp["trend"]) + np.asarray(comp["ses"])
        theta = fa.Theta(DAY)
        theta.refit(y)
        self.assertIsNone(theta.fit["method"])
        for h in (1, 4):
            self.assertAlmostEqual(theta.forecast(theta.fit["level"], len(y) - 1, h), expected[h - 1], places=8)
        if statsmodels.__version__.startswith("0.13."):
            np.testing.assert_allclose(np.asarray(res.forecast(4)) - expected, 1.0)

    def test_theta_on_a_constant_forecasts_the_constant(self):
        theta = fa.Theta(DAY)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theta.refit(np.full(3 * DAY, 42.0))
        self.assertAlmostEqual(theta.forecast(theta.fit["level"], 3 * DAY - 1, 4), 42.0, places=6)

    def test_constant_series_forecast_as_the_constant_by_both(self):
        got = fa.anchor_forecasts(np.full(3 * DAY, 7.0), STEP_MS, DAY, [1, 4])
        for name in ("sm_ets", "sm_theta"):
            self.assertTrue(got[name][0], name)
            for k, f in got[name][0].items():
                np.testing.assert_allclose(f, 7.0, rtol=1e-6, err_msg=f"{name} at {k}")

    def test_theta_between_refits_equals_ses_recomputed_on_cut_data(self):
        y = np.asarray(synthetic(days=4))
        r, k = 3 * DAY, 3 * DAY + 3
        theta = fa.Theta(DAY)
        theta.refit(y[:r + 1])
        out = {}
        fa.run_theta(y, y, r, DAY, 4, 10 * DAY, [1, 4], out, lambda *_: None)
        # statsmodels' SES with the fitted alpha over the deseasonalized data up to k.
        x = np.array([theta.deseasonalize(v, p) for p, v in enumerate(y[:k + 1])])
        level = float(np.asarray(ExponentialSmoothing(x, initial_level=x[0], initialization_method="known")
                                 .fit(smoothing_level=theta.fit["alpha"], optimized=False).forecast(1))[0])
        for i, h in enumerate((1, 4)):
            self.assertAlmostEqual(out[k][i], theta.forecast(level, k, h), places=8)


class SameGridAsTheSim(unittest.TestCase):
    def check_against_sim(self, trace, column, horizon, half=None):
        sim = sim_path()
        if sim is None:
            self.skipTest("prescale-sim is not built (set PRESCALE_SIM or build build/bin/prescale-sim)")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "f.csv")
            run = subprocess.run([sim, "forecast", "--trace", trace, "--column", column, "--horizon", horizon,
                                  "--models", "naive", "--quiet", "--output-csv", out]
                                 + (["--half", half] if half else []),
                                 capture_output=True, text=True, check=True)
            with open(out) as f:
                rows = [line.split(",") for line in f.read().splitlines()[1:]]
        times, values, _ = fa.load_trace(trace, column)
        step = fa.median_interval_ms(times)
        start, grid = fa.regrid(times, values, step)
        h = fa.parse_duration_ms(horizon) // step
        window = {None: (0.0, 1.0), "first": (0.0, 0.5), "second": (0.5, 1.0)}[half]
        origins = fa.pick_origins(grid, h, (fa.DAY_MS + step - 1) // step, 0, *window)
        self.assertEqual([r[0] for r in rows], [fa.format_unix(start + k * step) for k in origins])
        self.assertEqual([float(r[3]) for r in rows], [grid[k + h] for k in origins])
        self.assertIn(f"MASE scale (one-step naive MAE) {fa.naive_one_step_mae(grid):.6g}", run.stdout)

    def test_jittered_trace_with_gaps_repeats_and_empty_cells(self):
        rng = np.random.default_rng(11)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "t.csv")
            with open(path, "w") as f:
                f.write("unix_s,note,load\n")
                t = 1_375_308_176.0
                for i in range(2 * 288):
                    t += 300 + rng.integers(-2, 3) + (2400 if i in (400, 401) else 0)
                    cell = "" if i % 97 == 5 else f"{rng.uniform(0, 10):.6f}"
                    f.write(f"{t:.0f},x,{cell}\n")
                    if i == 200:
                        f.write(f"{t:.0f},x,99\n")  # a repeated time: dropped
            self.check_against_sim(path, "load", "15m")

    def test_halves_pick_the_sims_origins(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "t.csv")
            with open(path, "w") as f:
                f.write("timestamp,value\n")
                for i, v in enumerate(synthetic(days=3)):
                    f.write(f"{1_400_000_000 + i * 900},{v}\n")
            for half in ("first", "second"):
                with self.subTest(half=half):
                    self.check_against_sim(path, "value", "1h", half)

    def test_real_bitbrains_trace(self):
        trace = os.path.join(ROOT, "..", "shared", "traces", "bitbrains_rnd", "rnd_2013-08_vm338.csv")
        if not os.path.exists(trace):
            self.skipTest(f"no real traces at {os.path.dirname(trace)}")
        self.check_against_sim(trace, "cpu_usage_mhz", "1h")


class CommandLine(unittest.TestCase):
    def test_summaries_in_the_sims_shape_and_the_report(self):
        with tempfile.TemporaryDirectory() as tmp:
            trace = os.path.join(tmp, "s.csv")
            with open(trace, "w") as f:
                f.write("timestamp,value\n")
                for i, v in enumerate(synthetic(days=3)):
                    f.write(f"{i * 900},{v}\n")
            anchor = os.path.join(tmp, "anchor")
            summary = os.path.join(tmp, "summary")
            os.mkdir(anchor)
            os.mkdir(summary)
            stdout, stderr = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                rc = fa.main(["--trace", trace, "--horizon", "15m,1h,7m", "--quiet",
                              "--summary-csv", os.path.join(anchor, "fam__s:value@{h}.csv")])
            self.assertEqual(rc, 0, stderr.getvalue())
            self.assertIn("skipped --horizon 7m", stderr.getvalue())
            self.assertEqual(sorted(os.listdir(anchor)), ["fam__s:value@15m.csv", "fam__s:value@1h.csv"])
            with open(os.path.join(anchor, "fam__s:value@1h.csv")) as f:
                lines = f.read().splitlines()
            self.assertEqual(lines[0], "model,answering,forecasts,mase,smape,rmse,coverage,fit_s")
            rows = {line.split(",")[0]: line.split(",") for line in lines[1:]}
            self.assertEqual(sorted(rows), ["sm_best", "sm_ets", "sm_theta"])
            self.assertEqual(float(rows["sm_best"][3]), min(float(rows["sm_ets"][3]), float(rows["sm_theta"][3])))
            self.assertEqual(rows["sm_best"][2], str(2 * DAY - 4))  # origins: day 2 less the 1 h horizon
            best = float(rows["sm_best"][3])
            with open(os.path.join(summary, "fam__s:value@1h.csv"), "w") as f:
                f.write("model,answering,forecasts,mase,smape,rmse,coverage,fit_s\n"
                        f"auto,holt,188,{best * 0.8},1,1,0.9,0.1\nprom_predict_linear,,188,2,1,1,,0\n")
            md = "\n".join(fa.report(summary, anchor, ["1h"]))
            self.assertIn("| 1h | 1 |", md)
            self.assertIn("| 0.800 | 1/1 | met |", md)
            with open(os.path.join(summary, "fam__s:value@1h.csv")) as f:
                self.assertIn("\nsm_best,", f.read(), "the anchor's rows join the sim's summary")

    def test_half_scores_only_its_half(self):
        with tempfile.TemporaryDirectory() as tmp:
            trace = os.path.join(tmp, "s.csv")
            with open(trace, "w") as f:
                f.write("timestamp,value\n")
                for i, v in enumerate(synthetic(days=4)):
                    f.write(f"{i * 900},{v}\n")
            counts = {}
            for half in ("first", "second"):
                out = os.path.join(tmp, f"{half}.csv")
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    rc = fa.main(["--trace", trace, "--horizon", "1h", "--quiet", "--half", half, "--output-csv", out])
                self.assertEqual(rc, 0)
                with open(out) as f:
                    rows = [line.split(",") for line in f.read().splitlines()[1:]]
                counts[half] = len({r[0] for r in rows})
                split_s = 2 * DAY * 900  # 4 days of 96 points: the halves meet at point 192
                if half == "first":
                    self.assertTrue(all(float(r[2]) < split_s for r in rows), "targets stay in the first half")
                else:
                    self.assertTrue(all(float(r[0]) >= split_s for r in rows))
            self.assertEqual(counts, {"first": DAY - 4, "second": 2 * DAY - 4})

    def test_bad_input_exits_2_naming_the_flag(self):
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            self.assertEqual(fa.main(["--trace", "/nonexistent.csv", "--horizon", "15m"]), 2)
            self.assertEqual(fa.main(["--trace", "/nonexistent.csv", "--horizon", "15x"]), 2)
            self.assertEqual(fa.main(["--trace", "/nonexistent.csv", "--horizon", "1h", "--half", "first",
                                      "--score-from", "0.2"]), 2)
        self.assertIn("cannot open trace file /nonexistent.csv", stderr.getvalue())
        self.assertIn("--half and --score-from/--score-until exclude each other", stderr.getvalue())



class AnchorFrom(unittest.TestCase):
    """scripts/forecast-eval --anchor-from DIR takes the statsmodels scores of an earlier
    --anchor run made from the same inputs, and refuses those of other inputs."""

    def test_reuses_the_same_inputs_and_refuses_others(self):
        sim = sim_path()
        if sim is None:
            self.skipTest("prescale-sim is not built (set PRESCALE_SIM or build build/bin/prescale-sim)")
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, "traces", "google2019_agg"))
            y = synthetic(days=9)  # 864 rows: 3 days at the 300 s rows of the Google format
            with open(os.path.join(tmp, "traces", "google2019_agg", "x.csv"), "w") as f:
                f.write("avg_cpu\n" + "".join(f"{v}\n" for v in y))

            def run(out, *flags, extra="--max-origins 12"):
                env = dict(os.environ, BUILD_DIR=os.path.dirname(os.path.dirname(sim)),
                           TRACES=os.path.join(tmp, "traces"), OUT=os.path.join(tmp, out), HORIZONS="1h",
                           EXTRA=extra, JOBS="1", PRESCALE_PYTHON=sys.executable)
                return subprocess.run([os.path.join(ROOT, "scripts", "forecast-eval"), "--family", "google2019_agg",
                                       *flags], cwd=ROOT, env=env, capture_output=True, text=True)

            first = run("first", "--anchor")
            self.assertEqual(first.returncode, 0, first.stderr)
            again = run("again", "--anchor-from", os.path.join(tmp, "first"))
            self.assertEqual(again.returncode, 0, again.stderr)
            self.assertIn("anchor taken from", again.stderr)
            # The anchor's tables alike (the rest of results.md carries the sims' fit times).
            with open(os.path.join(tmp, "first", "anchor.md")) as a, open(os.path.join(tmp, "again", "anchor.md")) as b:
                first_md, again_md = a.read(), b.read()
            self.assertIn("| 1h | 1 |", first_md)  # the row of auto against the statsmodels best
            self.assertEqual(first_md, again_md)
            with open(os.path.join(tmp, "again", "results.md")) as f:
                self.assertIn(again_md, f.read())
            other = run("other", "--anchor-from", os.path.join(tmp, "first"), extra="--max-origins 13")
            self.assertEqual(other.returncode, 2)
            self.assertIn("made from other inputs", other.stderr)
            self.assertIn("extra=--max-origins 13", other.stderr)
            missing = run("missing", "--anchor-from", os.path.join(tmp, "nowhere"))
            self.assertEqual(missing.returncode, 2)
            self.assertIn("no anchor-inputs file there", missing.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
