#include "prescale/base/scheduler.h"

#include <algorithm>
#include <utility>

namespace prescale {

namespace {

using TimePoint = std::chrono::steady_clock::time_point;

// The first of `due` + k * `period` (k >= 1) after `now`, and how many due
// times were skipped to get there.
TimePoint NextRun(TimePoint due, std::chrono::steady_clock::duration period, TimePoint now, int64_t* missed) {
  *missed = 0;
  if (now < due + period) return due + period;
  const int64_t behind = (now - due) / period;  // >= 1: due + behind * period <= now
  *missed = behind;
  return due + (behind + 1) * period;
}

}  // namespace

Scheduler::Scheduler(const Clock& clock) : clock_(clock) {}

Scheduler::~Scheduler() { Stop(); }

Status Scheduler::Every(std::string name, std::chrono::milliseconds period, std::function<void()> job) {
  return Every(std::move(name), period, std::move(job), period);
}

Status Scheduler::Every(std::string name, std::chrono::milliseconds period, std::function<void()> job,
                        std::chrono::milliseconds first_delay) {
  if (period <= std::chrono::milliseconds::zero())
    return Status::InvalidArgument("scheduler: job " + name + ": period must be positive");
  if (first_delay < std::chrono::milliseconds::zero())
    return Status::InvalidArgument("scheduler: job " + name + ": first delay must not be negative");
  auto j = std::make_unique<Job>();
  j->fn = std::move(job);
  j->period = period;
  j->stats.name = std::move(name);
  j->stats.next_run = clock_.Monotonic() + first_delay;
  return Add(std::move(j));
}

Status Scheduler::OnWake(std::string name, std::function<void()> job) {
  auto j = std::make_unique<Job>();
  j->fn = std::move(job);
  j->on_wake = true;
  j->stats.name = std::move(name);
  j->stats.next_run = TimePoint::max();
  return Add(std::move(j));
}

Status Scheduler::Add(std::unique_ptr<Job> job) {
  if (!job->fn) return Status::InvalidArgument("scheduler: job " + job->stats.name + " has nothing to run");
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& j : jobs_) {
    if (j->stats.name == job->stats.name)
      return Status::InvalidArgument("scheduler: a job named " + job->stats.name + " is already registered");
  }
  jobs_.push_back(std::move(job));
  InterruptLocked();  // the thread, if waiting, may have to wake earlier now
  return Status::Ok();
}

void Scheduler::Wake() {
  std::lock_guard<std::mutex> lock(mu_);
  wake_pending_ = true;
  InterruptLocked();
}

void Scheduler::InterruptLocked() { interrupt_.request_stop(); }

void Scheduler::Start() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    InterruptLocked();
  }
  thread_.join();
}

std::vector<std::string> Scheduler::RunDue() {
  std::lock_guard<std::mutex> run(run_mu_);
  const TimePoint now = clock_.Monotonic();
  std::vector<Job*> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const bool woken = std::exchange(wake_pending_, false);
    for (const auto& j : jobs_) {
      if (j->on_wake ? woken : j->stats.next_run <= now) due.push_back(j.get());
    }
  }
  std::vector<std::string> ran;
  ran.reserve(due.size());
  for (Job* j : due) {
    const TimePoint start = clock_.Monotonic();
    j->fn();
    const TimePoint end = clock_.Monotonic();
    std::lock_guard<std::mutex> lock(mu_);
    JobStats& s = j->stats;
    ++s.runs;
    s.last_run = start;
    s.last_duration = end - start;
    if (!j->on_wake) {
      int64_t missed = 0;
      s.next_run = NextRun(s.next_run, j->period, end, &missed);
      s.missed += missed;
    }
    ran.push_back(s.name);
  }
  return ran;
}

void Scheduler::Loop() {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    RunDue();
    TimePoint deadline = TimePoint::max();
    std::stop_token interrupted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      if (wake_pending_) continue;
      for (const auto& j : jobs_) deadline = std::min(deadline, j->stats.next_run);
      interrupt_ = std::stop_source();
      interrupted = interrupt_.get_token();
    }
    // Returns at the deadline, or early for a Wake(), a new job or Stop().
    clock_.WaitUntil(deadline, interrupted);
  }
}

std::vector<Scheduler::JobStats> Scheduler::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<JobStats> out;
  out.reserve(jobs_.size());
  for (const auto& j : jobs_) out.push_back(j->stats);
  return out;
}

}  // namespace prescale
