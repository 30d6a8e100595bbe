#include "prescale/cli/output.h"

#include <gtest/gtest.h>

#include "prescale/base/yaml_config.h"
#include "prescale/cli/client.h"
#include "prescale/decide/control_manifest.h"

namespace prescale::cli {
namespace {

rapidjson::Document Json(std::string_view text) {
  auto d = ParseJson(text, "test");
  EXPECT_TRUE(d.ok()) << d.status().message();
  return d.ok() ? std::move(*d) : rapidjson::Document();
}

TEST(Table, AlignsColumnsToTheWidestCellWithoutTrailingBlanks) {
  Table t;
  t.header = {"NAME", "WEIGHT", "LABELS"};
  t.rows = {{"acme", "2", "tier=gold"}, {"a-much-longer-name", "10", ""}};
  EXPECT_EQ(t.Render(),
            "NAME                 WEIGHT   LABELS\n"
            "acme                 2        tier=gold\n"
            "a-much-longer-name   10\n");
  Table empty;
  empty.header = {"ID", "ROLE"};
  EXPECT_EQ(empty.Render(), "ID   ROLE\n");
}

TEST(Cells, NumbersBytesTimesAndMissingMembers) {
  const auto o = Json(R"({"name":"web","w":2.0,"x":0.5,"q":{"cpu":64,"m":null},"e":""})");
  EXPECT_EQ(Cell(o, "name"), "web");
  EXPECT_EQ(Cell(o, "w"), "2");
  EXPECT_EQ(Cell(o, "x"), "0.5");
  EXPECT_EQ(Cell(o, "q.cpu"), "64");
  EXPECT_EQ(Cell(o, "q.m"), "-");
  EXPECT_EQ(Cell(o, "q.none", "(global)"), "(global)");
  EXPECT_EQ(Cell(o, "e"), "-");
  EXPECT_EQ(BytesText(137438953472.0), "128Gi");
  EXPECT_EQ(BytesText(536870912), "512Mi");
  EXPECT_EQ(BytesText(1610612736), "1.5Gi");
  EXPECT_EQ(BytesText(100), "100");
  EXPECT_EQ(TimeText(1795831200000), "2026-11-28T02:00:00Z");
  EXPECT_EQ(TimeText(0), "-");
}

// The API writes executor.mode only when it is not act; without an executor a service recommends.
TEST(Cells, AServicesModeIsWhatItsDecisionsDo) {
  EXPECT_EQ(ServiceMode(Json(R"({"executor":{"type":"webhook","url":"http://h/"}})")), "act");
  EXPECT_EQ(ServiceMode(Json(R"({"executor":{"type":"webhook","mode":"recommend-only"}})")), "recommend-only");
  EXPECT_EQ(ServiceMode(Json(R"({"executor":{"type":"recommend-only"}})")), "recommend-only");
  EXPECT_EQ(ServiceMode(Json(R"({"executor":{"type":"recommend-only","mode":"off"}})")), "off");
  EXPECT_EQ(ServiceMode(Json(R"({"name":"web"})")), "act");
}

TEST(Output, FormatsByName) {
  EXPECT_EQ(*ParseOutputFormat("json"), OutputFormat::kJson);
  EXPECT_EQ(*ParseOutputFormat("yaml"), OutputFormat::kYaml);
  EXPECT_EQ(*ParseOutputFormat(""), OutputFormat::kTable);
  EXPECT_EQ(*ParseOutputFormat("name"), OutputFormat::kName);
  auto bad = ParseOutputFormat("xml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "-o xml: must be table, json, yaml or name");
}

// YAML printed for an object reads back (the manifest reader's way) as the same JSON, so an
// object printed with -o yaml can be edited and applied.
TEST(JsonToYaml, ReadsBackAsTheSameJson) {
  const std::string json =
      R"({"name":"acme","labels":{"zip":"01234","flag":"true","none":"null","empty":"","t":"~","x y":"a: b"},)"
      R"("quotas":{},"list":[],"weight":2.5,"n":-3,"big":137438953472.0,"on":true,"nothing":null,)"
      R"("nested":[{"type":"Pods","value":4},["a",1]],"date":"2026-11-28T00:00:00Z","quote":"it's \"x\"\n"})";
  const auto doc = Json(json);
  const std::string yaml = JsonToYaml(doc);
  YamlConfigReader r("printed.yaml");
  auto node = r.Parse(yaml);
  ASSERT_TRUE(node.ok()) << node.status().message() << "\n" << yaml;
  const auto back = Json(aggregator::ConfigNodeJson(*node));
  EXPECT_EQ(back, doc) << yaml;
  EXPECT_NE(yaml.find("zip: \"01234\""), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("quotas: {}"), std::string::npos) << yaml;
}

TEST(PrettyJson, IndentsAndEndsWithANewline) {
  EXPECT_EQ(PrettyJson(Json(R"({"a":[1,2],"b":{"c":"d"}})")),
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {\n    \"c\": \"d\"\n  }\n}\n");
}

}  // namespace
}  // namespace prescale::cli
