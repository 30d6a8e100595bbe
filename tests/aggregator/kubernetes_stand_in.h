// Pieces of the Kubernetes API server stand-ins the aggregator's tests run
// (kubernetes_executor_test.cc, workload_discovery_test.cc,
// hpa_conflict_test.cc): answers in the API server's wire format, and
// FakeApiServer, the scale subresources and HPA lists of a few workloads.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

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

// An API server stand-in: a real shared/http HttpServer on 127.0.0.1:0
// serving GET and PATCH of
// /apis/apps/v1/namespaces/{ns}/{deployments|statefulsets}/{name}/scale and
// GET /apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers. It
// checks the bearer token ("token-1" unless AcceptToken) and the merge-patch
// content type and answers as the API server does: autoscaling/v1 Scale
// objects (spec.replicas omitted when 0), autoscaling/v2
// HorizontalPodAutoscalerLists, metav1.Status bodies for errors (401
// Unauthorized, 403 Forbidden, 404 NotFound, 409 Conflict, 415, 503). No real
// API server can run on this machine (no cluster, no kube-apiserver or etcd
// binaries), so the shapes follow the Kubernetes API reference; a kind or k3s
// cluster would be the next check. Thread-safe.
class FakeApiServer {
 public:
  struct Workload {
    int64_t spec_replicas = 0;
    int64_t status_replicas = 0;
    std::string selector;
  };

  FakeApiServer() {
    std::vector<http::Route> routes;
    const std::string path = "/apis/apps/v1/namespaces/{namespace}/{resource}/{name}/scale";
    for (const char* method : {"GET", "PATCH"}) {
      routes.push_back({method, path, [this](const http::HttpRequest& r) { return Handle(r); }});
    }
    routes.push_back({"GET", "/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers",
                      [this](const http::HttpRequest& r) { return HandleHpas(r); }});
    auto server = http::HttpServer::Start(http::HttpServerOptions{}, std::move(routes));
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  // Stops the server before the members its handlers read are destroyed.
  ~FakeApiServer() { Stop(); }
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  void Stop() {
    if (server_ != nullptr) server_->Stop();
  }

  void Add(const std::string& resource, const std::string& ns, const std::string& name, Workload w) {
    std::lock_guard lock(mu_);
    workloads_[{resource, ns, name}] = std::move(w);
  }
  std::optional<Workload> Get(const std::string& resource, const std::string& ns, const std::string& name) const {
    std::lock_guard lock(mu_);
    auto it = workloads_.find({resource, ns, name});
    if (it == workloads_.end()) return std::nullopt;
    return it->second;
  }
  void AcceptToken(std::string token) {
    std::lock_guard lock(mu_);
    token_ = std::move(token);
  }
  // The next request is answered with this, before any other check.
  void Answer(int status, std::string body) {
    std::lock_guard lock(mu_);
    answers_.emplace_back(status, std::move(body));
  }
  // Requests of the scale subresource (HPA lists are kept apart, in hpa_requests).
  std::vector<http::HttpRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // An autoscaling/v2 HPA in `ns` whose scaleTargetRef is apps/v1 kind/target.
  void AddHpa(const std::string& ns, const std::string& name, const std::string& kind, const std::string& target) {
    std::lock_guard lock(mu_);
    hpas_[ns].push_back(HpaJson(ns, name, kind, target));
  }
  void RemoveHpas(const std::string& ns) {
    std::lock_guard lock(mu_);
    hpas_.erase(ns);
  }
  // The next HPA list is answered with this.
  void AnswerHpas(int status, std::string body) {
    std::lock_guard lock(mu_);
    hpa_answers_.emplace_back(status, std::move(body));
  }
  std::vector<http::HttpRequest> hpa_requests() const {
    std::lock_guard lock(mu_);
    return hpa_requests_;
  }

  // An HPA as the API reference shows one, with the fields prescale ignores.
  static std::string HpaJson(const std::string& ns, const std::string& name, const std::string& kind,
                             const std::string& target) {
    return R"({"metadata":{"name":")" + name + R"(","namespace":")" + ns +
           R"(","uid":"0b8b7e54-3c1f-4f0e-9a55-1a8e6b2f9d10","resourceVersion":"51877",)"
           R"("creationTimestamp":"2026-11-21T09:00:00Z"},"spec":{"scaleTargetRef":{"kind":")" +
           kind + R"(","name":")" + target +
           R"(","apiVersion":"apps/v1"},"minReplicas":2,"maxReplicas":10,"metrics":[{"type":"Resource",)"
           R"("resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":70}}}],)"
           R"("behavior":{"scaleUp":{"stabilizationWindowSeconds":0,"selectPolicy":"Max","policies":)"
           R"([{"type":"Pods","value":4,"periodSeconds":15}]},"scaleDown":{"stabilizationWindowSeconds":300,)"
           R"("selectPolicy":"Max","policies":[{"type":"Percent","value":100,"periodSeconds":15}]}}},)"
           R"("status":{"currentReplicas":3,"desiredReplicas":3,"currentMetrics":null,"conditions":[{"type":)"
           R"("AbleToScale","status":"True","lastTransitionTime":"2026-11-21T09:00:15Z","reason":)"
           R"("SucceededGetScale","message":"the HPA controller was able to get the target's current scale"}]}})";
  }

 private:
  http::HttpResponse HandleHpas(const http::HttpRequest& r) {
    std::lock_guard lock(mu_);
    hpa_requests_.push_back(r);
    if (!hpa_answers_.empty()) {
      auto [status, body] = hpa_answers_.front();
      hpa_answers_.pop_front();
      return Json(status, body);
    }
    if (r.Header("Authorization") != "Bearer " + token_) {
      return Json(401, StatusBody(401, "Unauthorized", "Unauthorized"));
    }
    std::string items;
    for (const std::string& hpa : hpas_[std::string(r.PathParam("namespace"))]) {
      items += (items.empty() ? "" : ",") + hpa;
    }
    return Json(200, R"({"kind":"HorizontalPodAutoscalerList","apiVersion":"autoscaling/v2",)"
                     R"("metadata":{"resourceVersion":"51901"},"items":[)" +
                         items + "]}");
  }

  http::HttpResponse Handle(const http::HttpRequest& r) {
    std::lock_guard lock(mu_);
    requests_.push_back(r);
    if (!answers_.empty()) {
      auto [status, body] = answers_.front();
      answers_.pop_front();
      return Json(status, body);
    }
    if (r.Header("Authorization") != "Bearer " + token_) {
      return Json(401, StatusBody(401, "Unauthorized", "Unauthorized"));
    }
    const std::string resource(r.PathParam("resource"));
    const std::string ns(r.PathParam("namespace"));
    const std::string name(r.PathParam("name"));
    if (resource != "deployments" && resource != "statefulsets") {
      return Json(404, StatusBody(404, "NotFound", "the server could not find the requested resource"));
    }
    auto it = workloads_.find({resource, ns, name});
    const std::string details = R"({"name":")" + name + R"(","group":"apps","kind":")" + resource + "\"}";
    if (it == workloads_.end()) {
      return Json(404, StatusBody(404, "NotFound", resource + R"(.apps \")" + name + R"(\" not found)", details));
    }
    if (r.method == "PATCH") {
      if (r.Header("Content-Type") != "application/merge-patch+json") {
        return Json(415, StatusBody(415, "UnsupportedMediaType",
                                    "the body of the request was in an unknown format - accepted media types include: "
                                    "application/json-patch+json, application/merge-patch+json, "
                                    "application/apply-patch+yaml"));
      }
      rapidjson::Document patch;
      patch.Parse(r.body.data(), r.body.size());
      const rapidjson::Value& p = patch;
      if (patch.HasParseError() || !p.IsObject() || !p.HasMember("spec") || !p["spec"].IsObject() ||
          !p["spec"].HasMember("replicas") || !p["spec"]["replicas"].IsInt64()) {
        return Json(400, StatusBody(400, "BadRequest", "error decoding patch"));
      }
      it->second.spec_replicas = p["spec"]["replicas"].GetInt64();
      // status.replicas follows once the controller has acted: not yet.
    }
    return Json(200, ScaleJson(ns, name, it->second));
  }

  static std::string ScaleJson(const std::string& ns, const std::string& name, const Workload& w) {
    // spec.replicas is omitempty in autoscaling/v1: absent when 0.
    const std::string spec = w.spec_replicas == 0 ? "{}" : R"({"replicas":)" + std::to_string(w.spec_replicas) + "}";
    std::string status = R"({"replicas":)" + std::to_string(w.status_replicas);
    if (!w.selector.empty()) status += R"(,"selector":")" + w.selector + "\"";
    status += "}";
    return R"({"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":")" + name + R"(","namespace":")" + ns +
           R"(","uid":"6c1e2f0a-58a3-4bfb-9f7e-2a1d0c3b4e5f","resourceVersion":"48213",)" +
           R"("creationTimestamp":"2026-11-20T08:14:03Z"},"spec":)" + spec + R"(,"status":)" + status + "}";
  }

  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, std::string>, Workload> workloads_;
  std::string token_ = "token-1";
  std::deque<std::pair<int, std::string>> answers_;
  std::vector<http::HttpRequest> requests_;
  std::map<std::string, std::vector<std::string>> hpas_;  // namespace -> HPA JSON
  std::deque<std::pair<int, std::string>> hpa_answers_;
  std::vector<http::HttpRequest> hpa_requests_;
  std::unique_ptr<http::HttpServer> server_;
};

}  // namespace prescale::aggregator::k8s_stand_in
