// Writes WAV files in every layout the decoder must read, from integer or float sample codes,
// written independently of native/dsp/wav.cc so the tests check the decoder against the format itself.

export type WavEncoding =
  | { format: 'pcm'; bits: 8 | 16 | 24 | 32 }
  | { format: 'float'; bits: 32 | 64 };

export interface WavSpec {
  sampleRate: number;
  channels: number;
  encoding: WavEncoding;
  /** Interleaved sample codes: integers for PCM (unsigned for 8-bit), floats for IEEE float. */
  codes: number[];
  extensible?: boolean;
  /** Chunks written before fmt (e.g. LIST with an odd size). */
  leadingChunks?: { id: string; body: Buffer }[];
}

function chunk(id: string, body: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.write(id, 0, 'latin1');
  header.writeUInt32LE(body.length, 4);
  const pad = body.length % 2 === 1 ? Buffer.alloc(1) : Buffer.alloc(0);
  return Buffer.concat([header, body, pad]);
}

export function fmtBody(spec: Pick<WavSpec, 'sampleRate' | 'channels' | 'encoding' | 'extensible'>, formatCode?: number): Buffer {
  const bytesPerSample = spec.encoding.bits / 8;
  const code = formatCode ?? (spec.encoding.format === 'pcm' ? 1 : 3);
  const body = Buffer.alloc(spec.extensible ? 40 : 16);
  body.writeUInt16LE(spec.extensible ? 0xfffe : code, 0);
  body.writeUInt16LE(spec.channels, 2);
  body.writeUInt32LE(spec.sampleRate, 4);
  body.writeUInt32LE(spec.sampleRate * spec.channels * bytesPerSample, 8);
  body.writeUInt16LE(spec.channels * bytesPerSample, 12);
  body.writeUInt16LE(spec.encoding.bits, 14);
  if (spec.extensible) {
    body.writeUInt16LE(22, 16);
    body.writeUInt16LE(spec.encoding.bits, 18);
    body.writeUInt32LE(spec.channels === 1 ? 0x4 : 0x3, 20);
    // KSDATAFORMAT_SUBTYPE_{PCM,IEEE_FLOAT}: {0000000X-0000-0010-8000-00AA00389B71}
    Buffer.from([code, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71]).copy(body, 24);
  }
  return body;
}

export function dataBody(encoding: WavEncoding, codes: number[]): Buffer {
  const width = encoding.bits / 8;
  const body = Buffer.alloc(codes.length * width);
  codes.forEach((c, i) => {
    const at = i * width;
    if (encoding.format === 'float') {
      if (encoding.bits === 32) body.writeFloatLE(c, at);
      else body.writeDoubleLE(c, at);
    } else if (encoding.bits === 8) body.writeUInt8(c, at);
    else if (encoding.bits === 16) body.writeInt16LE(c, at);
    else if (encoding.bits === 24) body.writeIntLE(c, at, 3);
    else body.writeInt32LE(c, at);
  });
  return body;
}

export function riff(chunks: Buffer[]): Buffer {
  const body = Buffer.concat(chunks);
  const header = Buffer.alloc(12);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(4 + body.length, 4);
  header.write('WAVE', 8, 'latin1');
  return Buffer.concat([header, body]);
}

export function writeWav(spec: WavSpec): Buffer {
  const lead = (spec.leadingChunks ?? []).map((c) => chunk(c.id, c.body));
  return riff([...lead, chunk('fmt ', fmtBody(spec)), chunk('data', dataBody(spec.encoding, spec.codes))]);
}

export { chunk };
