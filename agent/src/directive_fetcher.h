// DirectiveFetcher (private to agent_lib): one GET of the aggregator's
// directives with the agent's bearer token, through shared/http's HttpClient
// (Beast, a kept-alive connection). One thread at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "prescale/base/status.h"
#include "prescale/http/http_client.h"

namespace prescale::agent {

class DirectiveFetcher {
 public:
  DirectiveFetcher();
  ~DirectiveFetcher();
  DirectiveFetcher(const DirectiveFetcher&) = delete;
  DirectiveFetcher& operator=(const DirectiveFetcher&) = delete;

  // GETs url with Accept: application/json and, when token is not empty,
  // Authorization: Bearer <token>; trusts ca_file (when set) for https.
  // Any HTTP status is a successful Result; a connection failure or timeout
  // is Unavailable; a body over max_body_bytes is ResourceExhausted.
  Result<http::HttpClientResponse> Get(const std::string& url, const std::string& token, const std::string& ca_file,
                                       std::chrono::milliseconds timeout, size_t max_body_bytes);

 private:
  std::unique_ptr<http::HttpClient> client_;
};

}  // namespace prescale::agent
