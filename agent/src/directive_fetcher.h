// DirectiveFetcher (private to agent_lib): one GET of the aggregator's
// directives with the agent's bearer token, over libcurl with a kept-alive
// handle. It exists because shared/http's GetOptions carries neither request
// headers nor a CA file (PostOptions does); once it does, the directive loop
// can use http::HttpClient::Get and this goes. One thread at a time.
#pragma once

#include <chrono>
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

  // Any HTTP status is a successful Result; a connection failure or timeout
  // is Unavailable; a body over max_body_bytes is ResourceExhausted.
  Result<http::HttpClientResponse> Get(const std::string& url, const std::string& token, const std::string& ca_file,
                                       std::chrono::milliseconds timeout, size_t max_body_bytes);

 private:
  void* handle_ = nullptr;  // CURL*
};

}  // namespace prescale::agent
