// Checks on JSON text before it is parsed. A bound on JSON nesting, checked
// before a body reaches code that recurses once per nested array or object:
// RapidJSON's default (recursive) parser, Writer/Accept, CopyFrom and the
// control plane's merge patch. Without it, 100,000 '[' in a 100 KB request body
// overflow an HTTP worker thread's stack and take the whole process down. And
// a check for the one escape RapidJSON decodes to text that is not UTF-8.
// Pure; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

#include "prescale/base/status.h"

namespace prescale {

// The deepest nesting any JSON body the aggregator or the agent accepts may
// have (their documents are a few levels deep; docs/security.md).
inline constexpr size_t kMaxJsonDepth = 64;

// OK when no array or object in `json` is nested more than `max_depth` deep
// (the outermost one is depth 1; brackets inside strings do not count).
// Otherwise InvalidArgument naming the byte offset where the limit was passed.
// Stops at that byte, so a deep body costs no more than its first
// `max_depth` brackets. Checks nothing else: malformed JSON within the limit is
// OK here and left to the parser.
Status CheckJsonDepth(std::string_view json, size_t max_depth = kMaxJsonDepth);

// OK unless a string in `json` holds the escape of a lone low surrogate
// ("\udc00" not right after a high surrogate's escape). RapidJSON refuses a
// lone high surrogate but decodes a lone low one to bytes that are not UTF-8,
// even when it validates the encoding of its input: text that every store and
// every JSON reader after it would refuse. InvalidArgument naming the byte.
// Like CheckJsonDepth, checks nothing else.
Status CheckJsonEscapes(std::string_view json);

}  // namespace prescale
