/** `tunekit files …`: upload, list, retrieve, delete, and check (local validation with the emulator's validators). */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { type Command, Option } from 'commander';
import type { FileObject } from '../src/index';
import { createClient } from './client';
import {
  CliError,
  EXIT_FAILED,
  fields,
  formatBytes,
  note,
  printJson,
  relativeTime,
  table,
  UsageError,
} from './output';

export interface FileCheck {
  path: string;
  valid: boolean;
  format: string | null;
  n_examples: number;
  problems: { line: number | null; message: string }[];
}

/** Validates a training file the way the emulator will: every bad line with its number, and the example count. */
export async function checkFile(path: string): Promise<FileCheck> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return {
      path,
      valid: false,
      format: null,
      n_examples: 0,
      problems: [{ line: null, message: 'not valid UTF-8 text' }],
    };
  }
  // The emulator's validators (and their tokenizer dependencies) load only for this command.
  const { checkJsonl, MIN_TRAINING_EXAMPLES } = await import('../emulator/data/index');
  const { format, nExamples, problems } = checkJsonl(text);
  const found: FileCheck['problems'] = problems.map((p) => ({ line: p.line, message: p.problem }));
  if (problems.length === 0 && nExamples < MIN_TRAINING_EXAMPLES) {
    found.push({
      line: null,
      message: `${nExamples} example(s), but a training file needs at least ${MIN_TRAINING_EXAMPLES}`,
    });
  }
  return { path, valid: found.length === 0, format, n_examples: nExamples, problems: found };
}

function fileFields(file: FileObject): string {
  return fields([
    ['id', file.id],
    ['filename', file.filename],
    ['purpose', file.purpose],
    ['bytes', `${file.bytes} (${formatBytes(file.bytes)})`],
    ['status', file.status],
    ['created', relativeTime(file.created_at)],
  ]);
}

const json = () => new Option('--json', 'print the API object as one JSON document on stdout').default(false);

function printCheck(check: FileCheck): void {
  if (check.valid) {
    process.stdout.write(`${check.path}: OK, ${check.n_examples} examples (${check.format} format)\n`);
    return;
  }
  for (const p of check.problems) {
    process.stdout.write(`${check.path}:${p.line === null ? '' : `${p.line}:`} ${p.message}\n`);
  }
}

export function registerFiles(program: Command): void {
  const group = program.command('files').description('Upload, list and check training files');

  group
    .command('check')
    .description('Validate a training file locally (every bad line with its number); exit 1 when invalid')
    .argument('<path>', 'JSONL file')
    .addOption(json())
    .addHelpText('after', '\nExample:\n  tunekit files check train.jsonl')
    .action(async (path: string, options: { json: boolean }) => {
      const check = await checkFile(path);
      if (options.json) printJson(check);
      else printCheck(check);
      if (!check.valid) process.exitCode = EXIT_FAILED;
    });

  group
    .command('upload')
    .description('Upload a file (a fine-tune file is checked locally first)')
    .argument('<path>', 'file to upload')
    .addOption(new Option('--purpose <purpose>', 'what the file is for').default('fine-tune'))
    .option('--no-check', 'skip the local check of a fine-tune file')
    .addOption(json())
    .addHelpText('after', '\nExample:\n  tunekit files upload train.jsonl')
    .action(async (path: string, options: { purpose: string; check: boolean; json: boolean }) => {
      if (options.check && options.purpose === 'fine-tune') {
        const check = await checkFile(path);
        if (!check.valid) {
          printCheck(check);
          throw new CliError(
            `${path} is not a valid training file; nothing was uploaded (--no-check to upload anyway)`,
          );
        }
      }
      note(`Uploading ${basename(path)}`);
      const file = await createClient().files.create({ file: path, purpose: options.purpose as 'fine-tune' });
      if (options.json) printJson(file);
      else process.stdout.write(`${fileFields(file)}\n`);
    });

  group
    .command('list')
    .description('List uploaded files, newest first')
    .option('--purpose <purpose>', 'only files with this purpose')
    .addOption(json())
    .addHelpText('after', '\nExample:\n  tunekit files list --purpose fine-tune')
    .action(async (options: { purpose?: string; json: boolean }) => {
      const files: FileObject[] = [];
      for await (const file of createClient().files.list(
        options.purpose ? { purpose: options.purpose } : {},
      )) {
        files.push(file);
      }
      if (options.json) return printJson({ object: 'list', data: files, has_more: false });
      const rows = files.map((f) => [
        f.id,
        f.filename,
        f.purpose,
        formatBytes(f.bytes),
        relativeTime(f.created_at),
      ]);
      process.stdout.write(`${table(['ID', 'FILENAME', 'PURPOSE', 'SIZE', 'CREATED'], rows)}\n`);
    });

  group
    .command('retrieve')
    .description("Show a file's metadata")
    .argument('<id>', 'file id')
    .addOption(json())
    .addHelpText('after', '\nExample:\n  tunekit files retrieve file-abc')
    .action(async (id: string, options: { json: boolean }) => {
      const file = await createClient().files.retrieve(id);
      if (options.json) printJson(file);
      else process.stdout.write(`${fileFields(file)}\n`);
    });

  group
    .command('delete')
    .description('Delete a file')
    .argument('<id>', 'file id')
    .addOption(json())
    .addHelpText('after', '\nExample:\n  tunekit files delete file-abc')
    .action(async (id: string, options: { json: boolean }) => {
      const deleted = await createClient().files.delete(id);
      if (options.json) printJson(deleted);
      else process.stdout.write(`${deleted.id}  deleted\n`);
    });
}
