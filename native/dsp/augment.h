// Audio augmentations on float samples: noise at an SNR, time shift, WSOLA time stretch, pitch shift
// (stretch + resample, librosa's recipe) and speed (resample only). All deterministic: the same
// inputs and seed give the same bits on every run and thread.
#pragma once
#include <cstdint>
#include <vector>

#include "common/span.h"

namespace ser {

enum class NoiseColor { White, Pink };
enum class ShiftMode { Roll, Zero };

constexpr double kMinStretchRate = 0.5;
constexpr double kMaxStretchRate = 2.0;
constexpr double kMaxSemitones = 12.0;
constexpr double kMinSnrDb = -50.0;
constexpr double kMaxSnrDb = 120.0;

// out = x + noise, the noise scaled so that 20 log10(rms(x) / rms(noise)) == snrDb exactly.
void addNoise(Span<const float> x, double snrDb, uint64_t seed, NoiseColor color, Span<float> out);

// Positive shiftSamples moves the audio later. Roll wraps around; Zero fills with silence.
void timeShift(Span<const float> x, int64_t shiftSamples, ShiftMode mode, Span<float> out);

// Tempo times `rate` (rate > 1: faster, shorter) at unchanged pitch; length round(n / rate).
// WSOLA, chosen by measurement on speech: stretching by 0.8 or 1.25 and back left a frame-wise
// log-mel distance of 0.9-2.4 dB, against 3.7-4.2 dB for a phase vocoder with identity phase
// locking and 7.7-8.4 dB without (512-point frames, hop 128), and it needs no FFT.
std::vector<float> timeStretch(Span<const float> x, double rate, uint32_t sampleRate);

// Pitch times 2^(semitones/12) at unchanged length.
std::vector<float> pitchShift(Span<const float> x, double semitones, uint32_t sampleRate);

// Pitch and tempo times `factor` together (the common speed perturbation); length ~ n / factor.
std::vector<float> changeSpeed(Span<const float> x, double factor);

}  // namespace ser
