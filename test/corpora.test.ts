// Corpus adapters on file-name lists covering every code of each convention, and the bundle layout.
import * as fs from 'fs';
import * as path from 'path';

import { parseClipPath, type ClipLabels } from '../src/data/corpora';
import { scanDataset } from '../src/data/scan';
import { tempDir } from './helpers/paths';

function labels(file: string, corpus: Parameters<typeof parseClipPath>[1] = 'auto'): ClipLabels {
  const result = parseClipPath(file, corpus);
  if (!result.ok) throw new Error(`${file}: ${result.reason}`);
  return result.labels;
}

function reason(file: string, corpus: Parameters<typeof parseClipPath>[1] = 'auto'): string {
  const result = parseClipPath(file, corpus);
  if (result.ok) throw new Error(`${file} parsed but should not`);
  return result.reason;
}

describe('RAVDESS MM-CC-EE-II-SS-RR-AA.wav', () => {
  test.each([
    ['01', 'neutral'], ['02', 'calm'], ['03', 'happy'], ['04', 'sad'],
    ['05', 'angry'], ['06', 'fearful'], ['07', 'disgust'], ['08', 'surprised'],
  ])('emotion %s is %s', (code, emotion) => {
    expect(labels(`Actor_03/03-01-${code}-01-02-01-03.wav`)).toEqual({
      corpus: 'ravdess', speaker: 'ravdess:03', gender: 'male', emotion, intensity: 'normal',
    });
  });

  test('intensity 02 is strong; even actors are female; all 24 actors parse', () => {
    expect(labels('03-01-05-02-01-01-12.wav')).toMatchObject({ intensity: 'strong', gender: 'female', speaker: 'ravdess:12' });
    for (let actor = 1; actor <= 24; actor++) {
      const code = String(actor).padStart(2, '0');
      expect(labels(`03-01-03-01-01-02-${code}.wav`).gender).toBe(actor % 2 ? 'male' : 'female');
    }
  });

  test.each([
    ['01-01-05-01-01-01-01.wav', /modality 01 is not audio-only/],
    ['03-02-05-01-01-01-01.wav', /vocal channel 02 is not speech/],
    ['03-01-09-01-01-01-01.wav', /emotion code 09/],
    ['03-01-05-03-01-01-01.wav', /intensity 03/],
    ['03-01-05-01-03-01-01.wav', /statement 03/],
    ['03-01-05-01-01-01-25.wav', /actor 25/],
  ])('%s is refused', (file, message) => {
    expect(reason(file)).toMatch(message);
  });
});

describe('CREMA-D 1001_DFA_ANG_XX.wav', () => {
  test.each([
    ['ANG', 'angry'], ['DIS', 'disgust'], ['FEA', 'fearful'], ['HAP', 'happy'], ['NEU', 'neutral'], ['SAD', 'sad'],
  ])('%s is %s', (code, emotion) => {
    expect(labels(`1001_DFA_${code}_XX.wav`)).toEqual({ corpus: 'crema', speaker: 'crema:1001', gender: null, emotion, intensity: null });
  });

  test('levels, every sentence code, actor range', () => {
    expect(labels('1091_IEO_HAP_LO.wav').intensity).toBe('low');
    expect(labels('1050_IEO_HAP_MD.wav').intensity).toBe('medium');
    expect(labels('1050_IEO_HAP_HI.wav').intensity).toBe('high');
    for (const sentence of ['IEO', 'TIE', 'IOM', 'IWW', 'TAI', 'MTI', 'IWL', 'ITH', 'DFA', 'ITS', 'TSI', 'WSI']) {
      expect(labels(`1002_${sentence}_SAD_XX.wav`).emotion).toBe('sad');
    }
    expect(reason('1000_IEO_HAP_LO.wav')).toMatch(/actor 1000/);
    expect(reason('1001_ABC_HAP_LO.wav')).toMatch(/sentence code ABC/);
    expect(reason('1001_IEO_CLM_LO.wav')).toMatch(/emotion CLM/);
    expect(reason('1001_IEO_HAP_ZZ.wav')).toMatch(/level ZZ/);
  });
});

describe('TESS OAF_word_emotion.wav', () => {
  test.each([
    ['angry', 'angry'], ['disgust', 'disgust'], ['fear', 'fearful'], ['happy', 'happy'],
    ['neutral', 'neutral'], ['ps', 'surprised'], ['sad', 'sad'],
  ])('%s is %s', (token, emotion) => {
    expect(labels(`OAF_Fear/OAF_back_${token}.wav`)).toEqual({ corpus: 'tess', speaker: 'tess:OAF', gender: 'female', emotion, intensity: null });
    expect(labels(`YAF_pleasant_surprised/YAF_bite_${token}.wav`).speaker).toBe('tess:YAF');
  });

  test('an unknown emotion token is refused', () => {
    expect(reason('OAF_back_bored.wav')).toMatch(/TESS emotion 'bored'/);
  });
});

describe('SAVEE DC_a01.wav', () => {
  test.each([
    ['a', 'angry'], ['d', 'disgust'], ['f', 'fearful'], ['h', 'happy'], ['n', 'neutral'], ['sa', 'sad'], ['su', 'surprised'],
  ])('%s is %s', (code, emotion) => {
    for (const speaker of ['DC', 'JE', 'JK', 'KL']) {
      expect(labels(`${speaker}_${code}07.wav`)).toEqual({ corpus: 'savee', speaker: `savee:${speaker}`, gender: 'male', emotion, intensity: null });
    }
  });

  test('an unknown code is refused', () => {
    expect(reason('DC_x01.wav')).toMatch(/SAVEE emotion code 'x'/);
  });
});

describe('choosing the corpus', () => {
  test('a file that follows no convention is skipped with the conventions named, never guessed', () => {
    expect(reason('happy_clip.wav')).toMatch(/matches no corpus naming/);
    expect(reason('speaker1_angry.wav')).toMatch(/RAVDESS .*CREMA-D .*TESS .*SAVEE/);
  });

  test('a named corpus only accepts its own convention', () => {
    expect(reason('DC_a01.wav', 'ravdess')).toMatch(/does not follow the RAVDESS/);
    expect(labels('DC_a01.wav', 'savee').corpus).toBe('savee');
  });
});

test('the Kaggle bundle layout: all four corpora read from Ravdess/ Crema/ Tess/ Savee/, others skipped', () => {
  const root = tempDir('bundle');
  const files = [
    'Ravdess/audio_speech_actors_01-24/Actor_01/03-01-05-01-01-01-01.wav',
    'Ravdess/audio_speech_actors_01-24/Actor_02/03-01-02-02-01-01-02.wav',
    'Crema/1001_DFA_ANG_XX.wav',
    'Crema/1002_IEO_SAD_HI.wav',
    'Tess/OAF_Fear/OAF_back_fear.wav',
    'Tess/YAF_pleasant_surprised/YAF_bite_ps.wav',
    'Savee/DC_a01.wav',
    'Savee/KL_su15.wav',
    'Savee/info.txt',
    'Crema/notes.wav',
  ];
  for (const file of files) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), '');
  }
  const scan = scanDataset(root);
  expect(scan.clips.map((c) => [c.id, c.corpus, c.emotion])).toEqual([
    ['Crema/1001_DFA_ANG_XX.wav', 'crema', 'angry'],
    ['Crema/1002_IEO_SAD_HI.wav', 'crema', 'sad'],
    ['Ravdess/audio_speech_actors_01-24/Actor_01/03-01-05-01-01-01-01.wav', 'ravdess', 'angry'],
    ['Ravdess/audio_speech_actors_01-24/Actor_02/03-01-02-02-01-01-02.wav', 'ravdess', 'calm'],
    ['Savee/DC_a01.wav', 'savee', 'angry'],
    ['Savee/KL_su15.wav', 'savee', 'surprised'],
    ['Tess/OAF_Fear/OAF_back_fear.wav', 'tess', 'fearful'],
    ['Tess/YAF_pleasant_surprised/YAF_bite_ps.wav', 'tess', 'surprised'],
  ]);
  expect(scan.skipped).toEqual([{ path: 'Crema/notes.wav', reason: expect.stringMatching(/matches no corpus naming/) }]);
  fs.rmSync(root, { recursive: true, force: true });
});
