// WAV output for the library and `ser augment`: 16-bit PCM, written atomically.
import { writeFileAtomic } from '../io/atomic';
import { OptionsError } from '../errors';
import { native } from '../native';

/** Mono samples (clipped to [-1, 1]) as the bytes of a 16-bit PCM WAV file. */
export function encodeWav16(samples: Float32Array, sampleRate: number): Uint8Array {
  if (!(samples instanceof Float32Array)) throw new OptionsError('samples must be a Float32Array');
  if (!Number.isInteger(sampleRate) || sampleRate < 1) throw new OptionsError(`sampleRate must be a positive integer, got ${sampleRate}`);
  return native.encodeWav16(samples, sampleRate);
}

/** Writes mono samples as a 16-bit PCM WAV file (temporary file, then rename). */
export function writeWav16(file: string, samples: Float32Array, sampleRate: number): void {
  writeFileAtomic(file, encodeWav16(samples, sampleRate));
}
