#!/usr/bin/env python3
"""Benchmark peer: the `seed` preset model in Keras 3 on TensorFlow (CPU), trained on random data.

Prints ONE JSON line on stdout:
  {"peer":"keras-tensorflow","version":"<tf>","threads":N,"batch":B,"params":798760,
   "samplesPerSecond":X,"recurrentActivation":"..."}
With --predict it times forward passes instead (inference, training=False, one tf.function call at a time)
and adds "mode":"predict" and "medianMs" (the median call); samplesPerSecond is then batch / median.
Everything else (TF logs, the parameter breakdown) goes to stderr.
Exit codes: 0 ok, 1 error, 2 bad arguments, 3 TensorFlow/Keras/numpy not importable.

Model (must total exactly 798,760 parameters, counting BatchNormalization's moving statistics as Keras does):
  input [B, 301, 40, 1] NHWC
  3 x [Conv2D(f, 3x3, same, no bias, he_normal) -> BN(momentum .99, eps 1e-3) -> ReLU -> MaxPool 2x2/2 valid
       -> Dropout .3] with f = 32, 64, 128                          -> [B, 37, 5, 128]
  Reshape [B, 37, 640] (feature index = freq*128 + channel)
  Bidirectional LSTM 112 units/direction, return sequences, concat -> [B, 37, 224]
  additive attention pooling: softmax_t(v . tanh(W h_t + b)) weighted sum over t -> [B, 224]
  Dropout .3, Dense(8, softmax); Adam(1e-3); categorical cross-entropy on soft targets.

On CPU Keras 3 never takes a fused/cuDNN LSTM path: keras.src.backend.tensorflow.rnn.lstm raises
NotImplementedError without a GPU and the layer falls back to the generic backend loop (tf.while_loop over an
LSTMCell doing one fused 4-gate matmul per step). use_cudnn=False is passed so that this is explicit (and so
that --jit is not silently disabled). That also makes a custom recurrent activation free, so the tfjs
default hardSigmoid = clip(0.2x + 0.5, 0, 1) is used (Keras 3's own "hard_sigmoid" is relu6(x+3)/6, a
different slope, so it is not used).

Train step: the default is a hand-written tf.function step (GradientTape + optimizer.apply_gradients, loss
read back each step). --step-mode train_on_batch uses model.compile + model.train_on_batch instead.
Measured here (2-core VM, --threads 1, 5 steps, rough): tf.function step ~57 samples/s, train_on_batch
~50 samples/s (it wraps the same work in its own tf.function plus metric/loss-tracker bookkeeping), so the
tf.function step is the default. jit_compile (XLA) is off unless --jit: on this CPU XLA was ~6x slower
(~9 samples/s; not investigated further).
"""
import os
import sys
import time

from peer_common import (ATTENTION_UNITS, CLASSES, COEFFS, DROPOUT, EXPECTED_PARAMS, FILTERS, FRAMES, LSTM_UNITS,
                         argument_parser, emit, parse_checked, redirect_stdout_to_stderr, run_peer)

PEER = "keras-tensorflow"


def parse_args(argv):
    p = argument_parser(__doc__.split("\n")[0], "untimed steps first (tracing, allocation)")
    p.add_argument("--step-mode", choices=("tf_function", "train_on_batch"), default="tf_function")
    p.add_argument("--predict", action="store_true",
                   help="time forward passes (inference, training=False) one call at a time instead of train steps")
    p.add_argument("--jit", action="store_true", help="XLA jit_compile the train step")
    p.add_argument("--recurrent-activation", choices=("tfjs_hard_sigmoid", "sigmoid"), default="tfjs_hard_sigmoid",
                   help="the LSTM gates: tfjs's hardSigmoid (as the tfjs model) or Keras's default sigmoid")
    return parse_checked(p, argv)


def main(argv):
    args = parse_args(argv)
    out_fd = redirect_stdout_to_stderr()

    # Threading must be fixed before TensorFlow creates its thread pools.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(args.threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    try:
        import numpy as np
        import tensorflow as tf
        import keras
        from keras import layers
    except Exception as e:  # ImportError, or a broken install failing at import
        print(f"{PEER}: TensorFlow/Keras not importable with {sys.executable}: {type(e).__name__}: {e}".replace("\n", " "),
              file=sys.stderr)
        return 3

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(args.seed)

    # Registered so that Bidirectional can clone the LSTM (it rebuilds the backward layer from its config).
    @keras.saving.register_keras_serializable(package="ser_bench")
    def tfjs_hard_sigmoid(x):
        # tfjs's hardSigmoid (Keras 2's definition): clip(0.2 x + 0.5, 0, 1).
        return tf.clip_by_value(0.2 * x + 0.5, 0.0, 1.0)

    class AttentionPooling(layers.Layer):
        """score_t = v . tanh(W h_t + b); alpha = softmax over time; out = sum_t alpha_t h_t."""

        def __init__(self, units, **kw):
            super().__init__(**kw)
            self.units = units

        def build(self, input_shape):
            d = int(input_shape[-1])
            self.w = self.add_weight(name="w", shape=(d, self.units), initializer="glorot_uniform")
            self.b = self.add_weight(name="b", shape=(self.units,), initializer="zeros")
            self.v = self.add_weight(name="v", shape=(self.units, 1), initializer="glorot_uniform")

        def call(self, h):
            scores = tf.matmul(tf.tanh(tf.matmul(h, self.w) + self.b), self.v)  # [B, T, 1]
            alpha = tf.nn.softmax(scores, axis=1)
            return tf.reduce_sum(alpha * h, axis=1)  # [B, D]

        def compute_output_shape(self, input_shape):
            return (input_shape[0], input_shape[-1])

    inp = keras.Input(shape=(FRAMES, COEFFS, 1), name="features")
    x = inp
    for f in FILTERS:
        x = layers.Conv2D(f, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
        x = layers.BatchNormalization(momentum=0.99, epsilon=1e-3)(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D(pool_size=2, strides=2, padding="valid")(x)
        x = layers.Dropout(DROPOUT)(x)
    _, t, fq, ch = x.shape  # 37, 5, 128
    x = layers.Reshape((t, fq * ch))(x)
    x = layers.Bidirectional(
        layers.LSTM(LSTM_UNITS, return_sequences=True, use_cudnn=False,
                    recurrent_activation=tfjs_hard_sigmoid if args.recurrent_activation == "tfjs_hard_sigmoid" else "sigmoid"),
        merge_mode="concat")(x)
    x = AttentionPooling(ATTENTION_UNITS)(x)
    x = layers.Dropout(DROPOUT)(x)
    out = layers.Dense(CLASSES, activation="softmax")(x)
    model = keras.Model(inp, out, name="seed")

    params = int(model.count_params())
    trainable = int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))
    print(f"{PEER}: params {params} (trainable {trainable}, non-trainable {params - trainable}); "
          f"shape after conv blocks {(t, fq, ch)}", file=sys.stderr)
    if params != EXPECTED_PARAMS:
        print(f"{PEER}: model has {params} parameters, expected {EXPECTED_PARAMS}", file=sys.stderr)
        return 1

    rng = np.random.default_rng(args.seed)
    xs = rng.standard_normal((args.batch, FRAMES, COEFFS, 1), dtype=np.float32)
    ys = rng.dirichlet(np.ones(CLASSES), size=args.batch).astype(np.float32)  # soft targets

    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    loss_fn = keras.losses.CategoricalCrossentropy()

    if args.predict:
        x_t = tf.constant(xs)

        @tf.function(jit_compile=bool(args.jit), reduce_retracing=True)
        def infer(xb):
            return model(xb, training=False)

        for _ in range(args.warmup):
            infer(x_t).numpy()
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            infer(x_t).numpy()
            times.append(time.perf_counter() - t0)
        times.sort()
        median = times[len(times) // 2]
        print(f"{PEER}: {args.steps} forward passes of batch {args.batch}, median {median * 1e3:.3f} ms, "
              f"keras {keras.__version__}", file=sys.stderr)
        emit(out_fd, {
            "peer": PEER, "version": tf.__version__, "threads": args.threads, "batch": args.batch, "params": params,
            "mode": "predict", "medianMs": median * 1e3, "samplesPerSecond": args.batch / median,
            "recurrentActivation": "hardSigmoid(clip(0.2x+0.5,0,1))" if args.recurrent_activation == "tfjs_hard_sigmoid" else "sigmoid",
        })
        return 0

    if args.step_mode == "train_on_batch":
        model.compile(optimizer=optimizer, loss=loss_fn, jit_compile=bool(args.jit))

        def step():
            return float(model.train_on_batch(xs, ys))
    else:
        x_t = tf.constant(xs)
        y_t = tf.constant(ys)

        @tf.function(jit_compile=bool(args.jit), reduce_retracing=True)
        def train_step(xb, yb):
            with tf.GradientTape() as tape:
                pred = model(xb, training=True)
                loss = loss_fn(yb, pred)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        def step():
            return float(train_step(x_t, y_t).numpy())

    for _ in range(args.warmup):
        step()
    loss = 0.0
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    elapsed = time.perf_counter() - t0
    if not (loss == loss):  # NaN
        print(f"{PEER}: loss is NaN", file=sys.stderr)
        return 1

    print(f"{PEER}: {args.steps} steps in {elapsed:.3f} s, last loss {loss:.4f}, step mode {args.step_mode}, "
          f"jit {bool(args.jit)}, keras {keras.__version__}", file=sys.stderr)
    emit(out_fd, {
        "peer": PEER,
        "version": tf.__version__,
        "threads": args.threads,
        "batch": args.batch,
        "params": params,
        "samplesPerSecond": args.batch * args.steps / elapsed,
        "recurrentActivation": "hardSigmoid(clip(0.2x+0.5,0,1))" if args.recurrent_activation == "tfjs_hard_sigmoid" else "sigmoid",
    })
    return 0


if __name__ == "__main__":
    run_peer(PEER, main)
