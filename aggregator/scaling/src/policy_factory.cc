#include "prescale/aggregator/scaling/policy_factory.h"

#include "prescale/decide/control_model.h"

namespace prescale::aggregator {

std::shared_ptr<const ScalingPolicy> PolicyFactory::Get(const StoredObject& stored, std::string* error) {
  Entry& e = by_name_[stored.key.name];
  e.used = true;
  if (e.policy != nullptr && e.version == stored.version) return e.policy;
  auto spec = ParsePolicy(stored.spec_json);
  if (!spec.ok()) {
    *error = "policy " + stored.key.name + ": " + spec.status().message();
    by_name_.erase(stored.key.name);
    return nullptr;
  }
  e.version = stored.version;
  e.policy = std::make_shared<const ScalingPolicy>(std::move(*spec));
  return e.policy;
}

void PolicyFactory::Sweep() {
  for (auto it = by_name_.begin(); it != by_name_.end();) {
    if (!it->second.used) {
      it = by_name_.erase(it);
    } else {
      it->second.used = false;
      ++it;
    }
  }
}

}  // namespace prescale::aggregator
