// libFuzzer target for the vesync codec: the first byte picks the path.
//   0: a text frame (plaintext JSON)      1: a binary frame (AES, then JSON)
//   2: an HTTP request/response head       3: a client-side websocket frame, a "HEX:HEX" pair
// A decoded message must re-encode to JSON that decodes to the same message, and the
// keepalive scan of the hot path must agree with the decoder.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bridges/vesync/codec.h"
#include "bridges/vesync/crypto.h"
#include "bridges/vesync/http.h"
#include "bridges/vesync/ws_frame.h"
#include "core/http_server.h"

using namespace lc::vesync;

namespace {

void check_round_trip(std::string_view text) {
  // What the keepalive scan accepts, the decoder decodes to the same keepalive.
  if (auto scanned = scan_keepalive(text)) {
    Decoded full = decode(text);
    const auto* keepalive = full.ok() ? std::get_if<KeepAlive>(&*full.message) : nullptr;
    if (!keepalive || keepalive->rssi != scanned->rssi || !keepalive->extra.empty()) std::abort();
  }
  Decoded first = decode(text);
  if (!first.ok()) return;
  const std::string compact = encode(*first.message);
  const std::string pretty_text = encode_pretty(*first.message);
  // ASCII escapes may make the re-encoding longer than a frame may be.
  if (pretty_text.size() > kMaxFrameBytes) return;
  Decoded again = decode(compact);
  if (!again.ok() || encode(*again.message) != compact) std::abort();
  Decoded pretty = decode(pretty_text);
  if (!pretty.ok() || encode(*pretty.message) != compact) std::abort();
  (void)message_uri(*first.message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      check_round_trip(input);
      break;
    case 1: {
      auto plain = decrypt_frame(input);
      if (plain) {
        check_round_trip(*plain);
        // Encrypting what was decrypted (cut at the first NUL) decrypts back to it.
        auto back = decrypt_frame(encrypt_frame(*plain));
        if (!back || *back != *plain) std::abort();
      }
      break;
    }
    case 2: {
      if (auto request = http::parse_request(input)) {
        (void)http::is_websocket_upgrade(*request);
        (void)lc::query_parameter(request->target, "name");
        if (const auto* key = request->header("Sec-WebSocket-Key")) (void)http::websocket_accept(*key);
      }
      (void)http::parse_response(input);
      (void)http::head_size(input);
      break;
    }
    default: {
      wsframe::Frame frame;
      size_t consumed = 0;
      if (wsframe::parse(input, 4096, frame, consumed) == wsframe::Parse::ok && consumed > input.size()) std::abort();
      if (auto pair = parse_pair(input)) {
        for (auto decoding : {PowerDecoding::app, PowerDecoding::q12, PowerDecoding::mean})
          (void)decode_pair(*pair, decoding);
      }
      (void)decode_provisioning_frame(input);
      break;
    }
  }
  return 0;
}
