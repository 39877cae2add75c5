// The synthetic corpus generator: real corpora's names and rates, determinism, decodable WAVs, and that the
// emotions change the signal the way the model says (f0, duration, tilt) without loudness giving them away.
import * as fs from 'fs';
import * as path from 'path';

import { Command } from 'commander';

import { synthCommand } from '../src/cli/synth';
import { OptionsError } from '../src/errors';
import { parseClipPath } from '../src/data/corpora';
import { EMOTIONS, planCorpus, synthesizeClip, synthesizeCorpus, type Emotion, type SynthClip, type SynthOptions } from '../src/synth/corpus';
import { native } from '../src/native';
import { tempDir } from './helpers/paths';

const dirs: string[] = [];
function newDir(name: string): string {
  const dir = tempDir(`synth-${name}`);
  dirs.push(dir);
  return dir;
}
afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

const base = (clip: SynthClip): string => path.posix.basename(clip.path);

function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(path.relative(root, full).split(path.sep).join('/'));
    }
  };
  walk(root);
  return out.sort();
}

function rmsDb(x: Float32Array): number {
  let e = 0;
  for (let i = 0; i < x.length; i++) e += x[i] * x[i];
  return 10 * Math.log10(e / x.length);
}

/**
 * Median f0 over voiced frames by plain normalised autocorrelation on an 8 kHz copy: 40 ms frames every
 * 20 ms, lags for 60..500 Hz, voiced when the best normalised correlation exceeds 0.6.
 */
function medianF0(x: Float32Array, sampleRate: number): number {
  const rate = 8000;
  const y = native.resample(x, sampleRate, rate);
  const win = 320;
  const minLag = Math.floor(rate / 500);
  const maxLag = Math.ceil(rate / 60);
  const f0s: number[] = [];
  for (let s = 0; s + win + maxLag < y.length; s += 160) {
    let e0 = 0;
    for (let i = 0; i < win; i++) e0 += y[s + i] * y[s + i];
    if (e0 < 1e-7 * win) continue;
    let best = 0;
    let bestLag = 0;
    for (let lag = minLag; lag <= maxLag; lag++) {
      let c = 0;
      let e1 = 0;
      for (let i = 0; i < win; i++) {
        c += y[s + i] * y[s + i + lag];
        e1 += y[s + i + lag] * y[s + i + lag];
      }
      const r = c / Math.sqrt(e0 * e1 + 1e-20);
      if (r > best) {
        best = r;
        bestLag = lag;
      }
    }
    if (best > 0.6) f0s.push(rate / bestLag);
  }
  f0s.sort((a, b) => a - b);
  return f0s.length > 0 ? f0s[f0s.length >> 1] : NaN;
}

/** Share of the energy above ~2 kHz, from a 2 kHz one-pole high-pass (a crude spectral-tilt measure). */
function highBandShare(x: Float32Array, sampleRate: number): number {
  const a = Math.exp((-2 * Math.PI * 2000) / sampleRate);
  let low = 0;
  let total = 0;
  let high = 0;
  for (let i = 0; i < x.length; i++) {
    low = x[i] + a * (low - x[i]);
    const h = x[i] - low;
    high += h * h;
    total += x[i] * x[i];
  }
  return high / total;
}

const mean = (values: readonly number[]): number => values.reduce((s, v) => s + v, 0) / values.length;

describe('planCorpus: the real corpora file names, folders, rates and counts', () => {
  test('RAVDESS: Actor_XX/03-01-EE-II-SS-RR-XX.wav at 48 kHz, neutral always intensity 01', () => {
    const plan = planCorpus({ corpus: 'ravdess', speakers: 3, clipsPerClass: 3 });
    expect(plan).toHaveLength(3 * 8 * 3);
    const pattern = /^Actor_(\d{2})\/03-01-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d{2})\.wav$/;
    const intensities = new Set<string>();
    for (const clip of plan) {
      const m = pattern.exec(clip.path);
      expect(m).not.toBeNull();
      const [, folder, emotion, intensity, , , actor] = m as RegExpExecArray;
      expect(folder).toBe(actor);
      expect(EMOTIONS[Number(emotion) - 1]).toBe(clip.emotion);
      if (clip.emotion === 'neutral') expect(intensity).toBe('01');
      else intensities.add(intensity);
      expect(clip.gender).toBe(Number(actor) % 2 === 1 ? 'male' : 'female');
      expect(clip.speaker).toBe(`ravdess:${actor}`);
      expect(clip).toMatchObject({ corpus: 'ravdess', sampleRate: 48000 });
    }
    expect([...intensities].sort()).toEqual(['01', '02']);
    expect(new Set(plan.map((c) => c.path)).size).toBe(plan.length);
    // The naming allows 4 neutral clips per actor (intensity 01 only) and 8 of each other emotion.
    const full = planCorpus({ corpus: 'ravdess', speakers: 1, clipsPerClass: 8 });
    expect(full.filter((c) => c.emotion === 'neutral')).toHaveLength(4);
    expect(full.filter((c) => c.emotion === 'angry')).toHaveLength(8);
    expect(new Set(full.map((c) => c.path)).size).toBe(full.length);
  });

  test('CREMA-D: flat AAAA_SSS_EEE_LL.wav at 16 kHz, six emotions, both genders recorded', () => {
    const plan = planCorpus({ corpus: 'crema', speakers: 4, clipsPerClass: 2 });
    expect(plan).toHaveLength(4 * 6 * 2);
    const pattern = /^(10\d\d)_(IEO|TIE|IOM|IWW|TAI|MTI|IWL|ITH|DFA|ITS|TSI|WSI)_(ANG|DIS|FEA|HAP|NEU|SAD)_(LO|MD|HI|XX)\.wav$/;
    const codes: Record<string, Emotion> = { ANG: 'angry', DIS: 'disgust', FEA: 'fearful', HAP: 'happy', NEU: 'neutral', SAD: 'sad' };
    for (const clip of plan) {
      const m = pattern.exec(clip.path) as RegExpExecArray;
      expect(m).not.toBeNull();
      expect(Number(m[1])).toBeGreaterThanOrEqual(1001);
      expect(Number(m[1])).toBeLessThanOrEqual(1004);
      expect(codes[m[3]]).toBe(clip.emotion);
      if (clip.emotion === 'neutral') expect(m[4]).toBe('XX');
      expect(clip.speaker).toBe(`crema:${m[1]}`);
      expect(clip.sampleRate).toBe(16000);
    }
    expect(new Set(plan.map((c) => c.emotion))).toEqual(new Set(['angry', 'disgust', 'fearful', 'happy', 'neutral', 'sad']));
    expect(new Set(plan.map((c) => c.gender))).toEqual(new Set(['male', 'female']));
    // Genders are a deterministic function of the actor.
    expect(planCorpus({ corpus: 'crema', speakers: 4, clipsPerClass: 1, seed: 9 }).map((c) => c.gender)).toEqual(
      planCorpus({ corpus: 'crema', speakers: 4, clipsPerClass: 1 }).map((c) => c.gender),
    );
  });

  test('TESS: the real folder names, SPK_word_token.wav at 24414 Hz, distinct words per speaker and emotion', () => {
    const folders = [
      'OAF_angry', 'OAF_disgust', 'OAF_Fear', 'OAF_happy', 'OAF_neutral', 'OAF_Pleasant_surprise', 'OAF_Sad',
      'YAF_angry', 'YAF_disgust', 'YAF_fear', 'YAF_happy', 'YAF_neutral', 'YAF_pleasant_surprised', 'YAF_sad',
    ];
    const plan = planCorpus({ corpus: 'tess', speakers: 2, clipsPerClass: 5 });
    expect(plan).toHaveLength(2 * 7 * 5);
    const tokens: Record<string, Emotion> = { angry: 'angry', disgust: 'disgust', fear: 'fearful', happy: 'happy', neutral: 'neutral', ps: 'surprised', sad: 'sad' };
    const words = new Map<string, Set<string>>();
    for (const clip of plan) {
      const m = /^([A-Za-z_]+)\/(OAF|YAF)_([a-z]+)_(angry|disgust|fear|happy|neutral|ps|sad)\.wav$/.exec(clip.path) as RegExpExecArray;
      expect(m).not.toBeNull();
      expect(folders).toContain(m[1]);
      expect(m[1].startsWith(m[2])).toBe(true);
      expect(tokens[m[4]]).toBe(clip.emotion);
      expect(clip).toMatchObject({ speaker: `tess:${m[2]}`, gender: 'female', sampleRate: 24414 });
      const key = `${m[2]} ${m[4]}`;
      if (!words.has(key)) words.set(key, new Set());
      (words.get(key) as Set<string>).add(m[3]);
    }
    expect([...new Set(plan.map((c) => c.path.split('/')[0]))].sort()).toEqual([...folders].sort());
    for (const set of words.values()) expect(set.size).toBe(5);
    // The word list is long enough for the real corpus's 200 words per speaker and emotion.
    const full = planCorpus({ corpus: 'tess', speakers: 2, clipsPerClass: 200 });
    expect(new Set(full.map((c) => c.path)).size).toBe(2 * 7 * 200);
  });

  test('SAVEE: flat SPK_codeNN.wav at 44100 Hz, four male speakers', () => {
    const plan = planCorpus({ corpus: 'savee', speakers: 4, clipsPerClass: 2 });
    expect(plan).toHaveLength(4 * 7 * 2);
    const codes: Record<string, Emotion> = { a: 'angry', d: 'disgust', f: 'fearful', h: 'happy', n: 'neutral', sa: 'sad', su: 'surprised' };
    for (const clip of plan) {
      const m = /^(DC|JE|JK|KL)_(a|d|f|h|n|sa|su)(0[12])\.wav$/.exec(clip.path) as RegExpExecArray;
      expect(m).not.toBeNull();
      expect(codes[m[2]]).toBe(clip.emotion);
      expect(clip).toMatchObject({ speaker: `savee:${m[1]}`, gender: 'male', sampleRate: 44100 });
    }
    expect(new Set(plan.map((c) => c.speaker)).size).toBe(4);
  });

  test('bundle: the four Kaggle folders, speakers capped per corpus', () => {
    const plan = planCorpus({ corpus: 'bundle', speakers: 2, clipsPerClass: 1 });
    expect(plan).toHaveLength(2 * 8 + 2 * 6 + 2 * 7 + 2 * 7);
    const prefixes: Record<string, RegExp> = {
      ravdess: /^Ravdess\/audio_speech_actors_01-24\/Actor_\d{2}\/03-01-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}\.wav$/,
      crema: /^Crema\/\d{4}_[A-Z]{3}_[A-Z]{3}_[A-Z]{2}\.wav$/,
      tess: /^Tess\/(OAF|YAF)_[A-Za-z_]+\/(OAF|YAF)_[a-z]+_[a-z]+\.wav$/,
      savee: /^Savee\/(DC|JE|JK|KL)_[a-z]{1,2}\d{2}\.wav$/,
    };
    for (const clip of plan) expect(clip.path).toMatch(prefixes[clip.corpus]);
    expect(new Set(plan.map((c) => c.path.split('/')[0]))).toEqual(new Set(['Ravdess', 'Crema', 'Tess', 'Savee']));
    const big = planCorpus({ corpus: 'bundle', speakers: 30, clipsPerClass: 1 });
    const speakers = (corpus: string) => new Set(big.filter((c) => c.corpus === corpus).map((c) => c.speaker)).size;
    expect([speakers('ravdess'), speakers('crema'), speakers('tess'), speakers('savee')]).toEqual([24, 30, 2, 4]);
    // A clip sounds the same in the bundle as in its own corpus.
    const alone = planCorpus({ corpus: 'savee', speakers: 2, clipsPerClass: 1 })[3];
    const inBundle = plan.find((c) => c.path === `Savee/${alone.path}`) as SynthClip;
    expect(inBundle.seconds).toBe(alone.seconds);
    expect(synthesizeClip(inBundle, 1)).toEqual(synthesizeClip(alone, 1));
  });

  test('every planned file parses with the corpus adapters to the same labels', () => {
    const plan = planCorpus({ corpus: 'bundle', speakers: 91, clipsPerClass: 3 });
    for (const clip of plan) {
      const parsed = parseClipPath(clip.path);
      if (!parsed.ok) throw new Error(`${clip.path}: ${parsed.reason}`);
      expect(parsed.labels).toMatchObject({ corpus: clip.corpus, speaker: clip.speaker, emotion: clip.emotion });
      if (parsed.labels.gender !== null) expect(parsed.labels.gender).toBe(clip.gender);
    }
  });

  test('durations vary within +-25% of the nominal length; planning is deterministic', () => {
    const options: SynthOptions = { corpus: 'bundle', speakers: 4, clipsPerClass: 2, seconds: 1.6 };
    const plan = planCorpus(options);
    for (const clip of plan) {
      expect(clip.seconds).toBeGreaterThanOrEqual(0.75 * 1.6);
      expect(clip.seconds).toBeLessThanOrEqual(1.25 * 1.6);
      // A whole number of samples.
      expect(Math.abs(clip.seconds * clip.sampleRate - Math.round(clip.seconds * clip.sampleRate))).toBeLessThan(1e-6);
    }
    expect(new Set(plan.map((c) => c.seconds)).size).toBeGreaterThan(plan.length / 2);
    expect(planCorpus(options)).toEqual(plan);
    expect(planCorpus({ corpus: 'bundle', speakers: 4, clipsPerClass: 2 }).every((c) => c.seconds >= 1.5 && c.seconds <= 2.5)).toBe(true);
  });
});

describe('synthesizeCorpus writes decodable, deterministic 16-bit WAVs', () => {
  const options: SynthOptions = { corpus: 'bundle', speakers: 1, clipsPerClass: 1, seconds: 0.6, seed: 5 };
  let first: string;
  let summary: ReturnType<typeof synthesizeCorpus>;
  const progress: [number, number][] = [];

  beforeAll(() => {
    first = newDir('a');
    summary = synthesizeCorpus(first, options, (done, total) => progress.push([done, total]));
  });

  test('the summary lists what the plan said, with progress after every clip', () => {
    const plan = planCorpus(options);
    expect(summary.files).toEqual(plan);
    expect(summary.clips).toBe(plan.length);
    expect(summary.dir).toBe(path.resolve(first));
    expect(summary.seconds).toBeCloseTo(plan.reduce((s, c) => s + c.seconds, 0), 9);
    expect(progress).toHaveLength(plan.length);
    expect(progress[progress.length - 1]).toEqual([plan.length, plan.length]);
    expect(listFiles(first)).toEqual(plan.map((c) => c.path).sort());
  });

  test('each file decodes as 16-bit mono at the corpus rate, with the planned length', () => {
    for (const clip of summary.files) {
      const wav = native.decodeWav(fs.readFileSync(path.join(first, clip.path)));
      expect(wav).toMatchObject({ sampleRate: clip.sampleRate, channels: 1, bitsPerSample: 16, sampleFormat: 'pcm' });
      expect(wav.samples.length).toBe(Math.round(clip.seconds * clip.sampleRate));
      const seconds = wav.samples.length / wav.sampleRate;
      expect(seconds).toBeGreaterThanOrEqual(0.75 * 0.6 - 1e-9);
      expect(seconds).toBeLessThanOrEqual(1.25 * 0.6 + 1e-9);
      let peak = 0;
      for (const v of wav.samples) peak = Math.max(peak, Math.abs(v));
      expect(peak).toBeLessThanOrEqual(0.951);
      expect(peak).toBeGreaterThan(0.01);
      // Leading silence: the first 40 ms is background noise only, far below the utterance.
      const lead = wav.samples.subarray(0, Math.round(0.04 * wav.sampleRate));
      expect(rmsDb(lead)).toBeLessThan(rmsDb(wav.samples) - 25);
    }
    expect(new Set(summary.files.map((c) => c.sampleRate))).toEqual(new Set([48000, 16000, 24414, 44100]));
  });

  test('the same options give byte-identical files; another seed gives different bytes', () => {
    const second = newDir('b');
    synthesizeCorpus(second, options);
    const other = newDir('c');
    synthesizeCorpus(other, { ...options, seed: 6 });
    for (const clip of summary.files) {
      const a = fs.readFileSync(path.join(first, clip.path));
      expect(fs.readFileSync(path.join(second, clip.path)).equals(a)).toBe(true);
    }
    const differing = summary.files.filter((clip) => {
      const file = path.join(other, clip.path);
      return !fs.existsSync(file) || !fs.readFileSync(file).equals(fs.readFileSync(path.join(first, clip.path)));
    });
    expect(differing).toHaveLength(summary.files.length);
  });

  test('synthesizeClip is the file content before 16-bit rounding', () => {
    const clip = summary.files[0];
    const samples = synthesizeClip(clip, 5);
    const wav = native.decodeWav(fs.readFileSync(path.join(first, clip.path)));
    let worst = 0;
    for (let i = 0; i < samples.length; i++) worst = Math.max(worst, Math.abs(samples[i] - wav.samples[i]));
    expect(worst).toBeLessThanOrEqual(1 / 32768 + 1e-7);
    expect(samples.every((v) => Number.isFinite(v) && Math.abs(v) < 1)).toBe(true);
  });
});

describe('emotions change the signal', () => {
  test('angry, happy and surprised are higher pitched than sad and calm for each speaker; women higher than men', () => {
    const plan = planCorpus({ corpus: 'ravdess', speakers: 4, clipsPerClass: 3, seconds: 1.5 }).filter((c) =>
      ['angry', 'happy', 'surprised', 'sad', 'calm', 'neutral'].includes(c.emotion),
    );
    const f0 = new Map<SynthClip, number>();
    for (const clip of plan) f0.set(clip, medianF0(synthesizeClip(clip, 1), clip.sampleRate));
    const differences: number[] = [];
    for (const speaker of new Set(plan.map((c) => c.speaker))) {
      const semitones = (emotions: string[]) =>
        mean(plan.filter((c) => c.speaker === speaker && emotions.includes(c.emotion)).map((c) => 12 * Math.log2(f0.get(c) as number)));
      differences.push(semitones(['angry', 'happy', 'surprised']) - semitones(['sad', 'calm']));
    }
    expect(differences.every((d) => Number.isFinite(d))).toBe(true);
    expect(mean(differences)).toBeGreaterThan(2.5);
    expect(differences.filter((d) => d > 0).length).toBeGreaterThanOrEqual(3);
    const neutral = (gender: string) => mean(plan.filter((c) => c.emotion === 'neutral' && c.gender === gender).map((c) => f0.get(c) as number));
    expect(neutral('female')).toBeGreaterThan(1.35 * neutral('male'));
  });

  test('sad clips are longer than fearful ones', () => {
    const plan = planCorpus({ corpus: 'ravdess', speakers: 24, clipsPerClass: 4 });
    const seconds = (emotion: Emotion) => mean(plan.filter((c) => c.emotion === emotion).map((c) => c.seconds));
    expect(seconds('sad')).toBeGreaterThan(1.15 * seconds('fearful'));
    expect(seconds('sad')).toBeGreaterThan(seconds('neutral'));
    expect(seconds('fearful')).toBeLessThan(seconds('neutral'));
  });

  test('angry is louder and brighter than sad on average, but loudness alone does not separate classes', () => {
    const plan = planCorpus({ corpus: 'crema', speakers: 20, clipsPerClass: 2, seconds: 1.2 });
    const stats = new Map<SynthClip, { rms: number; bright: number }>();
    for (const clip of plan) {
      const x = synthesizeClip(clip, 1);
      stats.set(clip, { rms: rmsDb(x), bright: highBandShare(x, clip.sampleRate) });
    }
    const values = (emotion: Emotion, key: 'rms' | 'bright') =>
      plan.filter((c) => c.emotion === emotion).map((c) => (stats.get(c) as { rms: number; bright: number })[key]);
    expect(mean(values('angry', 'rms'))).toBeGreaterThan(mean(values('sad', 'rms')) + 4);
    expect(mean(values('angry', 'bright'))).toBeGreaterThan(1.5 * mean(values('sad', 'bright')));
    const overlap = (a: Emotion, b: Emotion) => {
      const x = values(a, 'rms');
      const y = values(b, 'rms');
      return Math.min(Math.max(...x), Math.max(...y)) - Math.max(Math.min(...x), Math.min(...y));
    };
    // The RMS ranges (dB) of these pairs overlap by several dB.
    expect(overlap('angry', 'sad')).toBeGreaterThan(3);
    expect(overlap('happy', 'neutral')).toBeGreaterThan(6);
    expect(overlap('fearful', 'disgust')).toBeGreaterThan(6);
  });
});

describe('bad options', () => {
  test.each<[Record<string, unknown>, RegExp]>([
    [{ corpus: 'foo' }, /corpus must be one of ravdess, crema, tess, savee, bundle/],
    [{ corpus: 'ravdess', speakers: 0 }, /speakers must be a positive integer/],
    [{ corpus: 'ravdess', speakers: 2.5 }, /speakers must be a positive integer/],
    [{ corpus: 'ravdess', speakers: 25 }, /speakers must be at most 24 for ravdess/],
    [{ corpus: 'crema', speakers: 92 }, /speakers must be at most 91 for crema/],
    [{ corpus: 'tess', speakers: 3 }, /speakers must be at most 2 for tess/],
    [{ corpus: 'savee', speakers: 5 }, /speakers must be at most 4 for savee/],
    [{ corpus: 'bundle', speakers: 92 }, /speakers must be at most 91 for the bundle/],
    [{ corpus: 'ravdess', clipsPerClass: 0 }, /clipsPerClass must be a positive integer/],
    [{ corpus: 'ravdess', clipsPerClass: 9 }, /clipsPerClass must be at most 8 for ravdess/],
    [{ corpus: 'crema', clipsPerClass: 15 }, /clipsPerClass must be at most 14 for crema/],
    [{ corpus: 'tess', clipsPerClass: 201 }, /clipsPerClass must be at most 200 for tess/],
    [{ corpus: 'savee', clipsPerClass: 31 }, /clipsPerClass must be at most 30 for savee/],
    [{ corpus: 'savee', seconds: 0.4 }, /seconds must be a number from 0.5 to 10/],
    [{ corpus: 'savee', seconds: 10.5 }, /seconds must be a number from 0.5 to 10/],
    [{ corpus: 'savee', seconds: Number.NaN }, /seconds must be a number from 0.5 to 10/],
    [{ corpus: 'savee', seed: -1 }, /seed must be a non-negative integer/],
    [{ corpus: 'savee', seed: 0.5 }, /seed must be a non-negative integer/],
  ])('%p', (options, message) => {
    expect(() => planCorpus(options as unknown as SynthOptions)).toThrow(message);
    const dir = path.join(newDir('bad'), 'out');
    expect(() => synthesizeCorpus(dir, options as unknown as SynthOptions)).toThrow(message);
    expect(fs.existsSync(dir)).toBe(false);
  });
});

test('defaults: 4 speakers (TESS 2), 2 clips per class, ~2 s, seed 1', () => {
  expect(planCorpus({ corpus: 'savee' })).toEqual(planCorpus({ corpus: 'savee', speakers: 4, clipsPerClass: 2, seconds: 2, seed: 1 }));
  expect(planCorpus({ corpus: 'tess' })).toHaveLength(2 * 7 * 2);
  expect(planCorpus({ corpus: 'bundle' })).toHaveLength(4 * 8 * 2 + 4 * 6 * 2 + 2 * 7 * 2 + 4 * 7 * 2);
});

test('synthesizeClip rejects a clip it cannot render', () => {
  const clip = planCorpus({ corpus: 'crema', speakers: 1, clipsPerClass: 1 })[0];
  expect(() => synthesizeClip({ ...clip, sampleRate: 100 }, 1)).toThrow(/sampleRate must be an integer from 8000/);
  expect(() => synthesizeClip({ ...clip, seconds: 0 }, 1)).toThrow(/seconds must be in/);
  expect(() => synthesizeClip(clip, -2)).toThrow(/seed must be a non-negative integer/);
  expect(() => synthesizeClip({ ...clip, emotion: 'bored' as Emotion }, 1)).toThrow(/emotion must be one of/);
});

describe('ser synth (command object, in-process)', () => {
  async function run(args: string[]): Promise<string> {
    const program = new Command('ser').exitOverride();
    const command = synthCommand().exitOverride();
    program.addCommand(command);
    const writes: string[] = [];
    const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await program.parseAsync(['synth', ...args], { from: 'user' });
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
    return writes.join('');
  }

  test('--json prints the summary without files, with clips per corpus', async () => {
    const dir = newDir('cli');
    const stdout = await run([dir, '--corpus', 'savee', '--speakers', '2', '--clips-per-class', '1', '--seconds', '0.5', '--json']);
    const summary = JSON.parse(stdout);
    expect(summary).toEqual({ dir: path.resolve(dir), clips: 14, seconds: expect.any(Number), corpora: { savee: 14 } });
    expect(listFiles(dir)).toHaveLength(14);
    const text = await run([newDir('cli2'), '--corpus', 'tess', '--speakers', '1', '--clips-per-class', '1', '--seconds', '0.5']);
    expect(text).toMatch(/^wrote 7 clips \([\d.]+ s of audio\) to .+ in [\d.]+ s\n$/);
  });

  test('bad values are usage errors naming the flag', async () => {
    await expect(run([newDir('cli3'), '--speakers', '0'])).rejects.toThrow(OptionsError);
    await expect(run([newDir('cli3'), '--corpus', 'tess', '--speakers', '3'])).rejects.toThrow(/--speakers must be at most 2/);
    await expect(run([newDir('cli3'), '--clips-per-class', '500'])).rejects.toThrow(/--clips-per-class must be at most 200/);
    await expect(run([newDir('cli3'), '--seconds', '20'])).rejects.toThrow(/--seconds must be a number from 0.5 to 10/);
    await expect(run([newDir('cli3'), '--corpus', 'timit'])).rejects.toThrow(/Allowed choices/);
  });
});
