// Who speaks and how: emotion profiles (the mean effect of each emotion on a speaker's neutral voice),
// speakers drawn from a seed (pitch, vocal tract length, voice quality, idiolect) and each clip's voice
// drawn around its speaker for its emotion.
import type { Gender } from '../data/corpora';
import type { Emotion } from '../data/labels';
import { VOWELS } from './phonetics';
import { clamp, Rng } from './random';

// ---------------------------------------------------------------------------------------------- emotions

/** Mean effect of an emotion relative to the speaker's own neutral voice (per-clip draws spread around it). */
export interface EmotionProfile {
  /** f0 level shift, semitones. */
  f0Shift: number;
  /** Accent height, semitones. */
  f0Range: number;
  /** f0 movement over the final syllable, semitones (+ rising, - falling). */
  finalSt: number;
  /** Syllable-rate factor (the speaker's base rate is ~4.6 syllables/s). */
  rate: number;
  /** Loudness, dB. */
  loudnessDb: number;
  /** Jitter and shimmer factors. */
  jitter: number;
  shimmer: number;
  /** Spectral-tilt corner factor: > 1 flatter (tense, more high-frequency energy), < 1 steeper. */
  tilt: number;
  /** Glottal open quotient (tense ~0.4, modal ~0.6, breathy ~0.75). */
  openQuotient: number;
  /** Aspiration-noise factor. */
  breathiness: number;
  /** Creak (vocal fry) amount, 0..1, strongest phrase-finally. */
  creak: number;
  /** f0 tremor depth, semitones (4.5-7 Hz). */
  tremorSt: number;
  /** Formant factors: F1 (jaw opening, effort), F2/F3 (smiling raises them). */
  f1: number;
  f23: number;
  /** Vowel-space expansion around the schwa (< 1: centralised, slurred). */
  articulation: number;
  /** Probability of a pause at a word boundary. */
  pause: number;
  /** Extra loudness of accented syllables, dB. */
  accentDb: number;
  /** Consonant (burst, frication) strength factor. */
  consonant: number;
  /** Amplitude of the final syllable relative to the others. */
  finalAmp: number;
  /** Accent peak position within the vowel (- early, + late), in vowel lengths. */
  peakDelay: number;
  /** Formant transition time constant, ms (short: crisp articulation). */
  formantTauMs: number;
  /** Voice onset/offset time constant, ms (short: abrupt, hard onsets). */
  onsetTauMs: number;
}

export const EMOTION_PROFILES: Readonly<Record<Emotion, Readonly<EmotionProfile>>> = {
  neutral:   { f0Shift: 0,    f0Range: 3.5, finalSt: -2,   rate: 1.0,  loudnessDb: 0,    jitter: 1.0, shimmer: 1.0, tilt: 1.0,  openQuotient: 0.6,  breathiness: 1.0, creak: 0.05, tremorSt: 0,    f1: 1.0,  f23: 1.0,  articulation: 1.0,  pause: 0.3,  accentDb: 3,   consonant: 1.0, finalAmp: 0.8,  peakDelay: 0,     formantTauMs: 22, onsetTauMs: 5 },
  calm:      { f0Shift: -1,   f0Range: 2.5, finalSt: -2,   rate: 0.88, loudnessDb: -3,   jitter: 0.9, shimmer: 0.9, tilt: 0.6,  openQuotient: 0.65, breathiness: 1.3, creak: 0.1,  tremorSt: 0,    f1: 0.98, f23: 1.0,  articulation: 0.85, pause: 0.45, accentDb: 2,   consonant: 0.8, finalAmp: 0.75, peakDelay: 0.05,  formantTauMs: 28, onsetTauMs: 8 },
  happy:     { f0Shift: 3.5,  f0Range: 6.5, finalSt: -1,   rate: 1.08, loudnessDb: 2.5,  jitter: 1.1, shimmer: 1.1, tilt: 1.4,  openQuotient: 0.55, breathiness: 1.0, creak: 0,    tremorSt: 0,    f1: 1.03, f23: 1.05, articulation: 1.1,  pause: 0.25, accentDb: 4,   consonant: 1.1, finalAmp: 0.9,  peakDelay: 0.25,  formantTauMs: 20, onsetTauMs: 4 },
  sad:       { f0Shift: -1.5, f0Range: 2.0, finalSt: -1.5, rate: 0.75, loudnessDb: -4.5, jitter: 1.5, shimmer: 1.6, tilt: 0.3, openQuotient: 0.72, breathiness: 2.2, creak: 0.25, tremorSt: 0.15, f1: 0.96, f23: 0.97, articulation: 0.75, pause: 0.55, accentDb: 1.5, consonant: 0.7, finalAmp: 0.55, peakDelay: 0,     formantTauMs: 35, onsetTauMs: 10 },
  angry:     { f0Shift: 4,    f0Range: 5.5, finalSt: -3,   rate: 1.1,  loudnessDb: 6,    jitter: 1.3, shimmer: 1.4, tilt: 2.5,  openQuotient: 0.42, breathiness: 0.6, creak: 0.05, tremorSt: 0,    f1: 1.1,  f23: 1.01, articulation: 1.15, pause: 0.2,  accentDb: 5,   consonant: 1.6, finalAmp: 1.0,  peakDelay: -0.25, formantTauMs: 15, onsetTauMs: 2.5 },
  fearful:   { f0Shift: 5,    f0Range: 4.5, finalSt: 1.5,  rate: 1.28, loudnessDb: 1,    jitter: 3.0, shimmer: 2.5, tilt: 1.0,  openQuotient: 0.6,  breathiness: 1.8, creak: 0,    tremorSt: 0.8,  f1: 1.02, f23: 1.02, articulation: 0.95, pause: 0.15, accentDb: 3,   consonant: 1.1, finalAmp: 0.9,  peakDelay: 0,     formantTauMs: 18, onsetTauMs: 4 },
  disgust:   { f0Shift: -2,   f0Range: 4.0, finalSt: -5,   rate: 0.82, loudnessDb: 0,    jitter: 2.0, shimmer: 1.8, tilt: 0.9,  openQuotient: 0.55, breathiness: 1.2, creak: 0.5,  tremorSt: 0,    f1: 0.98, f23: 0.96, articulation: 0.95, pause: 0.45, accentDb: 3,   consonant: 1.2, finalAmp: 0.7,  peakDelay: -0.1,  formantTauMs: 26, onsetTauMs: 6 },
  surprised: { f0Shift: 5,    f0Range: 8.0, finalSt: 7,    rate: 1.05, loudnessDb: 3,    jitter: 1.2, shimmer: 1.2, tilt: 1.4,  openQuotient: 0.55, breathiness: 1.3, creak: 0,    tremorSt: 0,    f1: 1.08, f23: 1.03, articulation: 1.1,  pause: 0.25, accentDb: 4,   consonant: 1.1, finalAmp: 1.05, peakDelay: 0.2,   formantTauMs: 20, onsetTauMs: 4 },
};

// ---------------------------------------------------------------------------------------------- speakers

export type Age = 'adult' | 'older' | 'younger';

export interface SpeakerVoice {
  gender: Gender;
  /** Habitual f0, Hz. */
  f0: number;
  /** Formant scale (vocal tract length factor; 1 = average male). */
  vtl: number;
  breathiness: number;
  tiltHz: number;
  openQuotient: number;
  jitter: number;
  shimmer: number;
  /** Syllables per second when neutral. */
  rate: number;
  rangeScale: number;
  loudnessDb: number;
  creak: number;
  /** Per-vowel F1 and F2 factors (idiolect), [2 * vowel + formant]. */
  vowelScale: Float64Array;
}

export function drawSpeaker(seed: number, gender: Gender, age: Age = 'adult'): SpeakerVoice {
  const rng = new Rng(seed);
  const male = gender === 'male';
  const ageF0 = age === 'older' ? 0.92 : age === 'younger' ? 1.05 : 1;
  const f0 = male ? clamp(115 * rng.logNormal(0.1), 90, 140) : clamp(205 * ageF0 * rng.logNormal(0.07), 170, 240);
  const vtl = (male ? 1 : age === 'older' ? 1.14 : 1.18) * rng.logNormal(0.035);
  const vowelScale = new Float64Array(VOWELS.length * 2);
  for (let i = 0; i < vowelScale.length; i++) vowelScale[i] = rng.logNormal(0.04);
  return {
    gender,
    f0,
    vtl,
    breathiness: (male ? 0.08 : 0.13) * (age === 'older' ? 1.4 : 1) * rng.logNormal(0.3),
    tiltHz: (male ? 3000 : 2600) * rng.logNormal(0.2),
    openQuotient: clamp((male ? 0.58 : 0.64) + 0.04 * rng.normal(), 0.45, 0.75),
    jitter: 0.006 * (age === 'older' ? 1.6 : 1) * rng.logNormal(0.25),
    shimmer: 0.03 * (age === 'older' ? 1.3 : 1) * rng.logNormal(0.25),
    rate: 4.6 * rng.logNormal(0.07),
    rangeScale: rng.logNormal(0.15),
    loudnessDb: 1.5 * rng.normal(),
    creak: (male ? 0.05 : 0.02) * rng.uniform(),
    vowelScale,
  };
}

// ---------------------------------------------------------------------------------------------- clips

/** Everything that shapes one clip, drawn from the emotion's distribution around the speaker's voice. */
export interface ClipVoice {
  speaker: SpeakerVoice;
  emotion: Emotion;
  f0Shift: number;
  f0Range: number;
  finalSt: number;
  declinationSt: number;
  rate: number;
  /** Clip length / nominal length, in [0.75, 1.25]: slower speech makes longer clips. */
  durationFactor: number;
  /** RMS of the utterance, dBFS (emotion loudness + random gain). */
  levelDb: number;
  jitter: number;
  shimmer: number;
  tiltHz: number;
  openQuotient: number;
  breathiness: number;
  creak: number;
  tremorSt: number;
  tremorHz: number;
  f1Scale: number;
  f23Scale: number;
  articulation: number;
  pause: number;
  accentDb: number;
  consonant: number;
  finalAmp: number;
  peakDelay: number;
  formantTauMs: number;
  onsetTauMs: number;
  leadSeconds: number;
  trailSeconds: number;
  /** Background noise this many dB below the utterance RMS. */
  noiseDb: number;
}

/** Loudness of a neutral utterance before the random per-clip gain, dBFS RMS. */
const BASE_LEVEL_DB = -27;
/** Random per-clip gain, uniform +-dB, so loudness alone does not give the emotion away. */
const GAIN_SPREAD_DB = 6;

/**
 * One clip's parameters. `intensity` scales the emotion's departure from neutral (1 normal, 1.4 strong,
 * 0.6 low). The first draws fix the speaking rate and duration, so a plan can compute clip lengths cheaply.
 */
export function drawClipVoice(speaker: SpeakerVoice, emotion: Emotion, intensity: number, seed: number): ClipVoice {
  const rng = new Rng(seed);
  const n = EMOTION_PROFILES.neutral;
  const e = EMOTION_PROFILES[emotion];
  const p = (key: keyof EmotionProfile): number => n[key] + intensity * (e[key] - n[key]);
  const rate = clamp(speaker.rate * p('rate') * rng.logNormal(0.08), 2.6, 8);
  // Soft limit of (base rate / rate)^0.7 to 1 +- 0.25 (tanh in the log domain), so no class piles up at a bound.
  const durationFactor = 1 + 0.25 * Math.tanh((0.7 * Math.log(speaker.rate / rate) + 0.05 * rng.normal()) / 0.25);
  const f0Range = p('f0Range') * speaker.rangeScale * rng.logNormal(0.25);
  return {
    speaker,
    emotion,
    rate,
    durationFactor,
    f0Shift: p('f0Shift') + 1.3 * rng.normal(),
    f0Range,
    finalSt: p('finalSt') + 1.5 * rng.normal(),
    declinationSt: 1.2 + 0.2 * f0Range + 0.4 * rng.normal(),
    levelDb: BASE_LEVEL_DB + speaker.loudnessDb + p('loudnessDb') + 2 * rng.normal() + rng.range(-GAIN_SPREAD_DB, GAIN_SPREAD_DB),
    jitter: speaker.jitter * Math.max(0.3, p('jitter')) * rng.logNormal(0.3),
    shimmer: speaker.shimmer * Math.max(0.3, p('shimmer')) * rng.logNormal(0.3),
    tiltHz: speaker.tiltHz * Math.max(0.2, p('tilt')) * rng.logNormal(0.25),
    openQuotient: clamp(speaker.openQuotient + p('openQuotient') - n.openQuotient + 0.05 * rng.normal(), 0.33, 0.85),
    breathiness: speaker.breathiness * Math.max(0.2, p('breathiness')) * rng.logNormal(0.3),
    creak: clamp(speaker.creak + p('creak') + 0.08 * rng.normal(), 0, 0.9),
    tremorSt: e.tremorSt > 0 ? Math.max(0, p('tremorSt') * rng.logNormal(0.3)) : 0,
    tremorHz: rng.range(4.5, 7),
    f1Scale: p('f1') * (1 + 0.015 * rng.normal()),
    f23Scale: p('f23') * (1 + 0.015 * rng.normal()),
    articulation: clamp(p('articulation') + 0.07 * rng.normal(), 0.5, 1.4),
    pause: clamp(p('pause') + 0.08 * rng.normal(), 0, 0.9),
    accentDb: p('accentDb') + rng.normal(),
    consonant: Math.max(0.3, p('consonant')) * rng.logNormal(0.2),
    finalAmp: Math.max(0.3, p('finalAmp')) * rng.logNormal(0.1),
    peakDelay: p('peakDelay') + 0.1 * rng.normal(),
    formantTauMs: Math.max(8, p('formantTauMs')) * rng.logNormal(0.2),
    onsetTauMs: Math.max(1.5, p('onsetTauMs')) * rng.logNormal(0.2),
    leadSeconds: rng.range(0.05, 0.15),
    trailSeconds: rng.range(0.05, 0.15),
    noiseDb: rng.range(40, 50),
  };
}
