#include "request_id.h"

#include <strings.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <random>
#include <thread>

namespace prescale::http {

bool IsValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 0x7f && c != '"' && c != '\\'; });
}

std::string NewRequestId() {
  thread_local std::mt19937_64 random(std::random_device{}() ^
                                      static_cast<uint64_t>(std::hash<std::thread::id>{}(std::this_thread::get_id())));
  char id[17];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(random()));
  return id;
}

std::string TakeRequestId(HttpRequest* request) {
  std::string id;
  auto& headers = request->headers;
  for (auto it = headers.begin(); it != headers.end();) {
    if (strcasecmp(it->first.c_str(), "X-Request-Id") != 0) {
      ++it;
      continue;
    }
    if (id.empty() && IsValidRequestId(it->second)) id = std::move(it->second);
    it = headers.erase(it);
  }
  if (id.empty()) id = NewRequestId();
  headers.emplace_back("X-Request-Id", id);
  return id;
}

void SetHeaderUnlessSet(HttpResponse* response, std::string_view name, const std::string& value) {
  for (const auto& header : response->headers) {
    if (strcasecmp(header.first.c_str(), std::string(name).c_str()) == 0) return;
  }
  response->headers.emplace_back(std::string(name), value);
}

}  // namespace prescale::http
