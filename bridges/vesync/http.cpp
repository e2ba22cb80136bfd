#include "bridges/vesync/http.h"

#include <openssl/evp.h>

namespace lc::vesync::http {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Splits a head into lines (CRLF or LF); stops at the first empty line.
std::vector<std::string_view> lines_of(std::string_view head) {
  std::vector<std::string_view> lines;
  while (!head.empty()) {
    auto end = head.find('\n');
    std::string_view line = head.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    lines.push_back(line);
    if (end == std::string_view::npos) break;
    head.remove_prefix(end + 1);
  }
  return lines;
}

bool parse_headers(const std::vector<std::string_view>& lines, std::vector<Header>& out) {
  if (lines.size() - 1 > kMaxHeaders) return false;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    auto colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return false;  // also obs-fold lines
    std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!is_token_char(c)) return false;
    }
    std::string_view value = trim(line.substr(colon + 1));
    for (char c : value) {
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    out.push_back({std::string(name), std::string(value)});
  }
  return true;
}

const std::string* find_header(const std::vector<Header>& headers, std::string_view name) {
  for (const auto& header : headers) {
    if (iequals(header.name, name)) return &header.value;
  }
  return nullptr;
}

bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    auto comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

const std::string* Request::header(std::string_view name) const { return find_header(headers, name); }
const std::string* Response::header(std::string_view name) const { return find_header(headers, name); }

std::string_view Request::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::size_t head_size(std::string_view buffer) {
  for (size_t i = 0; i < buffer.size() && i < kMaxHeadBytes; ++i) {
    if (buffer[i] != '\n') continue;
    if (i + 1 < buffer.size() && buffer[i + 1] == '\n') return i + 2;
    if (i + 2 < buffer.size() && buffer[i + 1] == '\r' && buffer[i + 2] == '\n') return i + 3;
  }
  return 0;
}

std::optional<Request> parse_request(std::string_view head) {
  if (head.size() > kMaxHeadBytes) return std::nullopt;
  auto lines = lines_of(head);
  if (lines.empty()) return std::nullopt;
  // METHOD SP target SP HTTP/1.x
  std::string_view line = lines[0];
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return std::nullopt;
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return std::nullopt;
  std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1),
                   version = line.substr(sp2 + 1);
  for (char c : method) {
    if (!is_token_char(c)) return std::nullopt;
  }
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return std::nullopt;
  }
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || version[7] < '0' || version[7] > '9')
    return std::nullopt;
  Request request;
  request.method = std::string(method);
  request.target = std::string(target);
  if (!parse_headers(lines, request.headers)) return std::nullopt;
  return request;
}

std::optional<Response> parse_response(std::string_view head) {
  if (head.size() > kMaxHeadBytes) return std::nullopt;
  auto lines = lines_of(head);
  if (lines.empty()) return std::nullopt;
  // HTTP/1.x SP 3DIGIT [SP reason]
  std::string_view line = lines[0];
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ') return std::nullopt;
  int status = 0;
  for (int i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return std::nullopt;
    status = status * 10 + (line[i] - '0');
  }
  if (line.size() > 12 && line[12] != ' ') return std::nullopt;
  Response response;
  response.status = status;
  if (!parse_headers(lines, response.headers)) return std::nullopt;
  return response;
}

bool is_websocket_upgrade(const Request& request) {
  if (request.method != "GET") return false;
  const std::string* upgrade = request.header("Upgrade");
  const std::string* connection = request.header("Connection");
  const std::string* key = request.header("Sec-WebSocket-Key");
  return upgrade && connection && key && has_token(*upgrade, "websocket") &&
         has_token(*connection, "upgrade") && !key->empty();
}

std::string websocket_accept(std::string_view key) {
  std::string input(key);
  input += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &digest_size, EVP_sha1(), nullptr) != 1) return {};
  unsigned char encoded[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  int n = EVP_EncodeBlock(encoded, digest, int(digest_size));
  return std::string(reinterpret_cast<const char*>(encoded), size_t(n));
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 431: return "Request Header Fields Too Large";
    default: return "Error";
  }
}

std::string response(int status, std::string_view content_type, std::string_view body) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
  out += "Content-Type: ";
  out += content_type;
  out += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  out += body;
  return out;
}

}  // namespace lc::vesync::http
