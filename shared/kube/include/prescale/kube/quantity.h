// Kubernetes resource quantities ("250m", "1Gi", "129e6"), decoded strictly
// into a double. Pure functions; thread-safe.
//
// The grammar is k8s.io/apimachinery/pkg/api/resource's (quantity.go):
//   <quantity>        ::= <signedNumber><suffix>
//   <signedNumber>    ::= <number> | <sign><number>       <sign> ::= "+" | "-"
//   <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
//   <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
//   <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei                   (powers of 1024)
//   <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E        (powers of 1000)
//   <decimalExponent> ::= "e" <exponent> | "E" <exponent>               ("1.5e3", "12E6")
// As upstream's scanner reads it, the exponent is a whole number with an
// optional sign, at most 2^31 - 1 in magnitude; a suffix and an exponent never
// combine ("1.5e3m" is invalid), suffixes are case-sensitive and no whitespace
// is allowed anywhere.
//
// Values follow upstream too: a non-zero magnitude finer than a nano (10^-9)
// rounds up to the next nano ("0.9n" is 1n, "3.001n" is 4n). The exact value
// is then rounded once to the nearest double, so "0.1" and "100m" give the
// same double as the literal 0.1.
//
// Deliberate differences from upstream ParseQuantity, which is laxer than its
// own grammar: ".", "+", "-" and "-." (no digit at all) are rejected where
// upstream reads them as 0; and a binarySI value past 2^63 - 1 is returned as
// written instead of silently capped ("9Ei" is 9 * 2^60): the request parsers
// below reject it instead.
#pragma once

#include <string_view>

#include "prescale/base/status.h"

namespace prescale::kube {

// Any quantity, negative ones included: "-1" is -1, "1.5e3" is 1500. Fails
// with InvalidArgument quoting `text` and saying what is wrong (empty,
// whitespace, no number, an unknown suffix, an exponent with a suffix, a
// value beyond the range of a double, ...).
Result<double> ParseQuantity(std::string_view text);

// A container's CPU request or limit, in cores: "250m" is 0.25, "2" is 2.
// Beyond ParseQuantity's checks, rejects a negative value and one past
// 2^63 - 1 (what an int64 holds). The result always converts to int64_t
// without overflow: the few values within 512 of 2^63 - 1 come back as the
// largest double below 2^63.
Result<double> ParseCpuQuantity(std::string_view text);

// A container's memory request or limit, in bytes: "1Gi" is 1073741824,
// "129e6" and "129M" are 129000000, "123Mi" is 128974848. A fraction of a byte
// rounds up, as Quantity.Value() does ("1m" is 1 byte). Same rejections and
// int64 guarantee as ParseCpuQuantity.
Result<double> ParseMemoryQuantity(std::string_view text);

}  // namespace prescale::kube
