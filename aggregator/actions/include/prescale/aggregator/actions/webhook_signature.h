// Signatures of the webhooks prescale sends to executors (docs/control-plane.md,
// "Verifying webhook signatures"): the request carries
//   X-Prescale-Signature: sha256=<lowercase hex HMAC-SHA256 of the body, keyed with the service's secret>
//   X-Prescale-Timestamp: <when it was sent>
// Only the body is signed, exactly as sent; the timestamp header is not part of
// the signed message, so receivers reject stale timestamps in a separate check
// (and, to refuse a replayed body, remember what they have already applied).
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace prescale::aggregator {

// "sha256=" followed by 64 lowercase hex digits.
std::string SignWebhook(std::string_view secret, std::string_view body);

// True when `header` is the signature of `body` under `secret` (hex digits in
// either case), compared in constant time. False for a malformed header and
// for an empty secret, which authenticates nothing.
bool VerifyWebhookSignature(std::string_view secret, std::string_view body, std::string_view header);

}  // namespace prescale::aggregator
