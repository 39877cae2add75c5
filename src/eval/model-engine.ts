// The synchronous side of a loaded run: its models' forward passes (probabilities averaged over folds
// and seeds) and the timeline that slides them over a recording. It runs in the model's worker thread
// (model-worker.ts), so the caller's event loop never waits on a forward pass.
import type { AudioInput } from '../clips/extract';
import { STDIN } from '../clips/extract';
import { OptionsError } from '../errors';
import { MomentAccumulator, type Moments, type NormaliseMode } from '../features/normalise';
import { normalisationFromJson, type LoadedModel, type Preprocessing } from '../train/checkpoint';
import { PREDICT_BATCH_ROWS } from '../train/defaults';
import { predictFeatures } from '../train/predict';
import { computeTimeline, type Timeline, type TimelineOptions } from './timeline';

// The one speaker of a timeline's recording.
const RECORDING = 'recording';

/** Each named speaker's moments over its rows among `features`. */
function momentsBySpeaker(features: Float32Array, rows: number, coeffs: number, speakers: readonly (string | undefined)[]): Map<string, Moments> {
  const rowSize = features.length / rows;
  const accumulators = new Map<string, MomentAccumulator>();
  speakers.forEach((speaker, r) => {
    if (speaker === undefined) return;
    let accumulator = accumulators.get(speaker);
    if (!accumulator) accumulators.set(speaker, (accumulator = new MomentAccumulator(coeffs)));
    accumulator.add(features.subarray(r * rowSize, (r + 1) * rowSize));
  });
  return new Map([...accumulators].map(([speaker, accumulator]) => [speaker, accumulator.moments()]));
}

export class ModelEngine {
  constructor(private readonly models: LoadedModel[]) {}

  get preprocessing(): Preprocessing {
    return this.models[0].preprocessing;
  }

  get normalisation(): NormaliseMode {
    return this.preprocessing.normalisation.mode ?? 'global';
  }

  /** See EmotionModel.predictRows. */
  predictRows(features: Float32Array, rows: number, speakers?: readonly (string | undefined)[], speakerMoments?: ReadonlyMap<string, Moments>): Float32Array {
    const { labels, frames, coeffs } = this.preprocessing;
    if (features.length !== rows * frames * coeffs) throw new OptionsError(`${rows} feature rows have ${rows}x${frames}x${coeffs} values, got ${features.length}`);
    if (speakers !== undefined && speakers.length !== rows) throw new OptionsError(`${rows} feature rows need ${rows} speakers, got ${speakers.length}`);
    if (this.normalisation === 'speaker' && speakers && !speakerMoments) speakerMoments = momentsBySpeaker(features, rows, coeffs, speakers);
    const sums = new Float64Array(rows * labels.length);
    for (const { model, preprocessing: p } of this.models) {
      const probabilities = predictFeatures(model, features, rows, normalisationFromJson(p.normalisation, speakerMoments), frames, coeffs, PREDICT_BATCH_ROWS, speakers);
      probabilities.forEach((v, i) => {
        sums[i] += v / this.models.length;
      });
    }
    return Float32Array.from(sums);
  }

  /**
   * See EmotionModel.timeline. With speaker normalisation the recording is taken as one speaker: a first
   * pass (features only) measures the moments of its non-silent windows, the second scores with them;
   * standard input cannot be read twice, so there each window is standardised on its own.
   */
  async timeline(input: AudioInput, options: TimelineOptions, stdin?: AsyncIterable<Uint8Array>): Promise<Timeline> {
    if (this.normalisation !== 'speaker' || input === STDIN) {
      return computeTimeline((features, rows) => this.predictRows(features, rows), this.preprocessing, input, options, stdin);
    }
    const { coeffs, labels } = this.preprocessing;
    const perWindow: MomentAccumulator[] = [];
    const measured = await computeTimeline((features, rows) => {
      const rowSize = features.length / rows;
      for (let r = 0; r < rows; r++) {
        const accumulator = new MomentAccumulator(coeffs);
        accumulator.add(features.subarray(r * rowSize, (r + 1) * rowSize));
        perWindow.push(accumulator);
      }
      return new Float32Array(rows * labels.length);
    }, this.preprocessing, input, { ...options, onProgress: undefined });
    const recording = new MomentAccumulator(coeffs);
    measured.windows.forEach((w, i) => {
      if (!w.silent) recording.merge(perWindow[i]);
    });
    if (recording.count === 0) perWindow.forEach((a) => recording.merge(a));
    const moments = new Map([[RECORDING, recording.moments()]]);
    return computeTimeline((features, rows) => this.predictRows(features, rows, new Array<string>(rows).fill(RECORDING), moments), this.preprocessing, input, options);
  }

  dispose(): void {
    for (const { model } of this.models) model.dispose();
  }
}
