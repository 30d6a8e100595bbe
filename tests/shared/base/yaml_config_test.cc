#include "prescale/base/yaml_config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace prescale {
namespace {

TEST(YamlConfigReader, SyntaxErrorNamesFileAndLine) {
  YamlConfigReader r("cfg.yaml");
  auto root = r.Parse("a: 1\nb: [1, 2\nc: 3\n");
  ASSERT_FALSE(root.ok());
  EXPECT_NE(root.status().message().find("cfg.yaml:"), std::string::npos) << root.status().message();
  EXPECT_NE(root.status().message().find("invalid YAML"), std::string::npos);
}

TEST(YamlConfigReader, UnknownKeyNamesKeyPathAndLine) {
  YamlConfigReader r("cfg.yaml");
  auto root = r.Parse("outer:\n  good: 1\n  typo: 2\n");
  ASSERT_TRUE(root.ok());
  Status s = r.CheckMap((*root)["outer"], "outer", {"good"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cfg.yaml:3: outer.typo: unknown key"), std::string::npos) << s.message();
}

TEST(YamlConfigReader, TypedGettersReportWrongTypesWithLine) {
  YamlConfigReader r("cfg.yaml");
  auto root = r.Parse("d: 5s\nbad_d: soon\nb: true\nbad_b: maybe\nsize: 4MiB\nlist: [1]\n");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(r.Duration((*root)["d"], "d").value(), std::chrono::seconds(5));
  EXPECT_TRUE(r.Bool((*root)["b"], "b").value());
  EXPECT_EQ(r.ByteSize((*root)["size"], "size").value(), 4u << 20);
  auto bad_d = r.Duration((*root)["bad_d"], "bad_d");
  ASSERT_FALSE(bad_d.ok());
  EXPECT_NE(bad_d.status().message().find("cfg.yaml:2: bad_d:"), std::string::npos) << bad_d.status().message();
  auto bad_b = r.Bool((*root)["bad_b"], "bad_b");
  ASSERT_FALSE(bad_b.ok());
  EXPECT_NE(bad_b.status().message().find("cfg.yaml:4: bad_b: expected true or false"), std::string::npos);
  auto not_string = r.String((*root)["list"], "list");
  ASSERT_FALSE(not_string.ok());
  EXPECT_NE(not_string.status().message().find("cfg.yaml:6: list: expected a string"), std::string::npos);
}

TEST(YamlConfigReader, EmptyDocumentIsAnEmptyMap) {
  YamlConfigReader r("cfg.yaml");
  auto root = r.Parse("");
  ASSERT_TRUE(root.ok());
  EXPECT_TRUE(root->IsMap());
  EXPECT_TRUE(r.CheckMap(*root, "", {"a"}).ok());
}

TEST(ConfigNode, MapsKeepDocumentOrderAndLines) {
  YamlConfigReader r("cfg.yaml");
  auto root = r.Parse("b: 1\na:\n  - x\n  - 'y'\nc: ~\n");
  ASSERT_TRUE(root.ok());
  ASSERT_TRUE(root->IsMap());
  EXPECT_EQ(root->size(), 3u);
  std::vector<std::string> keys;
  for (const ConfigNode::Entry& e : root->Entries()) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_EQ(root->Entries()[1].key_node.Line(), 2);
  const ConfigNode list = (*root)["a"];
  ASSERT_TRUE(list.IsSequence());
  ASSERT_EQ(list.Items().size(), 2u);
  EXPECT_EQ(list[1].Scalar(), "y");
  EXPECT_EQ(list[1].Line(), 4);
  EXPECT_FALSE(list[0].IsQuoted());
  EXPECT_TRUE(list[1].IsQuoted());
  EXPECT_TRUE((*root)["c"].IsNull());
  EXPECT_EQ((*root)["b"].Scalar(), "1");
}

// yaml-cpp throws for some of these; ConfigNode answers "undefined".
TEST(ConfigNode, MissingKeysAndIndexesAreUndefined) {
  YamlConfigReader r("cfg.yaml");
  auto root = r.Parse("s: text\nl: [1]\n");
  ASSERT_TRUE(root.ok());
  EXPECT_FALSE((*root)["missing"].IsDefined());
  EXPECT_FALSE((*root)["missing"]["deeper"].IsDefined());
  EXPECT_FALSE((*root)["s"]["key"].IsDefined());
  EXPECT_FALSE((*root)["l"][1].IsDefined());
  EXPECT_FALSE((*root)[0].IsDefined());
  EXPECT_EQ((*root)["missing"].size(), 0u);
  EXPECT_TRUE((*root)["missing"].Entries().empty());
  EXPECT_EQ((*root)["missing"].Scalar(), "");
  EXPECT_EQ((*root)["missing"].Line(), 0);
  // An error about an undefined node has no line to name.
  EXPECT_EQ(r.Error((*root)["missing"], "missing", "required").message(), "cfg.yaml: missing: required");
}

TEST(JoinPath, BuildsDottedAndIndexedPaths) {
  EXPECT_EQ(JoinPath("", "a"), "a");
  EXPECT_EQ(JoinPath("a", "b"), "a.b");
  EXPECT_EQ(IndexPath("mapping", 2), "mapping[2]");
}

}  // namespace
}  // namespace prescale
