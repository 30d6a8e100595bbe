// ScalingPolicy: a stored Policy turned into the object the decision engine
// asks "given what the service has and what its demand wants, how many
// replicas now?". The behaviour is Kubernetes HPA's (autoscaling/v2
// `behavior`), so a policy copied from an HPA acts the same: stabilization
// windows (the lowest recommendation of the scale-up window, the highest of
// the scale-down window), Pods/Percent rate policies per period measured
// against the replicas at the period's start, selectPolicy Max/Min/Disabled,
// HPA's defaults, then min and max; plus prescale's cooldowns. The policy is
// immutable; the per-service history lives in a ScalingState the caller
// keeps. Policies are thread-safe (const); a
// ScalingState and the factory are not.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "prescale/decide/control_model.h"

namespace prescale::aggregator {

// What one service's scaling remembers between evaluations.
struct ScalingState {
  struct Recommendation {
    int64_t replicas;
    std::chrono::system_clock::time_point at;
  };
  struct Event {
    int64_t change;  // replicas added (> 0) or removed (< 0)
    std::chrono::system_clock::time_point at;
  };
  std::deque<Recommendation> recommendations;
  std::deque<Event> events;
  std::chrono::system_clock::time_point last_scale_up{};
  std::chrono::system_clock::time_point last_scale_down{};
};

class ScalingPolicy {
 public:
  // Fills in HPA's defaults where the spec leaves rules empty.
  explicit ScalingPolicy(Policy spec);

  const Policy& spec() const { return spec_; }
  // The effective rules (defaults applied).
  const HpaScalingRules& scale_up() const { return up_; }
  const HpaScalingRules& scale_down() const { return down_; }

  // The replicas to run now, from `current` and the raw `desired` (already
  // ceil(demand / per-replica target)). Remembers the recommendation in
  // `state`; the change itself is recorded by Record once it is made.
  int64_t Decide(int64_t current, int64_t desired, int64_t min_replicas, int64_t max_replicas,
                 std::chrono::system_clock::time_point now, ScalingState* state) const;
  // Records a change that was made (after arbitration it may differ from what
  // Decide proposed): the rate policies and cooldowns count from it.
  void Record(int64_t from, int64_t to, std::chrono::system_clock::time_point now, ScalingState* state) const;

 private:
  int64_t Stabilize(int64_t current, int64_t desired, std::chrono::system_clock::time_point now,
                    ScalingState* state) const;
  int64_t ScaleUpLimit(int64_t current, std::chrono::system_clock::time_point now, const ScalingState& state) const;
  int64_t ScaleDownLimit(int64_t current, std::chrono::system_clock::time_point now, const ScalingState& state) const;

  Policy spec_;
  HpaScalingRules up_;
  HpaScalingRules down_;
};

// The default policy of a service that names none: HPA's defaults, predictive.
Policy DefaultPolicy();

}  // namespace prescale::aggregator
