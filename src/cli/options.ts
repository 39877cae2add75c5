// Option parsing shared by commands: typed value parsers and the feature options of DESIGN section 3.
import { InvalidArgumentError, Option, type Command } from 'commander';

import { FEATURE_OPTION_SPECS, type FeatureOptions } from '../index';

/** --threads <n>: the backend's threads, every core by default (checked where the backend starts). */
export function threadsOption(): Option {
  return new Option('--threads <n>', 'threads to train or infer on (default: every core)').argParser(parseInteger);
}

export function parseInteger(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n)) throw new InvalidArgumentError('must be an integer.');
  return n;
}

export function parseNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('must be a number.');
  return n;
}

// Commander stores a parser's null as '', so 'none' stays a token here and becomes null in featureOptionsFrom.
const NONE = 'none';

export function parseDbOrNone(value: string): number | typeof NONE {
  if (value.toLowerCase() === NONE) return NONE;
  return parseNumber(value);
}

/** Registers --kind, --sample-rate, ... --no-center on `command`. */
export function addFeatureOptions(command: Command): Command {
  for (const spec of FEATURE_OPTION_SPECS) {
    if (spec.valueKind === 'negatedFlag') {
      command.addOption(new Option(spec.flag, spec.description));
      continue;
    }
    const placeholder = spec.valueKind === 'choice' ? '<name>' : spec.valueKind === 'dbOrNone' ? '<dB|none>' : '<n>';
    const option = new Option(`${spec.flag} ${placeholder}`, spec.description);
    if (spec.choices) option.choices(spec.choices);
    else if (spec.valueKind === 'integer') option.argParser(parseInteger);
    else if (spec.valueKind === 'number') option.argParser(parseNumber);
    else option.argParser(parseDbOrNone);
    command.addOption(option);
  }
  return command;
}

/** Picks the feature options out of commander's parsed options (undefined ones fall to the defaults). */
export function featureOptionsFrom(opts: Record<string, unknown>): FeatureOptions {
  const picked: Record<string, unknown> = {};
  for (const spec of FEATURE_OPTION_SPECS) {
    const value = opts[spec.key];
    if (value === undefined) continue;
    picked[spec.key] = spec.valueKind === 'dbOrNone' && value === NONE ? null : value;
  }
  return picked as FeatureOptions;
}
