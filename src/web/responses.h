// The viewer's answers, built one way: HTML pages under our Content-Security-Policy, JSON for
// the API and scripts, compressed when the client takes it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "http/handler.h"
#include "web/route.h"

namespace logbucket::web {

http::Response Html(int status, std::string body);
http::Response Json(int status, const nlohmann::json& j);
http::Response JsonError(int status, std::string_view message);
// The client said it takes HTML (a browser); scripts get JSON errors.
bool WantsHtml(const http::Request& request);
// A script's request: the viewer's JSON API (the route says), or Accept: application/json
// without text/html. They get 401/403 JSON instead of a page or a redirect to sign in.
bool IsApiRequest(const http::Request& request);
// Compresses with gzip (or zlib's deflate) when the client takes it and it is worth it.
void MaybeCompress(const http::Request& request, http::Response& response);

}  // namespace logbucket::web
