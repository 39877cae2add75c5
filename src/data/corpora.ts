// Corpus adapters: labels and speakers from file names, exactly as each corpus names its files
// (DESIGN section 5). A file that follows no convention is skipped with the reason, never guessed.
import * as path from 'path';

import type { Emotion } from './labels';

/** The corpora whose file names ser reads labels from. */
export type CorpusName = 'ravdess' | 'crema' | 'tess' | 'savee';
/** The corpus naming conventions ser prepare reads, by name. */
export const CORPORA: readonly CorpusName[] = ['ravdess', 'crema', 'tess', 'savee'];
/** A corpus naming convention, or auto to recognise each file's. */
export type CorpusChoice = CorpusName | 'auto';

export type Gender = 'male' | 'female';
export type Intensity = 'normal' | 'strong' | 'low' | 'medium' | 'high';

export interface ClipLabels {
  /** A corpus convention's name, or a clip list's corpus column (default: the list's file name). */
  corpus: string;
  /** Unique across corpora: `<corpus>:<speaker id>`. */
  speaker: string;
  gender: Gender | null;
  /** One of the eight emotions for the four conventions; any label from a clip list. */
  emotion: string;
  intensity: Intensity | null;
}

export type ParseResult = { ok: true; labels: ClipLabels } | { ok: false; reason: string };

interface Adapter {
  name: CorpusName;
  /** What the convention looks like, for skip reasons. */
  convention: string;
  /** Whether the base name has this corpus's shape at all (used by auto-detection). */
  looksLike(base: string): boolean;
  parse(base: string): ParseResult;
}

const fail = (reason: string): ParseResult => ({ ok: false, reason });

const RAVDESS_EMOTIONS: Record<string, Emotion> = {
  '01': 'neutral', '02': 'calm', '03': 'happy', '04': 'sad',
  '05': 'angry', '06': 'fearful', '07': 'disgust', '08': 'surprised',
};
const RAVDESS_PATTERN = /^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})\.wav$/i;

const ravdess: Adapter = {
  name: 'ravdess',
  convention: 'RAVDESS MM-CC-EE-II-SS-RR-AA.wav',
  looksLike: (base) => RAVDESS_PATTERN.test(base),
  parse(base) {
    const m = RAVDESS_PATTERN.exec(base);
    if (!m) return fail(`does not follow the ${this.convention} naming`);
    const [, modality, channel, emotionCode, intensityCode, statement, repetition, actorCode] = m;
    if (modality !== '03') return fail(`RAVDESS modality ${modality} is not audio-only (03)`);
    if (channel !== '01') return fail(`RAVDESS vocal channel ${channel} is not speech (01); song is not used`);
    const emotion = RAVDESS_EMOTIONS[emotionCode];
    if (!emotion) return fail(`RAVDESS emotion code ${emotionCode} is not 01..08`);
    if (intensityCode !== '01' && intensityCode !== '02') return fail(`RAVDESS intensity ${intensityCode} is not 01 or 02`);
    if (!['01', '02'].includes(statement) || !['01', '02'].includes(repetition)) {
      return fail(`RAVDESS statement ${statement} / repetition ${repetition} is not 01 or 02`);
    }
    const actor = Number(actorCode);
    if (actor < 1 || actor > 24) return fail(`RAVDESS actor ${actorCode} is not 01..24`);
    return {
      ok: true,
      labels: {
        corpus: 'ravdess',
        speaker: `ravdess:${actorCode}`,
        gender: actor % 2 === 1 ? 'male' : 'female',
        emotion,
        intensity: intensityCode === '01' ? 'normal' : 'strong',
      },
    };
  },
};

const CREMA_EMOTIONS: Record<string, Emotion> = {
  ANG: 'angry', DIS: 'disgust', FEA: 'fearful', HAP: 'happy', NEU: 'neutral', SAD: 'sad',
};
const CREMA_SENTENCES = new Set(['IEO', 'TIE', 'IOM', 'IWW', 'TAI', 'MTI', 'IWL', 'ITH', 'DFA', 'ITS', 'TSI', 'WSI']);
const CREMA_LEVELS: Record<string, Intensity | null> = { LO: 'low', MD: 'medium', HI: 'high', XX: null };
const CREMA_PATTERN = /^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})\.wav$/i;

const crema: Adapter = {
  name: 'crema',
  convention: 'CREMA-D 1001_DFA_ANG_XX.wav',
  looksLike: (base) => CREMA_PATTERN.test(base),
  parse(base) {
    const m = CREMA_PATTERN.exec(base);
    if (!m) return fail(`does not follow the ${this.convention} naming`);
    const [, actorCode, sentence, emotionCode, level] = m;
    const actor = Number(actorCode);
    if (actor < 1001 || actor > 1091) return fail(`CREMA-D actor ${actorCode} is not 1001..1091`);
    if (!CREMA_SENTENCES.has(sentence.toUpperCase())) return fail(`CREMA-D sentence code ${sentence} is not one of the 12`);
    const emotion = CREMA_EMOTIONS[emotionCode.toUpperCase()];
    if (!emotion) return fail(`CREMA-D emotion ${emotionCode} is not one of ANG DIS FEA HAP NEU SAD`);
    if (!(level.toUpperCase() in CREMA_LEVELS)) return fail(`CREMA-D level ${level} is not one of LO MD HI XX`);
    // The file name carries no sex; CREMA-D keeps it in a separate demographics table.
    return {
      ok: true,
      labels: { corpus: 'crema', speaker: `crema:${actorCode}`, gender: null, emotion, intensity: CREMA_LEVELS[level.toUpperCase()] },
    };
  },
};

const TESS_EMOTIONS: Record<string, Emotion> = {
  angry: 'angry', disgust: 'disgust', fear: 'fearful', happy: 'happy', neutral: 'neutral', ps: 'surprised', sad: 'sad',
};
const TESS_PATTERN = /^(OAF|YAF)_([a-z]+)_([a-z]+)\.wav$/i;

const tess: Adapter = {
  name: 'tess',
  convention: 'TESS OAF_word_emotion.wav',
  looksLike: (base) => TESS_PATTERN.test(base),
  parse(base) {
    const m = TESS_PATTERN.exec(base);
    if (!m) return fail(`does not follow the ${this.convention} naming`);
    const [, speakerCode, , token] = m;
    const emotion = TESS_EMOTIONS[token.toLowerCase()];
    if (!emotion) return fail(`TESS emotion '${token}' is not one of angry disgust fear happy neutral ps sad`);
    return {
      ok: true,
      labels: { corpus: 'tess', speaker: `tess:${speakerCode.toUpperCase()}`, gender: 'female', emotion, intensity: null },
    };
  },
};

const SAVEE_EMOTIONS: Record<string, Emotion> = {
  a: 'angry', d: 'disgust', f: 'fearful', h: 'happy', n: 'neutral', sa: 'sad', su: 'surprised',
};
const SAVEE_PATTERN = /^(DC|JE|JK|KL)_([a-z]{1,2})(\d{2})\.wav$/i;

const savee: Adapter = {
  name: 'savee',
  convention: 'SAVEE DC_a01.wav',
  looksLike: (base) => SAVEE_PATTERN.test(base),
  parse(base) {
    const m = SAVEE_PATTERN.exec(base);
    if (!m) return fail(`does not follow the ${this.convention} naming`);
    const [, speakerCode, code] = m;
    const emotion = SAVEE_EMOTIONS[code.toLowerCase()];
    if (!emotion) return fail(`SAVEE emotion code '${code}' is not one of a d f h n sa su`);
    return {
      ok: true,
      labels: { corpus: 'savee', speaker: `savee:${speakerCode.toUpperCase()}`, gender: 'male', emotion, intensity: null },
    };
  },
};

const ADAPTERS: Record<CorpusName, Adapter> = { ravdess, crema, tess, savee };

/**
 * Labels for one file, from its base name. With `auto`, the corpus is the one whose naming the file
 * follows (the conventions do not overlap); with a named corpus only that convention is tried.
 */
export function parseClipPath(filePath: string, corpus: CorpusChoice = 'auto'): ParseResult {
  const base = path.basename(filePath);
  if (corpus !== 'auto') return ADAPTERS[corpus].parse(base);
  const candidates = CORPORA.filter((name) => ADAPTERS[name].looksLike(base));
  if (candidates.length === 0) {
    return fail(`matches no corpus naming (${CORPORA.map((n) => ADAPTERS[n].convention).join('; ')})`);
  }
  return ADAPTERS[candidates[0]].parse(base);
}
