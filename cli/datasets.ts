/**
 * Axolotl datasets → the JSONL the fine-tuning API takes, converted on the user's machine (so any server that
 * speaks OpenAI's format accepts them):
 *   chat_template  rows of `messages` (or `field_messages`), each message's role/content read through
 *                  `message_property_mappings`, Axolotl's role aliases (human → user, gpt → assistant) → chat rows
 *   sharegpt       `conversations` of {from, value} → chat rows (Axolotl's legacy ShareGPT loader)
 *   alpaca         {instruction, input?, output} → prompt/completion rows with Axolotl's Alpaca prompt (loss on the
 *                  response only, as with Axolotl's train_on_inputs: false; the server appends EOS)
 * val_set_size splits off the last rows as the validation file, as Axolotl's un-shuffled train_test_split does
 * (a fraction below 1 rounds the count up; an integer is a count).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, type DatasetConfig } from './config';

/** Axolotl's role aliases for chat_template datasets. */
const ROLE_ALIASES: Record<string, string> = {
  human: 'user',
  user: 'user',
  gpt: 'assistant',
  assistant: 'assistant',
  model: 'assistant',
  system: 'system',
  tool: 'tool',
};

/** Axolotl's Alpaca prompt (its "instruct" style), with and without an input. */
export function alpacaPrompt(instruction: string, input: string): string {
  return input
    ? 'Below is an instruction that describes a task, paired with an input that provides further context. ' +
        'Write a response that appropriately completes the request.\n\n' +
        `### Instruction:\n${instruction}\n\n### Input:\n${input}\n\n### Response:\n`
    : 'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n' +
        `### Instruction:\n${instruction}\n\n### Response:\n`;
}

/** A bad row in a dataset file. Exit code 2, before anything is uploaded. */
export class DatasetRowError extends Error {
  override readonly name = 'DatasetRowError';
  constructor(file: string, line: number, problem: string) {
    super(`${file}, line ${line}: ${problem}`);
  }
}

type Row = Record<string, unknown>;

function text(row: Row, key: string, fail: (problem: string) => never, optional = false): string {
  const value = row[key];
  if (value === undefined && optional) return '';
  if (typeof value !== 'string')
    fail(value === undefined ? `missing \`${key}\`` : `\`${key}\` must be a string`);
  return value as string;
}

function chatRow(
  turns: unknown,
  roleKey: string,
  contentKey: string,
  listKey: string,
  fail: (p: string) => never,
): Row {
  if (!Array.isArray(turns) || turns.length === 0) fail(`\`${listKey}\` must be a non-empty list`);
  const messages = (turns as unknown[]).map((turn, i) => {
    if (typeof turn !== 'object' || turn === null) fail(`${listKey}[${i}] must be an object`);
    const t = turn as Row;
    const role = ROLE_ALIASES[String(t[roleKey])];
    if (!role) fail(`${listKey}[${i}].${roleKey}: unknown role ${JSON.stringify(t[roleKey])}`);
    if (typeof t[contentKey] !== 'string') fail(`${listKey}[${i}].${contentKey} must be a string`);
    return { role, content: t[contentKey] };
  });
  if (!messages.some((m) => m.role === 'assistant')) fail('no assistant turn to train on');
  return { messages };
}

/** Converts one parsed row of a dataset of type `type`; `fail` throws with the row's line. */
export function convertRow(dataset: DatasetConfig, row: Row, fail: (problem: string) => never): Row {
  if (dataset.type === 'alpaca') {
    const prompt = alpacaPrompt(text(row, 'instruction', fail), text(row, 'input', fail, true));
    return { prompt, completion: text(row, 'output', fail) };
  }
  if (dataset.type === 'sharegpt') return chatRow(row.conversations, 'from', 'value', 'conversations', fail);
  const listKey = dataset.field_messages ?? 'messages';
  const roleKey = dataset.message_property_mappings?.role ?? 'role';
  const contentKey = dataset.message_property_mappings?.content ?? 'content';
  return chatRow(row[listKey], roleKey, contentKey, listKey, fail);
}

/** Where a dataset's file is: relative paths are relative to the config file's folder. */
export function datasetFile(dataset: DatasetConfig, configDir: string): string {
  return resolve(configDir, dataset.path);
}

/** Checks that every dataset file exists (before anything else is read); ConfigError names the key and the file. */
export function requireDatasetFiles(datasets: readonly DatasetConfig[], configDir: string): void {
  datasets.forEach((dataset, i) => {
    const file = datasetFile(dataset, configDir);
    if (!existsSync(file) || !statSync(file).isFile()) {
      throw new ConfigError(
        `datasets[${i}].path`,
        `no such file: ${file} (tunekit reads local JSONL files; paths are relative to the config file)`,
      );
    }
  });
}

/** Reads and converts every dataset, in order, into JSONL lines. */
export function convertDatasets(datasets: readonly DatasetConfig[], configDir: string): string[] {
  const lines: string[] = [];
  for (const dataset of datasets) {
    const file = datasetFile(dataset, configDir);
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((raw, i) => {
        if (raw.trim() === '') return;
        const fail = (problem: string): never => {
          throw new DatasetRowError(file, i + 1, problem);
        };
        let row: unknown;
        try {
          row = JSON.parse(raw);
        } catch (error) {
          fail(`invalid JSON (${(error as Error).message})`);
        }
        if (typeof row !== 'object' || row === null || Array.isArray(row)) fail('expected a JSON object');
        lines.push(JSON.stringify(convertRow(dataset, row as Row, fail)));
      });
  }
  return lines;
}

/** Splits off the validation rows (the last ones), as Axolotl's `train_test_split(shuffle=False)` does. */
export function splitValidation(
  lines: string[],
  valSetSize: number,
): { training: string[]; validation: string[] } {
  if (valSetSize <= 0) return { training: lines, validation: [] };
  const n = valSetSize < 1 ? Math.ceil(valSetSize * lines.length) : Math.floor(valSetSize);
  if (n >= lines.length) {
    throw new ConfigError(
      'val_set_size',
      `leaves no training rows: ${n} validation row(s) out of ${lines.length}`,
    );
  }
  return { training: lines.slice(0, lines.length - n), validation: lines.slice(lines.length - n) };
}
