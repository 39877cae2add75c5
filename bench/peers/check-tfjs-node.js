#!/usr/bin/env node
// Checks that @tensorflow/tfjs-node loads, runs on libtensorflow and trains: the check bench/peers/setup.sh
// runs after building the binding against the TensorFlow C library of the tensorflow-cpu wheel.
//
// It fails (exit code 1) unless
//   - the current backend is 'tensorflow' (tfjs-node's kernel backend, not cpu/wasm),
//   - the binding reports a TF_Version (the C library's own version string) and, when an expected version
//     is given (first argument or $SER_EXPECT_TF_VERSION), that it starts with it,
//   - a libtensorflow shared object is mapped into this process (so the kernels really come from it),
//   - a tiny tf.sequential model trains for 2 epochs and its loss changes and stays finite.
//
// Usage: node bench/peers/check-tfjs-node.js [expected TF version, e.g. 2.21.0]
// Run from the repository root (or anywhere under it) so that require finds the project's node_modules.
'use strict';

// Quieter libtensorflow start-up (its oneDNN/CPU-feature notes) and one intra-op thread: this is a
// correctness check, not a benchmark. Values set by the caller win.
process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
process.env.TF_NUM_INTRAOP_THREADS ??= '1';

const fs = require('fs');

const expected = process.argv[2] || process.env.SER_EXPECT_TF_VERSION || '';
const failures = [];
function check(ok, what) {
  if (!ok) failures.push(what);
}

async function main() {
  const tf = require('@tensorflow/tfjs-node');
  await tf.ready();

  const backendName = tf.getBackend();
  const binding = tf.backend().binding;
  const tfVersion = binding && binding.TF_Version;
  const bindingPath = require.resolve('@tensorflow/tfjs-node');
  console.log(`backend: ${backendName}`);
  console.log(`tfjs-node: ${tf.version['tfjs-node']} (tfjs-core ${tf.version['tfjs-core']}) from ${bindingPath}`);
  console.log(`libtensorflow TF_Version: ${tfVersion}`);

  check(backendName === 'tensorflow', `backend is '${backendName}', expected 'tensorflow'`);
  check(typeof tfVersion === 'string' && tfVersion.length > 0, 'binding reports no TF_Version');
  if (expected) check(String(tfVersion).startsWith(expected), `TF_Version ${tfVersion} does not start with ${expected}`);

  // Which TensorFlow shared objects the process really mapped (Linux only).
  let libs = [];
  try {
    libs = [...new Set(fs.readFileSync('/proc/self/maps', 'utf8').split('\n')
      .map((line) => line.trim().split(/\s+/).slice(5).join(' '))
      .filter((file) => /libtensorflow[^/]*\.so/.test(file)))];
  } catch {
    // no /proc: skip this part of the check
  }
  for (const lib of libs) console.log(`mapped: ${lib}`);
  if (fs.existsSync('/proc/self/maps')) check(libs.length > 0, 'no libtensorflow*.so is mapped into the process');

  // A tiny regression: y = 2x - 1 plus noise-free samples, fitted by a 2-layer dense model for 2 epochs.
  const model = tf.sequential();
  model.add(tf.layers.dense({ units: 4, inputShape: [1], activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
  model.add(tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
  model.compile({ optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError' });
  const xs = tf.tensor2d([-1, 0, 1, 2, 3, 4, 0.5, 1.5], [8, 1]);
  const ys = tf.tensor2d([-3, -1, 1, 3, 5, 7, 0, 2], [8, 1]);
  const history = await model.fit(xs, ys, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 });
  const losses = history.history.loss.map(Number);
  console.log(`fit: 2 epochs, loss ${losses.map((l) => l.toFixed(6)).join(' -> ')}`);
  check(losses.length === 2, `expected 2 epoch losses, got ${losses.length}`);
  check(losses.every(Number.isFinite), 'a loss is not finite');
  check(losses.length === 2 && losses[0] !== losses[1], 'loss did not change between epochs');
  check(tf.getBackend() === 'tensorflow', `backend changed to '${tf.getBackend()}' during training`);
  tf.dispose([xs, ys]);
  model.dispose();

  if (failures.length > 0) {
    for (const failure of failures) console.error(`check-tfjs-node: FAIL: ${failure}`);
    process.exitCode = 1;
  } else {
    console.log(`check-tfjs-node: ok (tfjs-node ${tf.version['tfjs-node']} on libtensorflow ${tfVersion})`);
  }
}

main().catch((error) => {
  console.error(`check-tfjs-node: FAIL: ${error && error.stack ? error.stack : error}`);
  process.exitCode = 1;
});
