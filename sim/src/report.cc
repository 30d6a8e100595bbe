#include "prescale/sim/report.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <memory>

namespace prescale::sim {
namespace {

// A FILE* closed on every return path.
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// Fixed decimals, or significant digits when general; "-" when not finite.
std::string Number(double v, int digits, bool general = false) {
  if (!std::isfinite(v)) return "-";
  char buf[64];
  if (general) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  } else {
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  }
  return buf;
}

Status Finish(File file, const std::string& path) {
  const bool failed = std::ferror(file.get()) != 0;
  if (std::fclose(file.release()) != 0 || failed) return Status::IoError("cannot write " + path);
  return Status::Ok();
}

}  // namespace

std::string FormatUnixSeconds(int64_t timestamp_ms) {
  if (timestamp_ms % 1000 == 0) return std::to_string(timestamp_ms / 1000);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(timestamp_ms) / 1e3);
  return buf;
}

std::string FormatScoreTable(const EvalResult& result) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-34s %9s %8s %8s %12s %9s %8s %11s\n", "model", "forecasts", "MASE", "sMAPE%",
                "RMSE", "coverage", "fit_s", "us/forecast");
  out += line;
  for (const ModelScore& s : result.scores) {
    std::string name = s.model;
    if (s.answering != s.model && !s.answering.empty()) name += " (" + s.answering + ")";
    const double per_us = s.forecasts == 0 ? NAN : s.fit_seconds * 1e6 / static_cast<double>(s.forecasts);
    std::snprintf(line, sizeof line, "%-34s %9zu %8s %8s %12s %9s %8s %11s\n", name.c_str(), s.forecasts,
                  Number(s.mase, 3).c_str(), Number(s.smape, 2).c_str(), Number(s.rmse, 4, true).c_str(),
                  s.has_interval ? (Number(s.coverage * 100, 1) + "%").c_str() : "-", Number(s.fit_seconds, 3).c_str(),
                  Number(per_us, 1).c_str());
    out += line;
  }
  return out;
}

Status WriteForecastCsv(const std::string& path, const EvalResult& result, const EvalOptions& options) {
  File f(std::fopen(path.c_str(), "w"));
  if (!f) return Status::IoError("cannot create " + path);
  std::fputs("origin_ts,horizon_s,target_ts,actual,model,point,lower,upper\n", f.get());
  const std::string horizon_s = FormatUnixSeconds(options.horizon.count());
  for (const ForecastRecord& r : result.records) {
    // %.17g: the exact doubles, so the errors can be recomputed bit for bit.
    std::fprintf(f.get(), "%s,%s,%s,%.17g,%s,%.17g,%.17g,%.17g\n", FormatUnixSeconds(r.origin_ms).c_str(),
                 horizon_s.c_str(), FormatUnixSeconds(r.target_ms).c_str(), r.actual, options.models[r.model].c_str(),
                 r.point, r.lower, r.upper);
  }
  return Finish(std::move(f), path);
}

Status WriteSummaryCsv(const std::string& path, const EvalResult& result) {
  File f(std::fopen(path.c_str(), "w"));
  if (!f) return Status::IoError("cannot create " + path);
  std::fputs("model,answering,forecasts,mase,smape,rmse,coverage,fit_s\n", f.get());
  for (const ModelScore& s : result.scores) {
    const std::string coverage = s.has_interval && std::isfinite(s.coverage) ? Number(s.coverage, 6) : "";
    auto num = [](double v) { return std::isfinite(v) ? Number(v, 9, true) : std::string("nan"); };
    std::fprintf(f.get(), "%s,%s,%zu,%s,%s,%s,%s,%.6f\n", s.model.c_str(), s.answering.c_str(), s.forecasts,
                 num(s.mase).c_str(), num(s.smape).c_str(), num(s.rmse).c_str(), coverage.c_str(), s.fit_seconds);
  }
  return Finish(std::move(f), path);
}

}  // namespace prescale::sim
