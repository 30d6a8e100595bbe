// Helpers shared by the agent tests: paths into tests/testdata, readers that
// take expected numbers straight from the fixture files (independently of the
// agent's parsers), copies of fixture trees to corrupt, and a lookup over a
// parsed exposition.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "prescale/metrics/text_parser.h"
#include "prescale/metrics/types.h"
#include "tests/support/test_env.h"

namespace prescale::agent::testing {

using ::prescale::testing::TempDir;
using ::prescale::testing::TestDataDir;

inline std::string Fixture(const std::string& relative) { return TestDataDir() + "/" + relative; }

// The fixture file's text; an empty string fails the calling test.
inline std::string FixtureText(const std::string& path) {
  const std::string text = ::prescale::testing::ReadFileOrEmpty(path);
  EXPECT_FALSE(text.empty()) << "missing or empty fixture file " << path;
  return text;
}

// A file holding one number ("123\n").
inline uint64_t FileU64(const std::string& path) { return std::stoull(FixtureText(path)); }
inline int64_t FileI64(const std::string& path) { return std::stoll(FixtureText(path)); }

// "key value" lines (cpu.stat, memory.stat, cpuacct.stat, memory.events, ...).
inline std::map<std::string, uint64_t> FileKeyValues(const std::string& path) {
  std::map<std::string, uint64_t> out;
  std::istringstream in(FixtureText(path));
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value) out[key] = value;
  return out;
}

// "some ... total=N" / "full ... total=N" (PSI), in microseconds.
struct PsiTotals {
  uint64_t some_us = 0;
  std::optional<uint64_t> full_us;
};
inline PsiTotals FilePressure(const std::string& path) {
  PsiTotals out;
  std::istringstream in(FixtureText(path));
  std::string line;
  while (std::getline(in, line)) {
    const size_t total = line.find("total=");
    if (total == std::string::npos) continue;
    const uint64_t v = std::stoull(line.substr(total + 6));
    if (line.starts_with("some")) out.some_us = v;
    if (line.starts_with("full")) out.full_us = v;
  }
  return out;
}

// blkio.throttle.* files: "MAJ:MIN Read N" -> {device -> {op -> N}}.
inline std::map<std::string, std::map<std::string, uint64_t>> FileBlkio(const std::string& path) {
  std::map<std::string, std::map<std::string, uint64_t>> out;
  std::istringstream in(FixtureText(path));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string dev, op;
    uint64_t v = 0;
    if (fields >> dev >> op >> v) out[dev][op] = v;
  }
  return out;
}

// io.stat: "MAJ:MIN rbytes=1 wbytes=2 ..." -> {device -> {key -> N}}.
inline std::map<std::string, std::map<std::string, uint64_t>> FileIoStat(const std::string& path) {
  std::map<std::string, std::map<std::string, uint64_t>> out;
  std::istringstream in(::prescale::testing::ReadFileOrEmpty(path));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string dev, kv;
    fields >> dev;
    while (fields >> kv) {
      const size_t eq = kv.find('=');
      out[dev][kv.substr(0, eq)] = std::stoull(kv.substr(eq + 1));
    }
  }
  return out;
}

// Copies a fixture tree (files are plain copies, so they can be corrupted freely).
inline void CopyTree(const std::string& from, const std::string& to) {
  std::filesystem::create_directories(to);
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive);
}

inline void Overwrite(const std::string& path, const std::string& content) {
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  std::filesystem::remove(path);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  std::fwrite(content.data(), 1, content.size(), f);
  std::fclose(f);
}

// A parsed exposition with lookups by name and a subset of labels.
class ParsedExposition {
 public:
  explicit ParsedExposition(const std::string& text) {
    auto parsed = metrics::ParseTextExposition(text);
    if (parsed.ok()) {
      families_ = std::move(parsed).value();
    } else {
      error_ = parsed.status().ToString();
    }
  }
  // Empty when the text parsed with the strict parser.
  const std::string& error() const { return error_; }
  const std::vector<metrics::MetricFamily>& families() const { return families_; }

  // Samples named `name` carrying every label of `labels` (copies).
  std::vector<metrics::Sample> Find(const std::string& name, const metrics::Labels& labels = {}) const {
    std::vector<metrics::Sample> out;
    for (const auto& f : families_) {
      for (const auto& s : f.samples) {
        if (s.name != name) continue;
        bool all = true;
        for (const auto& want : labels) {
          bool found = false;
          for (const auto& have : s.labels) found = found || have == want;
          all = all && found;
        }
        if (all) out.push_back(s);
      }
    }
    return out;
  }
  // The value of the one sample matching; nullopt when none or several match.
  std::optional<double> Value(const std::string& name, const metrics::Labels& labels = {}) const {
    const auto found = Find(name, labels);
    if (found.size() != 1) return std::nullopt;
    return found.front().value;
  }
  // The family's type and help; nullopt when there is no such family.
  std::optional<metrics::MetricType> TypeOf(const std::string& name) const {
    for (const auto& f : families_) {
      if (f.name == name) return f.type;
    }
    return std::nullopt;
  }
  std::optional<std::string> HelpOf(const std::string& name) const {
    for (const auto& f : families_) {
      if (f.name == name) return f.help;
    }
    return std::nullopt;
  }

 private:
  std::vector<metrics::MetricFamily> families_;
  std::string error_;
};

// The label value of `name` on a sample, or "" when absent.
inline std::string LabelOf(const metrics::Sample& s, const std::string& name) {
  for (const auto& [k, v] : s.labels) {
    if (k == name) return v;
  }
  return "";
}

}  // namespace prescale::agent::testing
