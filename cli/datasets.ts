/**
 * Axolotl datasets → the JSONL the fine-tuning API takes, converted on the user's machine (so any server that
 * speaks OpenAI's format accepts them):
 *   chat_template  rows of `messages` (or `field_messages`), each message's role/content read through
 *                  `message_property_mappings`, Axolotl's role aliases (human → user, gpt → assistant) → chat rows
 *   sharegpt       `conversations` of {from, value} → chat rows (Axolotl's legacy ShareGPT loader)
 *   alpaca         {instruction, input?, output} → prompt/completion rows with Axolotl's Alpaca prompt (loss on the
 *                  response only, as with Axolotl's train_on_inputs: false; the server appends EOS)
 * With `rl: dpo` (rows in OpenAI's preference format, or TRL's plain-text one for user_defined):
 *   chat_template.default       `messages` (or `field_messages`; a string is one user turn) + `chosen` / `rejected`
 *                               (a string, one message, or a list whose last message is the answer)
 *   chat_template.argilla_chat  `chosen` / `rejected` whole conversations: the prompt is chosen's all-but-last
 *                               messages, the answers the last messages
 *   user_defined (a mapping)    prompt / system / chosen / rejected fields filled into Python-style formats → TRL's
 *                               plain-text {prompt, chosen, rejected}
 * With `rl: kto` only user_defined: prompt / system / completion / label → TRL's plain-text {prompt, completion,
 * label}. Each converted row is checked with the emulator's own preference parser before anything is uploaded.
 * val_set_size splits off the last rows as the validation file, as Axolotl's un-shuffled train_test_split does
 * (a fraction below 1 rounds the count up; an integer is a count).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { DataFormatError } from '../emulator/data/formats';
import { parsePreferenceRow } from '../emulator/data/preference';
import { ConfigError, type DatasetConfig, fillFormat, type RunConfig, type UserDefinedType } from './config';

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

type Message = { role: string; content: string };

/** How a dataset names a message's role and content, and which roles it maps to which (Axolotl's `roles`). */
interface MessageKeys {
  roleKey: string;
  contentKey: string;
  roles: Record<string, string>;
}

function messageKeys(dataset: DatasetConfig): MessageKeys {
  const roles = { ...ROLE_ALIASES };
  for (const [target, sources] of Object.entries(dataset.roles ?? {})) {
    for (const source of sources) roles[source] = target;
  }
  return {
    roleKey: dataset.message_property_mappings?.role ?? 'role',
    contentKey: dataset.message_property_mappings?.content ?? 'content',
    roles,
  };
}

function message(turn: unknown, keys: MessageKeys, where: string, fail: (p: string) => never): Message {
  if (typeof turn !== 'object' || turn === null || Array.isArray(turn)) fail(`${where} must be an object`);
  const t = turn as Row;
  const role = keys.roles[String(t[keys.roleKey])];
  if (!role) fail(`${where}.${keys.roleKey}: unknown role ${JSON.stringify(t[keys.roleKey])}`);
  if (typeof t[keys.contentKey] !== 'string') fail(`${where}.${keys.contentKey} must be a string`);
  return { role: role as string, content: t[keys.contentKey] as string };
}

function messageList(
  turns: unknown,
  keys: MessageKeys,
  listKey: string,
  fail: (p: string) => never,
): Message[] {
  if (!Array.isArray(turns) || turns.length === 0) fail(`\`${listKey}\` must be a non-empty list`);
  return (turns as unknown[]).map((turn, i) => message(turn, keys, `${listKey}[${i}]`, fail));
}

function chatRow(turns: unknown, keys: MessageKeys, listKey: string, fail: (p: string) => never): Row {
  const messages = messageList(turns, keys, listKey, fail);
  if (!messages.some((m) => m.role === 'assistant')) fail('no assistant turn to train on');
  return { messages };
}

/** chat_template.default's answer: a string (an assistant turn), one message, or a list's last message. */
function answer(value: unknown, keys: MessageKeys, field: string, fail: (p: string) => never): Message {
  if (typeof value === 'string') return { role: 'assistant', content: value };
  if (Array.isArray(value)) {
    if (value.length === 0) fail(`\`${field}\` is an empty list`);
    return message(value.at(-1), keys, `${field}[${value.length - 1}]`, fail);
  }
  if (value === undefined) fail(`missing \`${field}\``);
  return message(value, keys, field, fail);
}

/** OpenAI's preference row: the prompt messages and one preferred / non-preferred assistant message. */
function openAiPair(prompt: Message[], chosen: Message, rejected: Message): Row {
  return { input: { messages: prompt }, preferred_output: [chosen], non_preferred_output: [rejected] };
}

function dpoChatTemplateRow(dataset: DatasetConfig, row: Row, fail: (p: string) => never): Row {
  const keys = messageKeys(dataset);
  const chosenKey = dataset.field_chosen ?? 'chosen';
  const rejectedKey = dataset.field_rejected ?? 'rejected';
  if (dataset.type === 'chat_template.argilla_chat') {
    const chosen = messageList(row[chosenKey], keys, chosenKey, fail);
    const rejected = messageList(row[rejectedKey], keys, rejectedKey, fail);
    return openAiPair(chosen.slice(0, -1), chosen.at(-1) as Message, rejected.at(-1) as Message);
  }
  const listKey = dataset.field_messages ?? 'messages';
  const raw = row[listKey];
  const prompt =
    typeof raw === 'string' ? [{ role: 'user', content: raw }] : messageList(raw, keys, listKey, fail);
  return openAiPair(
    prompt,
    answer(row[chosenKey], keys, chosenKey, fail),
    answer(row[rejectedKey], keys, rejectedKey, fail),
  );
}

/** Axolotl's user_defined.default: fields filled into formats (a format defaults to its field alone). */
function userDefinedRow(type: UserDefinedType, rl: 'dpo' | 'kto', row: Row, fail: (p: string) => never): Row {
  const field = (key: string, optional = false) => text(row, key, fail, optional);
  const prompt = fillFormat(type.prompt_format ?? '{prompt}', {
    prompt: field(type.field_prompt ?? 'prompt'),
    system: field(type.field_system ?? 'system', true),
  });
  if (rl === 'dpo') {
    return {
      prompt,
      chosen: fillFormat(type.chosen_format ?? '{chosen}', { chosen: field(type.field_chosen ?? 'chosen') }),
      rejected: fillFormat(type.rejected_format ?? '{rejected}', {
        rejected: field(type.field_rejected ?? 'rejected'),
      }),
    };
  }
  const labelKey = type.field_label ?? 'label';
  const label = row[labelKey];
  if (typeof label !== 'boolean') {
    fail(label === undefined ? `missing \`${labelKey}\`` : `\`${labelKey}\` must be true or false`);
  }
  return {
    prompt,
    completion: fillFormat(type.completion_format ?? '{completion}', {
      completion: field(type.field_completion ?? 'completion'),
    }),
    label,
  };
}

/** Converts one parsed row of a dataset of type `type`; `fail` throws with the row's line. */
export function convertRow(
  dataset: DatasetConfig,
  row: Row,
  fail: (problem: string) => never,
  rl?: RunConfig['rl'],
): Row {
  if (typeof dataset.type === 'object') return userDefinedRow(dataset.type, rl ?? 'dpo', row, fail);
  if (dataset.type.startsWith('chat_template.')) return dpoChatTemplateRow(dataset, row, fail);
  if (dataset.type === 'alpaca') {
    const prompt = alpacaPrompt(text(row, 'instruction', fail), text(row, 'input', fail, true));
    return { prompt, completion: text(row, 'output', fail) };
  }
  if (dataset.type === 'sharegpt') {
    return chatRow(
      row.conversations,
      { roleKey: 'from', contentKey: 'value', roles: ROLE_ALIASES },
      'conversations',
      fail,
    );
  }
  const listKey = dataset.field_messages ?? 'messages';
  return chatRow(row[listKey], messageKeys(dataset), listKey, fail);
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
export function convertDatasets(
  datasets: readonly DatasetConfig[],
  configDir: string,
  rl?: RunConfig['rl'],
): string[] {
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
        const converted = convertRow(dataset, row as Row, fail, rl);
        if (rl !== undefined) {
          // the server's own checks (roles, empty answers, ...), so a bad row stops here, not in the job
          try {
            parsePreferenceRow(converted, i + 1, rl);
          } catch (error) {
            if (error instanceof DataFormatError) fail(`${error.problem} (after conversion)`);
            throw error;
          }
        }
        lines.push(JSON.stringify(converted));
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
