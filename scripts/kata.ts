/**
 * `npm run kata -- <command>`: the learner's loop around grading. See where you are (list), read a
 * kata (start), grade on every save (watch), ask for a hint (hint), compare with the reference once
 * solved (solution), start again without losing anything (reset), practise against the clock
 * (interview). Usage mistakes are one line naming the valid choices, exit code 2.
 */
import { Command, CommanderError, type Option } from 'commander';
import { pcErr } from './lib/colour.ts';
import { hintCommand } from './commands/hint.ts';
import { interviewCommand } from './commands/interview.ts';
import { listCommand } from './commands/list.ts';
import { resetCommand } from './commands/reset.ts';
import { solutionCommand } from './commands/solution.ts';
import { startCommand } from './commands/start.ts';
import { watchCommand } from './commands/watch.ts';
import { UsageError } from './lib/katas.ts';
import { timeoutFromEnv } from './lib/run-grader.ts';

const program = new Command('kata')
  .usage('<command> [options]')
  .description('Practise the katas: npm run kata -- <command> (npm run kata -- help <command>)')
  .addCommand(listCommand())
  .addCommand(startCommand())
  .addCommand(hintCommand())
  .addCommand(watchCommand())
  .addCommand(solutionCommand())
  .addCommand(resetCommand())
  .addCommand(interviewCommand());

// Every parsing mistake, in any command, becomes one line naming the valid choices (exit 2).
for (const command of [program, ...program.commands]) {
  command.configureOutput({ outputError: () => {} }).exitOverride((error) => {
    throw Object.assign(error, { command });
  });
}

/** Commander's message for a usage mistake, completed with the valid choices, on one line. */
function usageMessage(error: CommanderError, command: Command): string {
  const message = error.message.replace(/^error:\s*/, '').replace(/\s*\n\s*/g, ' ');
  const options = (cmd: Command): string =>
    [...cmd.options.map((option: Option) => option.long ?? option.flags), '--help'].join(', ');
  switch (error.code) {
    case 'commander.invalidArgument': {
      const choice =
        /^command-argument value '(.*)' is invalid for argument '(.*)'\. Allowed choices are (.*?)\.?$/.exec(
          message,
        );
      if (!choice) return message;
      const [, value, name, choices] = choice;
      return `${name === 'slug' ? 'unknown kata' : `invalid ${name}`} "${value}"; choose one of: ${choices}`;
    }
    case 'commander.unknownCommand':
      return `${message}; commands: ${program.commands.map((cmd) => cmd.name()).join(', ')}`;
    case 'commander.unknownOption':
      return `${message}; options of "${command.name()}": ${options(command)}`;
    case 'commander.missingArgument': {
      const missing = command.registeredArguments.find((argument) =>
        message.includes(`'${argument.name()}'`),
      );
      const choices = missing?.argChoices;
      return choices ? `${message}; choose one of: ${choices.join(', ')}` : message;
    }
    case 'commander.excessArguments':
      return `${message} Usage: kata ${command.name()} ${command.usage()}`;
    default:
      return message;
  }
}

function where(command: Command | undefined): string {
  return command && command !== program ? `kata ${command.name()}` : 'kata';
}

// Output piped into `head` that stops reading: stop quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

let running: Command | undefined;
program.hook('preAction', (_program, actionCommand) => {
  running = actionCommand;
  // A malformed KATA_TIMEOUT_MS is refused before a command that grades starts, never ignored.
  if (['hint', 'watch', 'solution', 'interview'].includes(actionCommand.name())) timeoutFromEnv();
});

// No command: where am I? (`npm run kata`)
const args = process.argv.slice(2);
try {
  await program.parseAsync(args.length === 0 ? ['list'] : args, { from: 'user' });
} catch (error) {
  if (error instanceof CommanderError) {
    const { command } = error as CommanderError & { command?: Command };
    if (error.exitCode === 0 || error.code.startsWith('commander.help')) {
      process.exitCode = error.exitCode;
    } else {
      console.error(
        pcErr.red(
          `${where(command)}: ${usageMessage(error, command ?? program).replace(/\.$/, '')}`,
        ),
      );
      process.exitCode = 2;
    }
  } else if (error instanceof UsageError) {
    console.error(pcErr.red(`${where(running)}: ${error.message}`));
    process.exitCode = 2;
  } else if (error instanceof Error && error.name === 'ExitPromptError') {
    // Ctrl-C at a confirmation prompt: nothing was changed.
    console.error(pcErr.dim('cancelled: nothing changed'));
    process.exitCode = 130;
  } else {
    const message = error instanceof Error ? error.message : String(error);
    console.error(
      pcErr.red(`kata: ${message.split('\n')[0]}`) +
        (process.env.DEBUG ? '' : pcErr.dim(' (run with DEBUG=1 for details)')),
    );
    if (process.env.DEBUG) console.error(error);
    process.exitCode = 1;
  }
}
