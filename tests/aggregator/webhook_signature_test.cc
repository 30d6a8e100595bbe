#include "prescale/aggregator/actions/webhook_signature.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/subprocess.h"

namespace prescale::aggregator {
namespace {

using prescale::testing::RunCommand;

// RFC 4231, test case 2.
constexpr std::string_view kKey = "Jefe";
constexpr std::string_view kData = "what do ya want for nothing?";
constexpr std::string_view kMac = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

TEST(WebhookSignature, MatchesRfc4231Vector) { EXPECT_EQ(SignWebhook(kKey, kData), kMac); }

TEST(WebhookSignature, SignsEmptyBodyAndEmptySecret) {
  // Well-known HMAC-SHA256 values of empty inputs.
  EXPECT_EQ(SignWebhook("", ""), "sha256=b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  EXPECT_EQ(SignWebhook("key", "The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

TEST(WebhookSignature, VerifiesOwnSignature) {
  const std::string body = R"({"tenant":"acme","service":"checkout","replicas":7})";
  const std::string header = SignWebhook("s3cret", body);
  EXPECT_TRUE(VerifyWebhookSignature("s3cret", body, header));
  EXPECT_TRUE(VerifyWebhookSignature(kKey, kData, kMac));
  // Hex digits in upper case are the same signature.
  std::string upper(kMac);
  for (size_t i = 7; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  EXPECT_TRUE(VerifyWebhookSignature(kKey, kData, upper));
}

TEST(WebhookSignature, RejectsTampering) {
  const std::string body = R"({"tenant":"acme","service":"checkout","replicas":7})";
  const std::string header = SignWebhook("s3cret", body);
  EXPECT_FALSE(VerifyWebhookSignature("s3cret", R"({"tenant":"acme","service":"checkout","replicas":70})", header));
  EXPECT_FALSE(VerifyWebhookSignature("s3cret", body + "\n", header));
  EXPECT_FALSE(VerifyWebhookSignature("s3cret2", body, header));
  EXPECT_FALSE(VerifyWebhookSignature("", body, SignWebhook("", body)));  // an empty secret proves nothing
  std::string flipped = header;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  EXPECT_FALSE(VerifyWebhookSignature("s3cret", body, flipped));
  EXPECT_FALSE(VerifyWebhookSignature("s3cret", body, header.substr(7)));              // no "sha256="
  EXPECT_FALSE(VerifyWebhookSignature("s3cret", body, "sha1=" + header.substr(7)));    // other algorithm
  EXPECT_FALSE(VerifyWebhookSignature("s3cret", body, "SHA256=" + header.substr(7)));  // prefix is lower case
  EXPECT_FALSE(VerifyWebhookSignature("s3cret", body, header.substr(0, header.size() - 1)));
  EXPECT_FALSE(VerifyWebhookSignature("s3cret", body, header + "0"));
  EXPECT_FALSE(VerifyWebhookSignature("s3cret", body, header + " "));
  EXPECT_FALSE(VerifyWebhookSignature("s3cret", body, ""));
}

// The receiver examples of docs/control-plane.md, run for real: they must accept
// what SignWebhook produces and refuse a tampered body.
class WebhookSignatureDocs : public ::testing::Test {
 protected:
  static bool OnPath(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path == nullptr ? "/usr/bin:/bin" : path);
    for (std::string dir; std::getline(dirs, dir, ':');) {
      if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
    }
    return false;
  }

  // The first ```<language> block after the "Verifying webhook signatures" heading.
  static std::string DocExample(const std::string& language) {
    std::ifstream in(std::string(PRESCALE_SOURCE_DIR) + "/docs/control-plane.md");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string doc = ss.str();
    const size_t section = doc.find("## Verifying webhook signatures");
    if (section == std::string::npos) return "";
    const std::string fence = "```" + language + "\n";
    const size_t start = doc.find(fence, section);
    if (start == std::string::npos) return "";
    const size_t end = doc.find("```", start + fence.size());
    if (end == std::string::npos) return "";
    return doc.substr(start + fence.size(), end - start - fence.size());
  }

  const std::string secret_ = "whsec-acme-checkout";
  const std::string body_ = R"({"tenant":"acme","service":"checkout","from":3,"to":7,"reason":"forecast"})";
};

TEST_F(WebhookSignatureDocs, ShellExampleVerifies) {
  if (!OnPath("openssl")) GTEST_SKIP() << "the openssl program is not on PATH (Debian package openssl)";
  const std::string script = DocExample("sh");
  ASSERT_FALSE(script.empty()) << "no ```sh example under 'Verifying webhook signatures' in docs/control-plane.md";
  auto run = [&](const std::string& body) {
    return RunCommand({"env", "SECRET=" + secret_, "SIGNATURE=" + SignWebhook(secret_, body_), "sh", "-c", script},
                      std::chrono::seconds(20), body);
  };
  auto good = run(body_);
  EXPECT_EQ(good.exit_code, 0) << good.err;
  EXPECT_EQ(good.out, "valid\n") << good.err;
  auto bad = run(body_ + " ");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(bad.out, "") << bad.err;
}

TEST_F(WebhookSignatureDocs, PythonExampleVerifies) {
  if (!OnPath("python3")) GTEST_SKIP() << "python3 is not on PATH (Debian package python3)";
  const std::string example = DocExample("python");
  ASSERT_FALSE(example.empty()) << "no ```python example under 'Verifying webhook signatures' in docs/control-plane.md";
  const std::string script = example +
                             "\nimport sys\n"
                             "print(verify(sys.argv[1].encode(), sys.stdin.buffer.read(), sys.argv[2], sys.argv[3]))\n";
  auto run = [&](const std::string& body, int64_t timestamp) {
    return RunCommand({"python3", "-c", script, secret_, SignWebhook(secret_, body_), std::to_string(timestamp)},
                      std::chrono::seconds(20), body);
  };
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto good = run(body_, now);
  EXPECT_EQ(good.out, "True\n") << good.err;
  auto tampered = run(body_ + " ", now);
  EXPECT_EQ(tampered.out, "False\n") << tampered.err;
  auto stale = run(body_, now - 3600);
  EXPECT_EQ(stale.out, "False\n") << stale.err;
}

}  // namespace
}  // namespace prescale::aggregator
