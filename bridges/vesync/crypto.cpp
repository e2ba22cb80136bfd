#include "bridges/vesync/crypto.h"

#include <memory>

#include <openssl/evp.h>

namespace lc::vesync {

namespace {

const unsigned char kKey[16] = {'l', 'l', 'w', 'a', 'n', 't', 'a', 'e',
                                's', 'k', 'e', 'y', '1', '.', '0', '1'};
const unsigned char kIv[16] = {'l', 'l', 'w', 'a', 'n', 't', 'a', 'e',
                               's', 'i', 'v', 'v', '1', '.', '0', '1'};

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};

// One context per thread, re-initialised for every message (the IV is never chained).
EVP_CIPHER_CTX* context() {
  thread_local std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx(EVP_CIPHER_CTX_new());
  return ctx.get();
}

// Runs whole blocks through AES-128-CBC without padding; false on any OpenSSL failure.
bool run(bool encrypt, const unsigned char* in, size_t size, unsigned char* out) {
  EVP_CIPHER_CTX* ctx = context();
  if (!ctx || EVP_CipherInit_ex(ctx, EVP_aes_128_cbc(), nullptr, kKey, kIv, encrypt ? 1 : 0) != 1)
    return false;
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  int written = 0, tail = 0;
  if (EVP_CipherUpdate(ctx, out, &written, in, int(size)) != 1) return false;
  if (EVP_CipherFinal_ex(ctx, out + written, &tail) != 1) return false;
  return size_t(written + tail) == size;
}

}  // namespace

std::string encrypt_frame(std::string_view plaintext) {
  std::string padded(plaintext);
  padded.append(16 - plaintext.size() % 16, '\0');
  std::string out(padded.size(), '\0');
  if (!run(true, reinterpret_cast<const unsigned char*>(padded.data()), padded.size(),
           reinterpret_cast<unsigned char*>(out.data())))
    return {};
  return out;
}

std::optional<std::string> decrypt_frame(std::string_view frame) {
  if (frame.empty() || frame.size() % 16 != 0) return std::nullopt;
  std::string out(frame.size(), '\0');
  if (!run(false, reinterpret_cast<const unsigned char*>(frame.data()), frame.size(),
           reinterpret_cast<unsigned char*>(out.data())))
    return std::nullopt;
  auto nul = out.find('\0');
  if (nul != std::string::npos) out.resize(nul);
  return out;
}

}  // namespace lc::vesync
