// Fuzzes what prescalectl decodes: its config file (contexts), a manifest for
// apply -f (read, validated, diffed against itself), and the aggregator's
// answers (an error envelope, any JSON printed as YAML). Any text is either
// accepted or an error naming its file; never a crash. A config that parses
// renders to YAML that parses back to the same config.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "prescale/base/yaml_config.h"
#include "prescale/cli/client.h"
#include "prescale/cli/config.h"
#include "prescale/cli/objects.h"
#include "prescale/cli/output.h"
#include "prescale/decide/control_manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace prescale;
  using namespace prescale::cli;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = ParseCliConfig(text, "fuzz.yaml");
  if (!config.ok() && config.status().message().find("fuzz.yaml") == std::string::npos) std::abort();
  if (config.ok()) {
    const std::string rendered = RenderCliConfig(*config);
    auto back = ParseCliConfig(rendered, "rendered.yaml");
    if (!back.ok() || RenderCliConfig(*back) != rendered) std::abort();
    (void)ResolveConnection(*config, {}, "", "/nonexistent/fuzz.yaml", "/nonexistent");
  }
  auto manifest = aggregator::Manifest::Read(text, "fuzz.yaml", false);
  if (!manifest.ok() && manifest.status().message().find("fuzz.yaml") == std::string::npos) std::abort();
  if (manifest.ok()) {
    for (const aggregator::ManifestEntry& e : manifest->entries()) {
      auto c = Canonicalize(e.kind, e.json);
      if (!c.ok()) {
        if (manifest->Error(e, c.status()).message().find("fuzz.yaml") == std::string::npos) std::abort();
        continue;
      }
      auto same = DiffJson(c->spec_json, c->spec_json);
      if (!same.ok() || !same->empty()) std::abort();
      (void)DiffJson("", c->spec_json);
    }
  }
  (void)ApiError(422, text, "PUT /x", "");
  auto json = ParseJson(text, "fuzz");
  if (json.ok()) {
    (void)PrettyJson(*json);
    (void)JsonToYaml(*json);
  }
  return 0;
}
