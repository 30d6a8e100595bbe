// SplitRequestTarget: the request line's target as routes see it.
#include <gtest/gtest.h>

#include <string>

#include "prescale/http/query_string.h"

namespace prescale::http {
namespace {

struct Split {
  bool ok = false;
  std::string path;
  std::string query;
};

Split Of(std::string_view target) {
  Split s;
  s.ok = SplitRequestTarget(target, &s.path, &s.query);
  return s;
}

TEST(SplitRequestTarget, DecodesThePathKeepsTheQueryRawAndRemovesDotSegments) {
  const Split s = Of("/api/v1/tenants/a%20b/services/web?match=x%3D1&y=+");
  ASSERT_TRUE(s.ok);
  EXPECT_EQ(s.path, "/api/v1/tenants/a b/services/web");
  EXPECT_EQ(s.query, "match=x%3D1&y=+");
  EXPECT_EQ(Of("/a+b").path, "/a+b");  // '+' is a space in queries only
  EXPECT_EQ(Of("/a/./b/../c").path, "/a/c");
  EXPECT_EQ(Of("/../../etc/passwd").path, "/etc/passwd");
  EXPECT_EQ(Of("/a/%2e%2e/b").path, "/b");  // decoded first, as the route matcher expects
  EXPECT_EQ(Of("/a/..").path, "/");
  EXPECT_EQ(Of("/a/b/.").path, "/a/b/");
  EXPECT_EQ(Of("/").path, "/");
}

TEST(SplitRequestTarget, AbsoluteFormRoutesOnThePathAlone) {
  EXPECT_EQ(Of("http://example.com:9570/healthz?x=1").path, "/healthz");
  EXPECT_EQ(Of("HTTPS://example.com/metrics").path, "/metrics");
  const Split bare = Of("http://example.com?q=1");
  ASSERT_TRUE(bare.ok);
  EXPECT_EQ(bare.path, "/");
  EXPECT_EQ(bare.query, "q=1");
  EXPECT_EQ(Of("http://example.com").path, "/");
}

TEST(SplitRequestTarget, RefusesWhatIsNotAPath) {
  for (const char* target : {"", "*", "example.com:443", "?x=1", "healthz", "/a%zz", "/a%4", "/a%00b"}) {
    EXPECT_FALSE(Of(target).ok) << target;
  }
}

}  // namespace
}  // namespace prescale::http
