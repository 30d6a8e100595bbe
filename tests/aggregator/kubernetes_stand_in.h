// Pieces of the Kubernetes API server stand-ins the aggregator's tests run
// (kubernetes_executor_test.cc, workload_discovery_test.cc): answers in the
// API server's wire format.
#pragma once

#include <string>
#include <utility>

#include "prescale/http/http_server.h"

namespace prescale::aggregator::k8s_stand_in {

// A metav1.Status error body, as the API server sends with a 4xx or 5xx.
inline std::string StatusBody(int code, const std::string& reason, const std::string& message,
                              const std::string& details = "") {
  std::string body = R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":")" + message +
                     R"(","reason":")" + reason + "\"";
  if (!details.empty()) body += R"(,"details":)" + details;
  return body + R"(,"code":)" + std::to_string(code) + "}";
}

inline http::HttpResponse Json(int status, std::string body) {
  http::HttpResponse out;
  out.status = status;
  out.content_type = "application/json";
  out.body = std::move(body);
  return out;
}

}  // namespace prescale::aggregator::k8s_stand_in
