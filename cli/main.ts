#!/usr/bin/env node
/**
 * The `tunekit` command: `run` (a whole fine-tune from a YAML config), `files`, `fine-tuning` (alias `jobs`),
 * `chat`, `models` and `emulator`. Exit codes: 0 ok, 1 the job or a request failed, 2 usage (nothing was sent).
 */
import { Command, CommanderError } from 'commander';
import { APIConnectionError, APIError, DEFAULT_BASE_URL, TunekitError, VERSION } from '../src/index';
import { registerChat } from './chat';
import { serverURL } from './client';
import { registerEmulator, serving } from './emulator';
import { registerFiles } from './files';
import { registerFineTuning } from './fine-tuning';
import { registerModels } from './models';
import { CliError, EXIT_FAILED, EXIT_OK, EXIT_USAGE, note } from './output';
import { registerRun } from './run';

function buildProgram(): Command {
  const program = new Command('tunekit')
    .description(
      'Fine-tune, follow and chat with models on a tunekit emulator or an OpenAI-compatible server.\n' +
        'Server: TUNEKIT_BASE_URL (default http://127.0.0.1:4100/v1, what `tunekit emulator` serves); key: TUNEKIT_API_KEY.',
    )
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride()
    .addHelpText('after', '\nExample:\n  tunekit run examples/chat.yaml');
  registerRun(program);
  registerFiles(program);
  registerFineTuning(program);
  registerChat(program);
  registerModels(program);
  registerEmulator(program);
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }
  return program;
}

/** A failure's message for stderr: the server's error code and message for API errors. */
function describeFailure(error: unknown, baseURL: string): string {
  if (error instanceof APIConnectionError) {
    return `cannot reach ${baseURL} (${error.message}); start a server with \`tunekit emulator\` or set TUNEKIT_BASE_URL`;
  }
  if (error instanceof APIError) {
    const code = error.code ? ` (${error.code}${error.param ? `, param ${error.param}` : ''})` : '';
    return `request failed${error.status ? ` with ${error.status}` : ''}${code}: ${error.error?.message ?? error.message}`;
  }
  return (error as Error).message;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  if (argv.length === 0) {
    process.stderr.write(program.helpInformation());
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version end with 0; every other parse error was printed by commander already.
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (error instanceof CliError) {
      note(`tunekit: ${error.message}`);
      return error.exitCode;
    }
    if (error instanceof TunekitError || error instanceof Error) {
      note(`tunekit: ${describeFailure(error, serverURL() ?? DEFAULT_BASE_URL)}`);
      return EXIT_FAILED;
    }
    throw error;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // The embedded emulator and the SDK's keep-alive sockets are closed by now; exit without waiting on idle timers.
  if (!serving) process.exit(code);
});
