#pragma once
// What the HTTP server hands the API and gets back: plain structs, so that only
// http_server.cpp and push_client.cpp see Boost.Beast.

#include <memory>
#include <string>
#include <utility>
#include <vector>

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

}  // namespace ember::daemon
