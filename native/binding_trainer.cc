// The whole-model trainer's exports (native/nn/model_step.h): a trainer is an opaque handle holding
// every weight, moment and average on its device (the CPU engine or the GPU); JS writes and reads whole
// tensors and runs steps. dispose frees the trainer (and its device memory) at once; a handle the
// program drops is freed when it is collected.
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "binding_util.h"
#include "nn/nn.h"

namespace binding {
namespace {

struct TrainerHolder {
  std::unique_ptr<ser::ModelTrainer> trainer;
};

// Marks the handles this file makes: any other External passed in is refused, not reinterpreted.
constexpr napi_type_tag kTrainerTag = {0x7365722d6e617469ull, 0x76652d747261696eull};

TrainerHolder& holderOf(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal() || !info[0].As<Napi::External<TrainerHolder>>().CheckTypeTag(&kTrainerTag)) {
    throw InputError("trainer must be a handle from createTrainer");
  }
  return *info[0].As<Napi::External<TrainerHolder>>().Data();
}

ser::ModelTrainer& trainerOf(const Napi::CallbackInfo& info) {
  TrainerHolder& holder = holderOf(info);
  if (!holder.trainer) throw InputError("the trainer was disposed");
  return *holder.trainer;
}

ser::Span<const float> float32Field(const Napi::Value& value, const std::string& what) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw InputError(what + " must be a Float32Array");
  }
  const auto array = value.As<Napi::Float32Array>();
  return {array.Data(), array.ElementLength()};
}

std::size_t countField(const Napi::Object& o, const char* name) {
  return static_cast<std::size_t>(requireCount(o.Get(name), std::string("config.") + name));
}

// createTrainer(config, device: 'cpu' | 'gpu')
Napi::Value CreateTrainer(const Napi::CallbackInfo& info) {
  const Napi::Object o = requireObject(info, 0, "config");
  ser::ModelStepConfig config;
  config.maxBatch = countField(o, "maxBatch");
  config.frames = countField(o, "frames");
  config.coeffs = countField(o, "coeffs");
  config.classes = countField(o, "classes");
  config.lstmUnits = countField(o, "lstmUnits");
  config.attentionUnits = countField(o, "attentionUnits");
  const Napi::Value filters = o.Get("convFilters");
  if (!filters.IsArray()) throw InputError("config.convFilters must be an array");
  const Napi::Array list = filters.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    config.convFilters.push_back(static_cast<std::size_t>(requireCount(list.Get(i), "config.convFilters[]")));
  }
  config.dropoutRate = static_cast<float>(requireNumber(o.Get("dropoutRate"), "config.dropoutRate"));
  config.batchNormMomentum = requireNumber(o.Get("batchNormMomentum"), "config.batchNormMomentum");
  config.batchNormEpsilon = static_cast<float>(requireNumber(o.Get("batchNormEpsilon"), "config.batchNormEpsilon"));
  const std::string gates = requireString(o.Get("gates"), "config.gates");
  if (gates == "sigmoid") config.gates = ser::GateActivation::Sigmoid;
  else if (gates != "hardSigmoid") throw InputError("config.gates must be 'hardSigmoid' or 'sigmoid', got '" + gates + "'");
  const std::string device = info.Length() > 1 ? requireString(info[1], "device") : "cpu";
  auto holder = new TrainerHolder();
  try {
    if (device == "cpu") holder->trainer = ser::makeCpuTrainer(config);
    else if (device == "gpu") holder->trainer = ser::makeGpuTrainer(config);
    else throw InputError("device must be 'cpu' or 'gpu', got '" + device + "'");
  } catch (...) {
    delete holder;
    throw;
  }
  auto handle = Napi::External<TrainerHolder>::New(info.Env(), holder, [](Napi::Env, TrainerHolder* h) { delete h; });
  handle.TypeTag(&kTrainerTag);
  return handle;
}

Napi::Value TrainerTensors(const Napi::CallbackInfo& info) {
  const std::vector<ser::ModelTensor>& tensors = trainerOf(info).tensors();
  const Napi::Env env = info.Env();
  Napi::Array result = Napi::Array::New(env, tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    Napi::Object t = Napi::Object::New(env);
    t.Set("name", tensors[i].name);
    Napi::Array shape = Napi::Array::New(env, tensors[i].shape.size());
    for (std::size_t d = 0; d < tensors[i].shape.size(); ++d) shape.Set(static_cast<uint32_t>(d), static_cast<double>(tensors[i].shape[d]));
    t.Set("shape", shape);
    result.Set(static_cast<uint32_t>(i), t);
  }
  return result;
}

Napi::Value TrainerDevice(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), trainerOf(info).device()); }

// trainerWrite(trainer, index, values) / trainerRead(trainer, index, out)
Napi::Value TrainerWrite(const Napi::CallbackInfo& info) {
  ser::ModelTrainer& trainer = trainerOf(info);
  const ser::Span<const float> values = requireFloat32(info, 2, "values");
  trainer.write(static_cast<std::size_t>(requireCount(info[1], "index")), values.data(), values.size());
  return info.Env().Undefined();
}

Napi::Value TrainerRead(const Napi::CallbackInfo& info) {
  ser::ModelTrainer& trainer = trainerOf(info);
  const ser::Span<const float> out = requireFloat32(info, 2, "out");
  trainer.read(static_cast<std::size_t>(requireCount(info[1], "index")), const_cast<float*>(out.data()), out.size());
  return info.Env().Undefined();
}

// trainerStep(trainer, { x, y, batch, classWeights, adam, dropoutSeeds, averageDecay, averageOneMinusDecay })
// The fields are read first and the arrays last, and the trainer after them: a getter that runs JS
// cannot dispose the trainer or detach a buffer between the check and the step.
Napi::Value TrainerStep(const Napi::CallbackInfo& info) {
  holderOf(info);
  const Napi::Object o = requireObject(info, 1, "inputs");
  ser::StepInputs in;
  in.batch = static_cast<std::size_t>(requireCount(o.Get("batch"), "inputs.batch"));
  const Napi::Value adamValue = o.Get("adam");
  if (!adamValue.IsObject()) throw InputError("inputs.adam must be an object");
  const Napi::Object adam = adamValue.As<Napi::Object>();
  const std::pair<const char*, float*> fields[] = {
      {"beta1", &in.adam.beta1}, {"beta2", &in.adam.beta2}, {"epsilon", &in.adam.epsilon},
      {"learningRate", &in.adam.learningRate}, {"oneMinusAccBeta1", &in.adam.oneMinusAccBeta1},
      {"oneMinusAccBeta2", &in.adam.oneMinusAccBeta2}, {"oneMinusBeta1", &in.adam.oneMinusBeta1},
      {"oneMinusBeta2", &in.adam.oneMinusBeta2}};
  for (const auto& [name, field] : fields) {
    *field = static_cast<float>(requireNumber(adam.Get(name), std::string("inputs.adam.") + name));
  }
  const Napi::Value seeds = o.Get("dropoutSeeds");
  if (!seeds.IsArray()) throw InputError("inputs.dropoutSeeds must be an array");
  const Napi::Array seedList = seeds.As<Napi::Array>();
  for (uint32_t i = 0; i < seedList.Length(); ++i) in.dropoutSeeds.push_back(requireCount(seedList.Get(i), "inputs.dropoutSeeds[]"));
  const Napi::Value decay = o.Get("averageDecay");
  if (!decay.IsNull() && !decay.IsUndefined()) {
    in.averageDecay = static_cast<float>(requireNumber(decay, "inputs.averageDecay"));
    in.averageOneMinusDecay = static_cast<float>(requireNumber(o.Get("averageOneMinusDecay"), "inputs.averageOneMinusDecay"));
    if (!(in.averageDecay >= 0.0f && in.averageDecay <= 1.0f)) throw InputError("inputs.averageDecay must be in [0, 1]");
  }
  const Napi::Value xValue = o.Get("x"), yValue = o.Get("y"), weights = o.Get("classWeights");
  const ser::Span<const float> x = float32Field(xValue, "inputs.x");
  const ser::Span<const float> y = float32Field(yValue, "inputs.y");
  in.x = x.data();
  in.xCount = x.size();
  in.y = y.data();
  in.yCount = y.size();
  if (!weights.IsNull() && !weights.IsUndefined()) {
    const ser::Span<const float> classWeights = float32Field(weights, "inputs.classWeights");
    in.classWeights = classWeights.data();
    in.classWeightCount = classWeights.size();
  }
  const ser::StepResult result = trainerOf(info).step(in);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("loss", result.loss);
  out.Set("hits", static_cast<double>(result.hits));
  return out;
}

Napi::Value TrainerDispose(const Napi::CallbackInfo& info) {
  holderOf(info).trainer.reset();
  return info.Env().Undefined();
}

}  // namespace

void registerTrainerExports(Napi::Env env, Napi::Object exports) {
  exports.Set("createTrainer", Napi::Function::New<guarded<CreateTrainer>>(env, "createTrainer"));
  exports.Set("trainerTensors", Napi::Function::New<guarded<TrainerTensors>>(env, "trainerTensors"));
  exports.Set("trainerDevice", Napi::Function::New<guarded<TrainerDevice>>(env, "trainerDevice"));
  exports.Set("trainerWrite", Napi::Function::New<guarded<TrainerWrite>>(env, "trainerWrite"));
  exports.Set("trainerRead", Napi::Function::New<guarded<TrainerRead>>(env, "trainerRead"));
  exports.Set("trainerStep", Napi::Function::New<guarded<TrainerStep>>(env, "trainerStep"));
  exports.Set("trainerDispose", Napi::Function::New<guarded<TrainerDispose>>(env, "trainerDispose"));
}

}  // namespace binding
