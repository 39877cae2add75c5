// Synthetic emotional-speech corpora in the real corpora's layouts, names and sample rates (DESIGN section 5),
// so the adapters, `ser prepare`, the trainer and the benchmarks can run without the real data.
// The signal model is in ./voice.ts; this module decides what is written where.
//
// Randomness: every clip's streams are seeded from (seed, corpus, file name) and every speaker's from
// (seed, corpus, speaker), not from the clip's position in the plan, so a clip is the same audio whether it
// is written alone, in a larger corpus or inside the bundle, and adding speakers or clips leaves the others
// unchanged. What is said depends only on the sentence (RAVDESS statement, CREMA-D sentence, TESS word,
// SAVEE sentence number), so the same sentence is spoken in every emotion, as in the real corpora.
import * as fs from 'fs';
import * as path from 'path';

import { OptionsError } from '../errors';
import { native } from '../native';
import { writeFileAtomic } from '../io/atomic';
import { EMOTIONS, type Emotion } from '../data/labels';
import type { UtteranceContent } from './phonetics';
import { mixSeed, Rng } from './random';
import { renderUtterance } from './render';
import { drawClipVoice, drawSpeaker, type Age, type ClipVoice } from './voices';

export { EMOTIONS };
export type { Emotion };

/** A corpus layout to imitate, or the Kaggle bundle of all four. */
export type SynthCorpus = 'ravdess' | 'crema' | 'tess' | 'savee' | 'bundle';

/** What synthetic corpus to write: layout, speakers, clips per class, clip length and seed. */
export interface SynthOptions {
  corpus: SynthCorpus;
  /** Speakers per corpus (default 4, or 2 for TESS; the bundle caps it at each corpus's real number of speakers). */
  speakers?: number;
  /** Clips per speaker per emotion class the corpus has (default 2; capped per class, see planCorpus). */
  clipsPerClass?: number;
  /** Nominal clip length (default 2.0, 0.5..10); each clip is 0.75..1.25 times it, by speaking rate. */
  seconds?: number;
  /** Default 1. */
  seed?: number;
}

/** One planned clip of a synthetic corpus: where it goes, who speaks it, in which emotion. */
export interface SynthClip {
  /** Relative to the output folder, posix separators. */
  path: string;
  corpus: Exclude<SynthCorpus, 'bundle'>;
  /** `<corpus>:<id>` as the corpus adapters name speakers: ravdess:01, crema:1001, tess:OAF, savee:DC. */
  speaker: string;
  gender: 'male' | 'female';
  emotion: Emotion;
  sampleRate: number;
  /** Exact duration of the file (its sample count / sampleRate). */
  seconds: number;
}

/** What synthesize() wrote. */
export interface SynthSummary {
  dir: string;
  clips: number;
  /** Total audio, seconds. */
  seconds: number;
  files: SynthClip[];
}

type CorpusName = Exclude<SynthCorpus, 'bundle'>;
const CORPUS_NAMES: readonly CorpusName[] = ['ravdess', 'crema', 'tess', 'savee'];
const ALL_CORPORA: readonly SynthCorpus[] = [...CORPUS_NAMES, 'bundle'];

/** synthesize()'s defaults (TESS has 2 speakers, and the bundle caps speakers at each corpus's real count). */
export const SYNTH_DEFAULTS = { speakers: 4, clipsPerClass: 2, seconds: 2, seed: 1 } as const;
const DEFAULTS = SYNTH_DEFAULTS;
const MIN_SECONDS = 0.5;
const MAX_SECONDS = 10;

// ------------------------------------------------------------------------------------------ corpus conventions

interface Speaker {
  id: string;
  code: string;
  gender: 'male' | 'female';
}

interface CorpusSpec {
  name: CorpusName;
  sampleRate: number;
  maxSpeakers: number;
  /** Folder of this corpus inside the Kaggle bundle. */
  bundleFolder: string;
  classes: readonly Emotion[];
  /** How many distinct file names the convention allows per speaker for this emotion. */
  capacity(emotion: Emotion): number;
  speaker(index: number): Speaker;
  /** Path inside the corpus folder of the j-th clip of this speaker and emotion. */
  file(index: number, speaker: Speaker, emotion: Emotion, j: number): string;
  /** The real speakers, for error messages. */
  speakerNote: string;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

// RAVDESS: intensity 01/02 x statement 01/02 x repetition 01/02; neutral has no strong intensity.
// Ordered (and rotated per actor) so a speaker's few clips of a class mix intensities, statements and repetitions.
const RAVDESS_COMBOS: readonly (readonly [number, number, number])[] = [
  [1, 1, 1], [2, 2, 1], [1, 2, 2], [2, 1, 2], [2, 1, 1], [1, 2, 1], [2, 2, 2], [1, 1, 2],
];
const RAVDESS_NEUTRAL: readonly (readonly [number, number])[] = [[1, 1], [2, 2], [2, 1], [1, 2]];

const ravdess: CorpusSpec = {
  name: 'ravdess',
  sampleRate: 48000,
  maxSpeakers: 24,
  bundleFolder: 'Ravdess/audio_speech_actors_01-24',
  classes: EMOTIONS,
  speakerNote: 'actors 01..24',
  capacity: (emotion) => (emotion === 'neutral' ? RAVDESS_NEUTRAL.length : RAVDESS_COMBOS.length),
  speaker: (index) => ({ id: `ravdess:${pad2(index + 1)}`, code: pad2(index + 1), gender: index % 2 === 0 ? 'male' : 'female' }),
  file(index, speaker, emotion, j) {
    const code = pad2(EMOTIONS.indexOf(emotion) + 1);
    const [intensity, statement, repetition] =
      emotion === 'neutral'
        ? [1, ...RAVDESS_NEUTRAL[(index + j) % RAVDESS_NEUTRAL.length]]
        : RAVDESS_COMBOS[(index + j) % RAVDESS_COMBOS.length];
    return `Actor_${speaker.code}/03-01-${code}-${pad2(intensity)}-${pad2(statement)}-${pad2(repetition)}-${speaker.code}.wav`;
  },
};

const CREMA_SENTENCES = ['IEO', 'TIE', 'IOM', 'IWW', 'TAI', 'MTI', 'IWL', 'ITH', 'DFA', 'ITS', 'TSI', 'WSI'] as const;
const CREMA_CODES: Partial<Record<Emotion, string>> = { angry: 'ANG', disgust: 'DIS', fearful: 'FEA', happy: 'HAP', neutral: 'NEU', sad: 'SAD' };
const CREMA_LEVELS = ['HI', 'MD', 'LO'] as const;

/** The real CREMA-D set per actor: 12 sentences at XX for neutral; 11 at XX plus IEO at LO, MD and HI otherwise. */
function cremaCombos(actor: number, neutral: boolean): [string, string][] {
  const rng = new Rng(mixSeed('crema-sentence-order', actor));
  const order: string[] = [...CREMA_SENTENCES];
  for (let i = order.length - 1; i > 0; i--) {
    const k = Math.floor(rng.uniform() * (i + 1));
    [order[i], order[k]] = [order[k], order[i]];
  }
  if (neutral) return order.map((s) => [s, 'XX']);
  const first = Math.floor(rng.uniform() * 3);
  const levels = [0, 1, 2].map((k) => CREMA_LEVELS[(first + k) % 3]);
  const combos: [string, string][] = order.map((s) => [s, s === 'IEO' ? levels[0] : 'XX']);
  combos.push(['IEO', levels[1]], ['IEO', levels[2]]);
  return combos;
}

/** CREMA-D gives sex in a separate table; here actors come in pairs (1001/1002, ...), one of each, by a hash. */
function cremaGender(actor: number): 'male' | 'female' {
  const offset = actor - 1001;
  const maleFirst = (mixSeed('crema-gender', offset >> 1) & 1) === 1;
  return (offset % 2 === 0) === maleFirst ? 'male' : 'female';
}

const crema: CorpusSpec = {
  name: 'crema',
  sampleRate: 16000,
  maxSpeakers: 91,
  bundleFolder: 'Crema',
  classes: EMOTIONS.filter((e) => CREMA_CODES[e] !== undefined),
  speakerNote: 'actors 1001..1091',
  capacity: (emotion) => (emotion === 'neutral' ? 12 : 14),
  speaker: (index) => ({ id: `crema:${1001 + index}`, code: String(1001 + index), gender: cremaGender(1001 + index) }),
  file(_index, speaker, emotion, j) {
    const [sentence, level] = cremaCombos(Number(speaker.code), emotion === 'neutral')[j];
    return `${speaker.code}_${sentence}_${CREMA_CODES[emotion]}_${level}.wav`;
  },
};

/** Short English words (the NU-6 style lists TESS used); distinct, letters only. */
const TESS_WORDS: readonly string[] = (
  'back bar base bath bean beg bite boat bone book bought burn cab came cause chain chair chalk chat check cheek ' +
  'chief choice cool dab date dead death deep dime dip ditch dodge dog doll door fail fall far fat fit five food ' +
  'gap gas gaze germ get gin goal good goose gun half hall hash hate have haze hire hit hole home hurl hush jail ' +
  'jar join judge jug juice keen keep keg kick kill king kite knock late laud lean learn lease lid life limb live ' +
  'loaf long lore lose lot love luck make match merge mess met mill mob mode mood moon mop mouse mouth nag name ' +
  'near neat nice note numb pad page pain pass pearl peg perch phone pick pike pole pool puff rag raid rain raise ' +
  'rat reach read red ring ripe road room rose rot rough rush said sail search seize sell shack shall shawl sheep ' +
  'shirt should shout size soap soup sour south sub such sure take talk tape team tell thin third thought thumb ' +
  'time tip tire ton tool tough turn vine voice void vote wag walk wash week wheat when which whip white wife wire ' +
  'witch yearn yes young youth'
).split(' ');

const TESS_SPEAKERS = ['OAF', 'YAF'] as const;
const TESS_TOKENS: Partial<Record<Emotion, string>> = {
  angry: 'angry', disgust: 'disgust', fearful: 'fear', happy: 'happy', neutral: 'neutral', surprised: 'ps', sad: 'sad',
};
/** Folder names exactly as in the real corpus (its capitalisation is inconsistent). */
const TESS_FOLDERS: Record<(typeof TESS_SPEAKERS)[number], Partial<Record<Emotion, string>>> = {
  OAF: { angry: 'OAF_angry', disgust: 'OAF_disgust', fearful: 'OAF_Fear', happy: 'OAF_happy', neutral: 'OAF_neutral', surprised: 'OAF_Pleasant_surprise', sad: 'OAF_Sad' },
  YAF: { angry: 'YAF_angry', disgust: 'YAF_disgust', fearful: 'YAF_fear', happy: 'YAF_happy', neutral: 'YAF_neutral', surprised: 'YAF_pleasant_surprised', sad: 'YAF_sad' },
};

const tess: CorpusSpec = {
  name: 'tess',
  sampleRate: 24414,
  maxSpeakers: 2,
  bundleFolder: 'Tess',
  classes: EMOTIONS.filter((e) => TESS_TOKENS[e] !== undefined),
  speakerNote: 'speakers OAF and YAF',
  capacity: () => TESS_WORDS.length,
  speaker: (index) => ({ id: `tess:${TESS_SPEAKERS[index]}`, code: TESS_SPEAKERS[index], gender: 'female' }),
  file(_index, speaker, emotion, j) {
    // Like the real corpus, each speaker says the same words in every emotion.
    const word = TESS_WORDS[(mixSeed('tess-words', speaker.code) + j) % TESS_WORDS.length];
    const folder = TESS_FOLDERS[speaker.code as (typeof TESS_SPEAKERS)[number]][emotion];
    return `${folder}/${speaker.code}_${word}_${TESS_TOKENS[emotion]}.wav`;
  },
};

const SAVEE_SPEAKERS = ['DC', 'JE', 'JK', 'KL'] as const;
const SAVEE_CODES: Partial<Record<Emotion, string>> = {
  angry: 'a', disgust: 'd', fearful: 'f', happy: 'h', neutral: 'n', sad: 'sa', surprised: 'su',
};

const savee: CorpusSpec = {
  name: 'savee',
  sampleRate: 44100,
  maxSpeakers: 4,
  bundleFolder: 'Savee',
  classes: EMOTIONS.filter((e) => SAVEE_CODES[e] !== undefined),
  speakerNote: 'speakers DC, JE, JK, KL',
  // The real corpus has 30 neutral and 15 of each other emotion per speaker.
  capacity: (emotion) => (emotion === 'neutral' ? 30 : 15),
  speaker: (index) => ({ id: `savee:${SAVEE_SPEAKERS[index]}`, code: SAVEE_SPEAKERS[index], gender: 'male' }),
  file: (_index, speaker, emotion, j) => `${speaker.code}_${SAVEE_CODES[emotion]}${pad2(j + 1)}.wav`,
};

const SPECS: Record<CorpusName, CorpusSpec> = { ravdess, crema, tess, savee };

const maxCapacity = (spec: CorpusSpec): number => Math.max(...spec.classes.map((e) => spec.capacity(e)));

// ------------------------------------------------------------------------------------------ options

interface ResolvedOptions {
  corpus: SynthCorpus;
  speakers: number;
  clipsPerClass: number;
  seconds: number;
  seed: number;
}

function positiveInteger(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new OptionsError(`${name} must be a positive integer, got ${String(value)}`);
  }
}

function resolveOptions(options: SynthOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new OptionsError('synth options must be an object');
  const { corpus } = options;
  if (!ALL_CORPORA.includes(corpus)) {
    throw new OptionsError(`corpus must be one of ${ALL_CORPORA.join(', ')}, got ${JSON.stringify(corpus)}`);
  }
  const specs = corpus === 'bundle' ? CORPUS_NAMES.map((n) => SPECS[n]) : [SPECS[corpus]];
  const maxSpeakers = Math.max(...specs.map((s) => s.maxSpeakers));
  // The default speaker count is capped like the bundle's (TESS has 2); a number asked for is checked.
  const speakers = options.speakers ?? Math.min(DEFAULTS.speakers, maxSpeakers);
  const clipsPerClass = options.clipsPerClass ?? DEFAULTS.clipsPerClass;
  const seconds = options.seconds ?? DEFAULTS.seconds;
  const seed = options.seed ?? DEFAULTS.seed;
  positiveInteger('speakers', speakers);
  positiveInteger('clipsPerClass', clipsPerClass);
  if (speakers > maxSpeakers) {
    throw new OptionsError(
      corpus === 'bundle'
        ? `speakers must be at most ${maxSpeakers} for the bundle (its largest corpus, CREMA-D, has ${maxSpeakers}; smaller corpora are capped), got ${speakers}`
        : `speakers must be at most ${maxSpeakers} for ${corpus} (${specs[0].speakerNote}), got ${speakers}`,
    );
  }
  const maxClips = Math.max(...specs.map(maxCapacity));
  if (clipsPerClass > maxClips) {
    throw new OptionsError(
      corpus === 'bundle'
        ? `clipsPerClass must be at most ${maxClips} for the bundle (TESS has ${maxClips} words; other corpora are capped), got ${clipsPerClass}`
        : `clipsPerClass must be at most ${maxClips} for ${corpus} (the most distinct file names its convention gives one speaker and emotion), got ${clipsPerClass}`,
    );
  }
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < MIN_SECONDS || seconds > MAX_SECONDS) {
    throw new OptionsError(`seconds must be a number from ${MIN_SECONDS} to ${MAX_SECONDS}, got ${String(seconds)}`);
  }
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new OptionsError(`seed must be a non-negative integer, got ${String(seed)}`);
  }
  return { corpus, speakers, clipsPerClass, seconds, seed };
}

// ------------------------------------------------------------------------------------------ clips

interface ClipRecipe {
  voice: ClipVoice;
  content: UtteranceContent;
}

const RAVDESS_NAME = /^03-01-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})\.wav$/;
const CREMA_NAME = /^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})\.wav$/;
const TESS_NAME = /^(OAF|YAF)_([a-z]+)_([a-z]+)\.wav$/;
const SAVEE_NAME = /^(DC|JE|JK|KL)_([a-z]{1,2})(\d{2})\.wav$/;
const CREMA_INTENSITY: Record<string, number> = { LO: 0.6, MD: 1, HI: 1.4, XX: 1 };

/** Emotional intensity and what is said, read back from the file name (so a SynthClip is self-describing). */
function describe(clip: SynthClip): { intensity: number; content: UtteranceContent } {
  const base = path.posix.basename(clip.path);
  const plain = (key: string): UtteranceContent => ({ prefixSeed: 0, prefixSyllables: 0, seed: mixSeed('text', key) });
  let m: RegExpExecArray | null;
  if (clip.corpus === 'ravdess' && (m = RAVDESS_NAME.exec(base))) {
    return { intensity: m[2] === '02' ? 1.4 : 1, content: plain(`ravdess-statement-${m[3]}`) };
  }
  if (clip.corpus === 'crema' && (m = CREMA_NAME.exec(base))) {
    return { intensity: CREMA_INTENSITY[m[4]] ?? 1, content: plain(`crema-sentence-${m[2]}`) };
  }
  if (clip.corpus === 'tess' && (m = TESS_NAME.exec(base))) {
    // "Say the word ___": a three-syllable carrier, then the word.
    return { intensity: 1, content: { prefixSeed: mixSeed('text', 'tess-carrier'), prefixSyllables: 3, seed: mixSeed('text', `tess-word-${m[2]}`) } };
  }
  if (clip.corpus === 'savee' && (m = SAVEE_NAME.exec(base))) {
    return { intensity: 1, content: plain(`savee-sentence-${m[3]}`) };
  }
  return { intensity: 1, content: plain(base) };
}

function speakerAge(clip: SynthClip): Age {
  if (clip.speaker === 'tess:OAF') return 'older';
  if (clip.speaker === 'tess:YAF') return 'younger';
  return 'adult';
}

function recipe(clip: SynthClip, seed: number): ClipRecipe {
  const { intensity, content } = describe(clip);
  const speaker = drawSpeaker(mixSeed(seed, 'speaker', clip.corpus, clip.speaker), clip.gender, speakerAge(clip));
  const voice = drawClipVoice(speaker, clip.emotion, intensity, mixSeed(seed, 'clip', clip.corpus, path.posix.basename(clip.path)));
  return { voice, content };
}

/**
 * What `synthesizeCorpus` would write, in writing order (corpus, speaker, emotion, clip), without any I/O.
 * Each class of a speaker gets min(clipsPerClass, the class's capacity) clips: RAVDESS neutral 4 (others 8),
 * CREMA-D neutral 12 (others 14), TESS 200, SAVEE neutral 30 (others 15), as in the real corpora.
 */
export function planCorpus(options: SynthOptions): SynthClip[] {
  const o = resolveOptions(options);
  const names = o.corpus === 'bundle' ? CORPUS_NAMES : [o.corpus];
  const clips: SynthClip[] = [];
  for (const name of names) {
    const spec = SPECS[name];
    const prefix = o.corpus === 'bundle' ? `${spec.bundleFolder}/` : '';
    const speakers = Math.min(o.speakers, spec.maxSpeakers);
    for (let index = 0; index < speakers; index++) {
      const speaker = spec.speaker(index);
      for (const emotion of spec.classes) {
        const count = Math.min(o.clipsPerClass, spec.capacity(emotion));
        for (let j = 0; j < count; j++) {
          const clip: SynthClip = {
            path: prefix + spec.file(index, speaker, emotion, j),
            corpus: name,
            speaker: speaker.id,
            gender: speaker.gender,
            emotion,
            sampleRate: spec.sampleRate,
            seconds: 0,
          };
          const samples = Math.round(o.seconds * recipe(clip, o.seed).voice.durationFactor * spec.sampleRate);
          clip.seconds = samples / spec.sampleRate;
          clips.push(clip);
        }
      }
    }
  }
  return clips;
}

/**
 * The audio of one planned clip: round(clip.seconds * clip.sampleRate) samples, |x| <= 0.95. `seed` is the
 * corpus seed (SynthOptions.seed): the clip's own random streams come from it, the corpus and the file name,
 * so a clip sounds the same whether written alone, in a bigger corpus or in the bundle.
 */
export function synthesizeClip(clip: SynthClip, seed: number): Float32Array {
  if (!Number.isInteger(clip.sampleRate) || clip.sampleRate < 8000 || clip.sampleRate > 384000) {
    throw new Error(`clip sampleRate must be an integer from 8000 to 384000 Hz, got ${clip.sampleRate}`);
  }
  if (!Number.isFinite(clip.seconds) || clip.seconds <= 0 || clip.seconds > 60) {
    throw new Error(`clip seconds must be in (0, 60], got ${clip.seconds}`);
  }
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`seed must be a non-negative integer, got ${seed}`);
  if (!EMOTIONS.includes(clip.emotion)) throw new Error(`clip emotion must be one of ${EMOTIONS.join(', ')}, got ${String(clip.emotion)}`);
  const { voice, content } = recipe(clip, seed);
  const samples = Math.round(clip.seconds * clip.sampleRate);
  return renderUtterance(voice, content, clip.sampleRate, samples, mixSeed(seed, 'render', clip.corpus, path.posix.basename(clip.path)));
}

/** The corpus seed the options stand for (their seed or the default). */
export function corpusSeed(options: SynthOptions): number {
  return options.seed ?? DEFAULTS.seed;
}

/** Writes one planned clip as 16-bit PCM mono WAV under `root` (atomically, creating its folder). */
export function writeSynthClip(root: string, clip: SynthClip, seed: number): void {
  const file = path.join(root, ...clip.path.split('/'));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, native.encodeWav16(synthesizeClip(clip, seed), clip.sampleRate));
}

/** Writes every planned clip under `dir` on the calling thread (the library's synthesize() uses every core). */
export function synthesizeCorpus(dir: string, options: SynthOptions, onProgress?: (done: number, total: number) => void): SynthSummary {
  const files = planCorpus(options);
  const seed = corpusSeed(options);
  const root = path.resolve(dir);
  let seconds = 0;
  files.forEach((clip, index) => {
    writeSynthClip(root, clip, seed);
    seconds += clip.seconds;
    onProgress?.(index + 1, files.length);
  });
  return { dir: root, clips: files.length, seconds, files };
}
