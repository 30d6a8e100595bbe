// --plot: one model's forecasts against the actuals, with its interval band.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>

#include "prescale/sim/report.h"

extern char** environ;

namespace prescale::sim {
namespace {

struct PlotPoint {
  int64_t t_ms;
  double actual, point, lower, upper;
};

// At most ~4000 points: more adds nothing a screen can show and bloats the SVG.
std::vector<PlotPoint> Collect(const EvalResult& result, size_t model) {
  std::vector<PlotPoint> all;
  for (const ForecastRecord& r : result.records) {
    if (r.model == model) all.push_back({r.target_ms, r.actual, r.point, r.lower, r.upper});
  }
  const size_t stride = all.size() / 4000 + 1;
  std::vector<PlotPoint> out;
  for (size_t i = 0; i < all.size(); i += stride) out.push_back(all[i]);
  return out;
}

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string UtcDate(int64_t t_ms) {
  const std::time_t t = static_cast<std::time_t>(t_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

std::string Svg(const std::vector<PlotPoint>& pts, const std::string& title) {
  constexpr double kW = 1200, kH = 420, kLeft = 70, kRight = 20, kTop = 40, kBottom = 40;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const PlotPoint& p : pts) {
    for (double v : {p.actual, p.lower, p.upper, p.point}) {
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    }
  }
  if (!(hi > lo)) hi = lo + 1;
  const double t0 = static_cast<double>(pts.front().t_ms), t1 = static_cast<double>(pts.back().t_ms);
  auto x = [&](int64_t t) {
    return kLeft + (kW - kLeft - kRight) * (static_cast<double>(t) - t0) / std::max(1.0, t1 - t0);
  };
  auto y = [&](double v) { return kTop + (kH - kTop - kBottom) * (hi - v) / (hi - lo); };
  auto path = [&](auto value) {
    std::string d;
    char buf[64];
    for (const PlotPoint& p : pts) {
      std::snprintf(buf, sizeof buf, "%.1f,%.1f ", x(p.t_ms), y(value(p)));
      d += buf;
    }
    return d;
  };
  std::string band = path([](const PlotPoint& p) { return p.upper; });
  for (auto it = pts.rbegin(); it != pts.rend(); ++it) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f,%.1f ", x(it->t_ms), y(it->lower));
    band += buf;
  }
  char head[512];
  std::snprintf(head, sizeof head,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
                "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                kW, kH);
  std::string svg = head;
  svg += "<text x=\"70\" y=\"22\" font-size=\"14\">" + XmlEscape(title) + "</text>\n";
  svg += "<polygon fill=\"#1f77b4\" fill-opacity=\"0.25\" stroke=\"none\" points=\"" + band + "\"/>\n";
  svg += "<polyline fill=\"none\" stroke=\"black\" stroke-width=\"0.8\" points=\"" +
         path([](const PlotPoint& p) { return p.actual; }) + "\"/>\n";
  svg += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"0.8\" points=\"" +
         path([](const PlotPoint& p) { return p.point; }) + "\"/>\n";
  char axis[512];
  std::snprintf(axis, sizeof axis,
                "<text x=\"4\" y=\"%.0f\">%.4g</text>\n<text x=\"4\" y=\"%.0f\">%.4g</text>\n"
                "<text x=\"%.0f\" y=\"%.0f\">%s</text>\n<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%s UTC</text>\n"
                "<text x=\"%.0f\" y=\"22\" text-anchor=\"end\">black: actual, blue: forecast and interval</text>\n",
                kTop + 4, hi, kH - kBottom, lo, kLeft, kH - 12, UtcDate(pts.front().t_ms).c_str(), kW - kRight, kH - 12,
                UtcDate(pts.back().t_ms).c_str(), kW - kRight);
  return svg + axis + "</svg>\n";
}

constexpr const char* kMatplotlib = R"PY(
import sys, datetime
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
rows = [l.split(",") for l in sys.stdin.read().split()]
t = [datetime.datetime.fromtimestamp(float(r[0]), datetime.timezone.utc) for r in rows]
col = lambda i: [float(r[i]) for r in rows]
fig, ax = plt.subplots(figsize=(14, 4.5))
ax.fill_between(t, col(3), col(4), color="tab:blue", alpha=0.25, linewidth=0, label="interval")
ax.plot(t, col(1), color="black", linewidth=0.8, label="actual")
ax.plot(t, col(2), color="tab:blue", linewidth=0.8, label="forecast")
ax.set_title(sys.argv[2])
ax.set_xlabel("target time (UTC)")
ax.legend(loc="upper right")
fig.tight_layout()
fig.savefig(sys.argv[1], dpi=110)
)PY";

// $PRESCALE_PYTHON, else Debian's /usr/bin/python3 (where python3-matplotlib
// installs; a pyenv or venv python3 first in PATH usually lacks it), else PATH's.
std::string PythonProgram() {
  const char* configured = std::getenv("PRESCALE_PYTHON");
  if (configured != nullptr && *configured != '\0') return configured;
  if (::access("/usr/bin/python3", X_OK) == 0) return "/usr/bin/python3";
  return "python3";
}

// Runs python3 -c kMatplotlib PATH TITLE and feeds it the points on stdin.
Status Png(const std::vector<PlotPoint>& pts, const std::string& path, const std::string& title) {
  int fds[2];
  if (::pipe(fds) != 0) return Status::Unavailable("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], 0);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  std::string arg0 = PythonProgram(), arg1 = "-c", script = kMatplotlib, out = path, t = title;
  char* argv[] = {arg0.data(), arg1.data(), script.data(), out.data(), t.data(), nullptr};
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, arg0.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[0]);
  if (rc != 0) {
    ::close(fds[1]);
    return Status::Unavailable("cannot run " + arg0 + " for the PNG plot (write .svg instead)");
  }
  std::FILE* in = ::fdopen(fds[1], "w");
  if (in == nullptr) {
    ::close(fds[1]);
    ::waitpid(pid, nullptr, 0);
    return Status::Unavailable("fdopen failed");
  }
  for (const PlotPoint& p : pts) {
    std::fprintf(in, "%.3f,%.17g,%.17g,%.17g,%.17g\n", static_cast<double>(p.t_ms) / 1e3, p.actual, p.point, p.lower,
                 p.upper);
  }
  std::fclose(in);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Unavailable(arg0 + " with matplotlib failed to draw " + path +
                               " (Debian package python3-matplotlib; or write .svg)");
  }
  return Status::Ok();
}

}  // namespace

Status WritePlot(const std::string& path, const EvalResult& result, const EvalOptions& options,
                 const std::string& model, const std::string& title) {
  const auto it = std::find(options.models.begin(), options.models.end(), model);
  if (it == options.models.end()) return Status::InvalidArgument("--plot-model " + model + " is not evaluated");
  const std::vector<PlotPoint> pts = Collect(result, static_cast<size_t>(it - options.models.begin()));
  if (pts.empty()) return Status::InvalidArgument("no forecast of " + model + " to plot");
  if (path.ends_with(".png")) return Png(pts, path, title);
  if (!path.ends_with(".svg")) return Status::InvalidArgument("--plot " + path + ": the name must end in .svg or .png");
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return Status::IoError("cannot create " + path);
  const std::string svg = Svg(pts, title);
  const bool ok = std::fwrite(svg.data(), 1, svg.size(), f) == svg.size();
  if (std::fclose(f) != 0 || !ok) return Status::IoError("cannot write " + path);
  return Status::Ok();
}

}  // namespace prescale::sim
