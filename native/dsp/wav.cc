#include "dsp/wav.h"

#include <cmath>
#include <cstring>
#include <string>

#include "common/errors.h"
#include "common/simd.h"

namespace ser {
namespace {

constexpr uint16_t kFormatPcm = 0x0001;
constexpr std::size_t kMaxStreamHeaderBytes = std::size_t{1} << 24;
constexpr uint16_t kFormatFloat = 0x0003;
constexpr uint16_t kFormatExtensible = 0xFFFE;

uint16_t readU16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t readU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
void writeU16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v & 0xFF));
  out.push_back(static_cast<uint8_t>(v >> 8));
}
void writeU32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<uint8_t>((v >> shift) & 0xFF));
}
void writeTag(std::vector<uint8_t>& out, const char* tag) { out.insert(out.end(), tag, tag + 4); }

std::string formatName(uint16_t code) {
  switch (code) {
    case 0x0002: return "MS ADPCM";
    case 0x0006: return "A-law";
    case 0x0007: return "mu-law";
    case 0x0011: return "IMA ADPCM";
    case 0x0055: return "MP3";
    default: return "unknown";
  }
}

std::string hex4(uint16_t code) {
  static const char* digits = "0123456789abcdef";
  std::string s = "0x0000";
  for (int i = 0; i < 4; ++i) s[5 - i] = digits[(code >> (4 * i)) & 0xF];
  return s;
}

struct FmtChunk {
  uint16_t formatCode = 0;
  uint16_t channels = 0;
  uint32_t sampleRate = 0;
  uint16_t blockAlign = 0;
  uint16_t bitsPerSample = 0;
};

FmtChunk parseFmt(const uint8_t* p, uint32_t size) {
  if (size < 16) throw InputError("fmt chunk is " + std::to_string(size) + " bytes, needs at least 16");
  FmtChunk fmt;
  fmt.formatCode = readU16(p);
  fmt.channels = readU16(p + 2);
  fmt.sampleRate = readU32(p + 4);
  fmt.blockAlign = readU16(p + 12);
  fmt.bitsPerSample = readU16(p + 14);
  if (fmt.formatCode == kFormatExtensible) {
    if (size < 40 || readU16(p + 16) < 22) {
      throw InputError("WAVE_FORMAT_EXTENSIBLE fmt chunk is too short (" + std::to_string(size) + " bytes)");
    }
    // The sub-format GUID is {code-0000-0010-8000-00aa00389b71}; its first two bytes are the real code.
    static const uint8_t kGuidTail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                          0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
    if (std::memcmp(p + 24 + 2, kGuidTail, sizeof kGuidTail) != 0) {
      throw InputError("WAVE_FORMAT_EXTENSIBLE with a non-standard sub-format GUID is not supported");
    }
    fmt.formatCode = readU16(p + 24);
  }
  return fmt;
}

void checkFormat(const FmtChunk& fmt) {
  if (fmt.channels == 0) throw InputError("fmt chunk says zero channels");
  if (fmt.sampleRate == 0) throw InputError("fmt chunk says the sample rate is zero");
  const uint16_t bits = fmt.bitsPerSample;
  if (fmt.formatCode == kFormatPcm) {
    if (bits != 8 && bits != 16 && bits != 24 && bits != 32) {
      throw InputError("unsupported PCM sample size: " + std::to_string(bits) + " bits (8, 16, 24, 32 are read)");
    }
  } else if (fmt.formatCode == kFormatFloat) {
    if (bits != 32 && bits != 64) {
      throw InputError("unsupported IEEE float sample size: " + std::to_string(bits) + " bits (32, 64 are read)");
    }
  } else {
    throw InputError("unsupported WAV format code " + hex4(fmt.formatCode) + " (" + formatName(fmt.formatCode) +
                     "); PCM (0x0001) and IEEE float (0x0003) are read");
  }
  const uint32_t expectedAlign = static_cast<uint32_t>(fmt.channels) * (bits / 8);
  if (fmt.blockAlign != expectedAlign) {
    throw InputError("fmt chunk block align is " + std::to_string(fmt.blockAlign) + " but " +
                     std::to_string(fmt.channels) + " channels of " + std::to_string(bits) + " bits need " +
                     std::to_string(expectedAlign));
  }
}

// One sample of the container as a double, as soundfile scales it (integers over 2^(bits-1)).
template <int Bytes, bool IsFloat>
inline double sampleValue(const uint8_t* p) {
  if constexpr (IsFloat && Bytes == 4) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  } else if constexpr (IsFloat) {
    double v;
    std::memcpy(&v, p, 8);
    return v;
  } else if constexpr (Bytes == 1) {  // 8-bit WAV is unsigned with 128 as zero
    return (static_cast<int>(p[0]) - 128) * (1.0 / 128.0);
  } else if constexpr (Bytes == 2) {
    return static_cast<int16_t>(readU16(p)) * (1.0 / 32768.0);
  } else if constexpr (Bytes == 3) {
    const int32_t v = static_cast<int32_t>((static_cast<uint32_t>(p[0]) << 8) | (static_cast<uint32_t>(p[1]) << 16) |
                                           (static_cast<uint32_t>(p[2]) << 24));
    return static_cast<double>(v >> 8) * (1.0 / 8388608.0);
  } else {
    return static_cast<double>(static_cast<int32_t>(readU32(p))) * (1.0 / 2147483648.0);
  }
}

[[noreturn]] void badSample(double v, std::size_t frame, uint16_t channel) {
  if (std::isnan(v) || std::isinf(v)) {
    throw InputError(std::string("non-finite sample (") + (std::isnan(v) ? "NaN" : "Inf") + ") at frame " +
                     std::to_string(frame) + ", channel " + std::to_string(channel));
  }
  throw InputError("sample " + std::to_string(v) + " at frame " + std::to_string(frame) +
                   " is beyond the float32 range");
}

// 16-bit mono, the usual clip: k / 32768 is exact in float, so float arithmetic gives the same values
// as the double path below, eight samples per instruction.
SER_HOT void decodePcm16Mono(const uint8_t* data, std::size_t frames, float* out) {
  for (std::size_t i = 0; i < frames; ++i) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    int16_t v;
    std::memcpy(&v, data + 2 * i, sizeof v);
#else
    const int16_t v = static_cast<int16_t>(readU16(data + 2 * i));
#endif
    out[i] = static_cast<float>(v) * (1.0f / 32768.0f);
  }
}

// Mono: the mean of the channels, summed in double so that no finite input overflows on the way.
template <int Bytes, bool IsFloat>
void decodeFrames(const uint8_t* data, std::size_t frames, uint16_t channels, std::size_t firstFrame, float* out) {
  constexpr double kFloatMax = 3.4028234663852886e38;
  if constexpr (Bytes == 2 && !IsFloat) {
    if (channels == 1) {
      decodePcm16Mono(data, frames, out);
      return;
    }
  }
  if (channels == 1 && !IsFloat && Bytes <= 3) {
    // Up to 24 bits, k / 2^(bits-1) is exact in float: the same values as through double, vectorised.
    for (std::size_t i = 0; i < frames; ++i) out[i] = static_cast<float>(sampleValue<Bytes, IsFloat>(data + i * Bytes));
    return;
  }
  if (channels == 1) {
    for (std::size_t i = 0; i < frames; ++i) {
      const double v = sampleValue<Bytes, IsFloat>(data + i * Bytes);
      if constexpr (IsFloat) {
        if (!(std::fabs(v) <= kFloatMax)) badSample(v, firstFrame + i, 0);
      }
      out[i] = static_cast<float>(v);
    }
    return;
  }
  const double scale = 1.0 / static_cast<double>(channels);
  for (std::size_t i = 0; i < frames; ++i) {
    const uint8_t* frame = data + i * channels * Bytes;
    double sum = 0.0;
    for (uint16_t c = 0; c < channels; ++c) {
      const double v = sampleValue<Bytes, IsFloat>(frame + c * Bytes);
      if constexpr (IsFloat) {
        if (!std::isfinite(v)) badSample(v, firstFrame + i, c);
      }
      sum += v;
    }
    const double mean = sum * scale;
    if constexpr (IsFloat) {
      if (!(std::fabs(mean) <= kFloatMax)) badSample(mean, firstFrame + i, 0);
    }
    out[i] = static_cast<float>(mean);
  }
}

}  // namespace

bool parseWavHeader(Span<const uint8_t> prefix, bool complete, WavHeader& header) {
  const std::size_t size = prefix.size();
  const uint8_t* base = prefix.data();
  if (complete && size == 0) throw InputError("file is empty");
  if (size < 12) {
    if (complete) throw InputError("file is " + std::to_string(size) + " bytes, too short for a RIFF/WAVE header");
    if (size >= 4 && std::memcmp(base, "RIFF", 4) != 0) throw InputError("not a RIFF file (no 'RIFF' magic)");
    return false;
  }
  if (std::memcmp(base, "RIFF", 4) != 0) throw InputError("not a RIFF file (no 'RIFF' magic)");
  if (std::memcmp(base + 8, "WAVE", 4) != 0) throw InputError("RIFF file is not WAVE (no 'WAVE' form type)");

  bool haveFmt = false;
  FmtChunk fmt;
  std::size_t offset = 12;
  while (offset + 8 <= size) {
    const uint8_t* chunk = base + offset;
    const uint32_t chunkSize = readU32(chunk + 4);
    const std::string tag(reinterpret_cast<const char*>(chunk), 4);
    const std::size_t bodyStart = offset + 8;
    if (tag == "data") {
      if (!haveFmt) throw InputError("no fmt chunk before the data chunk");
      checkFormat(fmt);
      header.info.sampleRate = fmt.sampleRate;
      header.info.channels = fmt.channels;
      header.info.bitsPerSample = fmt.bitsPerSample;
      header.info.format = fmt.formatCode == kFormatFloat ? SampleFormat::Float : SampleFormat::Pcm;
      header.blockAlign = fmt.blockAlign;
      header.dataOffset = bodyStart;
      header.sizeKnown = chunkSize != 0 && chunkSize != 0xFFFFFFFFu;
      header.dataBytes = header.sizeKnown ? chunkSize : 0;
      if (complete && header.sizeKnown && chunkSize > size - bodyStart) {
        throw InputError("'data' chunk at byte " + std::to_string(offset) + " claims " + std::to_string(chunkSize) +
                         " bytes but only " + std::to_string(size - bodyStart) + " remain in the file (truncated?)");
      }
      if (complete && !header.sizeKnown) header.dataBytes = size - bodyStart;
      header.info.frames = static_cast<std::size_t>(header.dataBytes / fmt.blockAlign);  // a partial frame is dropped
      return true;
    }
    if (chunkSize > size - bodyStart) {
      if (!complete) {
        // A chunk before the data that has not fully arrived yet; headers are small, so a stream is
        // refused once this much has come without the data chunk.
        if (size > kMaxStreamHeaderBytes) throw InputError("no data chunk in the first 16 MiB");
        return false;
      }
      throw InputError("'" + tag + "' chunk at byte " + std::to_string(offset) + " claims " +
                       std::to_string(chunkSize) + " bytes but only " + std::to_string(size - bodyStart) +
                       " remain in the file (truncated?)");
    }
    if (tag == "fmt ") {
      fmt = parseFmt(base + bodyStart, chunkSize);
      haveFmt = true;
    }
    // Chunks are word-aligned: an odd size is followed by one pad byte (which may be missing at the end).
    offset = bodyStart + chunkSize + (chunkSize & 1u);
  }
  if (!complete) {
    if (size > kMaxStreamHeaderBytes) throw InputError("no data chunk in the first 16 MiB");
    return false;
  }
  if (!haveFmt) throw InputError("no fmt chunk (truncated header?)");
  throw InputError("no data chunk");
}

void decodeWavFrames(const WavHeader& header, Span<const uint8_t> data, std::size_t firstFrame, Span<float> out) {
  const std::size_t align = header.blockAlign;
  if (align == 0 || data.size() % align != 0) throw InputError("decodeWavFrames: not a whole number of frames");
  const std::size_t frames = data.size() / align;
  if (out.size() != frames) throw InputError("decodeWavFrames: output size mismatch");
  const uint16_t ch = header.info.channels;
  const uint8_t* p = data.data();
  float* o = out.data();
  if (header.info.format == SampleFormat::Float) {
    if (header.info.bitsPerSample == 32) decodeFrames<4, true>(p, frames, ch, firstFrame, o);
    else decodeFrames<8, true>(p, frames, ch, firstFrame, o);
    return;
  }
  switch (header.info.bitsPerSample) {
    case 8: decodeFrames<1, false>(p, frames, ch, firstFrame, o); break;
    case 16: decodeFrames<2, false>(p, frames, ch, firstFrame, o); break;
    case 24: decodeFrames<3, false>(p, frames, ch, firstFrame, o); break;
    default: decodeFrames<4, false>(p, frames, ch, firstFrame, o);
  }
}

DecodedWav decodeWav(Span<const uint8_t> bytes) {
  WavHeader header;
  parseWavHeader(bytes, true, header);
  DecodedWav out;
  out.info = header.info;
  out.samples.resize(header.info.frames);
  decodeWavData(bytes, header, Span<float>(out.samples));
  return out;
}

void decodeWavData(Span<const uint8_t> bytes, const WavHeader& header, Span<float> out) {
  if (out.size() != header.info.frames) throw InputError("decodeWavData: output size mismatch");
  const std::size_t dataBytes = header.info.frames * header.blockAlign;
  decodeWavFrames(header, Span<const uint8_t>(bytes.data() + header.dataOffset, dataBytes), 0, out);
}

std::vector<uint8_t> encodeWavPcm16(Span<const float> samples, uint32_t sampleRate) {
  if (sampleRate == 0) throw InputError("sample rate must be positive");
  const uint64_t dataBytes = static_cast<uint64_t>(samples.size()) * 2;
  if (dataBytes > 0xFFFFFFFFull - 36) throw InputError("audio too long for a WAV file (4 GiB limit)");
  std::vector<uint8_t> out;
  out.reserve(44 + dataBytes);
  writeTag(out, "RIFF");
  writeU32(out, static_cast<uint32_t>(36 + dataBytes));
  writeTag(out, "WAVE");
  writeTag(out, "fmt ");
  writeU32(out, 16);
  writeU16(out, kFormatPcm);
  writeU16(out, 1);
  writeU32(out, sampleRate);
  writeU32(out, sampleRate * 2);
  writeU16(out, 2);
  writeU16(out, 16);
  writeTag(out, "data");
  writeU32(out, static_cast<uint32_t>(dataBytes));
  for (float s : samples) {
    if (!std::isfinite(s)) throw InputError("cannot encode a non-finite sample");
    const float scaled = std::nearbyint(s * 32768.0f);
    const int v = static_cast<int>(scaled < -32768.0f ? -32768.0f : (scaled > 32767.0f ? 32767.0f : scaled));
    writeU16(out, static_cast<uint16_t>(static_cast<int16_t>(v)));
  }
  return out;
}

}  // namespace ser
