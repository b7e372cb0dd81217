#include "web/responses.h"

#include <zlib.h>

#include "common/encoding.h"

namespace logbucket::web {
namespace {

// Our own pages: scripts only from us; inline style attributes carry 256/truecolor ANSI
// colours (values we generate, never log text).
constexpr const char* kPageCsp =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' "
    "data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

}  // namespace

void MaybeCompress(const http::Request& request, http::Response& response) {
  if (response.body.size() < 1024 || response.file) return;
  std::string accept = AsciiLower(FindHeader(request.headers, "accept-encoding").value_or(""));
  bool gzip = accept.find("gzip") != std::string::npos;
  bool zlib_only = !gzip && accept.find("deflate") != std::string::npos;
  response.SetHeader("Vary", "Accept-Encoding");
  if (!gzip && !zlib_only) return;
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, gzip ? 15 + 16 : 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return;
  std::string out;
  out.resize(deflateBound(&z, response.body.size()));
  z.next_in = reinterpret_cast<Bytef*>(response.body.data());
  z.avail_in = static_cast<uInt>(response.body.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return;
  response.body = std::move(out);
  response.SetHeader("Content-Encoding", gzip ? "gzip" : "deflate");
}

http::Response Html(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.SetHeader("Content-Type", "text/html; charset=utf-8");
  r.SetHeader("Content-Security-Policy", kPageCsp);
  r.SetHeader("X-Content-Type-Options", "nosniff");
  r.SetHeader("Referrer-Policy", "same-origin");
  r.SetHeader("Cache-Control", "no-cache");
  return r;
}

http::Response Json(int status, const nlohmann::json& j) {
  http::Response r;
  r.status = status;
  r.body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  r.SetHeader("Content-Type", "application/json; charset=utf-8");
  r.SetHeader("X-Content-Type-Options", "nosniff");
  r.SetHeader("Cache-Control", "no-cache");
  return r;
}

http::Response JsonError(int status, std::string_view message) {
  return Json(status, {{"error", message}});
}

bool WantsHtml(const http::Request& request) {
  auto accept = FindHeader(request.headers, "accept");
  return accept && accept->find("text/html") != std::string_view::npos;
}

bool IsApiRequest(const http::Request& request) {
  auto route = RouteViewerRequest(request.method, request.raw_path, request.raw_query);
  if (route && route->Api()) return true;
  auto accept = FindHeader(request.headers, "accept");
  return accept && accept->find("application/json") != std::string_view::npos &&
         accept->find("text/html") == std::string_view::npos;
}

}  // namespace logbucket::web
