#include "prescale/decide/scaling_policy.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace prescale::aggregator {
namespace {

using Clock = std::chrono::system_clock;

// HPA's defaults (k8s.io/kubernetes pkg/apis/autoscaling/v2 defaults).
HpaScalingRules DefaultUp() {
  HpaScalingRules r;
  r.stabilization_window_seconds = 0;
  r.select_policy = "Max";
  r.policies = {{"Pods", 4, 15}, {"Percent", 100, 15}};
  return r;
}

HpaScalingRules DefaultDown() {
  HpaScalingRules r;
  r.stabilization_window_seconds = 300;
  r.select_policy = "Max";
  r.policies = {{"Percent", 100, 15}};
  return r;
}

HpaScalingRules WithDefaults(const HpaScalingRules& given, const HpaScalingRules& defaults) {
  HpaScalingRules r = given;
  if (!r.stabilization_window_seconds) r.stabilization_window_seconds = defaults.stabilization_window_seconds;
  if (r.policies.empty()) r.policies = defaults.policies;
  return r;
}

// Replicas added (sign > 0) or removed (sign < 0) within the last period.
int64_t ChangeInPeriod(const ScalingState& state, int64_t period_seconds, Clock::time_point now, int sign) {
  const Clock::time_point cutoff = now - std::chrono::seconds(period_seconds);
  int64_t total = 0;
  for (const ScalingState::Event& e : state.events) {
    if (e.at > cutoff && (sign > 0 ? e.change > 0 : e.change < 0)) total += sign > 0 ? e.change : -e.change;
  }
  return total;
}

}  // namespace

Policy DefaultPolicy() {
  Policy p;
  p.name = "default";
  return p;
}

ScalingPolicy::ScalingPolicy(Policy spec)
    : spec_(std::move(spec)),
      up_(WithDefaults(spec_.scale_up, DefaultUp())),
      down_(WithDefaults(spec_.scale_down, DefaultDown())) {}

int64_t ScalingPolicy::Stabilize(int64_t current, int64_t desired, Clock::time_point now, ScalingState* state) const {
  // As HPA's stabilizeRecommendationWithBehaviors: scale up only as far as the
  // lowest recommendation of the up window, down only to the highest of the down window.
  const Clock::time_point up_cutoff = now - std::chrono::seconds(*up_.stabilization_window_seconds);
  const Clock::time_point down_cutoff = now - std::chrono::seconds(*down_.stabilization_window_seconds);
  int64_t up = desired, down = desired;
  for (const ScalingState::Recommendation& r : state->recommendations) {
    if (r.at > up_cutoff) up = std::min(up, r.replicas);
    if (r.at > down_cutoff) down = std::max(down, r.replicas);
  }
  int64_t recommendation = current;
  if (recommendation < up) recommendation = up;
  if (recommendation > down) recommendation = down;
  state->recommendations.push_back({desired, now});
  // Keep what the longer window can still see.
  const Clock::time_point keep = std::min(up_cutoff, down_cutoff);
  while (!state->recommendations.empty() && state->recommendations.front().at <= keep) {
    state->recommendations.pop_front();
  }
  return recommendation;
}

int64_t ScalingPolicy::ScaleUpLimit(int64_t current, Clock::time_point now, const ScalingState& state) const {
  if (up_.select_policy == "Disabled") return current;
  const bool max = up_.select_policy != "Min";
  int64_t result = max ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
  for (const HpaScalingPolicy& p : up_.policies) {
    const int64_t start =
        current - ChangeInPeriod(state, p.period_seconds, now, +1) + ChangeInPeriod(state, p.period_seconds, now, -1);
    const int64_t proposed =
        p.type == "Pods"
            ? start + p.value
            : static_cast<int64_t>(std::ceil(static_cast<double>(start) * (1 + static_cast<double>(p.value) / 100)));
    result = max ? std::max(result, proposed) : std::min(result, proposed);
  }
  return result;
}

int64_t ScalingPolicy::ScaleDownLimit(int64_t current, Clock::time_point now, const ScalingState& state) const {
  if (down_.select_policy == "Disabled") return current;
  // "Max" picks the policy that allows the biggest change: the lowest count.
  const bool max = down_.select_policy != "Min";
  int64_t result = max ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  for (const HpaScalingPolicy& p : down_.policies) {
    const int64_t start =
        current - ChangeInPeriod(state, p.period_seconds, now, +1) + ChangeInPeriod(state, p.period_seconds, now, -1);
    const int64_t proposed =
        p.type == "Pods" ? start - p.value
                         : static_cast<int64_t>(static_cast<double>(start) * (1 - static_cast<double>(p.value) / 100));
    result = max ? std::min(result, proposed) : std::max(result, proposed);
  }
  return result;
}

int64_t ScalingPolicy::Decide(int64_t current, int64_t desired, int64_t min_replicas, int64_t max_replicas,
                              Clock::time_point now, ScalingState* state) const {
  int64_t target = Stabilize(current, desired, now, state);
  // HPA's convertDesiredReplicasWithBehaviorRate.
  if (target > current) {
    const int64_t limit = std::max(ScaleUpLimit(current, now, *state), current);
    target = std::min({target, limit, max_replicas});
  } else if (target < current) {
    const int64_t limit = std::min(ScaleDownLimit(current, now, *state), current);
    target = std::max({target, limit, min_replicas});
  }
  target = std::clamp(target, min_replicas, std::max(min_replicas, max_replicas));
  // prescale's cooldowns: no change in a direction until its cooldown has passed since the last one.
  if (target > current && now - state->last_scale_up < std::chrono::seconds(spec_.cooldown_up_seconds)) {
    target = current;
  }
  if (target < current && now - state->last_scale_down < std::chrono::seconds(spec_.cooldown_down_seconds)) {
    target = current;
  }
  return target;
}

void ScalingPolicy::Record(int64_t from, int64_t to, Clock::time_point now, ScalingState* state) const {
  if (to != from) {
    state->events.push_back({to - from, now});
    (to > from ? state->last_scale_up : state->last_scale_down) = now;
  }
  int64_t longest = 0;
  for (const auto* rules : {&up_, &down_}) {
    for (const HpaScalingPolicy& p : rules->policies) longest = std::max(longest, p.period_seconds);
  }
  while (!state->events.empty() && state->events.front().at <= now - std::chrono::seconds(longest)) {
    state->events.pop_front();
  }
}

}  // namespace prescale::aggregator
