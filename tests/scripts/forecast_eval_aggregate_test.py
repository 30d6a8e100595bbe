#!/usr/bin/env python3
"""Tests of scripts/forecast-eval-aggregate.py on tiny summary CSVs written by the test:
the per-family and overall goal tables (auto against prom_best and against the
statsmodels best), auto's coverage per family, auto against naive, the statement of
which half was scored, and the per-series tables. Run by CTest (tests/CMakeLists.txt)."""
import importlib.util
import os
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "forecast-eval-aggregate.py")
_spec = importlib.util.spec_from_file_location("forecast_eval_aggregate", SCRIPT)
agg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(agg)

HEADER = "model,answering,forecasts,mase,smape,rmse,coverage,fit_s\n"


def write(directory, key, horizon, rows):
    """rows: (model, answering, mase, coverage) tuples."""
    with open(os.path.join(directory, f"{key}@{horizon}.csv"), "w") as f:
        f.write(HEADER)
        for model, answering, mase, coverage in rows:
            f.write(f"{model},{answering},100,{mase},10,1,{coverage},0.01\n")


def series(directory, key, horizon, auto, prom_best, naive, coverage, member="prom_lin_3h", sm_best=None):
    rows = [("naive", "naive", naive, "0.9"), ("auto", "holt", auto, coverage),
            ("prom_lin_3h", "prom_lin_3h", prom_best if member == "prom_lin_3h" else prom_best * 2, ""),
            ("prom_hw_3h_sf0.1_tf0.1", "prom_hw_3h_sf0.1_tf0.1",
             prom_best if member != "prom_lin_3h" else prom_best * 3, ""),
            ("prom_best", member, prom_best, "")]
    if sm_best is not None:
        rows.append(("sm_best", "sm_ets", sm_best, ""))
    write(directory, key, horizon, rows)


class Aggregate(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        d = self.tmp.name
        # Family a: ratios 0.5, 0.7, 0.9 at 15m (median 0.7, met); 0.9, 0.9, 0.6 at 1h (median 0.9, missed).
        for i, (r15, r1h) in enumerate(((0.5, 0.9), (0.7, 0.9), (0.9, 0.6))):
            series(d, f"fam_a__s{i}:value", "15m", auto=r15, prom_best=1.0, naive=1.0, coverage="0.9", sm_best=1.0)
            series(d, f"fam_a__s{i}:value", "1h", auto=r1h, prom_best=1.0, naive=1.0, coverage="0.9", sm_best=1.0)
        # Family b: auto beats prom_best by far, but one series is 20% worse than naive and
        # one's coverage is 80% (outside 85-95%).
        series(d, "fam_b__t0:v", "15m", auto=0.6, prom_best=2.0, naive=0.5, coverage="0.80",
               member="prom_hw_3h_sf0.1_tf0.1", sm_best=0.5)
        series(d, "fam_b__t1:v", "15m", auto=0.2, prom_best=2.0, naive=1.0, coverage="0.91", sm_best=0.5)
        series(d, "fam_b__t0:v", "1h", auto=0.6, prom_best=2.0, naive=1.0, coverage="0.90", sm_best=0.5)
        series(d, "fam_b__t1:v", "1h", auto=0.2, prom_best=2.0, naive=1.0, coverage="0.90", sm_best=0.5)
        with open(os.path.join(d, "fam_c__u:value@15m.skipped"), "w") as f:
            f.write("skipped\n")
        self.md = agg.aggregate(d, ["15m", "1h"], "second")

    def tearDown(self):
        self.tmp.cleanup()

    def row(self, section, label):
        """The table row starting with `| label |` in the section titled `section`."""
        part = self.md.split(section, 1)[1].split("\n### ", 1)[0]
        for line in part.splitlines():
            if line.startswith(f"| {label} |"):
                return [c.strip() for c in line.strip("|").split("|")]
        self.fail(f"no row {label} in {section}:\n{part}")

    def test_states_the_half_and_the_tuning(self):
        self.assertIn("**second half** of each series' span", self.md)
        self.assertIn("tuned on first halves only", self.md)
        self.assertIn("chosen in hindsight", self.md)
        self.assertIn("5 series in 2 families: fam_a 3, fam_b 2", self.md)

    def test_auto_against_prom_best_per_family_and_overall(self):
        title = "auto against the best PromQL function in hindsight"
        self.assertIn("goal: median per-series ratio <= 0.8 at 15m, 1h", self.md)
        self.assertEqual(self.row(title, "fam_a"), ["fam_a", "3", "0.700 (3/3)", "0.900 (3/3)", "MISSED at 1h"])
        self.assertEqual(self.row(title, "fam_b"), ["fam_b", "2", "0.200 (2/2)", "0.200 (2/2)", "met"])
        # Overall: 15m ratios 0.5, 0.7, 0.9, 0.3, 0.1; 1h 0.9, 0.9, 0.6, 0.3, 0.1.
        self.assertEqual(self.row(title, "**all**"), ["**all**", "5", "0.500 (5/5)", "0.600 (5/5)", "met"])

    def test_auto_against_the_anchor(self):
        title = "auto against the statsmodels anchor's best in hindsight"
        self.assertIn("goal: median per-series ratio <= 0.9", self.md)
        self.assertEqual(self.row(title, "fam_a")[-1], "met")  # 0.7 and 0.9
        self.assertEqual(self.row(title, "fam_b"), ["fam_b", "2", "0.800 (1/2)", "0.800 (1/2)", "met"])

    def test_what_a_choice_in_hindsight_would_reach(self):
        # The library here is naive alone; fam_b's statsmodels best (0.5 on both series) beats
        # naive where naive is 1.0: at 15m 0.25 and 0.5 of prom_best by naive (1h: 0.5, 0.5), 0.25
        # and 0.25 with statsmodels.
        self.assertIn("### What a choice in hindsight would reach (ratio to prom_best; goal 0.8 at 15m, 1h)",
                      self.md)
        self.assertIn("| fam_a | 0.700 / 1.000 / 1.000 | 0.900 / 1.000 / 1.000 |", self.md)
        self.assertIn("(naive; and sm_best)", self.md)
        # Against the statsmodels best: naive / sm_best is 1.0 on fam_a; fam_b 1.0 and 2.0 (1.5) at
        # 15m, 2.0 and 2.0 at 1h.
        self.assertIn("### What a choice in hindsight would reach (ratio to sm_best; goal 0.9 at 15m, 1h)", self.md)
        self.assertIn("| fam_b | 0.800 / 1.500 | 0.800 / 2.000 |", self.md)
        self.assertIn("| fam_b | 0.200 / 0.375 / 0.250 | 0.200 / 0.500 / 0.250 |", self.md)

    def test_coverage_per_family(self):
        title = "auto's 90% intervals per family"
        self.assertEqual(self.row(title, "fam_a"), ["fam_a", "90.0% / 0 of 3", "90.0% / 0 of 3", "met"])
        self.assertEqual(self.row(title, "fam_b"), ["fam_b", "85.5% / 1 of 2", "90.0% / 0 of 2", "MISSED"])
        self.assertEqual(self.row(title, "**all**")[-1], "MISSED")

    def test_auto_against_naive(self):
        title = "auto against naive"
        self.assertEqual(self.row(title, "fam_b"), ["fam_b", "1/2 (1.20)", "0/2 (0.60)"])
        self.assertEqual(self.row(title, "**all**"), ["**all**", "1/5 (1.20)", "0/5 (0.90)"])

    def test_kept_tables_and_per_series(self):
        self.assertEqual(self.row("Median MASE per model", "prom_best"), ["prom_best", "1.000", "1.000"])
        self.assertEqual(self.row("Which PromQL setting is prom_best", "prom_lin_3h"), ["prom_lin_3h", "4", "5"])
        self.assertEqual(self.row("Which PromQL setting is prom_best", "prom_hw_3h_sf0.1_tf0.1"),
                         ["prom_hw_3h_sf0.1_tf0.1", "1", "0"])
        self.assertIn("Not run (horizon shorter than the series' step, or no origin in the half): fam_c/u:value @ 15m",
                      self.md)
        cells = self.row("MASE per series, horizon 15m", "fam_b/t0:v")
        # naive, auto, prom_best, sm_best, then prom_best's member, auto / prom_best, auto's model, coverage.
        self.assertEqual(cells[1:], ["**0.500**", "0.600", "2.000", "**0.500**", "prom_hw_3h_sf0.1_tf0.1", "0.300",
                                     "holt", "80.0%"])

    def test_command_line_and_first_half(self):
        run = subprocess.run([sys.executable, SCRIPT, self.tmp.name, "15m", "--half", "first"],
                             capture_output=True, text=True, check=True)
        self.assertIn("**first half**", run.stdout)
        self.assertNotIn("tuned on first halves only", run.stdout)
        self.assertIn("at 15m)", run.stdout)

    def test_partial_runs_leave_out_the_goal_tables(self):
        with tempfile.TemporaryDirectory() as d:
            write(d, "fam__s:value", "15m", [("naive", "naive", 1.0, "0.9")])
            md = agg.aggregate(d, ["15m"], "second")
        self.assertNotIn("auto against", md)
        self.assertIn("| naive | 1.000 |", md)


if __name__ == "__main__":
    unittest.main(verbosity=2)
