#include "dsp/resample.h"

#include <algorithm>
#include <cmath>
#include <list>
#include <memory>
#include <numeric>
#include <string>
#include <utility>

#include "common/errors.h"
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

double sinc(double x) {
  if (x == 0.0) return 1.0;
  const double px = kPi * x;
  return std::sin(px) / px;
}

// One polyphase branch per output phase, taps reversed and zero-padded to a common length so that every
// output sample is one fixed-length dot product against a contiguous window of the (zero-padded) input.
struct ResamplePlan {
  ResampleRatio ratio;
  std::size_t halfLength = 0;
  std::size_t tapsPerPhase = 0;
  std::vector<float> phaseTaps;  // [up][tapsPerPhase]
};

std::unique_ptr<ResamplePlan> makePlan(ResampleRatio ratio) {
  auto plan = std::make_unique<ResamplePlan>();
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
  for (std::size_t phase = 0; phase < up; ++phase) {
    float* taps = &plan->phaseTaps[phase * plan->tapsPerPhase];
    for (std::size_t m = 0; phase + m * up < h.size(); ++m) {
      taps[plan->tapsPerPhase - 1 - m] = static_cast<float>(h[phase + m * up]);
    }
  }
  return plan;
}

const ResamplePlan& cachedPlan(ResampleRatio ratio) {
  // Worker threads each keep their own plans: no locks on the hot path. Bounded, most recent first:
  // pitch and speed augmentation draw a new ratio per clip.
  constexpr std::size_t kMaxPlans = 32;
  thread_local std::list<std::unique_ptr<ResamplePlan>> plans;
  for (auto it = plans.begin(); it != plans.end(); ++it) {
    if ((*it)->ratio.up == ratio.up && (*it)->ratio.down == ratio.down) {
      plans.splice(plans.begin(), plans, it);
      return *plans.front();
    }
  }
  plans.push_front(makePlan(ratio));
  if (plans.size() > kMaxPlans) plans.pop_back();
  return *plans.front();
}

// x points at sample 0 of the input inside a buffer zero-padded by tapsPerPhase on both sides.
SER_HOT void resampleOutputs(const ResamplePlan& plan, const float* x, Span<float> out) {
  const std::size_t up = plan.ratio.up;
  const std::size_t down = plan.ratio.down;
  const std::size_t taps = plan.tapsPerPhase;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::size_t t0 = i * down + plan.halfLength;
    const std::size_t phase = t0 % up;
    const std::size_t nLast = t0 / up;  // x[nLast] meets h[phase]
    out[i] = dotProduct(&plan.phaseTaps[phase * taps], x + nLast + 1 - taps, taps);
  }
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
  return ResampleRatio{toRate / g, fromRate / g};
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
    h[n] = cutoff * sinc(cutoff * m) * window;
    sum += h[n];
  }
  const double gain = static_cast<double>(ratio.up) / sum;
  for (double& v : h) v *= gain;
  return h;
}

void resample(Span<const float> input, ResampleRatio ratio, Span<float> out) {
  const std::size_t n = input.size();
  if (out.size() != resampledLength(n, ratio)) throw InputError("resample: output length mismatch");
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(input[i])) throw InputError("resample: non-finite sample (NaN or Inf) at index " + std::to_string(i));
  }
  if (ratio.up == 1 && ratio.down == 1) {
    std::copy(input.begin(), input.end(), out.begin());
    return;
  }
  if (n == 0) return;
  const ResamplePlan& plan = cachedPlan(ratio);
  // Zero padding on both sides turns every output into a full-length dot product.
  const std::size_t lead = plan.tapsPerPhase;
  std::vector<float> padded(lead + n + plan.tapsPerPhase + 1, 0.0f);
  std::copy(input.begin(), input.end(), padded.begin() + lead);
  resampleOutputs(plan, padded.data() + lead, out);
}

std::vector<float> resample(Span<const float> input, uint32_t fromRate, uint32_t toRate) {
  const ResampleRatio ratio = resampleRatio(fromRate, toRate);
  std::vector<float> out(resampledLength(input.size(), ratio));
  resample(input, ratio, Span<float>(out));
  return out;
}

}  // namespace ser
