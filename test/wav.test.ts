// WAV decoding: every supported layout round-trips from files written here; malformed files raise an
// Error that names the problem; no input, however broken, takes the process down.
import { types } from 'util';

import { native } from '../src/native';
import { chunk, dataBody, fmtBody, riff, writeWav, type WavEncoding } from './helpers/wav-writer';

const FRAMES = 257;

// Integer codes spanning the full range, and the float value soundfile would give for each.
function pcmCodes(bits: 8 | 16 | 24 | 32, count: number): { codes: number[]; values: number[] } {
  const full = 2 ** (bits - 1);
  const codes: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < count; i++) {
    const signed = Math.round(Math.sin(i * 0.37) * (full - 1)) + (i === 0 ? -1 : 0);
    codes.push(bits === 8 ? signed + 128 : signed);
    values.push(signed / full);
  }
  return { codes, values };
}

function expectClose(actual: Float32Array, expected: number[], tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  expected.forEach((v, i) => (worst = Math.max(worst, Math.abs(actual[i] - v))));
  expect(worst).toBeLessThanOrEqual(tolerance);
}

describe('supported layouts round-trip', () => {
  const pcmCases: [8 | 16 | 24 | 32, boolean][] = [
    [8, false], [16, false], [24, false], [32, false], [16, true], [24, true], [32, true],
  ];
  test.each(pcmCases)('PCM %i-bit, extensible=%s', (bits, extensible) => {
    const { codes, values } = pcmCodes(bits, FRAMES);
    const bytes = writeWav({ sampleRate: 22050, channels: 1, encoding: { format: 'pcm', bits }, codes, extensible });
    const wav = native.decodeWav(bytes);
    expect(wav).toMatchObject({ sampleRate: 22050, channels: 1, bitsPerSample: bits, sampleFormat: 'pcm' });
    // float32 holds 24 significant bits: exact up to 24-bit, one float ulp at 32-bit.
    expectClose(wav.samples, values, bits === 32 ? 6e-8 : 0);
  });

  test.each([[32, false], [64, false], [32, true], [64, true]] as [32 | 64, boolean][])(
    'IEEE float %i-bit, extensible=%s',
    (bits, extensible) => {
      const values = Array.from({ length: FRAMES }, (_, i) => Math.fround(Math.cos(i * 0.11) * 0.9));
      const bytes = writeWav({ sampleRate: 44100, channels: 1, encoding: { format: 'float', bits }, codes: values, extensible });
      const wav = native.decodeWav(bytes);
      expect(wav).toMatchObject({ sampleRate: 44100, bitsPerSample: bits, sampleFormat: 'float' });
      expectClose(wav.samples, values, 0);
    },
  );

  test.each([2, 3, 6])('%i channels mix to the mean', (channels) => {
    const frames = 100;
    const codes: number[] = [];
    const expected: number[] = [];
    for (let f = 0; f < frames; f++) {
      let sum = 0;
      for (let c = 0; c < channels; c++) {
        const code = (f * 37 + c * 1000) % 20000 - 10000;
        codes.push(code);
        sum += code / 32768;
      }
      expected.push(sum / channels);
    }
    const wav = native.decodeWav(writeWav({ sampleRate: 16000, channels, encoding: { format: 'pcm', bits: 16 }, codes }));
    expect(wav.channels).toBe(channels);
    expectClose(wav.samples, expected, 1e-7);
  });

  test('unknown chunks are skipped, including odd-sized ones with their pad byte', () => {
    const { codes, values } = pcmCodes(16, 50);
    const bytes = writeWav({
      sampleRate: 16000, channels: 1, encoding: { format: 'pcm', bits: 16 }, codes,
      leadingChunks: [{ id: 'LIST', body: Buffer.from('abc') }, { id: 'junk', body: Buffer.alloc(7) }],
    });
    expectClose(native.decodeWav(bytes).samples, values, 0);
  });

  test('a trailing partial frame is dropped, trailing chunks after data are fine', () => {
    const encoding: WavEncoding = { format: 'pcm', bits: 16 };
    const spec = { sampleRate: 8000, channels: 2, encoding };
    const data = Buffer.concat([dataBody(encoding, [1, 2, 3, 4, 5]), Buffer.alloc(0)]);
    const bytes = riff([chunk('fmt ', fmtBody(spec)), chunk('data', data), chunk('LIST', Buffer.from('tail'))]);
    expect(native.decodeWav(bytes).samples.length).toBe(2);
  });

  test('encodeWav16 output decodes back within one quantisation step', () => {
    const samples = Float32Array.from({ length: 500 }, (_, i) => Math.sin(i / 10) * 0.8);
    const wav = native.decodeWav(native.encodeWav16(samples, 16000));
    expect(wav).toMatchObject({ sampleRate: 16000, channels: 1, bitsPerSample: 16 });
    expectClose(wav.samples, Array.from(samples), 0.5 / 32768 + 1e-9);
  });
});

describe('malformed files raise an Error naming the problem', () => {
  const pcm16: WavEncoding = { format: 'pcm', bits: 16 };
  const good = writeWav({ sampleRate: 16000, channels: 1, encoding: pcm16, codes: [1, 2, 3, 4] });
  const withFmt = (patch: (fmt: Buffer) => void) => {
    const fmt = fmtBody({ sampleRate: 16000, channels: 1, encoding: pcm16 });
    patch(fmt);
    return riff([chunk('fmt ', fmt), chunk('data', dataBody(pcm16, [1, 2, 3, 4]))]);
  };
  const floatWithNaN = writeWav({ sampleRate: 16000, channels: 1, encoding: { format: 'float', bits: 32 }, codes: [0.1, NaN, 0.2] });
  const doubleWithInf = writeWav({ sampleRate: 16000, channels: 1, encoding: { format: 'float', bits: 64 }, codes: [0.1, 0.2, Infinity] });
  const oversizedData = Buffer.from(good);
  oversizedData.writeUInt32LE(1000, good.length - 8 - 4);

  const cases: [string, Buffer, RegExp][] = [
    ['empty file', Buffer.alloc(0), /file is empty/],
    ['shorter than a RIFF header', good.subarray(0, 8), /too short/],
    ['truncated inside the fmt chunk', good.subarray(0, 30), /'fmt ' chunk at byte 12 claims 16 bytes .*truncated/],
    ['not RIFF', Buffer.from('OggS'.repeat(10)), /not a RIFF file/],
    ['RIFF but not WAVE', Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('AVI ')]), /not WAVE/],
    ['no fmt chunk', riff([chunk('data', Buffer.alloc(8))]), /no fmt chunk/],
    ['no data chunk', riff([chunk('fmt ', fmtBody({ sampleRate: 16000, channels: 1, encoding: pcm16 }))]), /no data chunk/],
    ['zero channels', withFmt((f) => f.writeUInt16LE(0, 2)), /zero channels/],
    ['zero sample rate', withFmt((f) => f.writeUInt32LE(0, 4)), /sample rate is zero/],
    ['unsupported format code', withFmt((f) => f.writeUInt16LE(2, 0)), /unsupported WAV format code 0x0002 \(MS ADPCM\)/],
    ['unsupported PCM width', withFmt((f) => f.writeUInt16LE(12, 14)), /unsupported PCM sample size: 12 bits/],
    ['block align that does not fit', withFmt((f) => f.writeUInt16LE(3, 12)), /block align is 3/],
    ['data chunk size beyond the file', oversizedData, /'data' chunk .* claims 1000 bytes but only 8 remain/],
    ['NaN float32 sample', floatWithNaN, /non-finite sample \(NaN\) at frame 1/],
    ['Inf float64 sample', doubleWithInf, /non-finite sample \(Inf\) at frame 2/],
  ];
  test.each(cases)('%s', (_name, bytes, message) => {
    expect(() => native.decodeWav(bytes)).toThrow(message);
  });

  test('non-buffer arguments are rejected, not dereferenced', () => {
    expect(() => (native.decodeWav as (x: unknown) => unknown)('a string')).toThrow(/must be a Uint8Array/);
    expect(() => (native.decodeWav as (x: unknown) => unknown)(undefined)).toThrow(/must be a Uint8Array/);
  });
});

describe('no crash on damaged input', () => {
  test('every truncation and 2000 random byte flips of a valid file either decode or throw', () => {
    const base = writeWav({
      sampleRate: 16000, channels: 2, encoding: { format: 'pcm', bits: 24 }, codes: pcmCodes(24, 64).codes,
      extensible: true, leadingChunks: [{ id: 'LIST', body: Buffer.from('xyz') }],
    });
    let thrown = 0;
    const attempt = (bytes: Buffer) => {
      try {
        native.decodeWav(bytes);
      } catch (error) {
        // The addon's errors come from another realm: check the kind, not the constructor identity.
        expect(types.isNativeError(error)).toBe(true);
        thrown++;
      }
    };
    for (let len = 0; len < base.length; len++) attempt(base.subarray(0, len));
    let seed = 12345;
    for (let i = 0; i < 2000; i++) {
      const damaged = Buffer.from(base);
      for (let j = 0; j < 3; j++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        damaged[seed % Math.min(damaged.length, 120)] = seed >>> 24;
      }
      attempt(damaged);
    }
    expect(thrown).toBeGreaterThan(base.length / 2);
  });
});
