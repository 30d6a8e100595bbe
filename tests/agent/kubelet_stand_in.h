// KubeletStandIn: no kubelet or API server can run on this machine, so this
// real HTTP server on 127.0.0.1 stands in for both: it answers GET /pods (the
// kubelet) and GET /api/v1/pods (the API server) with the status and body the
// test sets, PodList JSON shaped as the Kubernetes API reference's core/v1 Pod
// (PodListJson builds it), and records what the agent sent. Thread-safe.
#pragma once

#include <gtest/gtest.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "prescale/http/http_server.h"

namespace prescale::agent::testing {

// One running pod of a Deployment: its ReplicaSet is "<deployment>-<hash>" and
// the pod carries pod-template-hash=<hash>, as the Deployment controller does.
struct TestPod {
  std::string uid;
  std::string namespace_name;
  std::string name;
  std::string deployment;
  std::string hash;
  std::string container;  // its one container's name
  std::string image;
  std::string container_id;  // 64 hex digits; the status says containerd://<id>
};

inline std::string PodJson(const TestPod& p) {
  return R"({"metadata":{"name":")" + p.name + R"(","generateName":")" + p.deployment + "-" + p.hash +
         R"(-","namespace":")" + p.namespace_name + R"(","uid":")" + p.uid +
         R"(","resourceVersion":"48213","creationTimestamp":"2026-12-01T10:00:00Z",
    "labels":{"app":")" +
         p.deployment + R"(","pod-template-hash":")" + p.hash + R"("},
    "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":")" +
         p.deployment + "-" + p.hash +
         R"(","uid":"0c2b6e1a-6d0f-4f2a-8a55-3f1e9d7c5b21","controller":true,"blockOwnerDeletion":true}]},
  "spec":{"nodeName":"node-1","containers":[{"name":")" +
         p.container + R"(","image":")" + p.image + R"(",
    "resources":{"requests":{"cpu":"250m","memory":"128Mi"},"limits":{"memory":"256Mi"}}}]},
  "status":{"phase":"Running","qosClass":"Burstable","hostIP":"10.0.0.5","podIP":"10.244.1.7",
    "containerStatuses":[{"name":")" +
         p.container + R"(","state":{"running":{"startedAt":"2026-12-01T10:00:05Z"}},
      "ready":true,"restartCount":0,"image":")" +
         p.image + R"(","imageID":")" + p.image + R"(@sha256:4f9a",
      "containerID":"containerd://)" +
         p.container_id + R"(","started":true}]}})";
}

inline std::string PodListJson(const std::vector<TestPod>& pods) {
  std::string items;
  for (const TestPod& p : pods) items += (items.empty() ? "" : ",") + PodJson(p);
  return R"({"kind":"PodList","apiVersion":"v1","metadata":{},"items":[)" + items + "]}";
}

class KubeletStandIn {
 public:
  void Start() {
    std::vector<http::Route> routes;
    for (const char* path : {"/pods", "/api/v1/pods"}) {
      routes.push_back({"GET", path, [this](const http::HttpRequest& r) { return Handle(r); }});
    }
    auto s = http::HttpServer::Start(http::HttpServerOptions{}, std::move(routes));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
  }
  void Stop() {
    if (server_) server_->Stop();
  }
  // Releases held requests and stops the server first: a handler still running (an answer the
  // client gave up on) reads the members below.
  ~KubeletStandIn() {
    Release();
    Stop();
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  void Answer(int status, std::string body) {
    std::lock_guard lock(mu_);
    status_ = status;
    body_ = std::move(body);
  }
  // Held, requests get no answer until Release() (a kubelet that hangs), so the caller's
  // timeout shows; the destructor releases them too.
  void Hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      held_ = false;
    }
    released_.notify_all();
  }
  int requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::string authorization() const {
    std::lock_guard lock(mu_);
    return authorization_;
  }
  std::string target() const {
    std::lock_guard lock(mu_);
    return target_;
  }

 private:
  http::HttpResponse Handle(const http::HttpRequest& r) {
    std::unique_lock lock(mu_);
    released_.wait(lock, [this] { return !held_; });
    ++requests_;
    authorization_ = std::string(r.Header("Authorization"));
    target_ = r.path + (r.query.empty() ? "" : "?" + r.query);
    http::HttpResponse out;
    out.status = status_;
    out.content_type = "application/json";
    out.body = body_;
    return out;
  }

  std::unique_ptr<http::HttpServer> server_;
  mutable std::mutex mu_;
  int status_ = 503;
  std::string body_ = R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"no answer set"})";
  int requests_ = 0;
  bool held_ = false;
  std::condition_variable released_;
  std::string authorization_;
  std::string target_;
};

}  // namespace prescale::agent::testing
