#include "bridges/vesync/crypto.h"

#include <algorithm>
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

// One context per direction and thread, keyed once: a message only resets the IV (it is never
// chained, docs/protocols/vesync.md §2.4). Keying a context for every message cost two thirds
// of an encrypted keepalive.
EVP_CIPHER_CTX* keyed_context(bool encrypt) {
  struct Keyed {
    std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx{EVP_CIPHER_CTX_new()};
    bool ready = false;
  };
  thread_local Keyed contexts[2];
  Keyed& keyed = contexts[encrypt ? 1 : 0];
  if (!keyed.ready) {
    if (!keyed.ctx || EVP_CipherInit_ex(keyed.ctx.get(), EVP_aes_128_cbc(), nullptr, kKey, kIv, encrypt ? 1 : 0) != 1)
      return nullptr;
    EVP_CIPHER_CTX_set_padding(keyed.ctx.get(), 0);
    keyed.ready = true;
  }
  return keyed.ctx.get();
}

// Runs whole blocks through AES-128-CBC without padding; false on any OpenSSL failure.
bool run(bool encrypt, const unsigned char* in, size_t size, unsigned char* out) {
  EVP_CIPHER_CTX* ctx = keyed_context(encrypt);
  if (!ctx || EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, kIv, -1) != 1) return false;
  int written = 0, tail = 0;
  if (EVP_CipherUpdate(ctx, out, &written, in, int(size)) != 1) return false;
  if (EVP_CipherFinal_ex(ctx, out + written, &tail) != 1) return false;
  return size_t(written + tail) == size;
}

}  // namespace

std::string encrypt_frame(std::string_view plaintext) {
  // The plaintext and its zero padding, encrypted in place (OpenSSL allows it for CBC).
  std::string out(plaintext.size() + 16 - plaintext.size() % 16, '\0');
  std::copy(plaintext.begin(), plaintext.end(), out.begin());
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  if (!run(true, bytes, out.size(), bytes)) return {};
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
