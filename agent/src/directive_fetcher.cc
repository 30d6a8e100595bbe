#include "directive_fetcher.h"

namespace prescale::agent {

DirectiveFetcher::DirectiveFetcher() : client_(http::NewBeastHttpClient()) {}

DirectiveFetcher::~DirectiveFetcher() = default;

Result<http::HttpClientResponse> DirectiveFetcher::Get(const std::string& url, const std::string& token,
                                                       const std::string& ca_file, std::chrono::milliseconds timeout,
                                                       size_t max_body_bytes) {
  http::GetOptions options;
  options.timeout = timeout;
  options.max_body_bytes = max_body_bytes;
  options.accept = "application/json";
  options.ca_file = ca_file;
  options.headers.emplace_back("User-Agent", "prescale-agent/0.1");
  if (!token.empty()) options.headers.emplace_back("Authorization", "Bearer " + token);
  return client_->Get(url, options);
}

}  // namespace prescale::agent
