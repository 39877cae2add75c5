// The training engine's exports (the `native` tfjs backend): matMul, convolutions, elementwise ops,
// reductions, pooling and layout copies.
#include <napi.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "binding_util.h"
#include "nn/nn.h"

namespace binding {
namespace {

// --- training kernels (the `native` tfjs backend) ----------------------------------------------------
// Outputs are allocated by the caller (as the tfjs cpu backend's data store holds them) and every
// length is checked here, so a wrong shape from JS is an exception, never a stray write.

uint64_t checkedProduct(std::initializer_list<uint64_t> factors, const char* what) {
  uint64_t product = 1;
  for (uint64_t f : factors) {
    if (f != 0 && product > kMaxOutputFloats * 4 / f) throw InputError(std::string(what) + " is too large");
    product *= f;
  }
  return product;
}

// matMul(a, b, out, batch, m, n, k, transposeA, transposeB): out[i] = op(a[i]) op(b[i]) for i < batch;
// a or b may hold one matrix, then it is shared by every batch entry.
Napi::Value MatMul(const Napi::CallbackInfo& info) {
  const ser::Span<const float> a = requireFloat32(info, 0, "a");
  const ser::Span<const float> b = requireFloat32(info, 1, "b");
  const uint64_t batch = requireCount(info[3], "batch");
  ser::GemmShape shape;
  shape.m = requireCount(info[4], "m");
  shape.n = requireCount(info[5], "n");
  shape.k = requireCount(info[6], "k");
  shape.transposeA = requireBoolean(info[7], "transposeA");
  shape.transposeB = requireBoolean(info[8], "transposeB");
  const uint64_t aSize = checkedProduct({shape.m, shape.k}, "a");
  const uint64_t bSize = checkedProduct({shape.k, shape.n}, "b");
  const uint64_t cSize = checkedProduct({shape.m, shape.n}, "out");
  const ser::Span<float> out = requireOutputFloat32(info, 2, "out", checkedProduct({batch, cSize}, "out"));
  const bool sharedA = a.size() == aSize && batch != 1;
  const bool sharedB = b.size() == bSize && batch != 1;
  if (!sharedA && a.size() != checkedProduct({batch, aSize}, "a")) {
    throw InputError("a must hold 1 or batch matrices of m x k floats, got " + std::to_string(a.size()));
  }
  if (!sharedB && b.size() != checkedProduct({batch, bSize}, "b")) {
    throw InputError("b must hold 1 or batch matrices of k x n floats, got " + std::to_string(b.size()));
  }
  for (uint64_t i = 0; i < batch; ++i) {
    ser::gemm(shape, a.data() + (sharedA ? 0 : i * aSize), b.data() + (sharedB ? 0 : i * bSize),
              out.data() + i * cSize, false);
  }
  return info.Env().Undefined();
}

ser::Conv2DGeometry parseConv2DGeometry(const Napi::Value& value) {
  if (!value.IsObject()) throw InputError("geometry must be an object");
  const Napi::Object o = value.As<Napi::Object>();
  ser::Conv2DGeometry g;
  const std::pair<const char*, std::size_t*> fields[] = {
      {"batch", &g.batch}, {"inHeight", &g.inHeight}, {"inWidth", &g.inWidth}, {"inChannels", &g.inChannels},
      {"outHeight", &g.outHeight}, {"outWidth", &g.outWidth}, {"outChannels", &g.outChannels},
      {"filterHeight", &g.filterHeight}, {"filterWidth", &g.filterWidth},
      {"strideHeight", &g.strideHeight}, {"strideWidth", &g.strideWidth},
      {"dilationHeight", &g.dilationHeight}, {"dilationWidth", &g.dilationWidth},
      {"padTop", &g.padTop}, {"padLeft", &g.padLeft}};
  for (const auto& [name, field] : fields) *field = requireCount(o.Get(name), std::string("geometry.") + name);
  ser::validateConv2DGeometry(g);
  return g;
}

void requireLength(ser::Span<const float> values, uint64_t expected, const char* what) {
  if (values.size() != expected) {
    throw InputError(std::string(what) + " must hold " + std::to_string(expected) + " floats, got " +
                     std::to_string(values.size()));
  }
}

// conv2d(x, filter, y, geometry)
Napi::Value Conv2D(const Napi::CallbackInfo& info) {
  const ser::Conv2DGeometry g = parseConv2DGeometry(info[3]);
  const ser::Span<const float> x = requireFloat32(info, 0, "x");
  const ser::Span<const float> filter = requireFloat32(info, 1, "filter");
  requireLength(x, g.inputSize(), "x");
  requireLength(filter, g.filterSize(), "filter");
  const ser::Span<float> y = requireOutputFloat32(info, 2, "y", g.outputSize());
  ser::conv2d(g, x.data(), filter.data(), y.data());
  return info.Env().Undefined();
}

// conv2dBackpropInput(dy, filter, dx, geometry)
Napi::Value Conv2DBackpropInput(const Napi::CallbackInfo& info) {
  const ser::Conv2DGeometry g = parseConv2DGeometry(info[3]);
  const ser::Span<const float> dy = requireFloat32(info, 0, "dy");
  const ser::Span<const float> filter = requireFloat32(info, 1, "filter");
  requireLength(dy, g.outputSize(), "dy");
  requireLength(filter, g.filterSize(), "filter");
  const ser::Span<float> dx = requireOutputFloat32(info, 2, "dx", g.inputSize());
  ser::conv2dBackpropInput(g, dy.data(), filter.data(), dx.data());
  return info.Env().Undefined();
}

// conv2dBackpropFilter(x, dy, dFilter, geometry)
Napi::Value Conv2DBackpropFilter(const Napi::CallbackInfo& info) {
  const ser::Conv2DGeometry g = parseConv2DGeometry(info[3]);
  const ser::Span<const float> x = requireFloat32(info, 0, "x");
  const ser::Span<const float> dy = requireFloat32(info, 1, "dy");
  requireLength(x, g.inputSize(), "x");
  requireLength(dy, g.outputSize(), "dy");
  const ser::Span<float> dFilter = requireOutputFloat32(info, 2, "dFilter", g.filterSize());
  ser::conv2dBackpropFilter(g, x.data(), dy.data(), dFilter.data());
  return info.Env().Undefined();
}

std::vector<std::size_t> requireShape(const Napi::Value& value, const char* what) {
  if (!value.IsArray()) throw InputError(std::string(what) + " must be an array of sizes");
  const Napi::Array array = value.As<Napi::Array>();
  if (array.Length() > 16) throw InputError(std::string(what) + " has more than 16 axes");
  std::vector<std::size_t> shape(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    shape[i] = requireCount(array.Get(i), std::string(what) + "[" + std::to_string(i) + "]");
  }
  return shape;
}

uint64_t shapeSize(const std::vector<std::size_t>& shape, const char* what) {
  uint64_t size = 1;
  for (std::size_t s : shape) {
    if (s != 0 && size > kMaxOutputFloats * 4 / s) throw InputError(std::string(what) + " is too large");
    size *= s;
  }
  return size;
}

ser::BinaryOp parseBinaryOp(const Napi::Value& value) {
  const std::string name = requireString(value, "op");
  if (name == "add") return ser::BinaryOp::Add;
  if (name == "sub") return ser::BinaryOp::Sub;
  if (name == "mul") return ser::BinaryOp::Mul;
  if (name == "div") return ser::BinaryOp::Div;
  if (name == "maximum") return ser::BinaryOp::Maximum;
  if (name == "minimum") return ser::BinaryOp::Minimum;
  if (name == "squaredDifference") return ser::BinaryOp::SquaredDifference;
  throw InputError("unknown binary op '" + name + "'");
}

// binaryOp(op, a, aShape, b, bShape, out)
Napi::Value BinaryOp(const Napi::CallbackInfo& info) {
  const ser::BinaryOp op = parseBinaryOp(info[0]);
  const ser::Span<const float> a = requireFloat32(info, 1, "a");
  const std::vector<std::size_t> aShape = requireShape(info[2], "aShape");
  const ser::Span<const float> b = requireFloat32(info, 3, "b");
  const std::vector<std::size_t> bShape = requireShape(info[4], "bShape");
  requireLength(a, shapeSize(aShape, "a"), "a");
  requireLength(b, shapeSize(bShape, "b"), "b");
  const ser::Span<float> out = requireOutputFloat32(info, 5, "out", shapeSize(ser::broadcastShape(aShape, bShape), "out"));
  ser::binaryBroadcast(op, a.data(), aShape, b.data(), bShape, out.data());
  return info.Env().Undefined();
}

// unaryOp(op, x, alpha, out)
Napi::Value UnaryOp(const Napi::CallbackInfo& info) {
  const std::string name = requireString(info[0], "op");
  ser::UnaryOp op;
  if (name == "relu") op = ser::UnaryOp::Relu;
  else if (name == "step") op = ser::UnaryOp::Step;
  else if (name == "floor") op = ser::UnaryOp::Floor;
  else if (name == "square") op = ser::UnaryOp::Square;
  else if (name == "tanh") op = ser::UnaryOp::Tanh;
  else throw InputError("unknown unary op '" + name + "'");
  const ser::Span<const float> x = requireFloat32(info, 1, "x");
  const float alpha = static_cast<float>(requireNumber(info[2], "alpha"));
  const ser::Span<float> out = requireOutputFloat32(info, 3, "out", x.size());
  ser::unary(op, x.data(), x.size(), alpha, out.data());
  return info.Env().Undefined();
}

// reduceSum(x, shape, axes, scale, out)
Napi::Value ReduceSum(const Napi::CallbackInfo& info) {
  const ser::Span<const float> x = requireFloat32(info, 0, "x");
  const std::vector<std::size_t> shape = requireShape(info[1], "shape");
  requireLength(x, shapeSize(shape, "x"), "x");
  const std::vector<std::size_t> axes = requireShape(info[2], "axes");
  std::vector<bool> reduced(shape.size(), false);
  uint64_t kept = 1;
  for (std::size_t axis : axes) {
    if (axis >= shape.size()) throw InputError("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(shape.size()));
    reduced[axis] = true;
  }
  for (std::size_t d = 0; d < shape.size(); ++d) kept *= reduced[d] ? 1 : shape[d];
  const double scale = requireNumber(info[3], "scale");
  const ser::Span<float> out = requireOutputFloat32(info, 4, "out", kept);
  ser::reduceSum(x.data(), shape, reduced, scale, out.data());
  return info.Env().Undefined();
}

ser::Pool2DGeometry parsePool2DGeometry(const Napi::Value& value) {
  if (!value.IsObject()) throw InputError("geometry must be an object");
  const Napi::Object o = value.As<Napi::Object>();
  ser::Pool2DGeometry g;
  const std::pair<const char*, std::size_t*> fields[] = {
      {"batch", &g.batch}, {"inHeight", &g.inHeight}, {"inWidth", &g.inWidth}, {"channels", &g.channels},
      {"outHeight", &g.outHeight}, {"outWidth", &g.outWidth},
      {"filterHeight", &g.filterHeight}, {"filterWidth", &g.filterWidth},
      {"strideHeight", &g.strideHeight}, {"strideWidth", &g.strideWidth},
      {"dilationHeight", &g.dilationHeight}, {"dilationWidth", &g.dilationWidth},
      {"padTop", &g.padTop}, {"padLeft", &g.padLeft}};
  for (const auto& [name, field] : fields) *field = requireCount(o.Get(name), std::string("geometry.") + name);
  ser::validatePool2DGeometry(g);
  return g;
}

// maxPool(x, y, geometry)
Napi::Value MaxPool(const Napi::CallbackInfo& info) {
  const ser::Pool2DGeometry g = parsePool2DGeometry(info[2]);
  const ser::Span<const float> x = requireFloat32(info, 0, "x");
  requireLength(x, g.inputSize(), "x");
  const ser::Span<float> y = requireOutputFloat32(info, 1, "y", g.outputSize());
  ser::maxPool2d(g, x.data(), y.data());
  return info.Env().Undefined();
}

// maxPoolBackprop(dy, x, dx, geometry)
Napi::Value MaxPoolBackprop(const Napi::CallbackInfo& info) {
  const ser::Pool2DGeometry g = parsePool2DGeometry(info[3]);
  const ser::Span<const float> dy = requireFloat32(info, 0, "dy");
  const ser::Span<const float> x = requireFloat32(info, 1, "x");
  requireLength(dy, g.outputSize(), "dy");
  requireLength(x, g.inputSize(), "x");
  const ser::Span<float> dx = requireOutputFloat32(info, 2, "dx", g.inputSize());
  ser::maxPool2dBackprop(g, dy.data(), x.data(), dx.data());
  return info.Env().Undefined();
}

// The layout copies: (x, shape, argument, out) with the view built from shape and argument.
template <ser::StridedView (*MakeView)(const std::vector<std::size_t>&, const std::vector<std::size_t>&)>
Napi::Value LayoutCopy(const Napi::CallbackInfo& info) {
  const ser::Span<const float> x = requireFloat32(info, 0, "x");
  const std::vector<std::size_t> shape = requireShape(info[1], "shape");
  requireLength(x, shapeSize(shape, "x"), "x");
  const ser::StridedView view = MakeView(shape, requireShape(info[2], "the argument"));
  const ser::Span<float> out = requireOutputFloat32(info, 3, "out", shapeSize(view.shape, "out"));
  ser::copyView(view, x.data(), x.size(), out.data());
  return info.Env().Undefined();
}

ser::StridedView reverseAxesView(const std::vector<std::size_t>& shape, const std::vector<std::size_t>& axes) {
  std::vector<bool> reversed(shape.size(), false);
  for (std::size_t axis : axes) {
    if (axis >= shape.size()) throw InputError("reverse axis " + std::to_string(axis) + " is out of range");
    reversed[axis] = true;
  }
  return ser::reverseView(shape, reversed);
}

// slice(x, shape, begin, size, out)
Napi::Value Slice(const Napi::CallbackInfo& info) {
  const ser::Span<const float> x = requireFloat32(info, 0, "x");
  const std::vector<std::size_t> shape = requireShape(info[1], "shape");
  requireLength(x, shapeSize(shape, "x"), "x");
  const ser::StridedView view = ser::sliceView(shape, requireShape(info[2], "begin"), requireShape(info[3], "size"));
  const ser::Span<float> out = requireOutputFloat32(info, 4, "out", shapeSize(view.shape, "out"));
  ser::copyView(view, x.data(), x.size(), out.data());
  return info.Env().Undefined();
}

// --- fused training ops and the thread pool ---------------------------------------------------------

ser::Span<const float> floatField(const Napi::Object& o, const char* name, const std::string& what,
                                  uint64_t expected) {
  const Napi::Value value = o.Get(name);
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw InputError(what + "." + name + " must be a Float32Array");
  }
  auto array = value.As<Napi::Float32Array>();
  if (array.ElementLength() != expected) {
    throw InputError(what + "." + name + " must hold " + std::to_string(expected) + " floats, got " +
                     std::to_string(array.ElementLength()));
  }
  return ser::Span<const float>(array.Data(), array.ElementLength());
}

// A Float32Array argument of a given length, or null/undefined (nullptr) where optional.
float* optionalOutput(const Napi::CallbackInfo& info, std::size_t index, const char* what, uint64_t expected) {
  if (info.Length() <= index || info[index].IsNull() || info[index].IsUndefined()) return nullptr;
  return requireOutputFloat32(info, index, what, expected).data();
}

ser::LstmShape parseLstmShape(const Napi::Value& value) {
  if (!value.IsObject()) throw InputError("shape must be an object");
  const Napi::Object o = value.As<Napi::Object>();
  ser::LstmShape s;
  s.batch = requireCount(o.Get("batch"), "shape.batch");
  s.steps = requireCount(o.Get("steps"), "shape.steps");
  s.inputSize = requireCount(o.Get("inputSize"), "shape.inputSize");
  s.units = requireCount(o.Get("units"), "shape.units");
  const std::string gates = requireString(o.Get("gates"), "shape.gates");
  if (gates == "hardSigmoid") s.gates = ser::GateActivation::HardSigmoid;
  else if (gates == "sigmoid") s.gates = ser::GateActivation::Sigmoid;
  else throw InputError("shape.gates must be 'hardSigmoid' or 'sigmoid', got '" + gates + "'");
  checkedProduct({s.batch, s.steps, s.inputSize + 11 * s.units, 2}, "LSTM workspace");
  checkedProduct({s.inputSize, 4 * s.units}, "LSTM kernel");
  ser::validateLstmShape(s);
  return s;
}

// {kernel, recurrent, bias | null} of one direction, read-only (weights) or written (gradients).
ser::LstmWeights parseLstmWeights(const Napi::Value& value, const ser::LstmShape& s, const std::string& what) {
  if (!value.IsObject()) throw InputError(what + " must be an object");
  const Napi::Object o = value.As<Napi::Object>();
  ser::LstmWeights w;
  w.kernel = floatField(o, "kernel", what, s.kernelFloats()).data();
  w.recurrent = floatField(o, "recurrent", what, s.recurrentFloats()).data();
  const Napi::Value bias = o.Get("bias");
  w.bias = bias.IsNull() || bias.IsUndefined() ? nullptr : floatField(o, "bias", what, s.biasFloats()).data();
  return w;
}

ser::LstmGradients parseLstmGradients(const Napi::Value& value, const ser::LstmShape& s, const std::string& what) {
  const ser::LstmWeights w = parseLstmWeights(value, s, what);
  return {const_cast<float*>(w.kernel), const_cast<float*>(w.recurrent), const_cast<float*>(w.bias)};
}

Napi::Value BilstmWorkspaceFloats(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(parseLstmShape(info[0]).workspaceFloats()));
}

// bilstmForward(shape, x, forward, backward, y, workspace)
Napi::Value BilstmForward(const Napi::CallbackInfo& info) {
  const ser::LstmShape s = parseLstmShape(info[0]);
  const ser::Span<const float> x = requireFloat32(info, 1, "x");
  requireLength(x, s.inputFloats(), "x");
  const ser::LstmWeights forward = parseLstmWeights(info[2], s, "forward");
  const ser::LstmWeights backward = parseLstmWeights(info[3], s, "backward");
  const ser::Span<float> y = requireOutputFloat32(info, 4, "y", s.outputFloats());
  const ser::Span<float> workspace = requireOutputFloat32(info, 5, "workspace", s.workspaceFloats());
  ser::bilstmForward(s, forward, backward, x.data(), y.data(), workspace.data());
  return info.Env().Undefined();
}

// bilstmBackward(shape, forward, backward, workspace, dy, dx | null, dForward, dBackward)
Napi::Value BilstmBackward(const Napi::CallbackInfo& info) {
  const ser::LstmShape s = parseLstmShape(info[0]);
  const ser::LstmWeights forward = parseLstmWeights(info[1], s, "forward");
  const ser::LstmWeights backward = parseLstmWeights(info[2], s, "backward");
  const ser::Span<float> workspace = requireOutputFloat32(info, 3, "workspace", s.workspaceFloats());
  const ser::Span<const float> dy = requireFloat32(info, 4, "dy");
  requireLength(dy, s.outputFloats(), "dy");
  float* dx = optionalOutput(info, 5, "dx", s.inputFloats());
  const ser::LstmGradients dForward = parseLstmGradients(info[6], s, "dForward");
  const ser::LstmGradients dBackward = parseLstmGradients(info[7], s, "dBackward");
  if ((dForward.bias == nullptr) != (forward.bias == nullptr) || (dBackward.bias == nullptr) != (backward.bias == nullptr)) {
    throw InputError("bias gradients must be given exactly where the layer has a bias");
  }
  ser::bilstmBackward(s, forward, backward, workspace.data(), dy.data(), dx, dForward, dBackward);
  return info.Env().Undefined();
}

ser::ConvBlockShape parseConvBlock(const Napi::Value& value) {
  if (!value.IsObject()) throw InputError("block must be an object");
  const Napi::Object o = value.As<Napi::Object>();
  ser::ConvBlockShape s;
  s.conv = parseConv2DGeometry(o.Get("conv"));
  s.poolHeight = requireCount(o.Get("poolHeight"), "block.poolHeight");
  s.poolWidth = requireCount(o.Get("poolWidth"), "block.poolWidth");
  s.epsilon = static_cast<float>(requireNumber(o.Get("epsilon"), "block.epsilon"));
  if (!o.Get("dropoutRate").IsUndefined()) s.dropoutRate = static_cast<float>(requireNumber(o.Get("dropoutRate"), "block.dropoutRate"));
  if (!o.Get("dropoutSeed").IsUndefined()) s.dropoutSeed = requireCount(o.Get("dropoutSeed"), "block.dropoutSeed");
  ser::validateConvBlockShape(s);
  return s;
}

Napi::Value ConvBlockWorkspaceFloats(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(parseConvBlock(info[0]).workspaceFloats()));
}

// convBlockForward(block, x, filter, gamma, beta, y, batchMean, batchVariance, workspace)
Napi::Value ConvBlockForward(const Napi::CallbackInfo& info) {
  const ser::ConvBlockShape s = parseConvBlock(info[0]);
  const std::size_t channels = s.channels();
  const ser::Span<const float> x = requireFloat32(info, 1, "x");
  const ser::Span<const float> filter = requireFloat32(info, 2, "filter");
  const ser::Span<const float> gamma = requireFloat32(info, 3, "gamma");
  const ser::Span<const float> beta = requireFloat32(info, 4, "beta");
  requireLength(x, s.conv.inputSize(), "x");
  requireLength(filter, s.conv.filterSize(), "filter");
  requireLength(gamma, channels, "gamma");
  requireLength(beta, channels, "beta");
  const ser::Span<float> y = requireOutputFloat32(info, 5, "y", s.outputSize());
  const ser::Span<float> mean = requireOutputFloat32(info, 6, "batchMean", channels);
  const ser::Span<float> variance = requireOutputFloat32(info, 7, "batchVariance", channels);
  const ser::Span<float> workspace = requireOutputFloat32(info, 8, "workspace", s.workspaceFloats());
  ser::convBlockForward(s, x.data(), filter.data(), gamma.data(), beta.data(), y.data(), mean.data(),
                        variance.data(), workspace.data());
  return info.Env().Undefined();
}

// convBlockInfer(block, x, filter, gamma, beta, mean, variance, y, workspace)
Napi::Value ConvBlockInfer(const Napi::CallbackInfo& info) {
  const ser::ConvBlockShape s = parseConvBlock(info[0]);
  const std::size_t channels = s.channels();
  const ser::Span<const float> x = requireFloat32(info, 1, "x");
  const ser::Span<const float> filter = requireFloat32(info, 2, "filter");
  requireLength(x, s.conv.inputSize(), "x");
  requireLength(filter, s.conv.filterSize(), "filter");
  const char* names[] = {"gamma", "beta", "mean", "variance"};
  const float* perChannel[4];
  for (std::size_t i = 0; i < 4; ++i) {
    const ser::Span<const float> values = requireFloat32(info, 3 + i, names[i]);
    requireLength(values, channels, names[i]);
    perChannel[i] = values.data();
  }
  const ser::Span<float> y = requireOutputFloat32(info, 7, "y", s.outputSize());
  const ser::Span<float> workspace = requireOutputFloat32(info, 8, "workspace", s.workspaceFloats());
  ser::convBlockInfer(s, x.data(), filter.data(), perChannel[0], perChannel[1], perChannel[2], perChannel[3], y.data(),
                      workspace.data());
  return info.Env().Undefined();
}

// convBlockBackward(block, x, filter, gamma, batchMean, batchVariance, workspace, dy, dx | null, dFilter,
//                   dGamma, dBeta)
Napi::Value ConvBlockBackward(const Napi::CallbackInfo& info) {
  const ser::ConvBlockShape s = parseConvBlock(info[0]);
  const std::size_t channels = s.channels();
  const ser::Span<const float> x = requireFloat32(info, 1, "x");
  const ser::Span<const float> filter = requireFloat32(info, 2, "filter");
  const ser::Span<const float> gamma = requireFloat32(info, 3, "gamma");
  const ser::Span<const float> mean = requireFloat32(info, 4, "batchMean");
  const ser::Span<const float> variance = requireFloat32(info, 5, "batchVariance");
  requireLength(x, s.conv.inputSize(), "x");
  requireLength(filter, s.conv.filterSize(), "filter");
  requireLength(gamma, channels, "gamma");
  requireLength(mean, channels, "batchMean");
  requireLength(variance, channels, "batchVariance");
  const ser::Span<float> workspace = requireOutputFloat32(info, 6, "workspace", s.workspaceFloats());
  const ser::Span<const float> dy = requireFloat32(info, 7, "dy");
  requireLength(dy, s.outputSize(), "dy");
  float* dx = optionalOutput(info, 8, "dx", s.conv.inputSize());
  const ser::Span<float> dFilter = requireOutputFloat32(info, 9, "dFilter", s.conv.filterSize());
  const ser::Span<float> dGamma = requireOutputFloat32(info, 10, "dGamma", channels);
  const ser::Span<float> dBeta = requireOutputFloat32(info, 11, "dBeta", channels);
  // The winners stored in the workspace index into each window: a damaged workspace must not make
  // the backward pass write outside the convolution's output.
  const auto* winners = reinterpret_cast<const uint8_t*>(workspace.data() + s.conv.outputSize() + s.outputSize());
  const std::size_t window = s.poolHeight * s.poolWidth;
  for (std::size_t i = 0; i < s.outputSize(); ++i) {
    if ((winners[i] & 0x7f) >= window) throw InputError("workspace does not hold a forward pass of this block");
  }
  ser::convBlockBackward(s, x.data(), filter.data(), gamma.data(), mean.data(), variance.data(), workspace.data(),
                         dy.data(), dx, dFilter.data(), dGamma.data(), dBeta.data());
  return info.Env().Undefined();
}

// adamUpdate(step, value, m, v, gradient, newValue, newM, newV)
Napi::Value AdamUpdate(const Napi::CallbackInfo& info) {
  const Napi::Object o = requireObject(info, 0, "step");
  ser::AdamStep step;
  const std::pair<const char*, float*> fields[] = {
      {"beta1", &step.beta1}, {"beta2", &step.beta2}, {"epsilon", &step.epsilon}, {"learningRate", &step.learningRate},
      {"oneMinusAccBeta1", &step.oneMinusAccBeta1}, {"oneMinusAccBeta2", &step.oneMinusAccBeta2},
      {"oneMinusBeta1", &step.oneMinusBeta1}, {"oneMinusBeta2", &step.oneMinusBeta2}};
  for (const auto& [name, field] : fields) *field = static_cast<float>(requireNumber(o.Get(name), std::string("step.") + name));
  const ser::Span<const float> value = requireFloat32(info, 1, "value");
  const uint64_t count = value.size();
  const ser::Span<const float> m = requireFloat32(info, 2, "m");
  const ser::Span<const float> v = requireFloat32(info, 3, "v");
  const ser::Span<const float> gradient = requireFloat32(info, 4, "gradient");
  requireLength(m, count, "m");
  requireLength(v, count, "v");
  requireLength(gradient, count, "gradient");
  const ser::Span<float> newValue = requireOutputFloat32(info, 5, "newValue", count);
  const ser::Span<float> newM = requireOutputFloat32(info, 6, "newM", count);
  const ser::Span<float> newV = requireOutputFloat32(info, 7, "newV", count);
  ser::adamUpdate(step, count, value.data(), m.data(), v.data(), gradient.data(), newValue.data(), newM.data(), newV.data());
  return info.Env().Undefined();
}

// dropoutMask(seed, rate, out)
Napi::Value DropoutMask(const Napi::CallbackInfo& info) {
  const uint64_t seed = requireCount(info[0], "seed");
  const double rate = requireNumber(info[1], "rate");
  const ser::Span<const float> out = requireFloat32(info, 2, "out");
  ser::dropoutMask(seed, static_cast<float>(rate), const_cast<float*>(out.data()), out.size());
  return info.Env().Undefined();
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  ser::setThreadCount(requireCount(info[0], "threads"));
  return info.Env().Undefined();
}

Napi::Value ThreadCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(ser::threadCount()));
}

// Counts the kernel's wall time (engineCounters).
template <Napi::Value (*Fn)(const Napi::CallbackInfo&)>
Napi::Value timed(const Napi::CallbackInfo& info) {
  const ser::ScopedCount count(ser::Counter::Kernel);
  return Fn(info);
}

Napi::Value EngineCounters(const Napi::CallbackInfo& info) {
  const ser::EngineCounters c = ser::readEngineCounters();
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("kernelCalls", Napi::Number::New(info.Env(), static_cast<double>(c.kernelCalls)));
  result.Set("kernelSeconds", Napi::Number::New(info.Env(), c.kernelSeconds));
  result.Set("gemmThreadSeconds", Napi::Number::New(info.Env(), c.gemmThreadSeconds));
  return result;
}

Napi::Value ResetEngineCounters(const Napi::CallbackInfo& info) {
  ser::resetEngineCounters();
  return info.Env().Undefined();
}

Napi::Value GemmIsa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), ser::gemmIsa()); }

Napi::Value GpuInfo(const Napi::CallbackInfo& info) {
  const ser::GpuInfo gpu = ser::probeGpu();
  const Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("built", Napi::Boolean::New(env, gpu.built));
  result.Set("available", Napi::Boolean::New(env, gpu.available));
  result.Set("reason", gpu.available ? env.Null() : Napi::String::New(env, gpu.reason));
  result.Set("deviceCount", Napi::Number::New(env, gpu.deviceCount));
  result.Set("name", gpu.name.empty() ? env.Null() : Napi::String::New(env, gpu.name));
  result.Set("computeCapability", gpu.computeMajor == 0 ? env.Null()
                                                         : Napi::String::New(env, std::to_string(gpu.computeMajor) + "." +
                                                                                      std::to_string(gpu.computeMinor)));
  result.Set("memoryBytes", Napi::Number::New(env, static_cast<double>(gpu.memoryBytes)));
  result.Set("driverVersion", Napi::Number::New(env, gpu.driverVersion));
  result.Set("runtimeVersion", Napi::Number::New(env, gpu.runtimeVersion));
  return result;
}

}  // namespace

void registerNnExports(Napi::Env env, Napi::Object exports) {
  exports.Set("matMul", Napi::Function::New<guarded<timed<MatMul>>>(env, "matMul"));
  exports.Set("conv2d", Napi::Function::New<guarded<timed<Conv2D>>>(env, "conv2d"));
  exports.Set("conv2dBackpropInput", Napi::Function::New<guarded<timed<Conv2DBackpropInput>>>(env, "conv2dBackpropInput"));
  exports.Set("conv2dBackpropFilter", Napi::Function::New<guarded<timed<Conv2DBackpropFilter>>>(env, "conv2dBackpropFilter"));
  exports.Set("binaryOp", Napi::Function::New<guarded<timed<BinaryOp>>>(env, "binaryOp"));
  exports.Set("unaryOp", Napi::Function::New<guarded<timed<UnaryOp>>>(env, "unaryOp"));
  exports.Set("reduceSum", Napi::Function::New<guarded<timed<ReduceSum>>>(env, "reduceSum"));
  exports.Set("maxPool", Napi::Function::New<guarded<timed<MaxPool>>>(env, "maxPool"));
  exports.Set("maxPoolBackprop", Napi::Function::New<guarded<timed<MaxPoolBackprop>>>(env, "maxPoolBackprop"));
  exports.Set("slice", Napi::Function::New<guarded<timed<Slice>>>(env, "slice"));
  exports.Set("tile", Napi::Function::New<guarded<timed<LayoutCopy<ser::tileView>>>>(env, "tile"));
  exports.Set("reverse", Napi::Function::New<guarded<timed<LayoutCopy<reverseAxesView>>>>(env, "reverse"));
  exports.Set("transpose", Napi::Function::New<guarded<timed<LayoutCopy<ser::transposeView>>>>(env, "transpose"));
  exports.Set("gemmIsa", Napi::Function::New<guarded<GemmIsa>>(env, "gemmIsa"));
  exports.Set("gpuInfo", Napi::Function::New<guarded<GpuInfo>>(env, "gpuInfo"));
  exports.Set("setThreads", Napi::Function::New<guarded<SetThreads>>(env, "setThreads"));
  exports.Set("threadCount", Napi::Function::New<guarded<ThreadCount>>(env, "threadCount"));
  exports.Set("bilstmWorkspaceFloats", Napi::Function::New<guarded<BilstmWorkspaceFloats>>(env, "bilstmWorkspaceFloats"));
  exports.Set("bilstmForward", Napi::Function::New<guarded<timed<BilstmForward>>>(env, "bilstmForward"));
  exports.Set("bilstmBackward", Napi::Function::New<guarded<timed<BilstmBackward>>>(env, "bilstmBackward"));
  exports.Set("convBlockWorkspaceFloats", Napi::Function::New<guarded<ConvBlockWorkspaceFloats>>(env, "convBlockWorkspaceFloats"));
  exports.Set("convBlockForward", Napi::Function::New<guarded<timed<ConvBlockForward>>>(env, "convBlockForward"));
  exports.Set("convBlockInfer", Napi::Function::New<guarded<timed<ConvBlockInfer>>>(env, "convBlockInfer"));
  exports.Set("convBlockBackward", Napi::Function::New<guarded<timed<ConvBlockBackward>>>(env, "convBlockBackward"));
  exports.Set("engineCounters", Napi::Function::New<guarded<EngineCounters>>(env, "engineCounters"));
  exports.Set("resetEngineCounters", Napi::Function::New<guarded<ResetEngineCounters>>(env, "resetEngineCounters"));
  exports.Set("adamUpdate", Napi::Function::New<guarded<timed<AdamUpdate>>>(env, "adamUpdate"));
  exports.Set("dropoutMask", Napi::Function::New<guarded<timed<DropoutMask>>>(env, "dropoutMask"));
}

}  // namespace binding
