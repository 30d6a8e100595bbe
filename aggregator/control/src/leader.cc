#include "prescale/aggregator/control/leader.h"

#include <utility>

#include "prescale/base/log.h"
#include "prescale/metrics/text_writer.h"

namespace prescale::aggregator {

std::string ReplicaOfHolder(const std::string& holder) { return holder.substr(0, holder.rfind('/')); }

LeaderElection::LeaderElection(ControlStore* store, const Clock& clock, LeaderOptions options, std::string instance)
    : store_(store), clock_(clock), options_(std::move(options)) {
  if (instance.empty()) instance = RandomHex(4);
  holder_ = options_.replica + "/" + instance;
}

bool LeaderElection::Step() {
  // The lease counts from before the request: whatever it took, the store's
  // expiry is at least as late as this replica's own deadline.
  const auto started = clock_.Monotonic();
  auto lease = store_->AcquireLease(holder_, ToUnixMillis(clock_.Now()), options_.lease.count());
  std::lock_guard lock(mu_);
  if (!lease.ok()) {
    ++errors_;
    if (lease.status().message() != last_error_) {
      last_error_ = lease.status().message();
      Log(LogLevel::kWarning,
          "leader election: " + last_error_ + (held_ ? " (still leading until the lease ends)" : ""));
    }
    return IsLeaderLocked();
  }
  last_error_.clear();
  const bool was = held_;
  lease_ = *lease;
  held_ = lease->holder == holder_;
  if (held_) until_ = started + options_.lease - options_.lease / 4;
  if (held_ && !was) {
    ++changes_;
    Log(LogLevel::kInfo,
        "leader election: " + options_.replica + " leads (fencing token " + std::to_string(lease->token) + ")");
  } else if (!held_ && (was || lease_.token != last_logged_token_)) {
    Log(LogLevel::kInfo, "leader election: " + options_.replica + " follows " + ReplicaOfHolder(lease->holder) +
                             " (fencing token " + std::to_string(lease->token) + ")");
  }
  last_logged_token_ = lease_.token;
  return IsLeaderLocked();
}

void LeaderElection::Release() {
  {
    std::lock_guard lock(mu_);
    if (!held_) return;
    held_ = false;
  }
  if (Status s = store_->ReleaseLease(holder_); !s.ok()) Log(LogLevel::kWarning, "leader election: " + s.message());
  Log(LogLevel::kInfo, "leader election: " + options_.replica + " gave the lease up");
}

bool LeaderElection::IsLeaderLocked() const { return held_ && clock_.Monotonic() < until_; }

bool LeaderElection::IsLeader() const {
  std::lock_guard lock(mu_);
  return IsLeaderLocked();
}

std::string LeaderElection::leader() const {
  std::lock_guard lock(mu_);
  return ReplicaOfHolder(lease_.holder);
}

int64_t LeaderElection::token() const {
  std::lock_guard lock(mu_);
  return lease_.token;
}

void LeaderElection::AppendMetrics(std::string* out) const {
  std::lock_guard lock(mu_);
  metrics::TextWriter w(out);
  using metrics::MetricType;
  w.Family("prescale_leader", "1 while this replica leads (holds the lease: records, delivers and publishes actions)",
           MetricType::kGauge);
  w.Sample("prescale_leader", {{"replica", options_.replica}}, IsLeaderLocked() ? 1.0 : 0.0);
  w.Family("prescale_leader_changes_total", "Times this replica became leader", MetricType::kCounter);
  w.Sample("prescale_leader_changes_total", {{"replica", options_.replica}}, changes_);
  w.Family("prescale_leader_lease_errors_total", "Lease renewals or takeovers that could not reach the store",
           MetricType::kCounter);
  w.Sample("prescale_leader_lease_errors_total", {{"replica", options_.replica}}, errors_);
  w.Family("prescale_leader_fencing_token", "The lease's fencing token as this replica last read it",
           MetricType::kGauge);
  w.Sample("prescale_leader_fencing_token", {{"replica", options_.replica}}, static_cast<double>(lease_.token));
}

}  // namespace prescale::aggregator
