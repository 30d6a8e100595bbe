// LeaderElection: which of the aggregator replicas sharing a control store
// acts (issue 17). Every replica receives every push, serves reads and the
// control API; only the leader records actions, delivers them and publishes
// the caps agents apply. Leadership is the store's lease (ControlStore::
// AcquireLease): Step() renews it, or takes it once it expired, every third
// of its duration.
//
// IsLeader() is true only while the lease is held by this replica's clock
// too: from the start of the last successful renewal for three quarters of
// the lease's duration, on the monotonic clock. A replica that was frozen
// (SIGSTOP, a long pause) finds on waking that its lease ran out and does
// nothing until it renews; if another replica took the lease meanwhile, the
// store's fencing refuses the writes it had under way.
//
// The holder named in the store is "<replica>/<8 random hex digits>": one
// per process, so a replica restarted under the same name (a StatefulSet's
// pod) takes a new fencing token rather than inheriting its old self's.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "prescale/aggregator/control/control_store.h"
#include "prescale/base/clock.h"

namespace prescale::aggregator {

struct LeaderOptions {
  std::string replica;                     // this replica's name (the pod's, the host's)
  std::chrono::milliseconds lease{15000};  // how long a lease lasts unless renewed
};

class LeaderElection {
 public:
  // `store` is not owned and outlives this. The holder id is the replica
  // name and `instance` (8 random hex digits when empty).
  LeaderElection(ControlStore* store, const Clock& clock, LeaderOptions options, std::string instance = "");

  // One round: renew or take the lease; returns IsLeader() after it. Call
  // every lease / 3 (renew_interval()), from one thread.
  bool Step();
  // Hands the lease over (a replica that stops): the others take it at their next Step.
  void Release();
  // Any thread.
  bool IsLeader() const;
  // The replica that holds the lease as last read ("" unknown), its fencing token.
  std::string leader() const;
  int64_t token() const;
  const std::string& replica() const { return options_.replica; }
  const std::string& holder() const { return holder_; }
  std::chrono::milliseconds renew_interval() const { return options_.lease / 3; }

  // prescale_leader{replica}, prescale_leader_changes_total{replica},
  // prescale_leader_lease_errors_total, prescale_leader_fencing_token.
  void AppendMetrics(std::string* out) const;

 private:
  bool IsLeaderLocked() const;

  ControlStore* store_;
  const Clock& clock_;
  LeaderOptions options_;
  std::string holder_;

  mutable std::mutex mu_;  // guards what follows
  bool held_ = false;
  std::chrono::steady_clock::time_point until_{};  // IsLeader() until then
  Lease lease_;                                    // as last read
  double changes_ = 0;                             // times this replica became leader
  double errors_ = 0;                              // Steps that could not reach the store
  std::string last_error_;
  int64_t last_logged_token_ = 0;
};

// The replica name in a lease holder ("agg-0/3fa2c1d0" -> "agg-0").
std::string ReplicaOfHolder(const std::string& holder);

}  // namespace prescale::aggregator
