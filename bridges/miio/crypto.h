// miIO crypto (docs/protocols/miio.md §1.3, §1.4): MD5 checksums and AES-128-CBC with PKCS#7,
// key = MD5(token), iv = MD5(key || token). The same formulas serve the local token (16 raw
// bytes) and the cloud key (16 ASCII characters used as bytes, §2.7).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace lc::miio {

using Token = std::array<uint8_t, 16>;
using Digest = std::array<uint8_t, 16>;

// MD5 over the concatenation of the given byte ranges.
Digest md5(std::initializer_list<std::span<const uint8_t>> parts);

// A token written as 32 hex digits; nullopt on anything else.
std::optional<Token> token_from_hex(std::string_view text);
// A cloud key: its 16 ASCII characters as bytes; nullopt unless exactly 16 printable characters.
std::optional<Token> token_from_cloud_key(std::string_view text);

class Cipher {
 public:
  explicit Cipher(const Token& token);

  const Token& token() const { return token_; }
  const Digest& key() const { return key_; }
  const Digest& iv() const { return iv_; }

  // MD5(header[0:16] || token || payload); `header16` is the final header's first 16 bytes.
  Digest checksum(std::span<const uint8_t> header16, std::span<const uint8_t> payload) const;

  // AES-128-CBC with PKCS#7 padding (a full block of 0x10 when already aligned).
  std::vector<uint8_t> encrypt(std::span<const uint8_t> plaintext) const;
  // nullopt when the ciphertext is empty, not a multiple of 16 or badly padded.
  std::optional<std::vector<uint8_t>> decrypt(std::span<const uint8_t> ciphertext) const;

 private:
  Token token_;
  Digest key_;
  Digest iv_;
};

}  // namespace lc::miio
