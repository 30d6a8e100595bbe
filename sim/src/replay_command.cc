#include "prescale/sim/replay_command.h"

#include <cmath>
#include <filesystem>
#include <memory>
#include <system_error>

#include "prescale/sim/report.h"

namespace prescale::sim {
namespace {

constexpr std::array<const char*, kPriorities> kPriorityNames = {"critical", "high", "normal", "low", "best-effort"};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

Status Finish(File file, const std::string& path) {
  const bool failed = std::ferror(file.get()) != 0;
  if (std::fclose(file.release()) != 0 || failed) return Status::IoError("cannot write " + path);
  return Status::Ok();
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Which priority levels the scenario has (the table shows only those).
std::vector<size_t> Levels(const Scenario& scenario) {
  std::vector<size_t> levels;
  for (size_t p = 0; p < kPriorities; ++p) {
    for (const ScenarioService& s : scenario.services) {
      if (static_cast<size_t>(s.spec.priority) == p) {
        levels.push_back(p);
        break;
      }
    }
  }
  return levels;
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::string TotalsJson(const ReplayTotals& t) {
  std::string out = "{\"under_minutes\":{";
  for (size_t p = 0; p < kPriorities; ++p) {
    out += std::string(p ? "," : "") + "\"" + kPriorityNames[p] + "\":" + Fixed(t.under_minutes[p], 3);
  }
  out += "},\"throttled_minutes\":{";
  for (size_t p = 0; p < kPriorities; ++p) {
    out += std::string(p ? "," : "") + "\"" + kPriorityNames[p] + "\":" + Fixed(t.throttled_minutes[p], 3);
  }
  out += "},\"under_minutes_total\":" + Fixed(t.under_total(), 3) +
         ",\"provisioned_core_hours\":" + Fixed(t.provisioned_core_hours, 4) +
         ",\"over_core_hours\":" + Fixed(t.over_core_hours, 4) +
         ",\"demand_core_hours\":" + Fixed(t.demand_core_hours, 4) + ",\"actions\":" + std::to_string(t.actions) +
         ",\"inversion_minutes\":" + Fixed(t.inversion_minutes, 3) +
         ",\"under_limited_minutes\":" + Fixed(t.under_limited_minutes, 3) + "}";
  return out;
}

Status MakeDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create " + dir + ": " + ec.message());
  return Status::Ok();
}

Status WriteOutputs(const ReplayCommand& c, const Scenario& scenario, const ReplayResult& result, std::FILE* err) {
  PRESCALE_RETURN_IF_ERROR(MakeDir(c.output_dir));
  PRESCALE_RETURN_IF_ERROR(WriteReplayCsv(c.output_dir + "/summary.csv", result));
  PRESCALE_RETURN_IF_ERROR(WriteReplayJson(c.output_dir + "/summary.json", scenario, result));
  for (const ServiceTrack& t : result.services) {
    std::vector<PlotLine> lines = {{"demand", t.demand_cores}};
    for (size_t p = 0; p < kPolicies; ++p) lines.push_back({kPolicyNames[p], t.provided_cores[p]});
    const std::string path = c.output_dir + "/" + t.tenant + "-" + t.service + "." + c.plot_format;
    const std::string title = scenario.name + ": " + t.tenant + "/" + t.service + " (" +
                              std::string(aggregator::PriorityName(t.priority)) +
                              "), demand vs provided capacity per policy";
    PRESCALE_RETURN_IF_ERROR(WriteLinesPlot(path, title, result.start_ms, 60'000, lines));
    if (!c.quiet) std::fprintf(err, "wrote %s\n", path.c_str());
  }
  return Status::Ok();
}

}  // namespace

std::string ReplayUsage() {
  return "usage: prescale-sim replay --scenario FILE.yaml [flags]\n"
         "  --scenario FILE   the scenario (docs/scenarios/*.yaml)\n"
         "  --output DIR      write summary.csv, summary.json and one plot per service there\n"
         "  --traces DIR      where the scenario's trace files are (default ../shared/traces)\n"
         "  --plot-format F   svg (default) or png (python3 with matplotlib)\n"
         "  --quiet           no progress on stderr\n";
}

Result<ReplayCommand> ParseReplayCommandLine(int argc, const char* const* argv) {
  ReplayCommand c;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      c.help = true;
      continue;
    }
    if (flag == "--quiet") {
      c.quiet = true;
      continue;
    }
    std::string name = flag, value;
    if (const size_t eq = flag.find('='); eq != std::string::npos) {
      name = flag.substr(0, eq);
      value = flag.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return Status::InvalidArgument(flag + " needs a value");
    }
    if (name == "--scenario") {
      c.scenario_path = value;
    } else if (name == "--output") {
      c.output_dir = value;
    } else if (name == "--traces") {
      c.traces_dir = value;
    } else if (name == "--plot-format") {
      if (value != "svg" && value != "png") return Status::InvalidArgument("--plot-format: expected svg or png");
      c.plot_format = value;
    } else {
      return Status::InvalidArgument("unknown flag " + name);
    }
    if (value.empty()) return Status::InvalidArgument(name + " needs a value");
  }
  if (!c.help && c.scenario_path.empty()) return Status::InvalidArgument("--scenario is required");
  return c;
}

std::string FormatReplayTable(const Scenario& scenario, const ReplayResult& result) {
  const std::vector<size_t> levels = Levels(scenario);
  std::string out = "scenario " + scenario.name + ": " + std::to_string(scenario.services.size()) + " services, " +
                    Fixed(result.measured_minutes, 0) + " measured minutes, demand " +
                    Fixed(result.totals[0].demand_core_hours, 2) + " core-hours\n";
  char cell[64];
  std::string head = "policy    ";
  for (size_t p : levels) {
    std::snprintf(cell, sizeof cell, " %13s", (std::string("under:") + kPriorityNames[p]).c_str());
    head += cell;
  }
  head += "   under limit-bound  core-h  over-h  actions";
  for (size_t p : levels) {
    std::snprintf(cell, sizeof cell, " %15s", (std::string("throttled:") + kPriorityNames[p]).c_str());
    head += cell;
  }
  out += head + "  inversions\n";
  for (size_t k = 0; k < kPolicies; ++k) {
    const ReplayTotals& t = result.totals[k];
    std::snprintf(cell, sizeof cell, "%-10s", kPolicyNames[k]);
    std::string row = cell;
    for (size_t p : levels) {
      std::snprintf(cell, sizeof cell, " %13.1f", t.under_minutes[p]);
      row += cell;
    }
    std::snprintf(cell, sizeof cell, " %7.1f %11.1f %7.2f %7.2f %8lld", t.under_total(), t.under_limited_minutes,
                  t.provisioned_core_hours, t.over_core_hours, static_cast<long long>(t.actions));
    row += cell;
    for (size_t p : levels) {
      std::snprintf(cell, sizeof cell, " %15.1f", t.throttled_minutes[p]);
      row += cell;
    }
    std::snprintf(cell, sizeof cell, " %11.1f\n", t.inversion_minutes);
    out += row + cell;
  }
  const ReplayTotals& pre = result.totals[0];
  const ReplayTotals& hpa = result.totals[1];
  if (hpa.under_total() > 0 && hpa.provisioned_core_hours > 0) {
    std::snprintf(cell, sizeof cell, "prescale vs hpa: under-provisioned %+.1f%%, core-hours %+.1f%%\n",
                  100 * (pre.under_total() / hpa.under_total() - 1),
                  100 * (pre.provisioned_core_hours / hpa.provisioned_core_hours - 1));
    out += cell;
  }
  return out;
}

Status WriteReplayCsv(const std::string& path, const ReplayResult& result) {
  File f(std::fopen(path.c_str(), "w"));
  if (!f) return Status::IoError("cannot create " + path);
  std::string header = "policy,tenant,service";
  for (const char* p : kPriorityNames) header += std::string(",under_min_") + p;
  header += ",under_min_total,provisioned_core_hours,over_core_hours,demand_core_hours,actions";
  for (const char* p : kPriorityNames) header += std::string(",throttled_min_") + p;
  std::fprintf(f.get(), "%s,inversion_min,under_limited_min\n", header.c_str());
  auto row = [&](size_t k, const std::string& tenant, const std::string& service, const ReplayTotals& t) {
    std::string line = std::string(kPolicyNames[k]) + "," + tenant + "," + service;
    for (double v : t.under_minutes) line += "," + Fixed(v, 3);
    line += "," + Fixed(t.under_total(), 3) + "," + Fixed(t.provisioned_core_hours, 4) + "," +
            Fixed(t.over_core_hours, 4) + "," + Fixed(t.demand_core_hours, 4) + "," + std::to_string(t.actions);
    for (double v : t.throttled_minutes) line += "," + Fixed(v, 3);
    std::fprintf(f.get(), "%s,%s,%s\n", line.c_str(), Fixed(t.inversion_minutes, 3).c_str(),
                 Fixed(t.under_limited_minutes, 3).c_str());
  };
  for (size_t k = 0; k < kPolicies; ++k) {
    row(k, "*", "*", result.totals[k]);
    for (const ServiceTrack& s : result.services) row(k, s.tenant, s.service, s.totals[k]);
  }
  return Finish(std::move(f), path);
}

Status WriteReplayJson(const std::string& path, const Scenario& scenario, const ReplayResult& result) {
  File f(std::fopen(path.c_str(), "w"));
  if (!f) return Status::IoError("cannot create " + path);
  std::string out = "{\"scenario\":\"" + JsonEscape(scenario.name) +
                    "\",\"measured_minutes\":" + Fixed(result.measured_minutes, 3) + ",\"policies\":{";
  for (size_t k = 0; k < kPolicies; ++k) {
    out += std::string(k ? "," : "") + "\"" + kPolicyNames[k] + "\":{\"total\":" + TotalsJson(result.totals[k]) +
           ",\"services\":[";
    for (size_t i = 0; i < result.services.size(); ++i) {
      const ServiceTrack& s = result.services[i];
      out += std::string(i ? "," : "") + "{\"tenant\":\"" + JsonEscape(s.tenant) + "\",\"service\":\"" +
             JsonEscape(s.service) + "\",\"priority\":\"" + std::string(aggregator::PriorityName(s.priority)) +
             "\",\"figures\":" + TotalsJson(s.totals[k]) + "}";
    }
    out += "]}";
  }
  out += "},\"notes\":[";
  for (size_t i = 0; i < result.notes.size(); ++i) {
    out += std::string(i ? "," : "") + "\"" + JsonEscape(result.notes[i]) + "\"";
  }
  out += "]}\n";
  std::fputs(out.c_str(), f.get());
  return Finish(std::move(f), path);
}

int RunReplayCommand(const ReplayCommand& c, std::FILE* out, std::FILE* err) {
  auto scenario = LoadScenario(c.scenario_path);
  if (!scenario.ok()) {
    std::fprintf(err, "prescale-sim replay: %s\n", scenario.status().message().c_str());
    return 2;
  }
  if (scenario->name.empty()) scenario->name = c.scenario_path;
  ReplayOptions options;
  options.traces_dir = c.traces_dir;
  if (!c.quiet) {
    options.progress = [err](int64_t done, int64_t total) {
      std::fprintf(err, "\rreplay: %3lld%% of %lld virtual minutes", static_cast<long long>(done * 100 / total),
                   static_cast<long long>(total / 60'000));
      std::fflush(err);
    };
  }
  auto result = RunReplay(*scenario, options);
  if (!c.quiet) std::fputs("\n", err);
  if (!result.ok()) {
    std::fprintf(err, "prescale-sim replay: %s\n", result.status().message().c_str());
    return result.status().code() == StatusCode::kIoError ? 1 : 2;
  }
  std::fputs(FormatReplayTable(*scenario, *result).c_str(), out);
  for (const std::string& note : result->notes) std::fprintf(out, "note: %s\n", note.c_str());
  if (!c.output_dir.empty()) {
    if (Status s = WriteOutputs(c, *scenario, *result, err); !s.ok()) {
      std::fprintf(err, "prescale-sim replay: %s\n", s.message().c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace prescale::sim
