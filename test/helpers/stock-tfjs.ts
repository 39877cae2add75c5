// Runs a saved model folder in a fresh Node process that loads plain @tensorflow/tfjs and nothing of
// ser-native (no addon, no custom layer classes), as a user without this package would.
import { spawnSync } from 'child_process';

import { ROOT } from './paths';

const SCRIPT = `
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
(async () => {
  const [dir, shapeJson, inputFile] = process.argv.slice(1);
  await tf.setBackend('cpu');
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
  const bytes = Buffer.concat(json.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(dir, p)))));
  const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData }));
  const raw = fs.readFileSync(inputFile);
  const input = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const output = model.predict(tf.tensor(input, JSON.parse(shapeJson)));
  process.stdout.write(JSON.stringify({ loaded: Object.keys(require.cache).filter((f) => /ser_native|[\\\\/]dist[\\\\/]src[\\\\/]/.test(f)), probabilities: Array.from(output.dataSync()) }));
})().catch((error) => { process.stderr.write(String(error && error.stack || error)); process.exit(1); });
`;

export interface StockPrediction {
  /** Modules of this package the process loaded (must be none). */
  loaded: string[];
  probabilities: number[];
}

export function predictWithStockTfjs(modelDir: string, input: Float32Array, shape: number[], inputFile: string): StockPrediction {
  require('fs').writeFileSync(inputFile, Buffer.from(input.buffer, input.byteOffset, input.byteLength));
  const run = spawnSync(process.execPath, ['-e', SCRIPT, modelDir, JSON.stringify(shape), inputFile], { cwd: ROOT, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`plain tfjs could not run ${modelDir}: ${run.stderr}`);
  return JSON.parse(run.stdout) as StockPrediction;
}
