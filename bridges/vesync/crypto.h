// The encrypted firmware's frames (docs/protocols/vesync.md §2.4): AES-128-CBC with the fixed
// key "llwantaeskey1.01" and IV "llwantaesivv1.01", the IV reset for every message;
// plaintext = JSON + 16 - (len % 16) zero bytes (1..16, a whole block when aligned),
// encrypted without further padding; after decrypting, the JSON ends at the first NUL.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lc::vesync {

// The binary frame for a JSON text.
std::string encrypt_frame(std::string_view plaintext);

// The JSON text of a binary frame, cut at the first NUL; nullopt when the frame is empty
// or not a multiple of 16 bytes.
std::optional<std::string> decrypt_frame(std::string_view frame);

}  // namespace lc::vesync
