// Hex, base64, percent-encoding (S3 SigV4 flavour), XML escaping and small string helpers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace logbucket {

std::string HexEncode(std::string_view bytes);
std::optional<std::string> HexDecode(std::string_view hex);
std::string Base64Encode(std::string_view bytes);
// Strict: rejects characters outside the alphabet and bad padding.
std::optional<std::string> Base64Decode(std::string_view text);
// The URL-safe alphabet without padding (RFC 4648 §5), as JWTs and cookies use it.
std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view text);

// Percent-encodes every byte except the unreserved set A-Z a-z 0-9 - . _ ~ (and '/' when
// keep_slash), with upper-case hex: the SigV4 "UriEncode" rule.
std::string UriEncode(std::string_view bytes, bool keep_slash);
// Decodes %XX escapes; when plus_is_space, '+' becomes ' ' (form encoding). nullopt on a
// malformed escape.
std::optional<std::string> UriDecode(std::string_view text, bool plus_is_space = false);

// Escapes & < > " ' for XML/HTML text and attribute values.
std::string XmlEscape(std::string_view text);

// Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF.
bool IsValidUtf8(std::string_view text);

std::string AsciiLower(std::string_view text);
std::string AsciiUpper(std::string_view text);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
std::string_view TrimWhitespace(std::string_view text);
std::vector<std::string_view> Split(std::string_view text, char separator);
// Parses a non-negative decimal integer that fits int64; nullopt otherwise (no sign, no spaces).
std::optional<int64_t> ParseDecimal(std::string_view text);

// Time formats S3 uses. Times are Unix milliseconds.
std::string FormatIso8601(int64_t unix_ms);                   // 2006-02-03T16:45:09.000Z
std::string FormatHttpDate(int64_t unix_ms);                  // Fri, 03 Feb 2006 16:45:09 GMT
std::string FormatAmzDate(int64_t unix_ms);                   // 20060203T164509Z
std::optional<int64_t> ParseAmzDate(std::string_view text);   // 20060203T164509Z
std::optional<int64_t> ParseHttpDate(std::string_view text);  // RFC 1123 (and ISO 8601)
// 2006-02-03, 2006-02-03T16:45:09Z, with optional .fraction and ±HH:MM instead of Z.
std::optional<int64_t> ParseIso8601(std::string_view text);

}  // namespace logbucket
