// Plots: one model's forecasts against the actuals with its interval band
// (`forecast --plot`), and named lines over time (`replay`: demand against
// each policy's capacity). SVG is drawn here; PNG through python3's matplotlib.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
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

// Runs python3 -c SCRIPT PATH TITLE and feeds it `data` on stdin.
Status RunPython(const char* script_text, const std::string& data, const std::string& path, const std::string& title) {
  int fds[2];
  if (::pipe(fds) != 0) return Status::Unavailable("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], 0);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  std::string arg0 = PythonProgram(), arg1 = "-c", script = script_text, out = path, t = title;
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
  std::fwrite(data.data(), 1, data.size(), in);
  std::fclose(in);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Unavailable(arg0 + " with matplotlib failed to draw " + path +
                               " (Debian package python3-matplotlib; or write .svg)");
  }
  return Status::Ok();
}

Status Png(const std::vector<PlotPoint>& pts, const std::string& path, const std::string& title) {
  std::string data;
  char line[160];
  for (const PlotPoint& p : pts) {
    std::snprintf(line, sizeof line, "%.3f,%.17g,%.17g,%.17g,%.17g\n", static_cast<double>(p.t_ms) / 1e3, p.actual,
                  p.point, p.lower, p.upper);
    data += line;
  }
  return RunPython(kMatplotlib, data, path, title);
}

Status WriteText(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return Status::IoError("cannot create " + path);
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok) return Status::IoError("cannot write " + path);
  return Status::Ok();
}

// Several named lines over one time axis (the replay's demand against each
// policy's capacity). The first line is drawn black, the others in colours.
constexpr const char* kLinesMatplotlib = R"PY(
import sys, datetime
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
lines = sys.stdin.read().split("\n")
names = lines[0].split(",")[1:]
rows = [l.split(",") for l in lines[1:] if l]
t = [datetime.datetime.fromtimestamp(float(r[0]), datetime.timezone.utc) for r in rows]
fig, ax = plt.subplots(figsize=(14, 4.5))
for i, name in enumerate(names):
    ax.plot(t, [float(r[i + 1]) for r in rows], linewidth=1.2 if i == 0 else 0.8,
            color="black" if i == 0 else None, label=name, drawstyle="steps-post")
ax.set_title(sys.argv[2])
ax.set_ylabel("cores")
ax.set_xlabel("virtual time (UTC)")
ax.legend(loc="upper right")
fig.tight_layout()
fig.savefig(sys.argv[1], dpi=80)
)PY";

constexpr std::array<const char*, 6> kColours = {"black", "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"};

std::string LinesSvg(const std::string& title, int64_t start_ms, int64_t step_ms, const std::vector<PlotLine>& lines,
                     size_t stride) {
  constexpr double kW = 1200, kH = 420, kLeft = 70, kRight = 20, kTop = 40, kBottom = 40;
  double hi = 0;
  size_t n = 0;
  for (const PlotLine& l : lines) {
    n = std::max(n, l.values.size());
    for (double v : l.values) {
      if (std::isfinite(v)) hi = std::max(hi, v);
    }
  }
  if (!(hi > 0)) hi = 1;
  auto x = [&](size_t k) {
    return kLeft + (kW - kLeft - kRight) * static_cast<double>(k) / std::max<double>(1, n - 1);
  };
  auto y = [&](double v) { return kTop + (kH - kTop - kBottom) * (hi - v) / hi; };
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
                "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                kW, kH);
  std::string svg = buf;
  svg += "<text x=\"70\" y=\"22\" font-size=\"14\">" + XmlEscape(title) + "</text>\n";
  std::string legend;
  for (size_t i = 0; i < lines.size(); ++i) {
    const char* colour = kColours[i % kColours.size()];
    std::string d;
    for (size_t k = 0; k < lines[i].values.size(); k += stride) {
      std::snprintf(buf, sizeof buf, "%.1f,%.1f ", x(k), y(lines[i].values[k]));
      d += buf;
    }
    svg +=
        std::string("<polyline fill=\"none\" stroke=\"") + colour + "\" stroke-width=\"0.8\" points=\"" + d + "\"/>\n";
    legend += std::string("<tspan fill=\"") + colour + "\">" + XmlEscape(lines[i].name) + "</tspan> ";
  }
  const int64_t end_ms = start_ms + static_cast<int64_t>(n) * step_ms;
  std::snprintf(
      buf, sizeof buf,
      "<text x=\"4\" y=\"%.0f\">%.4g</text>\n<text x=\"4\" y=\"%.0f\">0</text>\n"
      "<text x=\"%.0f\" y=\"%.0f\">%s</text>\n<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%s UTC</text>\n",
      kTop + 4, hi, kH - kBottom, kLeft, kH - 12, UtcDate(start_ms).c_str(), kW - kRight, kH - 12,
      UtcDate(end_ms).c_str());
  svg += buf;
  std::snprintf(buf, sizeof buf, "<text x=\"%.0f\" y=\"22\" text-anchor=\"end\">", kW - kRight);
  return svg + buf + legend + "(cores)</text>\n</svg>\n";
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
  return WriteText(path, Svg(pts, title));
}

Status WriteLinesPlot(const std::string& path, const std::string& title, int64_t start_ms, int64_t step_ms,
                      const std::vector<PlotLine>& lines) {
  size_t n = 0;
  for (const PlotLine& l : lines) n = std::max(n, l.values.size());
  if (n == 0) return Status::InvalidArgument("nothing to plot in " + path);
  // At most ~4000 points per line, as WritePlot.
  const size_t stride = n / 4000 + 1;
  if (path.ends_with(".svg")) return WriteText(path, LinesSvg(title, start_ms, step_ms, lines, stride));
  if (!path.ends_with(".png")) return Status::InvalidArgument(path + ": the name must end in .svg or .png");
  std::string data = "t";
  for (const PlotLine& l : lines) data += "," + l.name;
  data += "\n";
  char buf[64];
  for (size_t k = 0; k < n; k += stride) {
    std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(start_ms + static_cast<int64_t>(k) * step_ms) / 1e3);
    data += buf;
    for (const PlotLine& l : lines) {
      std::snprintf(buf, sizeof buf, ",%.6g", k < l.values.size() ? l.values[k] : NAN);
      data += buf;
    }
    data += "\n";
  }
  return RunPython(kLinesMatplotlib, data, path, title);
}

}  // namespace prescale::sim
