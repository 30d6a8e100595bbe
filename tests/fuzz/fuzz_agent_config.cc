// Fuzzes the agent's YAML configuration loader: any text is either a config
// or an error naming the file; never a crash or an escaped exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "prescale/agent/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = prescale::agent::ParseAgentConfig(text, "fuzz.yaml");
  if (!config.ok() && config.status().message().find("fuzz.yaml") == std::string::npos) std::abort();
  if (config.ok()) {
    prescale::agent::CgroupMapper mapper(config->mapping, config->keep_unmatched);
    (void)mapper.Map("/prescale/a/b");
    (void)mapper.Map("/kubepods/burstable/pod1234/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  }
  return 0;
}
