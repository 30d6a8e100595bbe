// Kubernetes resource quantities (see quantity.h for the grammar). The value
// stays exact, as decimal digits and a power of ten, until one final
// conversion to double: multiplying by a rounded 0.001 or 1e-9 would make
// "100m" differ from 0.1, and upstream's nano rounding needs the exact digits.
#include "prescale/kube/quantity.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>

namespace prescale::kube {
namespace {

// suffix.go's tables: the power of ten and of two each suffix stands for.
struct NamedSuffix {
  std::string_view name;
  int exp10;
  int exp2;
};
constexpr NamedSuffix kSuffixes[] = {
    {"Ki", 0, 10}, {"Mi", 0, 20}, {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
    {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"", 0, 0},    {"k", 3, 0},   {"M", 6, 0},
    {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},
};

// Upstream parses the exponent as an int64 but keeps it in an int32 scale it
// later negates, so it rejects anything beyond +-(2^31 - 1).
constexpr int64_t kMaxExponent = 2147483647;
// 2^63 - 1, the largest value the request parsers accept (an int64's range).
constexpr std::string_view kMaxInt64Digits = "9223372036854775807";
// The largest double below 2^63: a static_cast<int64_t> of it is defined.
constexpr double kLargestDoubleBelow2To63 = 9223372036854774784.0;

struct Suffix {
  int64_t exp10 = 0;
  int exp2 = 0;
};

// A quantity's exact value: (negative ? -1 : 1) * digits * 10^exp10.
struct Exact {
  bool negative = false;
  std::string digits;  // no leading or trailing zeros; empty for zero
  int64_t exp10 = 0;
};

// The pieces of the text before their meaning is checked.
struct Lexed {
  bool negative = false;
  std::string_view integer, fraction, suffix;
};

// `text` in double quotes, escaping what is not printable ASCII so a fuzzed
// or binary input cannot break a log line, and shortened when long.
std::string Quote(std::string_view text) {
  constexpr size_t kMaxShown = 64;
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxShown) return out + "...\" (" + std::to_string(text.size()) + " bytes)";
  return out + "\"";
}

// Errors name what was parsed ("CPU quantity") and quote the input.
class Context {
 public:
  Context(std::string_view noun, std::string_view text) : noun_(noun), text_(text) {}
  Status Invalid(std::string_view what) const {
    return Status::InvalidArgument(std::string(noun_) + " " + Quote(text_) + ": " + std::string(what));
  }

 private:
  std::string_view noun_;
  std::string_view text_;
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view TakeDigits(std::string_view text, size_t* pos) {
  const size_t start = *pos;
  while (*pos < text.size() && IsDigit(text[*pos])) ++*pos;
  return text.substr(start, *pos - start);
}

// "Mi" for "mi" or "MI": suffixes are case-sensitive and a wrong case is a
// common slip worth naming. Empty when nothing matches.
std::string_view CaseInsensitiveSuffix(std::string_view suffix) {
  for (const auto& s : kSuffixes) {
    if (s.name.empty() || s.name.size() != suffix.size()) continue;
    if (std::equal(s.name.begin(), s.name.end(), suffix.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      return s.name;
    }
  }
  return {};
}

bool IsSuffixName(std::string_view text) {
  return std::any_of(std::begin(kSuffixes), std::end(kSuffixes), [&](const NamedSuffix& s) { return s.name == text; });
}

// The error for text with no digit in its number: a bare suffix ("Mi", "e3"),
// no number at all ("NaN", "abc"), or only a sign and/or a point.
Status NoDigits(std::string_view rest, const Context& ctx) {
  if (rest.empty()) return ctx.Invalid("has no digits");
  size_t pos = 1;
  if (pos < rest.size() && (rest[pos] == '+' || rest[pos] == '-')) ++pos;
  const bool exponent = (rest[0] == 'e' || rest[0] == 'E') && !TakeDigits(rest, &pos).empty() && pos == rest.size();
  const std::string_view fixed = IsSuffixName(rest) || exponent ? rest : CaseInsensitiveSuffix(rest);
  if (fixed.empty()) {
    return ctx.Invalid("does not start with a number (digits with at most one '.', after an optional sign)");
  }
  return ctx.Invalid("has no number before its suffix (write e.g. 1" + std::string(fixed) + ")");
}

Result<Lexed> Lex(std::string_view text, const Context& ctx) {
  if (text.empty()) return ctx.Invalid("is empty");
  if (std::any_of(text.begin(), text.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
    return ctx.Invalid("contains whitespace (none is allowed, not even around the value)");
  }
  Lexed lexed;
  size_t pos = 0;
  if (text[0] == '+' || text[0] == '-') {
    lexed.negative = text[0] == '-';
    ++pos;
  }
  lexed.integer = TakeDigits(text, &pos);
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    lexed.fraction = TakeDigits(text, &pos);
  }
  lexed.suffix = text.substr(pos);
  if (lexed.integer.empty() && lexed.fraction.empty()) return NoDigits(lexed.suffix, ctx);
  if (!lexed.suffix.empty() && lexed.suffix[0] == '.') return ctx.Invalid("has more than one '.'");
  return lexed;
}

// "e3", "E-6", "e+2": the exponent after the 'e' or 'E' of a suffix.
Result<Suffix> Exponent(std::string_view suffix, const Context& ctx) {
  size_t pos = 1;
  bool negative = false;
  if (pos < suffix.size() && (suffix[pos] == '+' || suffix[pos] == '-')) negative = suffix[pos++] == '-';
  const std::string_view digits = TakeDigits(suffix, &pos);
  const std::string_view rest = suffix.substr(pos);
  const std::string exponent(suffix.substr(0, pos));
  if (!rest.empty() && rest[0] == '.') return ctx.Invalid("the exponent must be a whole number");
  if (digits.empty()) return ctx.Invalid("the exponent " + Quote(exponent) + " has no digits");
  if (!rest.empty()) {
    if (IsSuffixName(rest) || !CaseInsensitiveSuffix(rest).empty()) {
      return ctx.Invalid("an exponent (" + exponent + ") cannot be combined with a suffix (" + Quote(rest) +
                         "); use one or the other");
    }
    return ctx.Invalid("unexpected " + Quote(rest) + " after the exponent " + exponent);
  }
  int64_t value = 0;
  for (char d : digits) {
    value = value * 10 + (d - '0');
    if (value > kMaxExponent) return ctx.Invalid("the exponent is out of range (beyond +-2147483647)");
  }
  return Suffix{negative ? -value : value, 0};
}

Result<Suffix> Interpret(std::string_view suffix, const Context& ctx) {
  for (const auto& s : kSuffixes) {
    if (s.name == suffix) return Suffix{s.exp10, s.exp2};
  }
  if (suffix[0] == 'e' || suffix[0] == 'E') return Exponent(suffix, ctx);
  std::string what = "has an unknown suffix " + Quote(suffix);
  if (const auto fixed = CaseInsensitiveSuffix(suffix); !fixed.empty()) {
    return ctx.Invalid(what + " (suffixes are case-sensitive: did you mean " + Quote(fixed) + "?)");
  }
  return ctx.Invalid(what + " (expected one of Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or an exponent such as e3)");
}

void StripZeros(Exact* e) {
  const size_t first = e->digits.find_first_not_of('0');
  if (first == std::string::npos) {
    e->digits.clear();
    e->exp10 = 0;
    return;
  }
  e->digits.erase(0, first);
  const size_t last = e->digits.find_last_not_of('0');
  e->exp10 += static_cast<int64_t>(e->digits.size() - last - 1);
  e->digits.resize(last + 1);
}

// digits *= factor, in decimal, for the binary suffixes (factor 1024).
void MultiplyDigits(std::string* digits, unsigned factor) {
  unsigned carry = 0;
  for (auto it = digits->rbegin(); it != digits->rend(); ++it) {
    const unsigned v = static_cast<unsigned>(*it - '0') * factor + carry;
    *it = static_cast<char>('0' + v % 10);
    carry = v / 10;
  }
  for (; carry > 0; carry /= 10) digits->insert(digits->begin(), static_cast<char>('0' + carry % 10));
}

// digits += 1, in decimal.
void IncrementDigits(std::string* digits) {
  for (auto it = digits->rbegin(); it != digits->rend(); ++it) {
    if (*it != '9') {
      ++*it;
      return;
    }
    *it = '0';
  }
  digits->insert(digits->begin(), '1');
}

// Rounds a non-zero magnitude up (away from zero) to a multiple of 10^exp10.
void RoundUpToPowerOfTen(Exact* e, int64_t exp10) {
  if (e->digits.empty() || e->exp10 >= exp10) return;
  // Trailing zeros are stripped, so the digits cut off are never all zero.
  const int64_t cut = exp10 - e->exp10;
  if (cut >= static_cast<int64_t>(e->digits.size())) {
    e->digits = "1";
  } else {
    e->digits.resize(e->digits.size() - static_cast<size_t>(cut));
    IncrementDigits(&e->digits);
  }
  e->exp10 = exp10;
  StripZeros(e);
}

Result<Exact> ParseExact(std::string_view text, const Context& ctx) {
  PRESCALE_ASSIGN_OR_RETURN(const Lexed lexed, Lex(text, ctx));
  PRESCALE_ASSIGN_OR_RETURN(const Suffix suffix, Interpret(lexed.suffix, ctx));
  Exact e;
  e.negative = lexed.negative;
  e.digits = std::string(lexed.integer) + std::string(lexed.fraction);
  e.exp10 = suffix.exp10 - static_cast<int64_t>(lexed.fraction.size());
  StripZeros(&e);
  for (int i = 0; i < suffix.exp2 && !e.digits.empty(); i += 10) MultiplyDigits(&e.digits, 1024);
  StripZeros(&e);
  // Upstream keeps a quantity only down to nano and rounds a finer non-zero
  // magnitude up, on the theory that asking for some of a resource should get some.
  RoundUpToPowerOfTen(&e, -9);
  if (e.digits.empty()) e.negative = false;  // "-0" is zero, not negative
  return e;
}

Result<double> ToDouble(const Exact& e, const Context& ctx) {
  if (e.digits.empty()) return 0.0;
  // Past 10^309 no double exists; checked first so a huge exponent needs no conversion.
  if (static_cast<int64_t>(e.digits.size()) + e.exp10 > 310) return ctx.Invalid("is too large for a double");
  const std::string text = e.digits + "e" + std::to_string(e.exp10);
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range || !std::isfinite(value)) return ctx.Invalid("is too large for a double");
  if (ec != std::errc() || end != text.data() + text.size()) return Status::Internal("cannot convert " + text);
  return e.negative ? -value : value;
}

// Whether a non-negative exact value is above 2^63 - 1.
bool AboveMaxInt64(const Exact& e) {
  const int64_t integer_digits = static_cast<int64_t>(e.digits.size()) + e.exp10;
  const auto max_digits = static_cast<int64_t>(kMaxInt64Digits.size());
  if (integer_digits != max_digits) return integer_digits > max_digits;
  std::string integer = e.digits.substr(0, kMaxInt64Digits.size());
  integer.resize(kMaxInt64Digits.size(), '0');
  const bool has_fraction = e.exp10 < 0;
  return integer > kMaxInt64Digits || (integer == kMaxInt64Digits && has_fraction);
}

// The checks a resource request or limit adds to the grammar; `round_up`
// rounds to a whole unit first.
Result<double> ParseRequest(std::string_view text, std::string_view noun, std::string_view unit, bool round_up) {
  const Context ctx(noun, text);
  PRESCALE_ASSIGN_OR_RETURN(Exact e, ParseExact(text, ctx));
  if (e.negative) return ctx.Invalid("is negative; a request or limit cannot be");
  if (round_up) RoundUpToPowerOfTen(&e, 0);
  if (AboveMaxInt64(e)) {
    return ctx.Invalid("is too large: past 2^63 - 1 " + std::string(unit) + ", the most an int64 holds");
  }
  PRESCALE_ASSIGN_OR_RETURN(const double value, ToDouble(e, ctx));
  return std::min(value, kLargestDoubleBelow2To63);
}

}  // namespace

Result<double> ParseQuantity(std::string_view text) {
  const Context ctx("quantity", text);
  PRESCALE_ASSIGN_OR_RETURN(const Exact e, ParseExact(text, ctx));
  return ToDouble(e, ctx);
}

Result<double> ParseCpuQuantity(std::string_view text) {
  return ParseRequest(text, "CPU quantity", "cores", /*round_up=*/false);
}

Result<double> ParseMemoryQuantity(std::string_view text) {
  return ParseRequest(text, "memory quantity", "bytes", /*round_up=*/true);
}

}  // namespace prescale::kube
