// Curl: one HTTP request through the curl program (any method, headers and
// body, http or https), for tests that talk to a real server on loopback.
#pragma once

#include <string>
#include <vector>

namespace prescale::testing {

struct CurlReply {
  int status = 0;       // 0 when curl could not connect
  std::string headers;  // the raw response header block
  std::string body;
  std::string error;  // curl's stderr
  // The value of a response header (case-insensitive name); empty when absent.
  std::string Header(const std::string& name) const;
};

// Runs curl -X method with `headers` ("Name: value") and, unless empty, `body`.
// extra_args go before the URL (e.g. {"--cacert", file}).
CurlReply Curl(const std::string& method, const std::string& url, const std::string& body,
               const std::vector<std::string>& headers, const std::vector<std::string>& extra_args = {});

}  // namespace prescale::testing
