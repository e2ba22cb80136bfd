// libFuzzer target for the timeguard codec (and the time zone rule parsers beside it):
// nothing may crash, and every frame that parses must re-encode to the same bytes, with the
// typed params re-encoding to the bytes they came from.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "bridges/timeguard/codec.h"
#include "bridges/timeguard/timezone.h"

using namespace lc::timeguard;

namespace {

void check(bool condition) {
  if (!condition) __builtin_trap();
}

void check_prefix(const Bytes& encoded, std::span<const uint8_t> params) {
  check(encoded.size() <= params.size());
  check(std::equal(encoded.begin(), encoded.end(), params.begin()));
}

void typed_round_trip(Kind kind, std::span<const uint8_t> params) {
  switch (kind) {
    case Kind::ping:
      if (auto s = decode_ping(params)) check_prefix(encode(*s), params);
      break;
    case Kind::ping_reply:
      if (auto t = decode_u32(params)) check_prefix(encode_u32(*t), params);
      break;
    case Kind::code_version_report:
    case Kind::code_version_ack:
    case Kind::code_version_reply:
      if (auto v = decode_code_version(params)) {
        check_prefix(encode(*v), params);
        (void)model_of(v->text());
      }
      break;
    case Kind::schedule_reply:
    case Kind::schedule_write:
    case Kind::schedule_ack:
      if (auto s = decode_schedule(params)) {
        check_prefix(encode(*s), params);
        (void)s->name();
      }
      break;
    case Kind::holiday_reply:
    case Kind::holiday_write:
    case Kind::holiday_ack:
      if (auto h = decode_holiday(params)) check_prefix(encode(*h), params);
      break;
    case Kind::schedule_name_write:
      if (auto n = decode_schedule_name(params)) {
        check_prefix(encode(*n), params);
        (void)n->name();
      }
      break;
    case Kind::boost_ack:
      if (auto w = decode_boost_ack(params)) {
        check_prefix(encode_boost_ack((*w)[0], (*w)[1]), params);
        (void)boost_remaining_minutes((*w)[0], 1626255000, TimeZone::fixed(3600));
      }
      break;
    default:
      (void)decode_u8(params);
      break;
  }
}

void frame_checks(std::span<const uint8_t> input) {
  FrameView frame;
  const FrameError error = parse_frame(input, frame);
  (void)reason(error);
  (void)peek_device_id(input);
  const Bytes masked = masked_copy(input);
  check(masked.size() == input.size());
  if (error != FrameError::none) return;
  const FrameHeader header{frame.type, frame.flags, frame.seq, frame.device_id, frame.message_id, frame.padding};
  const Bytes again = encode_frame(header, frame.params);
  check(again.size() == input.size() && std::equal(again.begin(), again.end(), input.begin()));
  FrameView masked_frame;
  check(parse_frame(masked, masked_frame) == FrameError::none);
  const Classified classified = classify(frame);
  check(classified.kind == kind_of(frame.type, frame.flags));
  typed_round_trip(classified.kind, frame.params);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> input(data, size);
  frame_checks(input);
  // The same bytes with magic, lengths, CRC and trailer made right, so that mutations reach
  // the typed decoders instead of stopping at the CRC.
  if (size >= kMinFrameSize && size <= 0xffff + kFrameOverhead) {
    Bytes fixed(input.begin(), input.end());
    const FrameHeader header{fixed[8], fixed[9], fixed[12], static_cast<uint32_t>(fixed[16] | fixed[17] << 8 |
                             fixed[18] << 16 | static_cast<uint32_t>(fixed[19]) << 24), 0xffffffff,
                             {fixed[13], fixed[14], fixed[15]}};
    const Bytes rebuilt = encode_frame(header, std::span<const uint8_t>(fixed).subspan(kHeaderSize, size - kMinFrameSize));
    FrameView frame;
    check(parse_frame(rebuilt, frame) == FrameError::none);
    frame_checks(rebuilt);
  }
  (void)sanitize_utf8(input.first(std::min<size_t>(size, 256)));
  // The time zone parsers see only local files and the config, but must not crash either.
  const std::string_view text(reinterpret_cast<const char*>(data), std::min<size_t>(size, 128));
  if (auto zone = TimeZone::from_posix(text)) (void)zone->utc_offset(1626255000);
  if (auto zone = TimeZone::from_tzif(input)) {
    (void)zone->utc_offset(0);
    (void)zone->utc_offset(4118083200);
  }
  return 0;
}
