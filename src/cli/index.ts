#!/usr/bin/env node
// The `ser` command line: parses arguments and hands each command to its module.
import { Command, CommanderError } from 'commander';

import { augmentCommand } from './augment';
import { benchCommand } from './bench';
import { demoCommand } from './demo';
import { evalCommand, predictCommand } from './eval';
import { shutdown, version as PACKAGE_VERSION } from '../index';
import { EXIT_OK, EXIT_USAGE, exitCodeOf } from './errors';
import { featuresCommand } from './features';
import { mergeCommand, prepareCommand } from './prepare';
import { synthCommand } from './synth';
import { trainCommand } from './train';

export function buildProgram(): Command {
  const program = new Command('ser')
    .description('speech emotion recognition: native features, augmentation, training, evaluation')
    .version(PACKAGE_VERSION)
    .showHelpAfterError('(run with --help for usage)');
  program.addCommand(synthCommand());
  program.addCommand(featuresCommand());
  program.addCommand(augmentCommand());
  program.addCommand(prepareCommand());
  program.addCommand(mergeCommand());
  program.addCommand(trainCommand());
  program.addCommand(evalCommand());
  program.addCommand(predictCommand());
  program.addCommand(benchCommand());
  program.addCommand(demoCommand());
  // Every subcommand reports usage errors through the same path, so they all exit 2.
  const applyExitOverride = (command: Command): void => {
    command.exitOverride();
    command.commands.forEach(applyExitOverride);
  };
  applyExitOverride(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      const benign = ['commander.helpDisplayed', 'commander.version', 'commander.help'];
      return benign.includes(error.code) ? EXIT_OK : EXIT_USAGE;
    }
    const message = error instanceof Error ? error.message : String(error);
    const command = program.args[0] ?? '';
    process.stderr.write(`ser${command ? ` ${command}` : ''}: ${message.split('\n')[0]}\n`);
    return exitCodeOf(error);
  } finally {
    // The library's worker threads would otherwise linger until their idle timeout.
    await shutdown();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`ser: ${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
