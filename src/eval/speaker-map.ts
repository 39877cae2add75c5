// Speaker maps for prediction: which speaker each file is, read from a JSON or CSV file. Light (no
// TensorFlow.js), so the CLI checks a map before it loads a model.
import * as fs from 'fs';
import * as path from 'path';

import { InputFileError } from '../errors';

/**
 * A speaker map from a file: a JSON object {"file": "speaker"} or lines "file,speaker" (a tab works
 * too; '#' starts a comment). Relative file names are taken from the map's folder. Keys of the result
 * are absolute paths.
 */
export function readSpeakerMap(file: string): Map<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputFileError(file, `cannot read the speaker map: ${(error as Error).message}`);
  }
  const base = path.dirname(path.resolve(file));
  const map = new Map<string, string>();
  const add = (name: string, speaker: string, where: string) => {
    if (name === '' || speaker === '') throw new InputFileError(file, `${where}: a file name and a speaker are both needed`);
    map.set(path.resolve(base, name), speaker);
  };
  if (text.trimStart().startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new InputFileError(file, `not valid JSON: ${(error as Error).message}`);
    }
    for (const [name, speaker] of Object.entries(json as Record<string, unknown>)) {
      if (typeof speaker !== 'string') throw new InputFileError(file, `the speaker of ${name} is not a string`);
      add(name, speaker.trim(), name);
    }
  } else {
    text.split(/\r?\n/).forEach((line, n) => {
      const content = line.replace(/#.*/, '').trim();
      if (content === '') return;
      const cut = content.search(/[,\t]/);
      if (cut < 0) throw new InputFileError(file, `line ${n + 1}: expected "file,speaker", got '${content}'`);
      add(content.slice(0, cut).trim(), content.slice(cut + 1).trim(), `line ${n + 1}`);
    });
  }
  if (map.size === 0) throw new InputFileError(file, 'the speaker map names no file');
  return map;
}
