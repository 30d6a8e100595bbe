// Status: the field an input error is about travels with it, and detail()
// gives the message without ForField's "field: " prefix.
#include "prescale/base/status.h"

#include <gtest/gtest.h>

namespace prescale {
namespace {

TEST(Status, ForFieldPrefixesTheMessageAndKeepsTheField) {
  const Status s = Status::ForField(StatusCode::kUnprocessable, "replicas.min", "must be at most replicas.max");
  EXPECT_EQ(s.code(), StatusCode::kUnprocessable);
  EXPECT_EQ(s.field(), "replicas.min");
  EXPECT_EQ(s.message(), "replicas.min: must be at most replicas.max");
  EXPECT_EQ(s.detail(), "must be at most replicas.max");
}

TEST(Status, DetailIsTheWholeMessageWithoutAFieldOrItsPrefix) {
  EXPECT_EQ(Status::InvalidArgument("malformed JSON").detail(), "malformed JSON");
  EXPECT_EQ(Status::ForField(StatusCode::kInvalidArgument, "", "no body").detail(), "no body");
  // A field set afterwards on a message that does not start with it: nothing is cut.
  EXPECT_EQ(Status::InvalidArgument("bad value").WithField("name").detail(), "bad value");
}

Result<int> Half(int n) {
  if (n % 2 != 0) return Status::ForField(StatusCode::kInvalidArgument, "n", "must be even");
  return n / 2;
}

Result<int> Quarter(int n) {
  PRESCALE_ASSIGN_OR_RETURN(const int half, Half(n));
  PRESCALE_ASSIGN_OR_RETURN(const int quarter, Half(half));
  return quarter;
}

TEST(Status, AssignOrReturnPassesTheFirstErrorWithItsField) {
  EXPECT_EQ(Quarter(8).value(), 2);
  const Result<int> odd = Quarter(6);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().field(), "n");
  EXPECT_EQ(odd.status().message(), "n: must be even");
}

}  // namespace
}  // namespace prescale
