#pragma once
// What the HTTP server hands the API and gets back: plain structs, so that only
// http_server.cpp and push_client.cpp see Boost.Beast.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace ember::daemon {

class QueryControl;

struct HttpRequest {
  std::string method;  // "GET", "HEAD"
  std::string target;  // "/api/v1/folded?from=-1h"
  std::string peer;    // for logs
  // Set for requests run by a worker: their deadline, cancelled when the client hangs up or
  // emberd stops. Null for the cheap paths answered on the I/O thread.
  std::shared_ptr<QueryControl> control;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// A plain-text error answer: the reason, one line.
inline HttpResponse error_response(int status, std::string reason) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(reason);
  r.body += '\n';
  return r;
}

inline HttpResponse bad_request(std::string reason) { return error_response(400, std::move(reason)); }

// A query that could not be answered: a limit reached is the client's to change (422), a
// deadline or a shutdown is worth a retry later (503), anything else is ours (500).
inline HttpResponse query_failed(const Error& e) {
  if (e.code() == ErrorCode::kResourceExhausted) return error_response(422, e.message());
  if (e.code() == ErrorCode::kInterrupted) {
    HttpResponse r = error_response(503, e.message());
    r.headers.emplace_back("Retry-After", "10");
    return r;
  }
  return error_response(500, e.message());
}

}  // namespace ember::daemon
