// The training engine alone, no Node: each GPU op against the CPU engine (forward and every gradient,
// within 1e-4 of the largest value), three whole-model Adam steps of the seed preset on both trainers
// (native/nn/model_step.h: every tensor within 1e-4 relative L2), and the speed of that step on the GPU
// and on this machine's cores. Built with -DSER_CUDA=ON as ser_gpu_check; bench/gpu/check.sh runs it on
// a GPU machine.
//
// Output: one JSON object per line on stdout. Exit status: 0 every check passed, 1 a check failed,
// 3 no usable GPU (the reason is printed). --cpu-only times the CPU trainer's step alone, on any machine.
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
  const Floats forwardState = workspace;  // the backward pass clobbers it
  ser::convBlockBackward(s, x.data(), filter.data(), gamma.data(), mean.data(), variance.data(), workspace.data(),
                         dy.data(), dx.data(), dFilter.data(), dGamma.data(), dBeta.data());

  DeviceFloats gx = upload(x), gFilter = upload(filter), gGamma = upload(gamma), gBeta = upload(beta), gDy = upload(dy);
  DeviceFloats gy(y.size()), gMean(channels), gVariance(channels), gWorkspace(ser::gpu::convBlockWorkspaceFloats(s));
  DeviceFloats gDx(dx.size()), gDFilter(dFilter.size()), gDGamma(channels), gDBeta(channels);
  ser::gpu::convBlockForward(context, s, gx.data(), gFilter.data(), gGamma.data(), gBeta.data(), gy.data(), gMean.data(),
                             gVariance.data(), gWorkspace.data());
  context.synchronize();
  compare(name, "y", gy, y);
  compare(name, "batchMean", gMean, mean);
  compare(name, "batchVariance", gVariance, variance);
  // The backward pass from the CPU's forward state (the device workspace starts with the same
  // convolution output, winner x-hats and winner bytes): a pooling window whose two best values are
  // within an ulp may pick another winner on the device, which is no error of the backward pass.
  gWorkspace.upload(forwardState.data(), forwardState.size());
  gMean.upload(mean.data(), channels);
  gVariance.upload(variance.data(), channels);
  ser::gpu::convBlockBackward(context, s, gx.data(), gFilter.data(), gGamma.data(), gMean.data(), gVariance.data(),
                              gWorkspace.data(), gDy.data(), gDx.data(), gDFilter.data(), gDGamma.data(), gDBeta.data());
  context.synchronize();
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

// The seed preset as the trainers build it (src/train/model.ts's MODEL_PRESETS.seed on 301 x 40 MFCC
// input, 8 emotions), its weights drawn here.
ser::ModelStepConfig seedConfig(std::size_t maxBatch) {
  ser::ModelStepConfig c;
  c.maxBatch = maxBatch;
  c.frames = 301;
  c.coeffs = 40;
  c.classes = 8;
  c.convFilters = {32, 64, 128};
  c.lstmUnits = 112;
  c.attentionUnits = 128;
  c.dropoutRate = 0.3f;
  return c;
}

void initialise(ser::ModelTrainer& trainer) {
  Random random(5);
  for (std::size_t i = 0; i < trainer.tensors().size(); ++i) {
    const ser::ModelTensor& t = trainer.tensors()[i];
    const auto ends = [&](const char* suffix) {
      return t.name.size() >= std::strlen(suffix) && t.name.compare(t.name.size() - std::strlen(suffix), std::string::npos, suffix) == 0;
    };
    Floats values;
    if (ends("/m") || ends("/v") || ends("beta") || ends("moving_mean") || ends("bias")) values.assign(t.size(), 0.0f);
    else if (ends("gamma") || ends("moving_variance")) values.assign(t.size(), 1.0f);
    else {
      // Glorot-uniform-like scale over the tensor's fan in and out (the average copies its weight).
      const std::size_t fanOut = t.shape.back(), fanIn = t.size() / fanOut;
      values = random.fill(t.size(), std::sqrt(6.0f / static_cast<float>(fanIn + fanOut)));
    }
    trainer.write(i, values.data(), values.size());
  }
  // The averages start as the weights.
  for (std::size_t i = 0; i < trainer.tensors().size(); ++i) {
    const std::string& name = trainer.tensors()[i].name;
    const std::size_t cut = name.rfind("/average");
    if (cut == std::string::npos || cut + 8 != name.size()) continue;
    for (std::size_t w = 0; w < trainer.tensors().size(); ++w) {
      if (trainer.tensors()[w].name != name.substr(0, cut)) continue;
      Floats values(trainer.tensors()[w].size());
      trainer.read(w, values.data(), values.size());
      trainer.write(i, values.data(), values.size());
    }
  }
}

struct Batch {
  Floats x, y;
};

Batch randomBatch(std::size_t batch, std::uint64_t seed) {
  Random random(seed);
  Batch b{random.fill(batch * 301 * 40, 1.0f), Floats(batch * 8, 0.0f)};
  for (std::size_t r = 0; r < batch; ++r) {
    const float lambda = 0.75f + 0.2f * random.next();
    b.y[r * 8 + (r * 3) % 8] += lambda;
    b.y[r * 8 + (r * 5 + 1) % 8] += 1.0f - lambda;
  }
  return b;
}

ser::StepResult trainStep(ser::ModelTrainer& trainer, AdamSchedule& schedule, const Batch& b, std::size_t batch, int step) {
  ser::StepInputs in;
  in.x = b.x.data();
  in.xCount = b.x.size();
  in.y = b.y.data();
  in.yCount = b.y.size();
  in.batch = batch;
  in.adam = schedule.next(1e-3f);
  for (std::uint64_t layer = 0; layer < 4; ++layer) in.dropoutSeeds.push_back(1000003u * (layer + 1) + static_cast<unsigned>(step));
  const double decay = std::min(0.99, (2.0 + step) / (11.0 + step));
  in.averageDecay = static_cast<float>(decay);
  in.averageOneMinusDecay = static_cast<float>(1.0 - decay);
  return trainer.step(in);
}

// Three whole-model steps of the seed preset on the GPU against the CPU engine: every tensor (weights,
// moving statistics, Adam moments, averages) within 1e-4 relative L2, the losses within 1e-5.
void checkSeedSteps() {
  const std::size_t batch = 8;
  std::unique_ptr<ser::ModelTrainer> cpu = ser::makeCpuTrainer(seedConfig(batch));
  std::unique_ptr<ser::ModelTrainer> gpu = ser::makeGpuTrainer(seedConfig(batch));
  initialise(*cpu);
  initialise(*gpu);
  AdamSchedule cpuAdam, gpuAdam;
  for (int step = 0; step < 3; ++step) {
    const Batch b = randomBatch(batch, 100 + step);
    const double cpuLoss = trainStep(*cpu, cpuAdam, b, batch, step).loss;
    const double gpuLoss = trainStep(*gpu, gpuAdam, b, batch, step).loss;
    report("seed-model-3-adam-steps", "loss step " + std::to_string(step + 1), std::fabs(gpuLoss - cpuLoss) / cpuLoss,
           "relativeError");
  }
  for (std::size_t i = 0; i < cpu->tensors().size(); ++i) {
    const ser::ModelTensor& t = cpu->tensors()[i];
    Floats onCpu(t.size()), onGpu(t.size());
    cpu->read(i, onCpu.data(), onCpu.size());
    gpu->read(i, onGpu.data(), onGpu.size());
    // Adam's first steps move a weight by about lr sign(g): where g is near zero the two engines can
    // step opposite ways (2 lr apart). Counted, so such a failure can be told from a wrong gradient.
    std::size_t apart = 0;
    for (std::size_t k = 0; k < onGpu.size(); ++k) apart += std::fabs(onGpu[k] - onCpu[k]) > 0.5e-3f;
    std::printf("{\"diagnostic\":\"seed-model-3-adam-steps\",\"tensor\":\"%s\",\"elementsApartByHalfLr\":%zu,\"of\":%zu}\n",
                t.name.c_str(), apart, onGpu.size());
    report("seed-model-3-adam-steps", t.name, relativeL2(onGpu, onCpu), "relativeL2Error");
  }
}

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Samples per second of the seed preset's whole training step (forward, loss, backward, Adam, moving
// statistics, weight average) with the batch uploaded each step, as `ser train --device` runs it.
void benchTrainer(const char* device, std::size_t batch, int steps, std::size_t threads) {
  ser::setThreadCount(threads);
  std::unique_ptr<ser::ModelTrainer> trainer =
      std::string(device) == "gpu" ? ser::makeGpuTrainer(seedConfig(batch)) : ser::makeCpuTrainer(seedConfig(batch));
  initialise(*trainer);
  AdamSchedule schedule;
  const Batch b = randomBatch(batch, 7);
  const int warmup = std::string(device) == "gpu" ? 3 : 1;
  for (int i = 0; i < warmup; ++i) trainStep(*trainer, schedule, b, batch, i);
  const auto start = std::chrono::steady_clock::now();
  double loss = 0.0;
  for (int i = 0; i < steps; ++i) loss = trainStep(*trainer, schedule, b, batch, warmup + i).loss;
  const double elapsed = seconds(start);
  if (!std::isfinite(loss)) throw std::runtime_error(std::string("the ") + device + " trainer's loss is not finite");
  std::printf("{\"bench\":\"seed-model-step\",\"engine\":\"%s\",\"threads\":%zu,\"gemmIsa\":\"%s\",\"batch\":%zu,"
              "\"steps\":%d,\"stepSeconds\":%.6g,\"samplesPerSecond\":%.6g,\"loss\":%.6g}\n",
              device, threads, ser::gemmIsa(), batch, steps, elapsed / steps, batch * steps / elapsed, loss);
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
      benchTrainer("cpu", 32, 3, threads);
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
      checkLstm(context, "bilstm-one-step", ser::LstmShape{3, 1, 7, 6, ser::GateActivation::HardSigmoid});
      checkLstm(context, "bilstm-seed", ser::LstmShape{8, 37, 640, 112, ser::GateActivation::HardSigmoid});
      checkAdam(context);
      checkSeedSteps();
    }
    if (bench) {
      benchTrainer("gpu", 32, 50, threads);
      benchTrainer("gpu", 256, 20, threads);
      benchTrainer("cpu", 32, 5, threads);
      benchTrainer("cpu", 256, 2, threads);
    }
  } catch (const std::exception& e) {
    std::printf("{\"error\":\"%s\"}\n", e.what());
    std::fprintf(stderr, "ser_gpu_check: %s\n", e.what());
    return 1;
  }
  std::printf("{\"failures\":%d}\n", failures);
  return failures == 0 ? 0 : 1;
}
