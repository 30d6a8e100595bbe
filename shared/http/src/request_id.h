// Request ids (X-Request-Id) for the HTTP server's answers and request logs.
#pragma once

#include <string>
#include <string_view>

#include "prescale/http/http_server.h"

namespace prescale::http {

// An X-Request-Id worth passing on: 1 to 128 visible ASCII characters other
// than '"' and '\\' (it goes into logs, audit records and headers as it is).
bool IsValidRequestId(std::string_view id);

// 16 hex digits, random enough to tell requests apart (not a secret).
std::string NewRequestId();

// The request's X-Request-Id when valid, else a new one; the request then holds
// exactly that one, so that what handlers see is what the response and the log say.
std::string TakeRequestId(HttpRequest* request);

// Adds the header unless the response has one of that name already.
void SetHeaderUnlessSet(HttpResponse* response, std::string_view name, const std::string& value);

}  // namespace prescale::http
