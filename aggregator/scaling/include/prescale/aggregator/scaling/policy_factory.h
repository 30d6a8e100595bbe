// PolicyFactory: the ScalingPolicy of each stored policy object, built once
// per (name, version) and reused while the stored version is unchanged. Not
// synchronised (the decision loop owns one).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "prescale/aggregator/control/control_store.h"
#include "prescale/decide/scaling_policy.h"

namespace prescale::aggregator {

class PolicyFactory {
 public:
  // The policy of `stored` (a policy object from the store), built once per
  // (name, version); nullptr with *error set when the stored spec does not parse.
  std::shared_ptr<const ScalingPolicy> Get(const StoredObject& stored, std::string* error);
  // Forgets policies not asked for since the last call (deleted ones).
  void Sweep();

 private:
  struct Entry {
    int64_t version = 0;
    std::shared_ptr<const ScalingPolicy> policy;
    bool used = false;
  };
  std::map<std::string, Entry> by_name_;  // global policy names are unique
};

}  // namespace prescale::aggregator
