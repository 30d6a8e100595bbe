// Fuzzes the remote-write decoder (bodies from any sender): snappy, protobuf
// and validation. Whatever it accepts must survive an encode/decode round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "prescale/remote_write/remote_write.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace prescale::remote_write;
  DecodeLimits limits;
  limits.max_decompressed_bytes = 4 << 20;
  auto request = Decode(std::string_view(reinterpret_cast<const char*>(data), size), limits);
  if (!request.ok()) return 0;
  auto again = Decode(Encode(*request), limits);
  if (!again.ok() || again->timeseries.size() != request->timeseries.size()) std::abort();
  return 0;
}
