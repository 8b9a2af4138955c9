/**
 * Validation and tokenization of an uploaded training or validation file into the engine's token file, with the
 * errors the hosted service gives (`invalid_training_file`, `invalid_n_examples`, ...) on the job.
 */
import * as fs from 'node:fs';
import { writeTokenFile } from '../../native/index';
import { type EncodedExample, encodeExample, IGNORE_INDEX } from './encode';
import { type DataFormat, DataFormatError, jsonlRecords, parseJsonl } from './formats';
import type { ModelTokenizer } from './model-tokenizer';
import { encodePreferenceRow, type PreferenceMethod, parsePreferenceRow } from './preference';
import { encodeRftPrompts, type RftPromptFile } from './reinforcement';

/** A kto token file's labels: one byte per example, 1 = desirable. */
export function desirableFile(tokenFile: string): string {
  return `${tokenFile}.desirable`;
}

/** The hosted service's minimum number of training examples. */
export const MIN_TRAINING_EXAMPLES = 10;

export type DatasetRole = 'training' | 'validation';

/** Why a job's data was refused: the job's `error` ({code, message, param}). */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';
  constructor(
    readonly code: string,
    message: string,
    readonly param: 'training_file' | 'validation_file',
  ) {
    super(message);
  }
}

export interface PreparedDataset {
  format: DataFormat | 'preference' | 'kto' | 'reinforcement';
  nExamples: number;
  /** All tokens of all examples after truncation (what the hosted service bills per epoch). */
  nTokens: number;
  /** Tokens with a label (trained on). */
  nScoredTokens: number;
  nTruncated: number;
  longestExample: number;
}

/**
 * Reads `inputFile` (JSONL), validates and encodes every example, and writes `outputFile` (the engine's token file,
 * through native/index.ts's writer). Throws `DatasetError`
 * with the hosted service's code and a message naming the line and the problem.
 */
export async function prepareDataset(options: {
  inputFile: string;
  outputFile: string;
  role: DatasetRole;
  tokenizer: ModelTokenizer;
  maxSeqLength: number;
  /**
   * dpo / kto: preference rows (preference.ts); reinforcement: prompts with reference fields (reinforcement.ts),
   * written as JSON ({@link RftPromptFile}) rather than a token file; default supervised.
   */
  method?: 'supervised' | PreferenceMethod | 'reinforcement';
}): Promise<PreparedDataset> {
  const param = options.role === 'training' ? 'training_file' : 'validation_file';
  const code = options.role === 'training' ? 'invalid_training_file' : 'invalid_validation_file';
  const fail = (problem: string) =>
    new DatasetError(
      code,
      `The job failed due to an invalid ${options.role} file. Invalid file format. ${problem}`,
      param,
    );

  const bytes = fs.readFileSync(options.inputFile);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw fail('The file is not valid UTF-8 text.');
  }
  let parsed: { format: PreparedDataset['format'] | null; n: number };
  let encoded: EncodedExample[];
  const desirable: number[] = [];
  let rftPrompts: RftPromptFile | undefined;
  const method = options.method ?? 'supervised';
  try {
    if (method === 'reinforcement') {
      const prompts = encodeRftPrompts(text, options.tokenizer, options.maxSeqLength);
      parsed = { format: prompts.length > 0 ? 'reinforcement' : null, n: prompts.length };
      encoded = prompts.map((p) => ({
        ids: p.promptIds,
        labels: p.promptIds.map(() => IGNORE_INDEX),
        truncated: false,
      }));
      rftPrompts = { prompts };
    } else if (method === 'supervised') {
      const sft = parseJsonl(text);
      parsed = { format: sft.format, n: sft.examples.length };
      encoded = sft.examples.map((example) =>
        encodeExample(options.tokenizer, example, options.maxSeqLength),
      );
    } else {
      // dpo: rows 2i / 2i+1 are pair i's chosen / rejected sequence; kto: one row each, its label beside the file
      encoded = [];
      let n = 0;
      for (const { line, record } of jsonlRecords(text)) {
        const { row, format } = parsePreferenceRow(record, line, method);
        encoded.push(...encodePreferenceRow(options.tokenizer, row, options.maxSeqLength, format));
        if (row.kind === 'unpaired') desirable.push(row.desirable ? 1 : 0);
        n++;
      }
      parsed = { format: n > 0 ? (method === 'dpo' ? 'preference' : 'kto') : null, n };
    }
  } catch (error) {
    if (error instanceof DataFormatError) throw fail(`${error.message}.`);
    throw error;
  }
  const n = parsed.n;
  if (options.role === 'training' && n < MIN_TRAINING_EXAMPLES) {
    throw new DatasetError(
      'invalid_n_examples',
      `Training file has ${n} example(s), but must have at least ${MIN_TRAINING_EXAMPLES} examples`,
      'training_file',
    );
  }
  if (n === 0 || parsed.format === null) throw fail('The file holds no examples.');
  if (rftPrompts) {
    const tmp = `${options.outputFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(rftPrompts));
    fs.renameSync(tmp, options.outputFile);
  } else
    await writeTokenFile(
      options.outputFile,
      encoded.map((e) => ({ inputIds: e.ids, labels: e.labels })),
    );
  if (method === 'kto') fs.writeFileSync(desirableFile(options.outputFile), Buffer.from(desirable));
  let nTokens = 0;
  let nScoredTokens = 0;
  let longestExample = 0;
  for (const e of encoded) {
    nTokens += e.ids.length;
    nScoredTokens += e.labels.filter((label) => label !== IGNORE_INDEX).length;
    longestExample = Math.max(longestExample, e.ids.length);
  }
  return {
    format: parsed.format,
    nExamples: n,
    nTokens,
    nScoredTokens,
    nTruncated: encoded.filter((e) => e.truncated).length,
    longestExample,
  };
}
