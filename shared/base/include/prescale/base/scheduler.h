// Scheduler: runs the periodic work of a process (a tick, an expiry sweep, a
// snapshot, a read-back) on one thread, timed only by an injected Clock, so
// that a test drives the schedule with a FakeClock. Thread-safe.
//
// - Every(name, period, job[, first_delay]) runs `job` first at registration
//   time + first_delay (default: one period), then every period after that.
//   The schedule is fixed-rate: each run is due a whole number of periods
//   after the first, whenever the previous one ran. When runs were missed (a
//   job slower than its period, a jump of the clock, a busy thread), the job
//   runs once, not once per missed period, and the next run is the first due
//   time still ahead; the skipped ones are counted (JobStats::missed).
// - OnWake(name, job) registers a job that runs when the scheduler is woken
//   by Wake() (from any thread, e.g. when triggers are pending), as soon as
//   the thread is free. Wakes before it gets to run coalesce into one run.
// - When several jobs are due, they run one after the other in registration
//   order, on the scheduler's thread, without any lock of the scheduler held:
//   a job may call Wake(), Every() or Stats(), but not Stop() or RunDue().
//   A running job delays the others; a job that blocks blocks the schedule.
// - Start() starts the thread; Stop() stops it and joins it, after the job
//   it is running if any (a wait for a due time, however far, is interrupted
//   at once). Both are idempotent and the destructor stops; a stopped
//   scheduler may be started again and keeps its schedule.
// - RunDue() is one step of the thread's loop, run on the calling thread:
//   every job due by the clock (and the OnWake jobs when woken) runs, and the
//   names of those that ran are returned. A test can drive a scheduler that
//   it never Start()s with a FakeClock, Advance and RunDue alone. Batches
//   never overlap: called while the thread runs, it waits for its batch.
//
// Jobs cannot be removed; names are unique. Jobs are not expected to throw.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "prescale/base/clock.h"
#include "prescale/base/status.h"

namespace prescale {

class Scheduler {
 public:
  // What a job did, for self-metrics. Times are the clock's Monotonic().
  struct JobStats {
    std::string name;
    int64_t runs = 0;
    // When the last run started and how long it took; zero before the first.
    std::chrono::steady_clock::time_point last_run{};
    std::chrono::nanoseconds last_duration{0};
    // Runs skipped because the previous one came late (they were coalesced).
    int64_t missed = 0;
    // When it is due next; time_point::max() for an OnWake job.
    std::chrono::steady_clock::time_point next_run{};
  };

  explicit Scheduler(const Clock& clock);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // InvalidArgument for a period that is not positive, a negative first
  // delay, an empty job, or a name already registered.
  Status Every(std::string name, std::chrono::milliseconds period, std::function<void()> job);
  Status Every(std::string name, std::chrono::milliseconds period, std::function<void()> job,
               std::chrono::milliseconds first_delay);
  // InvalidArgument for an empty job or a name already registered.
  Status OnWake(std::string name, std::function<void()> job);

  // Makes the OnWake jobs due now and interrupts the thread's wait.
  void Wake();

  void Start();
  void Stop();

  // Runs, on the calling thread, the jobs that are due; returns their names
  // in the order they ran.
  std::vector<std::string> RunDue();

  // One entry per job, in registration order.
  std::vector<JobStats> Stats() const;

 private:
  struct Job {
    std::function<void()> fn;  // set at registration, then only read
    bool on_wake = false;
    std::chrono::steady_clock::duration period{};
    JobStats stats;
  };

  Status Add(std::unique_ptr<Job> job);
  void Loop();
  // Ends the current wait of the thread (if any) so that it looks again.
  void InterruptLocked();

  const Clock& clock_;

  // Serialises Start() and Stop().
  std::mutex lifecycle_mu_;
  std::thread thread_;

  // Held while jobs run (RunDue), so that batches never overlap.
  std::mutex run_mu_;

  mutable std::mutex mu_;
  // Never shrinks; a Job does not move, so RunDue calls `fn` without `mu_`.
  std::vector<std::unique_ptr<Job>> jobs_;
  bool wake_pending_ = false;
  bool stopping_ = false;
  // The stop source of the thread's current wait on the clock: stopping it
  // ends the wait. A fresh one is taken for each wait.
  std::stop_source interrupt_;
};

}  // namespace prescale
