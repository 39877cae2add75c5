// Long recordings: features streamed a block at a time equal the whole-file computation, for every
// WAV format, for rates that need resampling, at and around block edges, with and without centring;
// standard input with the data sizes pipes leave; and peak memory that does not grow with the length.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { loadNpy } from './helpers/npy-reader';
import { CLI, ROOT, tempDir } from './helpers/paths';
import { chunk, dataBody, fmtBody, riff, writeWav, type WavEncoding } from './helpers/wav-writer';
import { resolveFeatureConfig, type FeatureOptions } from '../src/features/config';
import { native } from '../src/native';

const work = tempDir('stream');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** A speech-like test signal: two tones with a slow envelope and a little noise, in [-0.9, 0.9]. */
function signal(frames: number, channels: number, rate: number, seed: number): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < frames; i++) {
    const t = i / rate;
    const envelope = 0.5 + 0.4 * Math.sin(2 * Math.PI * 1.3 * t);
    for (let c = 0; c < channels; c++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const noise = (s / 2 ** 32 - 0.5) * 0.05;
      out.push(envelope * (0.6 * Math.sin(2 * Math.PI * (180 + 40 * c) * t) + 0.3 * Math.sin(2 * Math.PI * 1250 * t)) + noise);
    }
  }
  return out;
}

function codes(values: number[], encoding: WavEncoding): number[] {
  if (encoding.format === 'float') return values;
  const scale = 2 ** (encoding.bits - 1);
  return values.map((v) => {
    const code = Math.max(-scale, Math.min(scale - 1, Math.round(v * scale)));
    return encoding.bits === 8 ? code + 128 : code;
  });
}

function streamed(bytes: Uint8Array, options: FeatureOptions, blockBytes: number): { data: Float32Array; frames: number } {
  const stream = new native.FeatureStream(resolveFeatureConfig(options));
  const parts: Float32Array[] = [];
  for (let at = 0; at < bytes.length; at += blockBytes) parts.push(stream.push(bytes.subarray(at, at + blockBytes)));
  parts.push(stream.finish());
  const unfloored = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    unfloored.set(p, offset);
    offset += p.length;
  }
  return { data: stream.finishRows(unfloored), frames: stream.info().frames };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const ENCODINGS: WavEncoding[] = [
  { format: 'pcm', bits: 8 }, { format: 'pcm', bits: 16 }, { format: 'pcm', bits: 24 }, { format: 'pcm', bits: 32 },
  { format: 'float', bits: 32 }, { format: 'float', bits: 64 },
];

describe('streamed features equal the whole-file features', () => {
  // Rates that resample (22.05, 44.1 and 48 kHz to 16 kHz) and one that does not.
  const cases: [WavEncoding, number, number][] = [];
  ENCODINGS.forEach((encoding, i) => cases.push([encoding, [16000, 22050, 44100, 48000][i % 4], 1 + (i % 2)]));
  cases.push([{ format: 'pcm', bits: 16 }, 22050, 2], [{ format: 'pcm', bits: 16 }, 44100, 1], [{ format: 'float', bits: 32 }, 48000, 2]);

  test.each(cases)('%o at %i Hz, %i channel(s)', (encoding, rate, channels) => {
    const frames = Math.round(rate * 1.3) + 7;
    const bytes = writeWav({ sampleRate: rate, channels, encoding, codes: codes(signal(frames, channels, rate, rate + channels), encoding) });
    const blockAlign = channels * (encoding.bits / 8);
    for (const center of [true, false]) {
      for (const kind of ['mfcc', 'logmel', 'power'] as const) {
        const options: FeatureOptions = { kind, center };
        const whole = native.wavToFeatures(bytes, resolveFeatureConfig(options));
        // Blocks that cut inside the header, inside a sample frame, exactly at frame edges, and the whole file.
        for (const block of [1 + (rate % 5), 7 * blockAlign + 3, 4096, 4096 * blockAlign, bytes.length]) {
          const got = streamed(bytes, options, block);
          expect(got.frames).toBe(whole.frames);
          expect(maxAbsDiff(got.data, whole.data)).toBeLessThanOrEqual(1e-5);
        }
      }
    }
  });

  test('lengths at and around the frame and filter edges, 48 kHz to 16 kHz', () => {
    const encoding: WavEncoding = { format: 'pcm', bits: 16 };
    // 16 kHz lengths hop * k and hop * k +- 1 (after 3:1 decimation), and around nFft without centring.
    for (const samples16k of [512, 513, 511, 160 * 40, 160 * 40 + 1, 160 * 40 - 1, 16000]) {
      const frames = samples16k * 3 + (samples16k % 3);
      const bytes = writeWav({ sampleRate: 48000, channels: 1, encoding, codes: codes(signal(frames, 1, 48000, frames), encoding) });
      for (const center of [true, false]) {
        const options: FeatureOptions = { center };
        const whole = native.wavToFeatures(bytes, resolveFeatureConfig(options));
        for (const block of [2, 3 * 2 * 160, 1000, bytes.length]) {
          const got = streamed(bytes, options, block);
          expect([samples16k, center, block, got.frames]).toEqual([samples16k, center, block, whole.frames]);
          expect(maxAbsDiff(got.data, whole.data)).toBeLessThanOrEqual(1e-5);
        }
      }
    }
  });

  test('errors match the whole-file decoder: not a WAV, truncated data, too few samples', () => {
    const config = resolveFeatureConfig({ center: false });
    const finishWith = (bytes: Uint8Array) => () => {
      const stream = new native.FeatureStream(config);
      stream.push(bytes);
      stream.finish();
    };
    expect(finishWith(Buffer.from('not a wav file at all'))).toThrow(/not a RIFF file/);
    const good = writeWav({ sampleRate: 16000, channels: 1, encoding: { format: 'pcm', bits: 16 }, codes: codes(signal(4000, 1, 16000, 1), { format: 'pcm', bits: 16 }) });
    expect(finishWith(good.subarray(0, good.length - 100))).toThrow(/truncated/);
    expect(finishWith(good.subarray(0, 30))).toThrow(/'fmt ' chunk at byte 12 claims 16 bytes but only 10 remain/);
    const tiny = writeWav({ sampleRate: 16000, channels: 1, encoding: { format: 'pcm', bits: 16 }, codes: [1, 2, 3] });
    expect(finishWith(tiny)).toThrow(/fewer than nFft/);
    const nan = writeWav({ sampleRate: 16000, channels: 1, encoding: { format: 'float', bits: 32 }, codes: [0, NaN, 0] });
    expect(finishWith(nan)).toThrow(/non-finite sample \(NaN\) at frame 1/);
  });
});

describe('decoded samples are finite or refused', () => {
  test('float64 beyond the float32 range and float32 channels whose sum would overflow', () => {
    const huge = writeWav({ sampleRate: 16000, channels: 1, encoding: { format: 'float', bits: 64 }, codes: [0, 1e300, 0] });
    expect(() => native.decodeWav(huge)).toThrow(/beyond the float32 range/);
    // Two channels of 3e38: their float32 sum is Inf, their mean is finite.
    const loud = writeWav({ sampleRate: 16000, channels: 2, encoding: { format: 'float', bits: 32 }, codes: [3e38, 3e38, 0, 0] });
    const decoded = native.decodeWav(loud);
    expect(Array.from(decoded.samples)).toEqual([Math.fround(3e38), 0]);
    const inf = writeWav({ sampleRate: 16000, channels: 1, encoding: { format: 'float', bits: 64 }, codes: [0, Infinity] });
    expect(() => native.decodeWav(inf)).toThrow(/non-finite sample \(Inf\) at frame 1/);
  });
});

describe('ser features reads standard input', () => {
  const encoding: WavEncoding = { format: 'pcm', bits: 16 };
  const rate = 44100;
  const samples = codes(signal(rate * 2 + 11, 2, rate, 3), encoding);
  const file = path.join(work, 'stdin-source.wav');
  const withDataSize = (size: number): Buffer => {
    const bytes = riff([chunk('fmt ', fmtBody({ sampleRate: rate, channels: 2, encoding })), chunk('data', dataBody(encoding, samples))]);
    const dataAt = bytes.indexOf('data', 12, 'latin1');
    bytes.writeUInt32LE(size, dataAt + 4);
    return bytes;
  };

  test.each([['the real size', -1], ['a data size of 0', 0], ['a data size of 0xFFFFFFFF', 0xffffffff]])('with %s, equal to the file', (_name, size) => {
    fs.writeFileSync(file, withDataSize(samples.length * 2));
    const expected = spawnSync(process.execPath, [CLI, 'features', file, '-o', path.join(work, 'from-file.npy')], { encoding: 'utf8' });
    expect(expected.status).toBe(0);
    const input = size === -1 ? withDataSize(samples.length * 2) : withDataSize(size as number);
    const out = path.join(work, `from-stdin-${size}.npy`);
    const run = spawnSync(process.execPath, [CLI, 'features', '-', '-o', out, '--json'], { input, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ sourceSampleRate: rate, frames: loadNpy(out).shape[0] });
    expect(fs.readFileSync(out).equals(fs.readFileSync(path.join(work, 'from-file.npy')))).toBe(true);
  });

  test('bad bytes on standard input exit 1 naming <stdin>', () => {
    const run = spawnSync(process.execPath, [CLI, 'features', '-', '--json'], { input: Buffer.from('garbage, not RIFF'), encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/<stdin>: not a RIFF file/);
  });
});

describe('peak memory', () => {
  /** Runs ser features on a WAV written to its standard input by a generator; returns the peak RSS in MiB. */
  async function peakRss(seconds: number, out: string): Promise<{ rssMiB: number; frames: number }> {
    const generator = `
      const rate = 16000, total = ${seconds} * rate;
      const header = Buffer.alloc(44);
      header.write('RIFF', 0); header.writeUInt32LE(0xffffffff, 4); header.write('WAVE', 8); header.write('fmt ', 12);
      header.writeUInt32LE(16, 16); header.writeUInt16LE(1, 20); header.writeUInt16LE(1, 22); header.writeUInt32LE(rate, 24);
      header.writeUInt32LE(rate * 2, 28); header.writeUInt16LE(2, 32); header.writeUInt16LE(16, 34); header.write('data', 36);
      header.writeUInt32LE(0xffffffff, 40);
      const fs = require('fs');
      fs.writeSync(1, header);
      // One second of a tone under a slow envelope with noise, repeated: the content does not matter here.
      const second = Buffer.alloc(rate * 2);
      let s = 1;
      for (let i = 0; i < rate; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        second.writeInt16LE(Math.round(8000 * Math.sin(2 * Math.PI * 220 * i / rate) * (0.5 + 0.5 * Math.sin(i / rate)) + (s >>> 24) - 128), 2 * i);
      }
      for (let at = 0; at < total; at += rate) {
        let off = 0;
        while (off < second.length) { try { off += fs.writeSync(1, second, off, second.length - off); } catch (e) { if (e.code !== 'EAGAIN') throw e; } }
      }`;
    // The CLI's main, then its peak RSS (all threads) on stderr's last line.
    const runner = `require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'cli', 'index.js'))}).main(process.argv.slice(1)).then((code) => {
      process.stderr.write('maxrss ' + ((/VmHWM:\\s+(\\d+) kB/.exec(require('fs').readFileSync('/proc/self/status','utf8'))||[])[1]||process.resourceUsage().maxRSS) + '\\n'); process.exitCode = code; });`;
    const gen = spawn(process.execPath, ['-e', generator], { stdio: ['ignore', 'pipe', 'inherit'] });
    const ser = spawn(process.execPath, ['-e', runner, 'features', '-', '-o', out, '--json', '--n-mels', '40', '--n-mfcc', '13'], { stdio: ['pipe', 'pipe', 'pipe'] });
    gen.stdout.pipe(ser.stdin);
    let stdout = '';
    let stderr = '';
    ser.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    ser.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => ser.on('close', resolve));
    if (code !== 0) throw new Error(`ser features exited ${code}: ${stderr}`);
    const kib = Number(/maxrss (\d+)/.exec(stderr)?.[1]);
    return { rssMiB: kib / 1024, frames: JSON.parse(stdout).frames as number };
  }

  test('a 2-hour recording peaks within 64 MiB of a 3-second one', async () => {
    const short = await peakRss(3, path.join(work, 'short.npy'));
    const long = await peakRss(2 * 3600, path.join(work, 'long.npy'));
    expect(long.frames).toBe(1 + 2 * 3600 * 100);
    expect(loadNpy(path.join(work, 'long.npy')).shape).toEqual([long.frames, 13]);
    fs.rmSync(path.join(work, 'long.npy'));
    // Measured here: about 30 MiB more (thread stacks, block buffers, the second pass's rows).
    expect(long.rssMiB - short.rssMiB).toBeLessThan(64);
  }, 120_000);
});

test('a released stream refuses every further call with a clear error', () => {
  const wav = writeWav({ sampleRate: 16000, channels: 1, encoding: { format: 'pcm', bits: 16 }, codes: Array.from({ length: 16000 }, (_, i) => (i * 37) % 2000 - 1000) });
  const features = new native.FeatureStream(resolveFeatureConfig());
  features.push(wav);
  features.release();
  expect(() => features.push(wav)).toThrow('the FeatureStream has been released');
  expect(() => features.finish()).toThrow('the FeatureStream has been released');
  expect(() => features.info()).toThrow('the FeatureStream has been released');
  expect(() => features.keptFeatures()).toThrow('the FeatureStream has been released');
  expect(() => features.finishRows(new Float32Array(64))).toThrow('the FeatureStream has been released');
  const audio = new native.AudioStream(16000);
  expect(audio.push(wav).length).toBeGreaterThan(0);
  audio.release();
  expect(() => audio.push(wav)).toThrow('the AudioStream has been released');
  expect(() => audio.finish()).toThrow('the AudioStream has been released');
  expect(() => audio.info()).toThrow('the AudioStream has been released');
});

test('rows kept in the stream come out as the whole file\'s features, bit for bit, only after finish', () => {
  const wav = writeWav({ sampleRate: 48000, channels: 1, encoding: { format: 'pcm', bits: 16 }, codes: Array.from({ length: 3 * 48000 }, (_, i) => Math.round(8000 * Math.sin(i * 0.031) + 500 * Math.sin(i * 1.7))) });
  const config = resolveFeatureConfig();
  const stream = new native.FeatureStream(config);
  for (let at = 0; at < wav.length; at += 4099) expect(stream.push(wav.subarray(at, at + 4099), true)).toBeNull();
  expect(() => stream.keptFeatures()).toThrow('the floor is known only after finish');
  expect(stream.finish(true)).toBeNull();
  const kept = stream.keptFeatures();
  const whole = native.wavToFeatures(wav, config);
  expect(kept.length).toBe(whole.data.length);
  expect(kept.every((v, i) => v === whole.data[i])).toBe(true);
  // The rows were dropped with the features: a second call has none.
  expect(stream.keptFeatures().length).toBe(0);
  expect(() => stream.push(wav, 'yes' as unknown as true)).toThrow('keepRows must be a boolean');
  stream.release();
});
