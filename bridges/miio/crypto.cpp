#include "bridges/miio/crypto.h"

#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "core/hex.h"

namespace lc::miio {
namespace {

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

}  // namespace

Digest md5(std::initializer_list<std::span<const uint8_t>> parts) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  Digest out{};
  unsigned int length = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr) != 1)
    throw std::runtime_error("OpenSSL: MD5 unavailable");
  for (const auto& part : parts) {
    if (!part.empty()) EVP_DigestUpdate(ctx.get(), part.data(), part.size());
  }
  EVP_DigestFinal_ex(ctx.get(), out.data(), &length);
  return out;
}

std::optional<Token> token_from_hex(std::string_view text) {
  if (text.size() != 32) return std::nullopt;
  const auto bytes = bytes_from_hex(text);
  if (!bytes) return std::nullopt;
  Token token{};
  std::copy(bytes->begin(), bytes->end(), token.begin());
  return token;
}

std::optional<Token> token_from_cloud_key(std::string_view text) {
  if (text.size() != 16) return std::nullopt;
  Token token{};
  for (size_t i = 0; i < 16; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x21 || c > 0x7e) return std::nullopt;
    token[i] = c;
  }
  return token;
}

Cipher::Cipher(const Token& token) : token_(token) {
  key_ = md5({token_});
  iv_ = md5({key_, token_});
}

Digest Cipher::checksum(std::span<const uint8_t> header16, std::span<const uint8_t> payload) const {
  return md5({header16, token_, payload});
}

std::vector<uint8_t> Cipher::encrypt(std::span<const uint8_t> plaintext) const {
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  std::vector<uint8_t> out(plaintext.size() + 16);
  int written = 0, final_written = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_cbc(), nullptr, key_.data(), iv_.data()) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data(), &written, plaintext.data(), static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + written, &final_written) != 1)
    throw std::runtime_error("OpenSSL: AES-128-CBC encryption failed");
  out.resize(static_cast<size_t>(written + final_written));
  return out;
}

std::optional<std::vector<uint8_t>> Cipher::decrypt(std::span<const uint8_t> ciphertext) const {
  if (ciphertext.empty() || ciphertext.size() % 16 != 0) return std::nullopt;
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  std::vector<uint8_t> out(ciphertext.size() + 16);
  int written = 0, final_written = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_128_cbc(), nullptr, key_.data(), iv_.data()) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out.data(), &written, ciphertext.data(), static_cast<int>(ciphertext.size())) != 1)
    return std::nullopt;
  // DecryptFinal checks the PKCS#7 padding.
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + written, &final_written) != 1) return std::nullopt;
  out.resize(static_cast<size_t>(written + final_written));
  return out;
}

}  // namespace lc::miio
