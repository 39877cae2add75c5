// The training engine alone, no Node: each GPU op against the CPU engine (forward and every gradient,
// within 1e-4 of the largest value), three Adam steps of the seed preset's engine ops on both, and the
// speed of that step on the GPU and on this machine's cores. Built with -DSER_CUDA=ON as ser_gpu_check;
// bench/gpu/check.sh runs it on a GPU machine.
//
// The engine step here is the part of the seed model's training step the engine owns: three
// convolution blocks (conv, batch norm, ReLU, pooling, dropout), the bidirectional LSTM (112 units over
// 37 steps of 640 features), their backward passes and Adam on their weights. The attention pooling,
// the dense head and the loss (under 1% of the step's FLOPs) are replaced by a fixed linear read-out of
// the LSTM's output, so this is not the whole model's step.
//
// Output: one JSON object per line on stdout. Exit status: 0 every check passed, 1 a check failed,
// 3 no usable GPU (the reason is printed). --cpu-only times the CPU engine's step alone, on any machine.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "nn/nn.h"

namespace {

using ser::gpu::DeviceFloats;
using Floats = std::vector<float>;

constexpr double kTolerance = 1e-4;
int failures = 0;

struct Random {
  std::uint64_t state;
  explicit Random(std::uint64_t seed) : state(seed * 0x9E3779B97F4A7C15ull + 1) {}
  float next() {  // uniform in [-1, 1)
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<float>((state >> 40) * (1.0 / 8388608.0) - 1.0);
  }
  Floats fill(std::size_t count, float scale, float offset = 0.0f) {
    Floats v(count);
    for (float& x : v) x = offset + scale * next();
    return v;
  }
};

DeviceFloats upload(const Floats& host) {
  DeviceFloats device(host.size());
  device.upload(host.data(), host.size());
  return device;
}

Floats download(const DeviceFloats& device) {
  Floats host(device.size());
  device.download(host.data(), host.size());
  return host;
}

// max |gpu - cpu| / max |cpu|.
double relativeMax(const Floats& gpu, const Floats& cpu) {
  double worst = 0.0, largest = 0.0;
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    worst = std::max(worst, std::fabs(static_cast<double>(gpu[i]) - cpu[i]));
    largest = std::max(largest, std::fabs(static_cast<double>(cpu[i])));
  }
  return largest > 0.0 ? worst / largest : worst;
}

// ||gpu - cpu|| / ||cpu||.
double relativeL2(const Floats& gpu, const Floats& cpu) {
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    const double d = static_cast<double>(gpu[i]) - cpu[i];
    diff += d * d;
    norm += static_cast<double>(cpu[i]) * cpu[i];
  }
  return norm > 0.0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

void report(const std::string& check, const std::string& tensor, double error, const char* measure) {
  const bool pass = std::isfinite(error) && error <= kTolerance;
  if (!pass) ++failures;
  std::printf("{\"check\":\"%s\",\"tensor\":\"%s\",\"%s\":%.3g,\"tolerance\":%g,\"pass\":%s}\n", check.c_str(),
              tensor.c_str(), measure, error, kTolerance, pass ? "true" : "false");
  std::fflush(stdout);
}

void compare(const std::string& check, const std::string& tensor, const DeviceFloats& gpu, const Floats& cpu) {
  report(check, tensor, relativeMax(download(gpu), cpu), "relativeMaxError");
}

ser::ConvBlockShape blockShape(std::size_t batch, std::size_t height, std::size_t width, std::size_t inChannels,
                               std::size_t outChannels, float dropoutRate, std::uint64_t seed) {
  ser::ConvBlockShape s;
  ser::Conv2DGeometry& g = s.conv;
  g.batch = batch;
  g.inHeight = g.outHeight = height;
  g.inWidth = g.outWidth = width;
  g.inChannels = inChannels;
  g.outChannels = outChannels;
  g.filterHeight = g.filterWidth = 3;
  g.padTop = g.padLeft = 1;  // 'same' for a 3 x 3 filter
  s.dropoutRate = dropoutRate;
  s.dropoutSeed = seed;
  return s;
}

void checkConvBlock(ser::gpu::Context& context, const std::string& name, const ser::ConvBlockShape& s) {
  Random random(17);
  const std::size_t channels = s.channels();
  const Floats x = random.fill(s.conv.inputSize(), 1.0f);
  const Floats filter = random.fill(s.conv.filterSize(), 0.3f);
  const Floats gamma = random.fill(channels, 0.1f, 1.0f), beta = random.fill(channels, 0.1f);
  const Floats dy = random.fill(s.outputSize(), 1.0f);
  Floats y(s.outputSize()), mean(channels), variance(channels), workspace(s.workspaceFloats());
  Floats dx(s.conv.inputSize()), dFilter(s.conv.filterSize()), dGamma(channels), dBeta(channels);
  ser::convBlockForward(s, x.data(), filter.data(), gamma.data(), beta.data(), y.data(), mean.data(), variance.data(),
                        workspace.data());
  ser::convBlockBackward(s, x.data(), filter.data(), gamma.data(), mean.data(), variance.data(), workspace.data(),
                         dy.data(), dx.data(), dFilter.data(), dGamma.data(), dBeta.data());

  DeviceFloats gx = upload(x), gFilter = upload(filter), gGamma = upload(gamma), gBeta = upload(beta), gDy = upload(dy);
  DeviceFloats gy(y.size()), gMean(channels), gVariance(channels), gWorkspace(ser::gpu::convBlockWorkspaceFloats(s));
  DeviceFloats gDx(dx.size()), gDFilter(dFilter.size()), gDGamma(channels), gDBeta(channels);
  ser::gpu::convBlockForward(context, s, gx.data(), gFilter.data(), gGamma.data(), gBeta.data(), gy.data(), gMean.data(),
                             gVariance.data(), gWorkspace.data());
  ser::gpu::convBlockBackward(context, s, gx.data(), gFilter.data(), gGamma.data(), gMean.data(), gVariance.data(),
                              gWorkspace.data(), gDy.data(), gDx.data(), gDFilter.data(), gDGamma.data(), gDBeta.data());
  context.synchronize();
  compare(name, "y", gy, y);
  compare(name, "batchMean", gMean, mean);
  compare(name, "batchVariance", gVariance, variance);
  compare(name, "dx", gDx, dx);
  compare(name, "dFilter", gDFilter, dFilter);
  compare(name, "dGamma", gDGamma, dGamma);
  compare(name, "dBeta", gDBeta, dBeta);
}

struct LstmParams {
  Floats kernel[2], recurrent[2], bias[2];
};

LstmParams randomLstm(const ser::LstmShape& s, Random& random) {
  LstmParams p;
  for (int k = 0; k < 2; ++k) {
    p.kernel[k] = random.fill(s.kernelFloats(), 0.2f);
    p.recurrent[k] = random.fill(s.recurrentFloats(), 0.2f);
    p.bias[k] = random.fill(s.biasFloats(), 0.1f);
  }
  return p;
}

void checkLstm(ser::gpu::Context& context, const std::string& name, const ser::LstmShape& s) {
  Random random(29);
  const LstmParams p = randomLstm(s, random);
  const Floats x = random.fill(s.inputFloats(), 1.0f), dy = random.fill(s.outputFloats(), 1.0f);
  Floats y(s.outputFloats()), workspace(s.workspaceFloats()), dx(s.inputFloats());
  Floats dK[2], dU[2], dB[2];
  ser::LstmWeights w[2];
  ser::LstmGradients g[2];
  for (int k = 0; k < 2; ++k) {
    dK[k].resize(s.kernelFloats());
    dU[k].resize(s.recurrentFloats());
    dB[k].resize(s.biasFloats());
    w[k] = {p.kernel[k].data(), p.recurrent[k].data(), p.bias[k].data()};
    g[k] = {dK[k].data(), dU[k].data(), dB[k].data()};
  }
  ser::bilstmForward(s, w[0], w[1], x.data(), y.data(), workspace.data());
  ser::bilstmBackward(s, w[0], w[1], workspace.data(), dy.data(), dx.data(), g[0], g[1]);

  DeviceFloats gx = upload(x), gDy = upload(dy), gy(y.size()), gDx(dx.size());
  DeviceFloats gWorkspace(ser::gpu::lstmWorkspaceFloats(s));
  DeviceFloats gK[2], gU[2], gB[2], gDK[2], gDU[2], gDB[2];
  ser::LstmWeights gw[2];
  ser::LstmGradients gg[2];
  for (int k = 0; k < 2; ++k) {
    gK[k] = upload(p.kernel[k]);
    gU[k] = upload(p.recurrent[k]);
    gB[k] = upload(p.bias[k]);
    gDK[k] = DeviceFloats(s.kernelFloats());
    gDU[k] = DeviceFloats(s.recurrentFloats());
    gDB[k] = DeviceFloats(s.biasFloats());
    gw[k] = {gK[k].data(), gU[k].data(), gB[k].data()};
    gg[k] = {gDK[k].data(), gDU[k].data(), gDB[k].data()};
  }
  ser::gpu::bilstmForward(context, s, gw[0], gw[1], gx.data(), gy.data(), gWorkspace.data());
  ser::gpu::bilstmBackward(context, s, gw[0], gw[1], gWorkspace.data(), gDy.data(), gDx.data(), gg[0], gg[1]);
  context.synchronize();
  compare(name, "y", gy, y);
  compare(name, "dx", gDx, dx);
  const char* sides[2] = {"forward", "backward"};
  for (int k = 0; k < 2; ++k) {
    compare(name, std::string(sides[k]) + ".dKernel", gDK[k], dK[k]);
    compare(name, std::string(sides[k]) + ".dRecurrent", gDU[k], dU[k]);
    compare(name, std::string(sides[k]) + ".dBias", gDB[k], dB[k]);
  }
}

// Adam's per-step constants as tfjs derives them (its accumulated powers in float).
struct AdamSchedule {
  float accBeta1 = 1.0f, accBeta2 = 1.0f;
  ser::AdamStep next(float learningRate) {
    ser::AdamStep step;
    accBeta1 *= step.beta1;
    accBeta2 *= step.beta2;
    step.learningRate = learningRate;
    step.oneMinusAccBeta1 = 1.0f - accBeta1;
    step.oneMinusAccBeta2 = 1.0f - accBeta2;
    return step;
  }
};

void checkAdam(ser::gpu::Context& context) {
  Random random(41);
  const std::size_t count = 10007;
  Floats value = random.fill(count, 1.0f), m(count, 0.0f), v(count, 0.0f);
  DeviceFloats gValue = upload(value), gM = upload(m), gV = upload(v), gGradient(count);
  AdamSchedule schedule;
  for (int step = 0; step < 3; ++step) {
    const Floats gradient = random.fill(count, 0.5f);
    gGradient.upload(gradient.data(), count);
    const ser::AdamStep s = schedule.next(1e-3f);
    ser::adamUpdate(s, count, value.data(), m.data(), v.data(), gradient.data(), value.data(), m.data(), v.data());
    ser::gpu::adamUpdate(context, s, count, gValue.data(), gM.data(), gV.data(), gGradient.data(), gValue.data(),
                         gM.data(), gV.data());
  }
  context.synchronize();
  compare("adam-3-steps", "value", gValue, value);
  compare("adam-3-steps", "m", gM, m);
  compare("adam-3-steps", "v", gV, v);
}

// The seed preset's engine ops as one training step (see the top of the file).
struct SeedStep {
  static constexpr std::size_t kFrames = 301, kCoeffs = 40, kUnits = 112;
  static constexpr float kDropout = 0.3f;
  std::size_t batch;
  std::vector<ser::ConvBlockShape> blocks;
  ser::LstmShape lstm;
  // Parameters in order: per block filter, gamma, beta; then per direction kernel, recurrent, bias.
  std::vector<Floats> params;
  Floats readout;  // dLoss/dy of the LSTM's output: the stand-in for attention, head and loss

  explicit SeedStep(std::size_t batchSize) : batch(batchSize) {
    const std::size_t filters[3] = {32, 64, 128};
    std::size_t height = kFrames, width = kCoeffs, channels = 1;
    for (std::size_t i = 0; i < 3; ++i) {
      blocks.push_back(blockShape(batch, height, width, channels, filters[i], kDropout, 0));
      height /= 2;
      width /= 2;
      channels = filters[i];
    }
    lstm.batch = batch;
    lstm.steps = height;
    lstm.inputSize = width * channels;
    lstm.units = kUnits;
    Random random(5);
    for (const ser::ConvBlockShape& b : blocks) {
      params.push_back(random.fill(b.conv.filterSize(), std::sqrt(6.0f / (9.0f * b.conv.inChannels))));
      params.push_back(Floats(b.channels(), 1.0f));
      params.push_back(Floats(b.channels(), 0.0f));
    }
    for (int k = 0; k < 2; ++k) {
      params.push_back(random.fill(lstm.kernelFloats(), std::sqrt(6.0f / (lstm.inputSize + 4 * kUnits))));
      params.push_back(random.fill(lstm.recurrentFloats(), std::sqrt(6.0f / (5 * kUnits))));
      Floats bias(lstm.biasFloats(), 0.0f);
      std::fill(bias.begin() + kUnits, bias.begin() + 2 * kUnits, 1.0f);  // unit forget bias, as tfjs
      params.push_back(bias);
    }
    readout = random.fill(lstm.outputFloats(), 1.0f / static_cast<float>(batch));
  }
  static std::uint64_t dropoutSeed(int step, std::size_t block) { return 1000u * static_cast<unsigned>(step) + block; }
};

Floats randomInput(std::size_t batch, std::uint64_t seed) {
  Random random(seed);
  return random.fill(batch * SeedStep::kFrames * SeedStep::kCoeffs, 1.0f);
}

// The CPU engine's step; params, m and v are updated in place.
struct CpuSeed {
  SeedStep& def;
  std::vector<Floats> m, v, grads;
  std::vector<Floats> activations, workspaces, means, variances;
  Floats lstmOut, lstmWorkspace, dLstmIn;
  std::vector<Floats> dActivations;
  AdamSchedule schedule;

  explicit CpuSeed(SeedStep& d) : def(d) {
    for (const Floats& p : def.params) {
      m.emplace_back(p.size(), 0.0f);
      v.emplace_back(p.size(), 0.0f);
      grads.emplace_back(p.size(), 0.0f);
    }
    for (const ser::ConvBlockShape& b : def.blocks) {
      activations.emplace_back(b.outputSize());
      dActivations.emplace_back(b.outputSize());
      workspaces.emplace_back(b.workspaceFloats());
      means.emplace_back(b.channels());
      variances.emplace_back(b.channels());
    }
    lstmOut.resize(def.lstm.outputFloats());
    lstmWorkspace.resize(def.lstm.workspaceFloats());
    dLstmIn.resize(def.lstm.inputFloats());
  }

  void step(const Floats& x, int index) {
    const float* input = x.data();
    for (std::size_t i = 0; i < def.blocks.size(); ++i) {
      ser::ConvBlockShape s = def.blocks[i];
      s.dropoutSeed = SeedStep::dropoutSeed(index, i);
      ser::convBlockForward(s, input, def.params[3 * i].data(), def.params[3 * i + 1].data(),
                            def.params[3 * i + 2].data(), activations[i].data(), means[i].data(), variances[i].data(),
                            workspaces[i].data());
      input = activations[i].data();
    }
    const std::size_t l = 3 * def.blocks.size();
    const ser::LstmWeights fw{def.params[l].data(), def.params[l + 1].data(), def.params[l + 2].data()};
    const ser::LstmWeights bw{def.params[l + 3].data(), def.params[l + 4].data(), def.params[l + 5].data()};
    ser::bilstmForward(def.lstm, fw, bw, input, lstmOut.data(), lstmWorkspace.data());
    const ser::LstmGradients gf{grads[l].data(), grads[l + 1].data(), grads[l + 2].data()};
    const ser::LstmGradients gb{grads[l + 3].data(), grads[l + 4].data(), grads[l + 5].data()};
    ser::bilstmBackward(def.lstm, fw, bw, lstmWorkspace.data(), def.readout.data(), dActivations.back().data(), gf, gb);
    for (std::size_t i = def.blocks.size(); i-- > 0;) {
      ser::ConvBlockShape s = def.blocks[i];
      s.dropoutSeed = SeedStep::dropoutSeed(index, i);
      const float* blockInput = i == 0 ? x.data() : activations[i - 1].data();
      ser::convBlockBackward(s, blockInput, def.params[3 * i].data(), def.params[3 * i + 1].data(), means[i].data(),
                             variances[i].data(), workspaces[i].data(), dActivations[i].data(),
                             i == 0 ? nullptr : dActivations[i - 1].data(), grads[3 * i].data(),
                             grads[3 * i + 1].data(), grads[3 * i + 2].data());
    }
    const ser::AdamStep adam = schedule.next(1e-3f);
    for (std::size_t p = 0; p < def.params.size(); ++p) {
      Floats& value = def.params[p];
      ser::adamUpdate(adam, value.size(), value.data(), m[p].data(), v[p].data(), grads[p].data(), value.data(),
                      m[p].data(), v[p].data());
    }
  }
};

// The same step on the device: parameters and optimiser state resident, the batch uploaded once.
struct GpuSeed {
  ser::gpu::Context& context;
  SeedStep& def;
  std::vector<DeviceFloats> params, m, v, grads;
  std::vector<DeviceFloats> activations, dActivations, workspaces, means, variances;
  DeviceFloats input, readout, lstmOut, lstmWorkspace;
  AdamSchedule schedule;

  GpuSeed(ser::gpu::Context& c, SeedStep& d) : context(c), def(d) {
    for (const Floats& p : def.params) {
      params.push_back(upload(p));
      m.emplace_back(p.size());
      m.back().zero();
      v.emplace_back(p.size());
      v.back().zero();
      grads.emplace_back(p.size());
    }
    for (const ser::ConvBlockShape& b : def.blocks) {
      activations.emplace_back(b.outputSize());
      dActivations.emplace_back(b.outputSize());
      workspaces.emplace_back(ser::gpu::convBlockWorkspaceFloats(b));
      means.emplace_back(b.channels());
      variances.emplace_back(b.channels());
    }
    input = DeviceFloats(def.blocks[0].conv.inputSize());
    readout = upload(def.readout);
    lstmOut = DeviceFloats(def.lstm.outputFloats());
    lstmWorkspace = DeviceFloats(ser::gpu::lstmWorkspaceFloats(def.lstm));
  }

  void step(const Floats& x, int index) {
    input.upload(x.data(), x.size());
    const float* in = input.data();
    for (std::size_t i = 0; i < def.blocks.size(); ++i) {
      ser::ConvBlockShape s = def.blocks[i];
      s.dropoutSeed = SeedStep::dropoutSeed(index, i);
      ser::gpu::convBlockForward(context, s, in, params[3 * i].data(), params[3 * i + 1].data(), params[3 * i + 2].data(),
                                 activations[i].data(), means[i].data(), variances[i].data(), workspaces[i].data());
      in = activations[i].data();
    }
    const std::size_t l = 3 * def.blocks.size();
    const ser::LstmWeights fw{params[l].data(), params[l + 1].data(), params[l + 2].data()};
    const ser::LstmWeights bw{params[l + 3].data(), params[l + 4].data(), params[l + 5].data()};
    ser::gpu::bilstmForward(context, def.lstm, fw, bw, in, lstmOut.data(), lstmWorkspace.data());
    const ser::LstmGradients gf{grads[l].data(), grads[l + 1].data(), grads[l + 2].data()};
    const ser::LstmGradients gb{grads[l + 3].data(), grads[l + 4].data(), grads[l + 5].data()};
    ser::gpu::bilstmBackward(context, def.lstm, fw, bw, lstmWorkspace.data(), readout.data(),
                             dActivations.back().data(), gf, gb);
    for (std::size_t i = def.blocks.size(); i-- > 0;) {
      ser::ConvBlockShape s = def.blocks[i];
      s.dropoutSeed = SeedStep::dropoutSeed(index, i);
      const float* blockInput = i == 0 ? input.data() : activations[i - 1].data();
      ser::gpu::convBlockBackward(context, s, blockInput, params[3 * i].data(), params[3 * i + 1].data(),
                                  means[i].data(), variances[i].data(), workspaces[i].data(), dActivations[i].data(),
                                  i == 0 ? nullptr : dActivations[i - 1].data(), grads[3 * i].data(),
                                  grads[3 * i + 1].data(), grads[3 * i + 2].data());
    }
    const ser::AdamStep adam = schedule.next(1e-3f);
    for (std::size_t p = 0; p < params.size(); ++p) {
      ser::gpu::adamUpdate(context, adam, params[p].size(), params[p].data(), m[p].data(), v[p].data(),
                           grads[p].data(), params[p].data(), m[p].data(), v[p].data());
    }
  }
};

const char* kParamNames[] = {"conv1/kernel", "bn1/gamma", "bn1/beta", "conv2/kernel", "bn2/gamma", "bn2/beta",
                             "conv3/kernel", "bn3/gamma", "bn3/beta", "lstm/forward/kernel",
                             "lstm/forward/recurrent_kernel", "lstm/forward/bias", "lstm/backward/kernel",
                             "lstm/backward/recurrent_kernel", "lstm/backward/bias"};

void checkSeedSteps(ser::gpu::Context& context) {
  const std::size_t batch = 8;
  SeedStep cpuDef(batch), gpuDef(batch);
  CpuSeed cpu(cpuDef);
  GpuSeed gpu(context, gpuDef);
  for (int step = 0; step < 3; ++step) {
    const Floats x = randomInput(batch, 100 + step);
    cpu.step(x, step);
    gpu.step(x, step);
  }
  context.synchronize();
  for (std::size_t p = 0; p < cpuDef.params.size(); ++p) {
    report("seed-engine-3-adam-steps", kParamNames[p], relativeL2(download(gpu.params[p]), cpuDef.params[p]),
           "relativeL2Error");
  }
}

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

void benchGpu(ser::gpu::Context& context, std::size_t batch, int steps) {
  SeedStep def(batch);
  GpuSeed gpu(context, def);
  const Floats x = randomInput(batch, 7);
  for (int i = 0; i < 3; ++i) gpu.step(x, i);
  context.synchronize();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) gpu.step(x, 3 + i);
  context.synchronize();
  const double elapsed = seconds(start);
  std::printf("{\"bench\":\"seed-engine-step\",\"engine\":\"gpu\",\"batch\":%zu,\"steps\":%d,\"stepSeconds\":%.6g,"
              "\"samplesPerSecond\":%.6g}\n",
              batch, steps, elapsed / steps, batch * steps / elapsed);
  std::fflush(stdout);
}

void benchCpu(std::size_t batch, int steps, std::size_t threads) {
  ser::setThreadCount(threads);
  SeedStep def(batch);
  CpuSeed cpu(def);
  const Floats x = randomInput(batch, 7);
  cpu.step(x, 0);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) cpu.step(x, 1 + i);
  const double elapsed = seconds(start);
  for (const Floats& p : def.params) {
    for (float value : p) {
      if (!std::isfinite(value)) throw std::runtime_error("the CPU engine step produced a non-finite weight");
    }
  }
  std::printf("{\"bench\":\"seed-engine-step\",\"engine\":\"cpu\",\"threads\":%zu,\"gemmIsa\":\"%s\",\"batch\":%zu,"
              "\"steps\":%d,\"stepSeconds\":%.6g,\"samplesPerSecond\":%.6g}\n",
              threads, ser::gemmIsa(), batch, steps, elapsed / steps, batch * steps / elapsed);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  bool parity = true, bench = true, cpuOnly = false;
  std::size_t threads = std::max(1u, std::thread::hardware_concurrency());
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--parity-only") bench = false;
    else if (arg == "--bench-only") parity = false;
    else if (arg == "--cpu-only") cpuOnly = true;
    else if (arg == "--threads" && i + 1 < argc) threads = std::strtoul(argv[++i], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: ser_gpu_check [--parity-only | --bench-only | --cpu-only] [--threads N]\n");
      return 2;
    }
  }
  const ser::GpuInfo info = ser::probeGpu();
  std::printf("{\"gpu\":\"%s\",\"available\":%s,\"computeCapability\":\"%d.%d\",\"memoryBytes\":%zu,"
              "\"driverVersion\":%d,\"runtimeVersion\":%d,\"reason\":\"%s\"}\n",
              info.name.c_str(), info.available ? "true" : "false", info.computeMajor, info.computeMinor,
              info.memoryBytes, info.driverVersion, info.runtimeVersion, info.reason.c_str());
  std::fflush(stdout);
  if (cpuOnly) {  // the CPU engine's step alone: runs anywhere (the tests run it where there is no GPU)
    try {
      benchCpu(8, 1, threads);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ser_gpu_check: %s\n", e.what());
      return 1;
    }
    return 0;
  }
  if (!info.available) {
    std::fprintf(stderr, "ser_gpu_check: no usable GPU: %s\n", info.reason.c_str());
    return 3;
  }
  try {
    ser::setThreadCount(threads);
    ser::gpu::Context context;
    if (parity) {
      checkConvBlock(context, "conv-block-small", blockShape(4, 21, 13, 3, 8, 0.3f, 11));
      checkConvBlock(context, "conv-block-seed1", blockShape(8, 301, 40, 1, 32, 0.3f, 12));
      checkConvBlock(context, "conv-block-seed2", blockShape(8, 150, 20, 32, 64, 0.3f, 13));
      checkConvBlock(context, "conv-block-seed3", blockShape(8, 75, 10, 64, 128, 0.0f, 14));
      ser::LstmShape small{3, 5, 7, 6, ser::GateActivation::HardSigmoid};
      checkLstm(context, "bilstm-small-hard-sigmoid", small);
      small.gates = ser::GateActivation::Sigmoid;
      checkLstm(context, "bilstm-small-sigmoid", small);
      checkLstm(context, "bilstm-seed", ser::LstmShape{8, 37, 640, 112, ser::GateActivation::HardSigmoid});
      checkAdam(context);
      checkSeedSteps(context);
    }
    if (bench) {
      benchGpu(context, 32, 50);
      benchGpu(context, 256, 20);
      benchCpu(32, 5, threads);
      benchCpu(256, 2, threads);
    }
  } catch (const std::exception& e) {
    std::printf("{\"error\":\"%s\"}\n", e.what());
    std::fprintf(stderr, "ser_gpu_check: %s\n", e.what());
    return 1;
  }
  std::printf("{\"failures\":%d}\n", failures);
  return failures == 0 ? 0 : 1;
}
