// The signal model behind `ser synth`: a source-filter synthesiser of emotional, speech-like utterances.
//
// Source: a Rosenberg glottal-flow-derivative pulse train (abrupt closure, band-limited with polyBLEP) following
// an f0 contour (declination + per-syllable accents + final rise/fall + slow drift + tremor), with jitter,
// shimmer and creak (irregular long, weak periods), then a one-pole spectral tilt; pitch-synchronous
// aspiration noise for breathiness. Tract: a cascade of five Klatt resonators (F1-F3 move with the phonemes,
// smoothed by a per-emotion articulation time constant; F4, F5 fixed per speaker), all scaled by the speaker's
// vocal-tract-length factor. Consonants: plosive closures, bursts and aspiration, fricatives (band-passed noise
// in parallel), nasals and approximants (weak voiced murmurs with their own formants).
// Everything is drawn from seeded integer PRNGs; no Math.random.
import { VOWELS, SCHWA, CONSONANTS, syllableText, type UtteranceContent } from './phonetics';
import { clamp, Rng } from './random';
import type { ClipVoice } from './voices';

const enum Kind {
  Silence,
  Vowel,
  Closure,
  Burst,
  Aspiration,
  Fricative,
  Sonorant,
}

// ---------------------------------------------------------------------------------------------- timeline

/** Segments as parallel arrays (end sample, kind, targets, envelope levels, noise filter). */
class Timeline {
  count = 0;
  readonly end: Int32Array;
  readonly kind: Uint8Array;
  readonly f1: Float64Array;
  readonly f2: Float64Array;
  readonly f3: Float64Array;
  readonly voice: Float64Array;
  readonly aspiration: Float64Array;
  readonly frication: Float64Array;
  readonly noiseHz: Float64Array;
  readonly noiseBandwidthHz: Float64Array;
  readonly tauMs: Float64Array;
  /** Nominal start and end times (s) before fitting, and the syllable each segment belongs to. */
  readonly seconds: Float64Array;
  readonly syllable: Int32Array;

  constructor(capacity: number) {
    this.end = new Int32Array(capacity);
    this.kind = new Uint8Array(capacity);
    this.f1 = new Float64Array(capacity);
    this.f2 = new Float64Array(capacity);
    this.f3 = new Float64Array(capacity);
    this.voice = new Float64Array(capacity);
    this.aspiration = new Float64Array(capacity);
    this.frication = new Float64Array(capacity);
    this.noiseHz = new Float64Array(capacity);
    this.noiseBandwidthHz = new Float64Array(capacity);
    this.tauMs = new Float64Array(capacity);
    this.seconds = new Float64Array(capacity);
    this.syllable = new Int32Array(capacity);
  }

  push(
    kind: Kind,
    seconds: number,
    formants: readonly [number, number, number],
    voice: number,
    aspiration: number,
    frication: number,
    noiseHz: number,
    noiseBandwidthHz: number,
    tauMs: number,
    syllable: number,
  ): void {
    const i = this.count++;
    this.kind[i] = kind;
    this.seconds[i] = seconds;
    this.f1[i] = formants[0];
    this.f2[i] = formants[1];
    this.f3[i] = formants[2];
    this.voice[i] = voice;
    this.aspiration[i] = aspiration;
    this.frication[i] = frication;
    this.noiseHz[i] = noiseHz;
    this.noiseBandwidthHz[i] = noiseBandwidthHz;
    this.tauMs[i] = tauMs;
    this.syllable[i] = syllable;
  }
}

interface Syllable {
  vowelStart: number;
  vowelEnd: number;
  accent: boolean;
}

// ---------------------------------------------------------------------------------------------- glottal source

/** Rosenberg flow derivative over the open phase (tau 0..1), opening 62% of it, closing abruptly. */
const TABLE_SIZE = 1024;
const OPENING = 0.62;
const GLOTTAL = new Float64Array(TABLE_SIZE + 2);
for (let i = 0; i <= TABLE_SIZE + 1; i++) {
  const tau = Math.min(i / TABLE_SIZE, 1);
  GLOTTAL[i] =
    tau < OPENING
      ? ((0.5 * Math.PI) / OPENING) * Math.sin((Math.PI * tau) / OPENING)
      : (-Math.PI / (2 * (1 - OPENING))) * Math.sin((Math.PI * (tau - OPENING)) / (2 * (1 - OPENING)));
}
/** Size of the step back to zero at closure. */
const CLOSURE_JUMP = -GLOTTAL[TABLE_SIZE];
let tableEnergy = 0;
for (let i = 0; i < TABLE_SIZE; i++) tableEnergy += GLOTTAL[i] * GLOTTAL[i];
/** RMS of the pulse over its open phase. */
const GLOTTAL_RMS = Math.sqrt(tableEnergy / TABLE_SIZE);
/** RMS of uniform noise in [-0.5, 0.5). */
const UNIFORM_RMS = Math.sqrt(1 / 12);

// Relative levels (calibrated by ear and by measuring segment RMS): aspiration and frication against the
// RMS of a vowel's output.
const ASPIRATION_SCALE = 1.0;
const FRICATION_SCALE = 1.8;
/** Output emphasis y[n] - EMPHASIS * y[n-1] of the cascade (brightens the vowels above 1 kHz). */
const EMPHASIS = 0.6;

// ---------------------------------------------------------------------------------------------- rendering

/**
 * Renders `samples` samples at `sampleRate`: lead silence, the utterance (syllables fill the time between),
 * trail silence, background noise, RMS at voice.levelDb, peak at most 0.95.
 */
export function renderUtterance(
  voice: ClipVoice,
  content: UtteranceContent,
  sampleRate: number,
  samples: number,
  seed: number,
): Float32Array {
  const sr = sampleRate;
  const out = new Float32Array(samples);
  if (samples === 0) return out;
  const rng = new Rng(seed);
  const spk = voice.speaker;
  const totalSeconds = samples / sr;
  const lead = Math.min(voice.leadSeconds, totalSeconds * 0.2);
  const trail = Math.min(voice.trailSeconds, totalSeconds * 0.2);
  const speechStart = lead;
  const speechSeconds = Math.max(0.05, totalSeconds - lead - trail);

  // --- formant targets of this clip's vowels and consonants.
  const vtl = spk.vtl;
  const art = voice.articulation;
  const vowelTargets: [number, number, number][] = VOWELS.map((v, i) => {
    const scaled = [v[0] * spk.vowelScale[2 * i] * voice.f1Scale, v[1] * spk.vowelScale[2 * i + 1] * voice.f23Scale, v[2] * voice.f23Scale];
    const centre = [SCHWA[0] * voice.f1Scale, SCHWA[1] * voice.f23Scale, SCHWA[2] * voice.f23Scale];
    return [0, 1, 2].map((k) => vtl * (centre[k] + art * (scaled[k] - centre[k]))) as [number, number, number];
  });
  const scaleFormants = (f: readonly [number, number, number]): [number, number, number] => [f[0] * vtl, f[1] * vtl, f[2] * vtl];
  const schwa = scaleFormants(SCHWA);

  // --- syllables (nominal seconds), until the speech time is filled.
  const capacity = Math.ceil(speechSeconds * voice.rate * 2.5) + 8;
  const timeline = new Timeline(capacity * 6 + 4);
  const syllables: Syllable[] = [];
  const prefixRng = new Rng(content.prefixSeed);
  const textRng = new Rng(content.seed);
  const sylSeconds = 1 / voice.rate;
  const cons = voice.consonant;
  const onset = voice.onsetTauMs;
  timeline.push(Kind.Silence, lead, schwa, 0, 0, 0, 0, 0, onset, -1);
  let nominal = 0;
  let lastPause = -1;
  for (let s = 0; s < capacity; s++) {
    const text = s < content.prefixSyllables ? syllableText(prefixRng, s === 0) : syllableText(textRng, s === content.prefixSyllables);
    const duration = sylSeconds * (text.accent ? 1.2 : 0.9) * rng.range(0.85, 1.15);
    if (s > 0 && nominal + 0.5 * duration > speechSeconds) break;
    const c = CONSONANTS[text.consonant];
    const locus = scaleFormants(c.formants);
    const vowel = vowelTargets[text.vowel].map((f) => f * (1 + 0.03 * rng.normal())) as [number, number, number];
    const amp = text.accent ? 10 ** (voice.accentDb / 20) : 1;
    const noiseHz = Math.min(c.noiseHz * vtl ** 0.5, 0.42 * sr);
    let used = 0;
    const put = (kind: Kind, seconds: number, f: readonly [number, number, number], v: number, a: number, fr: number, tau: number): void => {
      timeline.push(kind, seconds, f, v, a, fr, noiseHz, c.noiseBandwidthHz, tau, s);
      used += seconds;
    };
    switch (c.kind) {
      case 'plosive':
        put(Kind.Closure, 0.2 * duration, locus, 0, 0, 0, 2);
        put(Kind.Burst, Math.max(0.006, 0.05 * duration), locus, 0, 0, 0.6 * c.noiseGain * cons, 1);
        put(Kind.Aspiration, 0.12 * duration, locus, 0, 0.5 * cons, 0.1 * c.noiseGain * cons, 2);
        break;
      case 'voicedPlosive':
        put(Kind.Closure, 0.16 * duration, locus, 0.05 * amp, 0, 0, 2);
        put(Kind.Burst, Math.max(0.005, 0.035 * duration), locus, 0.05 * amp, 0, 0.45 * c.noiseGain * cons, 1);
        break;
      case 'fricative':
        put(Kind.Fricative, 0.33 * duration, locus, 0, 0, c.noiseGain * cons, 6);
        break;
      case 'h':
        put(Kind.Aspiration, 0.2 * duration, vowel, 0, 0.45 * cons, 0, 4);
        break;
      case 'sonorant':
        put(Kind.Sonorant, 0.22 * duration, locus, c.voice * amp, 0, 0, onset);
        break;
      default:
        break;
    }
    put(Kind.Vowel, duration - used, vowel, amp, 0, 0, onset);
    syllables.push({ vowelStart: 0, vowelEnd: 0, accent: text.accent });
    nominal += duration;
    if (text.wordEnd && rng.uniform() < voice.pause) {
      const pause = rng.range(0.05, 0.18) * Math.min(1.6, 4.6 / voice.rate);
      timeline.push(Kind.Silence, pause, schwa, 0, 0, 0, 0, 0, onset, s);
      lastPause = timeline.count - 1;
      nominal += pause;
    } else {
      lastPause = -1;
    }
  }
  // No pause before the trailing silence; lengthen and weaken the final syllable.
  if (lastPause === timeline.count - 1) {
    nominal -= timeline.seconds[lastPause];
    timeline.count--;
  }
  const lastSyllable = syllables.length - 1;
  for (let i = 1; i < timeline.count; i++) {
    if (timeline.syllable[i] !== lastSyllable) continue;
    nominal += timeline.seconds[i] * 0.3;
    timeline.seconds[i] *= 1.3;
    if (timeline.kind[i] === Kind.Vowel || timeline.kind[i] === Kind.Sonorant) timeline.voice[i] *= voice.finalAmp;
  }
  // Fit the syllables exactly into the speech time, then the trailing silence.
  const fit = speechSeconds / nominal;
  let t = 0;
  for (let i = 0; i < timeline.count; i++) {
    const dur = i === 0 ? timeline.seconds[0] : timeline.seconds[i] * fit;
    const start = t;
    t += dur;
    timeline.end[i] = Math.min(samples, Math.round(t * sr));
    if (timeline.kind[i] === Kind.Vowel) {
      const syl = syllables[timeline.syllable[i]];
      syl.vowelStart = start;
      syl.vowelEnd = t;
    }
  }
  timeline.push(Kind.Silence, trail, schwa, 0, 0, 0, 0, 0, onset, -1);
  timeline.end[timeline.count - 1] = samples;

  // --- f0 contour (semitones re the speaker's f0) at control rate.
  const block = Math.max(8, Math.round(sr / 1000));
  const blocks = Math.ceil(samples / block);
  const blockSeconds = block / sr;
  const f0st = new Float64Array(blocks + 1);
  const phase1 = rng.range(0, 2 * Math.PI);
  const phase2 = rng.range(0, 2 * Math.PI);
  for (let b = 0; b <= blocks; b++) {
    const time = b * blockSeconds;
    const progress = clamp((time - speechStart) / speechSeconds, 0, 1);
    f0st[b] =
      voice.f0Shift +
      voice.declinationSt * (0.5 - progress) +
      0.4 * Math.sin(2 * Math.PI * 0.7 * time + phase1) +
      0.2 * Math.sin(2 * Math.PI * 1.9 * time + phase2);
  }
  for (let s = 0; s < syllables.length; s++) {
    const syl = syllables[s];
    const length = syl.vowelEnd - syl.vowelStart;
    const height = voice.f0Range * (syl.accent ? rng.range(0.6, 1) : rng.range(0, 0.2));
    const centre = syl.vowelStart + length * (0.5 + voice.peakDelay);
    const width = Math.max(0.06, 0.6 * fit * sylSeconds);
    const from = Math.max(0, Math.floor((centre - width) / blockSeconds));
    const to = Math.min(blocks, Math.ceil((centre + width) / blockSeconds));
    for (let b = from; b <= to; b++) {
      const d = (b * blockSeconds - centre) / width;
      if (d > -1 && d < 1) f0st[b] += height * 0.5 * (1 + Math.cos(Math.PI * d));
    }
  }
  if (lastSyllable >= 0) {
    const syl = syllables[lastSyllable];
    const length = Math.max(blockSeconds, syl.vowelEnd - syl.vowelStart);
    for (let b = Math.max(0, Math.floor(syl.vowelStart / blockSeconds)); b <= blocks; b++) {
      const x = clamp((b * blockSeconds - syl.vowelStart) / length, 0, 1);
      f0st[b] += voice.finalSt * x * x * (3 - 2 * x);
    }
  }

  // --- the sample loop, then level, noise and limit: separate monomorphic functions, so V8 optimises them once.
  const kernel = new Kernel(voice, sr, block, speechStart, speechSeconds, schwa, rng);
  synthesize(out, timeline, f0st, kernel, rng);
  finish(out, kernel, voice.levelDb, voice.noiseDb);
  return out;
}

/** Numbers the sample loop needs, in one fixed-shape object. */
class Kernel {
  readonly sr: number;
  readonly block: number;
  readonly blockSeconds: number;
  readonly twoPiT: number;
  readonly nyquistGuard: number;
  readonly r1: number;
  readonly r2: number;
  readonly r3: number;
  /** Fixed resonators F4..F7: a, b, c each. */
  readonly fixed: Float64Array;
  readonly formantAlpha: number;
  readonly f1: number;
  readonly f2: number;
  readonly f3: number;
  readonly noiseScale: number;
  readonly sourceRms: number;
  readonly breath: number;
  readonly aspirationGain: number;
  readonly fricationGain: number;
  readonly tiltA: number;
  readonly noiseTiltA: number;
  readonly f0Base: number;
  readonly f0Max: number;
  readonly openQuotient: number;
  readonly jitter: number;
  readonly shimmer: number;
  readonly creak: number;
  readonly tremorSt: number;
  readonly tremorHz: number;
  readonly speechStart: number;
  readonly speechSeconds: number;
  readonly phase: number;
  readonly noiseSeed: number;

  constructor(
    voice: ClipVoice,
    sr: number,
    block: number,
    speechStart: number,
    speechSeconds: number,
    start: readonly [number, number, number],
    rng: Rng,
  ) {
    const vtl = voice.speaker.vtl;
    this.sr = sr;
    this.block = block;
    this.blockSeconds = block / sr;
    this.twoPiT = (2 * Math.PI) / sr;
    this.nyquistGuard = 0.45 * sr;
    // Breathy voices have a wider F1 (glottal losses).
    this.r1 = Math.exp((-Math.PI * 60 * (1 + 0.6 * Math.min(1, voice.breathiness * 3))) / sr);
    this.r2 = Math.exp((-Math.PI * 90) / sr);
    this.r3 = Math.exp((-Math.PI * 150) / sr);
    // F4..F7 are fixed per speaker (F6, F7 stand in for the tract's higher poles, which keep a vowel's spectrum
    // from collapsing above F5); a resonance above 0.45 * rate is left out (identity section).
    this.fixed = new Float64Array(12);
    const fixed: readonly (readonly [number, number])[] = [[3500, 220], [4500, 280], [5500, 400], [6500, 500]];
    for (let k = 0; k < fixed.length; k++) {
      const hz = fixed[k][0] * vtl;
      let a = 1;
      let b = 0;
      let c = 0;
      if (hz <= this.nyquistGuard) {
        const r = Math.exp((-Math.PI * fixed[k][1]) / sr);
        b = 2 * r * Math.cos(this.twoPiT * hz);
        c = -r * r;
        a = 1 - b - c;
      }
      this.fixed[3 * k] = a;
      this.fixed[3 * k + 1] = b;
      this.fixed[3 * k + 2] = c;
    }
    this.formantAlpha = 1 - Math.exp(-this.blockSeconds / (voice.formantTauMs / 1000));
    this.f1 = start[0];
    this.f2 = start[1];
    this.f3 = start[2];
    // Noise at a rate-independent spectral density: per-sample variance grows with the rate.
    this.noiseScale = Math.sqrt(sr / 16000) / UNIFORM_RMS;
    this.sourceRms = GLOTTAL_RMS / Math.sqrt(voice.openQuotient);
    this.aspirationGain = this.sourceRms * this.noiseScale * ASPIRATION_SCALE;
    this.breath = voice.breathiness * this.aspirationGain;
    this.fricationGain = this.sourceRms * this.noiseScale * FRICATION_SCALE;
    this.tiltA = Math.exp(-this.twoPiT * Math.min(voice.tiltHz, this.nyquistGuard));
    this.noiseTiltA = Math.exp(-this.twoPiT * Math.min(2 * voice.tiltHz, this.nyquistGuard));
    this.f0Base = voice.speaker.f0;
    this.f0Max = Math.min(700, sr / 6);
    this.openQuotient = voice.openQuotient;
    this.jitter = voice.jitter;
    this.shimmer = voice.shimmer;
    this.creak = voice.creak;
    this.tremorSt = voice.tremorSt;
    this.tremorHz = voice.tremorHz;
    this.speechStart = speechStart;
    this.speechSeconds = speechSeconds;
    this.phase = rng.uniform();
    this.noiseSeed = (rng.uint32() | 1) | 0;
  }
}

/** The sample loop: glottal source -> tilt -> (+ aspiration) -> cascade F1..F7, plus parallel frication. */
function synthesize(out: Float32Array, timeline: Timeline, f0st: Float64Array, k: Kernel, rng: Rng): void {
  const samples = out.length;
  const sr = k.sr;
  const block = k.block;
  const blockSeconds = k.blockSeconds;
  const twoPiT = k.twoPiT;
  const guard = k.nyquistGuard;
  const r1 = k.r1, r2 = k.r2, r3 = k.r3;
  const c1 = -r1 * r1, c2 = -r2 * r2, c3 = -r3 * r3;
  const fx = k.fixed;
  const a4 = fx[0], b4 = fx[1], c4 = fx[2];
  const a5 = fx[3], b5 = fx[4], c5 = fx[5];
  const a6 = fx[6], b6 = fx[7], c6 = fx[8];
  const a7 = fx[9], b7 = fx[10], c7 = fx[11];
  const formantAlpha = k.formantAlpha;
  const breath = k.breath;
  const aspirationGain = k.aspirationGain;
  const fricationGain = k.fricationGain;
  const tiltA = k.tiltA;
  const noiseTiltA = k.noiseTiltA;
  const f0Base = k.f0Base;
  const f0Max = k.f0Max;
  const oq = k.openQuotient;
  const closedEnd = 1 - oq;
  const tauScale = TABLE_SIZE / oq;
  const jitter = k.jitter;
  const shimmer = k.shimmer;
  const creak = k.creak;
  const tremorSt = k.tremorSt;
  const tremorW = 2 * Math.PI * k.tremorHz;
  const speechStart = k.speechStart;
  const speechSeconds = k.speechSeconds;
  const segEnd = timeline.end;
  const segCount = timeline.count;
  const tF1 = timeline.f1, tF2 = timeline.f2, tF3 = timeline.f3;
  const tVoice = timeline.voice, tAsp = timeline.aspiration, tFric = timeline.frication;
  const tNoiseHz = timeline.noiseHz, tNoiseBw = timeline.noiseBandwidthHz, tTau = timeline.tauMs;

  let y1a = 0, y1b = 0, y2a = 0, y2b = 0, y3a = 0, y3b = 0, y4a = 0, y4b = 0;
  let y5a = 0, y5b = 0, y6a = 0, y6b = 0, y7a = 0, y7b = 0, yPrev = 0;
  let F1 = k.f1, F2 = k.f2, F3 = k.f3;
  let noise = k.noiseSeed;
  let tilt = 0;
  let noiseTilt = 0;
  let fx1 = 0, fx2 = 0, fy1 = 0, fy2 = 0, fw1 = 0, fw2 = 0, fz1 = 0, fz2 = 0;
  let fb0 = 0, fa1 = 0, fa2 = 0;
  let fricSegment = -1;
  let voiceLevel = 0, aspLevel = 0, fricLevel = 0;
  let phase = k.phase;
  let dt = f0Base / sr;
  let pulseAmp = 1 / oq;
  let halfJump = 0.5 * CLOSURE_JUMP * pulseAmp;
  let prevHalfJump = halfJump;
  let periodCount = 0;
  let seg = 0;

  for (let b = 0, i0 = 0; i0 < samples; b++, i0 += block) {
    const i1 = Math.min(samples, i0 + block);
    const count = i1 - i0;
    while (seg < segCount - 1 && segEnd[seg] <= i0) seg++;
    // Control rate: formants glide to the segment's targets, envelopes follow with the segment's tau.
    F1 += (Math.min(tF1[seg], guard) - F1) * formantAlpha;
    F2 += (Math.min(tF2[seg], guard) - F2) * formantAlpha;
    F3 += (Math.min(tF3[seg], guard) - F3) * formantAlpha;
    const b1 = 2 * r1 * Math.cos(twoPiT * F1);
    const a1 = 1 - b1 - c1;
    const b2 = 2 * r2 * Math.cos(twoPiT * F2);
    const a2 = 1 - b2 - c2;
    const b3 = 2 * r3 * Math.cos(twoPiT * F3);
    const a3 = 1 - b3 - c3;
    const envAlpha = 1 - Math.exp(-blockSeconds / (tTau[seg] / 1000));
    const voiceEnd = voiceLevel + (tVoice[seg] - voiceLevel) * envAlpha;
    const aspEnd = aspLevel + (tAsp[seg] - aspLevel) * envAlpha;
    const fricEnd = fricLevel + (tFric[seg] - fricLevel) * envAlpha;
    const voiceStep = (voiceEnd - voiceLevel) / count;
    const aspStep = (aspEnd - aspLevel) / count;
    const fricStep = (fricEnd - fricLevel) / count;
    if (tFric[seg] > 0 && fricSegment !== seg) {
      // RBJ band-pass with 0 dB peak gain at the consonant's noise centre.
      fricSegment = seg;
      const w0 = twoPiT * tNoiseHz[seg];
      const q = Math.max(0.3, tNoiseHz[seg] / tNoiseBw[seg]);
      const alpha = Math.sin(w0) / (2 * q);
      fb0 = alpha / (1 + alpha);
      fa1 = (-2 * Math.cos(w0)) / (1 + alpha);
      fa2 = (1 - alpha) / (1 + alpha);
    }
    const f0Semitones = f0st[b];

    for (let i = i0; i < i1; i++) {
      phase += dt;
      if (phase >= 1) {
        // A new glottal period: f0 from the contour, tremor, jitter; shimmer; creak near the phrase end.
        phase -= 1;
        periodCount++;
        const now = i / sr;
        let st = f0Semitones;
        if (tremorSt > 0) st += tremorSt * Math.sin(tremorW * now);
        let f0 = f0Base * Math.pow(2, st / 12) * (1 + jitter * rng.normal());
        let amp = (1 + shimmer * rng.normal()) / oq;
        if (creak > 0) {
          const progress = Math.min(1, Math.max(0, (now - speechStart) / speechSeconds));
          if (rng.uniform() < creak * (0.25 + 0.75 * progress * progress)) {
            f0 /= rng.range(1.5, 2.3);
            amp *= (periodCount & 1) === 0 ? rng.range(0.3, 0.6) : rng.range(0.6, 0.9);
          }
        }
        f0 = f0 < 40 ? 40 : f0 > f0Max ? f0Max : f0;
        dt = f0 / sr;
        pulseAmp = amp;
        prevHalfJump = halfJump;
        halfJump = 0.5 * CLOSURE_JUMP * amp;
      }
      let g = 0;
      let open = 0.35;
      if (phase >= closedEnd) {
        const x = (phase - closedEnd) * tauScale;
        const j = x | 0;
        g = (GLOTTAL[j] + (x - j) * (GLOTTAL[j + 1] - GLOTTAL[j])) * pulseAmp;
        open = 1;
      }
      // polyBLEP: band-limit the step at closure (the period wraps there).
      if (phase > 1 - dt) {
        const u = (phase - 1) / dt;
        g += halfJump * (u * u + 2 * u + 1);
      } else if (phase < dt) {
        const u = phase / dt;
        g += prevHalfJump * (2 * u - u * u - 1);
      }
      tilt = g + tiltA * (tilt - g);
      noise ^= noise << 13;
      noise ^= noise >>> 17;
      noise ^= noise << 5;
      const n1 = ((noise & 0xffff) - 32767.5) * (1 / 65536);
      const n2 = (((noise >>> 16) & 0xffff) - 32767.5) * (1 / 65536);
      // Breath noise follows the voice's tilt an octave higher (weak voices are dull in noise too); the
      // aspiration of a consonant is white.
      noiseTilt = n1 + noiseTiltA * (noiseTilt - n1);
      const x = tilt * voiceLevel + n1 * aspLevel * aspirationGain + noiseTilt * breath * voiceLevel * open;
      let y = a1 * x + b1 * y1a + c1 * y1b;
      y1b = y1a;
      y1a = y;
      y = a2 * y + b2 * y2a + c2 * y2b;
      y2b = y2a;
      y2a = y;
      y = a3 * y + b3 * y3a + c3 * y3b;
      y3b = y3a;
      y3a = y;
      y = a4 * y + b4 * y4a + c4 * y4b;
      y4b = y4a;
      y4a = y;
      y = a5 * y + b5 * y5a + c5 * y5b;
      y5b = y5a;
      y5a = y;
      y = a6 * y + b6 * y6a + c6 * y6b;
      y6b = y6a;
      y6a = y;
      y = a7 * y + b7 * y7a + c7 * y7b;
      y7b = y7a;
      y7a = y;
      // Two identical band-pass sections: 4th-order skirts, like a fricative's spectrum.
      const fw = fb0 * (n2 - fx2) - fa1 * fy1 - fa2 * fy2;
      fx2 = fx1;
      fx1 = n2;
      fy2 = fy1;
      fy1 = fw;
      const fz = fb0 * (fw - fw2) - fa1 * fz1 - fa2 * fz2;
      fw2 = fw1;
      fw1 = fw;
      fz2 = fz1;
      fz1 = fz;
      // First-order emphasis of the voiced path: stands in for the poles above F7 (Klatt's higher-pole correction).
      out[i] = y - EMPHASIS * yPrev + fz * fricLevel * fricationGain;
      yPrev = y;
      voiceLevel += voiceStep;
      aspLevel += aspStep;
      fricLevel += fricStep;
    }
    voiceLevel = voiceEnd;
    aspLevel = aspEnd;
    fricLevel = fricEnd;
  }
}

/** Utterance RMS to 10^(levelDb/20), DC blocker, background noise noiseDb below it, peak limit at 0.95. */
function finish(out: Float32Array, k: Kernel, levelDb: number, noiseDb: number): void {
  const samples = out.length;
  const sr = k.sr;
  const first = Math.min(samples - 1, Math.round(k.speechStart * sr));
  const last = Math.max(first + 1, Math.min(samples, Math.round((k.speechStart + k.speechSeconds) * sr)));
  let energy = 0;
  for (let i = first; i < last; i++) energy += out[i] * out[i];
  const rms = Math.sqrt(energy / (last - first));
  const target = Math.pow(10, levelDb / 20);
  const gain = rms > 0 ? target / rms : 0;
  // Lightly low-passed white noise: y = (y + x) / 2 has 1/sqrt(3) of x's RMS.
  const floor = (Math.sqrt(3) * target * Math.pow(10, -noiseDb / 20)) / UNIFORM_RMS;
  const dcR = Math.exp(-k.twoPiT * 40);
  let noise = (k.noiseSeed ^ 0x5bd1e995) | 1;
  let dcX = 0;
  let dcY = 0;
  let hum = 0;
  let peak = 0;
  for (let i = 0; i < samples; i++) {
    const x = out[i] * gain;
    dcY = x - dcX + dcR * dcY;
    dcX = x;
    noise ^= noise << 13;
    noise ^= noise >>> 17;
    noise ^= noise << 5;
    hum = 0.5 * hum + 0.5 * ((noise & 0xffff) * (1 / 65536) - 0.5);
    const v = dcY + floor * hum;
    out[i] = v;
    const a = v < 0 ? -v : v;
    if (a > peak) peak = a;
  }
  if (peak > 0.95) {
    const scale = 0.95 / peak;
    for (let i = 0; i < samples; i++) out[i] *= scale;
  }
}
