#!/usr/bin/env python3
"""scripts/generate-monitoring: the selectors it adds to PromQL, its config errors, and that the
committed alert rules, dashboards and their copies are what it writes (--check)."""
import contextlib
import importlib.machinery
import importlib.util
import io
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "generate-monitoring"


def load():
    loader = importlib.machinery.SourceFileLoader("generate_monitoring", str(SCRIPT))
    spec = importlib.util.spec_from_loader("generate_monitoring", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


gm = load()
CONFIG = {"agent_job": ".*prescale-agent.*", "aggregator_job": ".*prescale-aggregator.*",
          "runbook_url_base": "https://example.test/runbooks.md", "cluster_label": "cluster", "multi_cluster": False}


class NarrowTest(unittest.TestCase):
    def test_adds_job_and_cluster_to_every_selector(self):
        cases = {
            'sum by (tenant) (prescale_service_usage{tenant=~"$tenant", resource="cpu"})':
                'sum by (tenant) (prescale_service_usage{job=~"$aggregator_job", cluster=~"$cluster", '
                'tenant=~"$tenant", resource="cpu"})',
            "prescale_aggregator_active_series":
                'prescale_aggregator_active_series{job=~"$aggregator_job", cluster=~"$cluster"}',
            'histogram_quantile(0.99, sum by (instance, le) (rate(prescale_agent_push_duration_seconds_bucket'
            '[$__rate_interval])))':
                'histogram_quantile(0.99, sum by (instance, le) (rate(prescale_agent_push_duration_seconds_bucket'
                '{job=~"$agent_job", cluster=~"$cluster"}[$__rate_interval])))',
            'count(prescale_throttled{tenant=~"$tenant"} > 0) or vector(0)':
                'count(prescale_throttled{job=~"$aggregator_job", cluster=~"$cluster", tenant=~"$tenant"} > 0) '
                'or vector(0)',
            # up names its job itself; label values holding braces or PromQL words stay as they are.
            'up{job=~"$agent_job"} and on (instance) machine_cpu_cores{node=~"a{b} and c"}':
                'up{cluster=~"$cluster", job=~"$agent_job"} and on (instance) machine_cpu_cores'
                '{job=~"$agent_job", cluster=~"$cluster", node=~"a{b} and c"}',
        }
        for expr, want in cases.items():
            with self.subTest(expr=expr):
                got = gm.narrow(expr, CONFIG)
                self.assertEqual(got, want)
                self.assertEqual(gm.narrow(got, CONFIG), got, "a second pass changes nothing")

    def test_label_values_queries_are_narrowed(self):
        self.assertEqual(gm.label_values_query("label_values(machine_cpu_cores, node)", CONFIG),
                         'label_values(machine_cpu_cores{job=~"$agent_job", cluster=~"$cluster"}, node)')


class ConfigTest(unittest.TestCase):
    def errors_of(self, text):
        with tempfile.TemporaryDirectory() as d:
            path = pathlib.Path(d) / "config.yaml"
            path.write_text(text)
            saved, gm.CONFIG = gm.CONFIG, path
            saved_root, gm.ROOT = gm.ROOT, pathlib.Path(d)
            err = io.StringIO()
            try:
                with contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as exited:
                    gm.load_config()
            finally:
                gm.CONFIG, gm.ROOT = saved, saved_root
            self.assertEqual(exited.exception.code, 2)
            return err.getvalue()

    def test_errors_name_the_key_and_line(self):
        good = (ROOT / "monitoring" / "config.yaml").read_text()
        self.assertIn("unknown key 'agent_jobs'", self.errors_of(good + "agent_jobs: x\n"))
        self.assertIn("missing key 'runbook_url_base'",
                      self.errors_of("\n".join(l for l in good.splitlines() if not l.startswith("runbook_url_base"))))
        bad_regex = good.replace('agent_job: ".*prescale-agent.*"', 'agent_job: "(["')
        line = next(i + 1 for i, l in enumerate(bad_regex.splitlines()) if l.startswith("agent_job:"))
        self.assertIn(f"config.yaml:{line}: 'agent_job' is not a regular expression", self.errors_of(bad_regex))
        self.assertIn("'multi_cluster' must be a bool", self.errors_of(good.replace("multi_cluster: false",
                                                                                   "multi_cluster: maybe")))


class CommittedFilesTest(unittest.TestCase):
    def test_committed_files_are_current(self):
        if shutil.which("kubectl") is None:
            self.skipTest("kubectl is missing (Debian package kubernetes-client): the ConfigMap cannot be rendered")
        r = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
