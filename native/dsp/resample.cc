#include "dsp/resample.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <list>
#include <memory>
#include <numeric>
#include <string>
#include <utility>

#include "common/errors.h"
#include "dsp/finite.h"
#include "dsp/dot.h"
#include "common/simd.h"

namespace ser {
namespace {

constexpr double kKaiserBeta = 5.0;
constexpr double kPi = 3.14159265358979323846;

// Modified Bessel function of the first kind, order 0, by its power series (converges for all x).
double besselI0(double x) {
  const double quarterSquare = 0.25 * x * x;
  double term = 1.0;
  double sum = 1.0;
  for (int k = 1; k < 500; ++k) {
    term *= quarterSquare / (static_cast<double>(k) * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

// sin(pi m / period) / (pi m / period) for an integer m: exactly zero at the nonzero multiples of
// `period`, where the floating-point sine leaves about 1e-17 (and the decimation kernel would spend a
// multiply-add on each of those taps).
double sincOfRatio(double m, double period) {
  if (m == 0.0) return 1.0;
  if (std::fmod(m, period) == 0.0) return 0.0;
  const double px = kPi * m / period;
  return std::sin(px) / px;
}

}  // namespace

// One polyphase branch per output phase, taps reversed and zero-padded to a common length so that every
// output sample is one fixed-length dot product against a contiguous window of the (zero-padded) input.
struct ResamplePlan {
  ResampleRatio ratio;
  std::size_t halfLength = 0;
  std::size_t tapsPerPhase = 0;
  // [up][tapsPerPhase], row r for the outputs i with i % up == r (phase (r * down + halfLength) % up):
  // consecutive outputs read consecutive rows. In phase order they jumped `down` rows apart, and with a
  // large `up` (24,414 -> 16,000 Hz: 8,000 rows, 1 MiB) each output's taps came from beyond the L2.
  std::vector<float> phaseTaps;
  // Integer decimation (up = 1) skips the taps that are exactly zero: a third of them for 48 -> 16 kHz,
  // half for 32 -> 16 kHz (the filter's zeros at multiples of `down` from its centre). Offsets count
  // from the first real tap.
  std::vector<uint32_t> decimationTapOffsets;
  std::vector<float> decimationTapValues;
};

namespace {

std::shared_ptr<const ResamplePlan> makePlan(ResampleRatio ratio) {
  auto plan = std::make_shared<ResamplePlan>();
  plan->ratio = ratio;
  const std::vector<double> h = designResampleFilter(ratio);
  const std::size_t up = ratio.up;
  plan->halfLength = (h.size() - 1) / 2;
  // Rounded up to whole dot-product blocks: the extra leading taps are zeros.
  constexpr std::size_t kBlock = 16;
  plan->tapsPerPhase = ((h.size() + up - 1) / up + kBlock - 1) / kBlock * kBlock;
  plan->phaseTaps.assign(up * plan->tapsPerPhase, 0.0f);
  // Output i reads h[phase + m*up] against x[nLast - m], phase = (i*down + half) % up.
  // Stored reversed: slot t holds the tap that multiplies x[nLast - (tapsPerPhase-1) + t].
  for (std::size_t row = 0; row < up; ++row) {
    const std::size_t phase = static_cast<std::size_t>((static_cast<uint64_t>(row) * ratio.down + plan->halfLength) % up);
    float* taps = &plan->phaseTaps[row * plan->tapsPerPhase];
    for (std::size_t m = 0; phase + m * up < h.size(); ++m) {
      taps[plan->tapsPerPhase - 1 - m] = static_cast<float>(h[phase + m * up]);
    }
  }
  if (up == 1) {
    const std::size_t lead = plan->tapsPerPhase - h.size();
    for (std::size_t t = lead; t < plan->tapsPerPhase; ++t) {
      if (plan->phaseTaps[t] == 0.0f) continue;
      plan->decimationTapOffsets.push_back(static_cast<uint32_t>(t - lead));
      plan->decimationTapValues.push_back(plan->phaseTaps[t]);
    }
  }
  return plan;
}

std::shared_ptr<const ResamplePlan> cachedPlan(ResampleRatio ratio) {
  // Worker threads each keep their own plans: no locks on the hot path. Bounded by count and by bytes,
  // most recent first: pitch and speed augmentation draw a new ratio per clip, and a folder of files at
  // odd rates must not pile up plans.
  constexpr std::size_t kMaxPlans = 32;
  constexpr std::size_t kMaxPlanBytes = std::size_t{32} << 20;
  thread_local std::list<std::shared_ptr<const ResamplePlan>> plans;
  for (auto it = plans.begin(); it != plans.end(); ++it) {
    if ((*it)->ratio.up == ratio.up && (*it)->ratio.down == ratio.down) {
      plans.splice(plans.begin(), plans, it);
      return plans.front();
    }
  }
  plans.push_front(makePlan(ratio));
  std::size_t bytes = 0;
  std::size_t kept = 0;
  for (auto it = plans.begin(); it != plans.end(); ++it, ++kept) {
    bytes += (*it)->phaseTaps.size() * sizeof(float);
    if (kept > 0 && (kept >= kMaxPlans || bytes > kMaxPlanBytes)) {
      plans.erase(it, plans.end());
      break;
    }
  }
  return plans.front();
}

// The input index whose sample meets the filter's phase-0 tap for output i.
inline uint64_t lastInput(const ResamplePlan& plan, uint64_t i) {
  return (i * plan.ratio.down + plan.halfLength) / plan.ratio.up;
}

// Width x Width floats transposed in registers: log2(Width) rounds of zipping row i with row
// i + Width/2 (each round moves one bit of the row index into the column index).
template <std::size_t Width, typename Vec>
__attribute__((always_inline)) inline void transposeSquare(Vec* rows) {
#if defined(__clang__)
  // clang (the sanitizer builds of native/fuzz) has no __builtin_shuffle: through memory.
  float cells[Width][Width];
  for (std::size_t r = 0; r < Width; ++r) std::memcpy(cells[r], &rows[r], sizeof(Vec));
  for (std::size_t c = 0; c < Width; ++c) {
    float column[Width];
    for (std::size_t r = 0; r < Width; ++r) column[r] = cells[r][c];
    std::memcpy(&rows[c], column, sizeof(Vec));
  }
#else
  typedef decltype(Vec{} < Vec{}) Index;  // the int vector of Vec's lanes
  Index low, high;
  for (std::size_t k = 0; k < Width / 2; ++k) {
    low[2 * k] = static_cast<int32_t>(k);
    low[2 * k + 1] = static_cast<int32_t>(k + Width);
    high[2 * k] = static_cast<int32_t>(k + Width / 2);
    high[2 * k + 1] = static_cast<int32_t>(k + Width + Width / 2);
  }
  for (std::size_t bit = 1; bit < Width; bit *= 2) {
    Vec zipped[Width];
    for (std::size_t i = 0; i < Width / 2; ++i) {
      zipped[2 * i] = __builtin_shuffle(rows[i], rows[i + Width / 2], low);
      zipped[2 * i + 1] = __builtin_shuffle(rows[i], rows[i + Width / 2], high);
    }
    for (std::size_t i = 0; i < Width; ++i) rows[i] = zipped[i];
  }
#endif
}

// Where decimation reads its input: floats, or 16-bit little-endian PCM bytes decoded on the fly
// (k / 32768, the decoder's exact value), so a WAV clip is resampled without a decoded copy.
struct FloatSamples {
  const float* data;
  float at(int64_t i) const { return data[i]; }
  template <typename Vec>
  Vec load(int64_t i) const {
    Vec v;
    std::memcpy(&v, data + i, sizeof v);
    return v;
  }
};

struct Pcm16Samples {
  const uint8_t* data;
  float at(int64_t i) const {
    const auto v = static_cast<int16_t>(static_cast<uint16_t>(data[2 * i] | (data[2 * i + 1] << 8)));
    return static_cast<float>(v) * (1.0f / 32768.0f);
  }
  template <typename Vec>
  Vec load(int64_t i) const {
    typedef short Shorts __attribute__((vector_size(sizeof(Vec) / 2)));
    Shorts v;
    std::memcpy(&v, data + 2 * i, sizeof v);
    return __builtin_convertvector(v, Vec) * (1.0f / 32768.0f);
  }
};

// Integer decimation (up = 1, the usual 32/48/96 kHz -> 16 kHz): every output uses the one phase.
// The outputs are cut into Width runs, one per vector lane, and each run's input is transposed into
// rows of Width floats, a chunk at a time: row i, lane l holds the input that tap i meets for the
// first output of the chunk in run l. Output q of a chunk is then sum over t of h[t] * row(q*down + t),
// a whole-vector multiply-add per tap with aligned loads: no shifted (cache-line splitting) loads and
// no horizontal sums. Each output adds its nonzero taps in order to 0, one multiply-add each, whatever
// Width is and wherever the run and chunk bounds fall: the lane widths, and the whole-signal and the
// streamed calls, give the same bits.
template <std::size_t Width, typename Samples>
SER_HOT_WIDE void decimateOutputs(const ResamplePlan& plan, Samples buffer, int64_t bufferStart, std::size_t bufferSize,
                                  uint64_t firstOutput, Span<float> out) {
  typedef float Vec __attribute__((vector_size(Width * sizeof(float))));
  // Eight accumulators (FMA latency 4, two units); 96 outputs a chunk keep the rows in L1 (measured
  // best of 4..12 accumulators and 96..192 outputs on AMD EPYC Zen 5).
  constexpr std::size_t kAccumulators = 8;
  constexpr std::size_t kChunk = 96;
  const std::size_t count = out.size();
  if (count == 0) return;
  const std::size_t down = static_cast<std::size_t>(plan.ratio.down);
  // The plan pads the taps with leading zeros to whole blocks; they add nothing.
  const std::size_t lead = plan.tapsPerPhase - (2 * plan.halfLength + 1);
  const std::size_t taps = plan.tapsPerPhase - lead;
  const std::size_t nonzeroTaps = plan.decimationTapOffsets.size();
  const uint32_t* tapOffsets = plan.decimationTapOffsets.data();
  const float* tapValues = plan.decimationTapValues.data();
  // Output j reads inputs j * down + c0 + t, t < taps (zero outside the buffer).
  const int64_t c0 = static_cast<int64_t>(plan.halfLength) + 1 - static_cast<int64_t>(taps);
  const std::size_t run = (count + Width - 1) / Width;
  const std::size_t chunk = std::min(kChunk, run);
  // The accumulator blocks read whole: rows for a multiple of kAccumulators outputs, in whole Width blocks.
  const std::size_t chunkRounded = (chunk + kAccumulators - 1) / kAccumulators * kAccumulators;
  const std::size_t rowsRounded = (down * (chunkRounded - 1) + taps + Width - 1) / Width * Width;
  const std::size_t sumRows = (chunkRounded + Width - 1) / Width * Width;
  // One allocation per thread, 64-byte aligned by hand (GCC drops vector attributes on template
  // arguments, so the vectors live in a float buffer): rows, sums, then the edge copies.
  thread_local std::vector<float> scratch;
  const std::size_t scratchFloats = (rowsRounded + sumRows + rowsRounded) * Width + 16;
  if (scratch.size() < scratchFloats) scratch.resize(scratchFloats);
  float* aligned = scratch.data() + ((64 - reinterpret_cast<uintptr_t>(scratch.data()) % 64) % 64) / sizeof(float);
  Vec* rows = reinterpret_cast<Vec*>(aligned);
  Vec* sums = rows + rowsRounded;
  float* edge = aligned + (rowsRounded + sumRows) * Width;
  const int64_t bufferEnd = bufferStart + static_cast<int64_t>(bufferSize);
  for (std::size_t j0 = 0; j0 < run; j0 += chunk) {
    const std::size_t outputs = std::min(chunk, run - j0);
    // Where each lane's rows come from: the buffer itself, or, where they run past either end of it
    // (the signal's ends, lanes past the last output), a copy with zeros outside it.
    int64_t offset[Width];  // into the buffer, for lanes inside it
    const float* copied[Width];  // the copy, for lanes not inside it
    std::size_t edgeLanes = 0;
    for (std::size_t l = 0; l < Width; ++l) {
      const int64_t first = static_cast<int64_t>((firstOutput + l * run + j0) * down) + c0;
      offset[l] = first - bufferStart;
      copied[l] = nullptr;
      if (first >= bufferStart && first + static_cast<int64_t>(rowsRounded) <= bufferEnd) continue;
      float* copy = edge + edgeLanes++ * rowsRounded;
      for (std::size_t i = 0; i < rowsRounded; ++i) {
        const int64_t at = first + static_cast<int64_t>(i);
        copy[i] = at >= bufferStart && at < bufferEnd ? buffer.at(at - bufferStart) : 0.0f;
      }
      copied[l] = copy;
    }
    for (std::size_t i0 = 0; i0 < rowsRounded; i0 += Width) {
      Vec block[Width];
      if (edgeLanes == 0) {
        for (std::size_t l = 0; l < Width; ++l) block[l] = buffer.template load<Vec>(offset[l] + static_cast<int64_t>(i0));
      } else {
        for (std::size_t l = 0; l < Width; ++l) {
          if (copied[l]) std::memcpy(&block[l], copied[l] + i0, sizeof(Vec));
          else block[l] = buffer.template load<Vec>(offset[l] + static_cast<int64_t>(i0));
        }
      }
      transposeSquare<Width>(block);
      for (std::size_t k = 0; k < Width; ++k) rows[i0 + k] = block[k];
    }
    for (std::size_t q0 = 0; q0 < outputs; q0 += kAccumulators) {
      Vec acc[kAccumulators] = {};
      const Vec* first[kAccumulators];  // row 0 of output q0 + q
      for (std::size_t q = 0; q < kAccumulators; ++q) first[q] = &rows[down * (q0 + q)];
      for (std::size_t k = 0; k < nonzeroTaps; ++k) {
        const Vec tap = Vec{} + tapValues[k];
        const std::size_t t = tapOffsets[k];
        for (std::size_t q = 0; q < kAccumulators; ++q) acc[q] += tap * first[q][t];
      }
      for (std::size_t q = 0; q < kAccumulators; ++q) sums[q0 + q] = acc[q];
    }
    // Back to one run per lane: sums[q][l] is output l * run + j0 + q.
    for (std::size_t q0 = 0; q0 < outputs; q0 += Width) {
      Vec block[Width];
      for (std::size_t k = 0; k < Width; ++k) block[k] = sums[q0 + k];
      transposeSquare<Width>(block);
      for (std::size_t l = 0; l < Width; ++l) {
        const std::size_t start = l * run + j0 + q0;
        if (start >= count) break;
        const std::size_t n = std::min({Width, outputs - q0, count - start});
        // A whole lane as one vector store (a copy of variable length compiles to `rep movs`,
        // which cost a fifth of the resampler).
        if (n == Width) {
          std::memcpy(out.data() + start, &block[l], sizeof(Vec));
        } else {
          for (std::size_t k = 0; k < n; ++k) out[start + k] = block[l][k];
        }
      }
    }
  }
}

// Outputs firstOutput, firstOutput + 1, ... into out. buffer[k] holds input index bufferStart + k and
// covers every index the outputs read (zeros stand outside the signal).
SER_HOT void polyphaseOutputs(const ResamplePlan& plan, const float* buffer, int64_t bufferStart, uint64_t firstOutput,
                             Span<float> out) {
  const uint64_t up = plan.ratio.up;
  const uint64_t down = plan.ratio.down;
  const std::size_t taps = plan.tapsPerPhase;
  std::size_t row = static_cast<std::size_t>(firstOutput % up);
  for (std::size_t j = 0; j < out.size(); ++j) {
    const uint64_t t0 = (firstOutput + j) * down + plan.halfLength;
    const int64_t nLast = static_cast<int64_t>(t0 / up);  // x[nLast] meets h[phase] (the row's last slot)
    out[j] = dotProduct(&plan.phaseTaps[row * taps], buffer + (nLast + 1 - static_cast<int64_t>(taps) - bufferStart), taps);
    if (++row == up) row = 0;
  }
}

// polyphaseOutputs sixteen outputs at a time, where the CPU has 512-bit vectors, with the same bits:
// each output's sixteen partial sums are dotProduct's lanes (the same multiply-adds in the same order),
// and the sixteen outputs' partial sums, transposed, are added across lanes by dotProduct's own tree, a
// whole vector of outputs at once instead of one horizontal sum an output (44,100 -> 16,000 Hz:
// 5.2 -> 4.3 ns an output, AMD EPYC).
SER_HOT_WIDE void polyphaseOutputsWide(const ResamplePlan& plan, const float* buffer, int64_t bufferStart, uint64_t firstOutput,
                                       Span<float> out) {
  typedef float Vec __attribute__((vector_size(16 * sizeof(float))));
  const uint64_t up = plan.ratio.up;
  const uint64_t down = plan.ratio.down;
  const std::size_t taps = plan.tapsPerPhase;  // whole blocks of 16 (makePlan)
  std::size_t row = static_cast<std::size_t>(firstOutput % up);
  std::size_t j = 0;
  for (; j + 16 <= out.size(); j += 16) {
    const float* x[16];
    const float* h[16];
    for (std::size_t q = 0; q < 16; ++q) {
      const uint64_t t0 = (firstOutput + j + q) * down + plan.halfLength;
      x[q] = buffer + (static_cast<int64_t>(t0 / up) + 1 - static_cast<int64_t>(taps) - bufferStart);
      h[q] = &plan.phaseTaps[row * taps];
      if (++row == up) row = 0;
    }
    // Block by block across the sixteen outputs: sixteen independent multiply-adds in flight, where
    // one output's blocks would be a chain of dependent ones.
    Vec partial[16] = {};
    for (std::size_t i = 0; i < taps; i += 16) {
      for (std::size_t q = 0; q < 16; ++q) {
        Vec hv, xv;
        std::memcpy(&hv, h[q] + i, sizeof hv);
        std::memcpy(&xv, x[q] + i, sizeof xv);
        partial[q] += hv * xv;
      }
    }
    transposeSquare<16>(partial);  // partial[k]: lane k of the sixteen outputs
    Vec folded[8];
    for (std::size_t k = 0; k < 8; ++k) folded[k] = partial[k] + partial[k + 8];
    const Vec sums = ((folded[0] + folded[4]) + (folded[1] + folded[5])) + ((folded[2] + folded[6]) + (folded[3] + folded[7]));
    std::memcpy(out.data() + j, &sums, sizeof sums);
  }
  polyphaseOutputs(plan, buffer, bufferStart, firstOutput + j, Span<float>(out.data() + j, out.size() - j));
}

void resampleOutputs(const ResamplePlan& plan, const float* buffer, int64_t bufferStart, std::size_t bufferSize,
                     uint64_t firstOutput, Span<float> out) {
  if (plan.ratio.up == 1 && wideVectors()) decimateOutputs<16>(plan, FloatSamples{buffer}, bufferStart, bufferSize, firstOutput, out);
  else if (plan.ratio.up == 1) decimateOutputs<8>(plan, FloatSamples{buffer}, bufferStart, bufferSize, firstOutput, out);
  else if (wideVectors()) polyphaseOutputsWide(plan, buffer, bufferStart, firstOutput, out);
  else polyphaseOutputs(plan, buffer, bufferStart, firstOutput, out);
  // Finite input near the float32 limit can filter to Inf (found by native/fuzz): refuse, not return it.
  if (firstNonFinite(out.data(), out.size()) < out.size()) throw InputError("resample: the resampled signal overflows float32 (samples far outside [-1, 1]?)");
}

}  // namespace

ResampleRatio resampleRatio(uint32_t fromRate, uint32_t toRate) {
  if (fromRate == 0 || fromRate > kMaxSampleRate) {
    throw InputError("source sample rate " + std::to_string(fromRate) + " Hz is outside 1.." +
                     std::to_string(kMaxSampleRate));
  }
  if (toRate == 0 || toRate > kMaxSampleRate) {
    throw InputError("target sample rate " + std::to_string(toRate) + " Hz is outside 1.." +
                     std::to_string(kMaxSampleRate));
  }
  const uint64_t g = std::gcd(static_cast<uint64_t>(fromRate), static_cast<uint64_t>(toRate));
  const ResampleRatio ratio{toRate / g, fromRate / g};
  if (std::max(ratio.up, ratio.down) > kMaxResampleTerm) {
    throw InputError("resampling " + std::to_string(fromRate) + " Hz to " + std::to_string(toRate) + " Hz needs a filter of " +
                     std::to_string(20 * std::max(ratio.up, ratio.down) + 1) + " taps (the ratio reduces to " +
                     std::to_string(ratio.up) + "/" + std::to_string(ratio.down) + "); rate pairs whose reduced ratio has a term above " +
                     std::to_string(kMaxResampleTerm) + " are refused (is the file's rate right?)");
  }
  return ratio;
}

std::size_t resampledLength(std::size_t inputLength, ResampleRatio ratio) {
  const unsigned __int128 scaled = static_cast<unsigned __int128>(inputLength) * ratio.up;
  return static_cast<std::size_t>((scaled + ratio.down - 1) / ratio.down);
}

std::vector<double> designResampleFilter(ResampleRatio ratio) {
  const uint64_t maxRate = std::max(ratio.up, ratio.down);
  const std::size_t half = static_cast<std::size_t>(10 * maxRate);
  const std::size_t numTaps = 2 * half + 1;
  const double cutoff = 1.0 / static_cast<double>(maxRate);  // relative to Nyquist
  const double alpha = 0.5 * static_cast<double>(numTaps - 1);
  const double i0Beta = besselI0(kKaiserBeta);
  std::vector<double> h(numTaps);
  double sum = 0.0;
  for (std::size_t n = 0; n < numTaps; ++n) {
    const double m = static_cast<double>(n) - alpha;
    const double r = m / alpha;
    const double window = besselI0(kKaiserBeta * std::sqrt(std::max(0.0, 1.0 - r * r))) / i0Beta;
    h[n] = cutoff * sincOfRatio(m, static_cast<double>(maxRate)) * window;
    sum += h[n];
  }
  const double gain = static_cast<double>(ratio.up) / sum;
  for (double& v : h) v *= gain;
  return h;
}

void resample(Span<const float> input, ResampleRatio ratio, Span<float> out) {
  const std::size_t n = input.size();
  if (out.size() != resampledLength(n, ratio)) throw InputError("resample: output length mismatch");
  const std::size_t bad = firstNonFinite(input.data(), n);
  if (bad < n) throw InputError("resample: non-finite sample (NaN or Inf) at index " + std::to_string(bad));
  if (ratio.up == 1 && ratio.down == 1) {
    std::copy(input.begin(), input.end(), out.begin());
    return;
  }
  if (n == 0) return;
  const std::shared_ptr<const ResamplePlan> plan = cachedPlan(ratio);
  if (ratio.up == 1) {
    // Decimation reads the input where it lies (it takes every index outside it as zero): a padded copy
    // of a 3 s clip cost a memset and page faults worth 9% of the clip's features.
    resampleOutputs(*plan, input.data(), 0, n, 0, out);
    return;
  }
  // Zero padding on both sides turns every output into a full-length dot product.
  const std::size_t lead = plan->tapsPerPhase;
  std::vector<float> padded(lead + n + plan->tapsPerPhase + 1, 0.0f);
  std::copy(input.begin(), input.end(), padded.begin() + lead);
  resampleOutputs(*plan, padded.data(), -static_cast<int64_t>(lead), padded.size(), 0, out);
}

void resamplePcm16Mono(Span<const uint8_t> pcm, ResampleRatio ratio, Span<float> out) {
  if (pcm.size() % 2 != 0) throw InputError("resample: 16-bit PCM data of an odd number of bytes");
  const std::size_t n = pcm.size() / 2;
  if (out.size() != resampledLength(n, ratio)) throw InputError("resample: output length mismatch");
  const Pcm16Samples samples{pcm.data()};
  if (n == 0) return;
  if (ratio.up == 1 && ratio.down == 1) {
    for (std::size_t i = 0; i < n; ++i) out[i] = samples.at(static_cast<int64_t>(i));
    return;
  }
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
  const bool direct = false;  // the vector loads take the bytes as host-order int16
#else
  const bool direct = ratio.up == 1;
#endif
  if (!direct) {
    std::vector<float> decoded(n);
    for (std::size_t i = 0; i < n; ++i) decoded[i] = samples.at(static_cast<int64_t>(i));
    resample(Span<const float>(decoded.data(), n), ratio, out);
    return;
  }
  // Samples within [-1, 1) filter to at most the taps' absolute sum: no overflow to check for.
  const std::shared_ptr<const ResamplePlan> plan = cachedPlan(ratio);
  if (wideVectors()) decimateOutputs<16>(*plan, samples, 0, n, 0, out);
  else decimateOutputs<8>(*plan, samples, 0, n, 0, out);
}

std::vector<float> resample(Span<const float> input, uint32_t fromRate, uint32_t toRate) {
  const ResampleRatio ratio = resampleRatio(fromRate, toRate);
  std::vector<float> out(resampledLength(input.size(), ratio));
  resample(input, ratio, Span<float>(out));
  return out;
}

}  // namespace ser

namespace ser {

StreamingResampler::StreamingResampler(ResampleRatio ratio) : ratio_(ratio) {
  if (ratio.up == 0 || ratio.down == 0) throw InputError("resample: ratio terms must be positive");
  if (ratio.up == 1 && ratio.down == 1) return;
  plan_ = cachedPlan(ratio);
  // The first outputs read before the signal: zeros, as the whole-signal path pads them.
  history_.assign(plan_->tapsPerPhase, 0.0f);
  historyStart_ = -static_cast<int64_t>(plan_->tapsPerPhase);
}

void StreamingResampler::emitWhileKnown(std::vector<float>& out, uint64_t knownEnd) {
  // Output i is known once input lastInput(i) has arrived (it reads inputs up to that index).
  const ResamplePlan& plan = *plan_;
  // lastInput(i) < knownEnd  <=>  i * down + half <= knownEnd * up - 1.
  const unsigned __int128 limit = static_cast<unsigned __int128>(knownEnd) * plan.ratio.up;
  if (limit < plan.halfLength + 1) return;
  const uint64_t end = static_cast<uint64_t>((limit - 1 - plan.halfLength) / plan.ratio.down) + 1;
  if (end <= nextOutput_) return;
  const std::size_t count = static_cast<std::size_t>(end - nextOutput_);
  const std::size_t at = out.size();
  out.resize(at + count);
  resampleOutputs(plan, history_.data(), historyStart_, history_.size(), nextOutput_, Span<float>(out.data() + at, count));
  nextOutput_ = end;
  // Keep what the next output reads on: from lastInput(next) + 1 - taps.
  const int64_t keepFrom = static_cast<int64_t>(lastInput(plan, nextOutput_)) + 1 - static_cast<int64_t>(plan.tapsPerPhase);
  if (keepFrom > historyStart_) {
    const std::size_t drop = std::min(history_.size(), static_cast<std::size_t>(keepFrom - historyStart_));
    history_.erase(history_.begin(), history_.begin() + static_cast<std::ptrdiff_t>(drop));
    historyStart_ += static_cast<int64_t>(drop);
  }
}

void StreamingResampler::push(Span<const float> input, std::vector<float>& out) {
  const std::size_t bad = firstNonFinite(input.data(), input.size());
  if (bad < input.size()) {
    throw InputError("resample: non-finite sample (NaN or Inf) at index " + std::to_string(consumed_ + bad));
  }
  if (!plan_) {
    out.insert(out.end(), input.begin(), input.end());
    consumed_ += input.size();
    return;
  }
  history_.insert(history_.end(), input.begin(), input.end());
  consumed_ += input.size();
  emitWhileKnown(out, consumed_);
}

void StreamingResampler::finish(std::vector<float>& out) {
  if (!plan_) return;
  const uint64_t total = resampledLength(static_cast<std::size_t>(consumed_), ratio_);
  if (nextOutput_ >= total) return;
  // Past the end the signal is zero: pad the history to cover what the last output reads.
  const int64_t needEnd = static_cast<int64_t>(lastInput(*plan_, total - 1)) + 1;
  const int64_t haveEnd = historyStart_ + static_cast<int64_t>(history_.size());
  if (needEnd > haveEnd) history_.resize(history_.size() + static_cast<std::size_t>(needEnd - haveEnd), 0.0f);
  const std::size_t count = static_cast<std::size_t>(total - nextOutput_);
  const std::size_t at = out.size();
  out.resize(at + count);
  resampleOutputs(*plan_, history_.data(), historyStart_, history_.size(), nextOutput_, Span<float>(out.data() + at, count));
  nextOutput_ = total;
}

}  // namespace ser
