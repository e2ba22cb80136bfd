// libFuzzer target for the miio codec: header parsing, TCP framing, decryption with a fixed
// token, the broken-JSON repairs and the models' value decoding. Seeds: the vectors of
// tests/vectors/miio.json and the broken JSON of docs/protocols/miio.md §3.5 (corpus/miio_codec/).
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "bridges/miio/codec.h"
#include "bridges/miio/model_values.h"
#include "bridges/miio/shipped_models.h"

using namespace lc::miio;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> input(data, size);

  // As a datagram.
  Header header;
  if (parse_header(input, header) == Error::none) {
    (void)kind_of(input);
    if (header.length != size) std::abort();
  }

  // As a TCP stream: frames never exceed the input or the limit.
  size_t offset = 0;
  while (offset < size) {
    const auto frame = frame_size(input.subspan(offset));
    if (!frame || *frame == 0) break;
    if (*frame < kHeaderSize || *frame > kMaxReceivePacket || offset + *frame > size) std::abort();
    offset += *frame;
  }

  // Decryption with the all-ff token; whatever decodes re-encodes to the same bytes.
  static const Cipher cipher([] {
    Token token;
    token.fill(0xff);
    return token;
  }());
  Message message;
  if (decode_message(input, cipher, message) == Error::none) {
    const auto again = encode_plaintext(cipher, message.header, message.plaintext, kMaxReceivePacket);
    if (!again || again->size() != size || !std::equal(again->begin(), again->end(), data)) std::abort();
  }

  // As a plaintext: repaired JSON, and every value through every property decoder.
  const auto json = parse_json(input);
  if (json) {
    const ModelDef& row = *find_shipped_model("qmi.powerstrip.v1");
    const Json& list = json->is_object() && json->contains("result") ? (*json)["result"] : *json;
    if (list.is_array()) {
      for (size_t i = 0; i < list.size() && i < row.props.size(); ++i) (void)decode_value(row.props[i], list[i]);
    }
  }
  return 0;
}
