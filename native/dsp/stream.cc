#include "dsp/stream.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/errors.h"

namespace ser {
namespace {

// Frames per batch of unfloored rows: the STFT's scratch is bounded by its lanes, the rows by this.
constexpr uint64_t kFramesPerBatch = 256;

}  // namespace

AudioStream::AudioStream(uint32_t targetRate) : targetRate_(targetRate) {
  if (targetRate == 0 || targetRate > kMaxSampleRate) throw InputError("target sample rate out of range");
}

void AudioStream::push(Span<const uint8_t> bytes, std::vector<float>& out) {
  if (finished_) throw InputError("AudioStream: push after finish");
  pending_.insert(pending_.end(), bytes.begin(), bytes.end());
  if (!headerKnown_) {
    if (!parseWavHeader(Span<const uint8_t>(pending_), false, header_)) return;
    headerKnown_ = true;
    if (header_.info.sampleRate != targetRate_) {
      resampler_ = std::make_unique<StreamingResampler>(resampleRatio(header_.info.sampleRate, targetRate_));
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(header_.dataOffset));
  }
  decodeAvailable(out);
}

void AudioStream::decodeAvailable(std::vector<float>& out) {
  const std::size_t align = header_.blockAlign;
  std::size_t usable = pending_.size();
  if (header_.sizeKnown) {
    // Bytes after the data chunk (other chunks) are not audio.
    usable = static_cast<std::size_t>(std::min<uint64_t>(usable, header_.dataBytes - dataSeen_));
  }
  const std::size_t frames = usable / align;
  if (frames == 0) return;
  decoded_.resize(frames);
  decodeWavFrames(header_, Span<const uint8_t>(pending_.data(), frames * align), static_cast<std::size_t>(sourceFrames_),
                  Span<float>(decoded_));
  sourceFrames_ += frames;
  dataSeen_ += frames * align;
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(frames * align));
  if (header_.sizeKnown && header_.dataBytes - dataSeen_ < align) pending_.clear();
  if (resampler_) resampler_->push(Span<const float>(decoded_), out);
  else out.insert(out.end(), decoded_.begin(), decoded_.end());
}

void AudioStream::finish(std::vector<float>& out) {
  if (finished_) return;
  if (!headerKnown_) {
    WavHeader complete;
    parseWavHeader(Span<const uint8_t>(pending_), true, complete);  // throws what is wrong
    throw InputError("no data chunk");
  }
  if (header_.sizeKnown && dataSeen_ + pending_.size() < header_.dataBytes) {
    throw InputError("'data' chunk claims " + std::to_string(header_.dataBytes) + " bytes but only " +
                     std::to_string(dataSeen_ + pending_.size()) + " follow it (truncated?)");
  }
  finished_ = true;
  if (resampler_) resampler_->finish(out);
}

FeatureStream::FeatureStream(const FeatureConfig& config)
    : config_(config),
      stft_{config.nFft, config.winLength, config.hopLength, config.center, config.power},
      extractor_(config),
      audio_(config.sampleRate) {}

void FeatureStream::push(Span<const uint8_t> bytes) {
  if (finished_) throw InputError("FeatureStream: push after finish");
  samples_.clear();
  audio_.push(bytes, samples_);
  signal_.insert(signal_.end(), samples_.begin(), samples_.end());
  frameAvailable(false);
}

void FeatureStream::frameAvailable(bool end) {
  const int64_t signalEnd = signalStart_ + static_cast<int64_t>(signal_.size());
  const int64_t pad = config_.center ? static_cast<int64_t>(config_.nFft / 2) : 0;
  const int64_t nFft = static_cast<int64_t>(config_.nFft);
  const int64_t hop = static_cast<int64_t>(config_.hopLength);
  uint64_t frames = 0;
  if (end) {
    if (signalEnd == 0) throw InputError("clip has no samples");
    frames = stftFrameCount(static_cast<std::size_t>(signalEnd), stft_);
  } else if (signalEnd + pad >= nFft) {
    // Frame t is complete once its whole nFft span has arrived; a frame that reaches past the end of
    // the signal waits for finish(), when the end is known.
    frames = static_cast<uint64_t>((signalEnd + pad - nFft) / hop) + 1;
  }
  if (frames > nextFrame_) emitFrames(nextFrame_, frames - nextFrame_, signalEnd);
  // Keep the samples from the next frame's start on.
  const int64_t keepFrom = static_cast<int64_t>(nextFrame_) * hop - pad;
  if (keepFrom > signalStart_) {
    const std::size_t drop = static_cast<std::size_t>(std::min<int64_t>(keepFrom - signalStart_, static_cast<int64_t>(signal_.size())));
    signal_.erase(signal_.begin(), signal_.begin() + static_cast<std::ptrdiff_t>(drop));
    signalStart_ += static_cast<int64_t>(drop);
  }
}

void FeatureStream::emitFrames(uint64_t first, uint64_t count, int64_t signalLength) {
  const std::size_t width = extractor_.unflooredWidth();
  for (uint64_t done = 0; done < count; done += kFramesPerBatch) {
    const std::size_t batch = static_cast<std::size_t>(std::min(kFramesPerBatch, count - done));
    const std::size_t at = rows_.size();
    rows_.resize(at + batch * width);
    const float maxDb = extractor_.unflooredFrames(Span<const float>(signal_), signalStart_, signalLength,
                                                   static_cast<std::size_t>(first + done), batch,
                                                   Span<float>(rows_.data() + at, batch * width));
    maxDb_ = std::max(maxDb_, maxDb);
  }
  nextFrame_ = first + count;
}

void FeatureStream::finish() {
  if (finished_) return;
  samples_.clear();
  audio_.finish(samples_);
  finished_ = true;
  signal_.insert(signal_.end(), samples_.begin(), samples_.end());
  frameAvailable(true);
}

float FeatureStream::floorDb() const {
  if (!finished_) throw InputError("FeatureStream: the floor is known only after finish");
  return extractor_.floorFor(maxDb_);
}

void FeatureStream::finishRows(Span<float> unfloored, Span<float> out) const {
  const std::size_t width = extractor_.unflooredWidth();
  if (unfloored.size() % width != 0) throw InputError("FeatureStream: not a whole number of rows");
  extractor_.finishRows(unfloored, unfloored.size() / width, floorDb(), out);
}

}  // namespace ser
