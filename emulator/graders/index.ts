/**
 * Graders: how a reinforcement job scores its samples, and what `/v1/fine_tuning/alpha/graders/run` and `/validate`
 * answer — the same code. One module per grader type; `template.ts` renders `{{sample.…}}` / `{{item.…}}`,
 * `formula.ts` evaluates a `multi` grader's `calculate_output`.
 *
 * `validateGrader` makes the checks the service makes before it accepts a grader (a 400 at create time): template
 * variables that can never resolve, a formula that does not parse or names no grader, a judge model the emulator does
 * not serve, python source that does not load, `cosine` without an embedding model. `gradeBatch` grades many samples
 * at once (one python process per batch); a grading that fails scores 0 with its error flags set.
 */
import type { AnyGrader, Grader, GraderMessage } from '../contract/graders';
import { FormulaError, parseFormula } from './formula';
import { type Judge, unsupportedContent } from './judge';
import { gradeLabelModel } from './label-model';
import { combine, subGraders } from './multi';
import { failed, type GradeOutcome } from './outcome';
import { checkPythonSource, gradePython, type PythonOptions, pythonUnavailable } from './python';
import { gradeScoreModel } from './score-model';
import { gradeStringCheck } from './string-check';
import { checkTemplate, type Sample, sampleOf } from './template';
import { COSINE_UNSUPPORTED, gradeTextSimilarity } from './text-similarity';

export type { Judge, JudgeAnswer, JudgeRequest } from './judge';
export type { GradeOutcome } from './outcome';
export { hasError } from './outcome';
export { sampleOf } from './template';

export interface GraderServices {
  /** Asks a judge model; without one, model graders are refused. */
  judge?: Judge;
  /** Whether the emulator serves this model (a judge must be one it serves). */
  modelExists?: (model: string) => boolean;
  python?: PythonOptions;
}

/** A grader the service would refuse: a 400 naming `param`. */
export class GraderValidationError extends Error {
  override readonly name = 'GraderValidationError';
  constructor(
    message: string,
    readonly param: string,
    readonly code = 'invalid_grader',
  ) {
    super(message);
  }
}

export interface GradeCase {
  sample: Sample;
  item: Record<string, unknown>;
}

function checkTemplates(texts: ReadonlyArray<readonly [string, string]>): void {
  for (const [param, text] of texts) {
    const problem = checkTemplate(text);
    if (problem) throw new GraderValidationError(`Invalid grader: ${problem}.`, param);
  }
}

function messageTexts(input: readonly GraderMessage[], param: string): Array<[string, string]> {
  const texts: Array<[string, string]> = [];
  input.forEach((message, i) => {
    const problem = unsupportedContent(message);
    if (problem)
      throw new GraderValidationError(`Invalid grader: ${problem}.`, `${param}.input[${i}].content`);
    const items = Array.isArray(message.content) ? message.content : [message.content];
    for (const item of items) {
      const text = typeof item === 'string' ? item : 'text' in item ? item.text : '';
      texts.push([`${param}.input[${i}].content`, text]);
    }
  });
  return texts;
}

/** Throws {@link GraderValidationError} for a grader the service would refuse. */
export async function validateGrader(
  grader: AnyGrader,
  services: GraderServices,
  param = 'grader',
  nested = false,
): Promise<void> {
  if (!grader.name.trim())
    throw new GraderValidationError('Invalid grader: a grader needs a name.', `${param}.name`);
  switch (grader.type) {
    case 'string_check':
      checkTemplates([
        [`${param}.input`, grader.input],
        [`${param}.reference`, grader.reference],
      ]);
      return;
    case 'text_similarity':
      if (grader.evaluation_metric === 'cosine') {
        throw new GraderValidationError(
          COSINE_UNSUPPORTED,
          `${param}.evaluation_metric`,
          'unsupported_grader',
        );
      }
      checkTemplates([
        [`${param}.input`, grader.input],
        [`${param}.reference`, grader.reference],
      ]);
      return;
    case 'python': {
      const unavailable = pythonUnavailable(services.python?.command);
      if (unavailable)
        throw new GraderValidationError(`Invalid grader: ${unavailable}.`, param, 'unsupported_grader');
      const problem = await checkPythonSource(grader.source, services.python);
      if (problem) throw new GraderValidationError(`Invalid grader: ${problem}.`, `${param}.source`);
      return;
    }
    case 'score_model':
    case 'label_model': {
      if (grader.type === 'label_model' && !nested) {
        throw new GraderValidationError(
          'Invalid grader: a label_model grader is only allowed inside a multi grader.',
          `${param}.type`,
        );
      }
      if (grader.type === 'label_model') {
        const unknown = grader.passing_labels.find((label) => !grader.labels.includes(label));
        if (unknown !== undefined) {
          throw new GraderValidationError(
            `Invalid grader: the passing label "${unknown}" is not one of the labels.`,
            `${param}.passing_labels`,
          );
        }
      }
      if (
        grader.type === 'score_model' &&
        grader.range &&
        (grader.range.length !== 2 || grader.range[0]! >= grader.range[1]!)
      ) {
        throw new GraderValidationError(
          'Invalid grader: range must be [low, high] with low < high.',
          `${param}.range`,
        );
      }
      if (!services.judge || !(services.modelExists?.(grader.model) ?? true)) {
        throw new GraderValidationError(
          `Invalid grader: the judge model "${grader.model}" is not served by this emulator (use the built-in model, ` +
            'a --models-dir model or a hosted name it maps).',
          `${param}.model`,
        );
      }
      checkTemplates(messageTexts(grader.input, param));
      return;
    }
    case 'multi': {
      if (nested)
        throw new GraderValidationError(
          'Invalid grader: a multi grader may not contain a multi grader.',
          param,
        );
      const graders = subGraders(grader);
      const keys = Object.keys(graders);
      if (keys.length === 0) {
        throw new GraderValidationError(
          'Invalid grader: a multi grader needs at least one grader.',
          `${param}.graders`,
        );
      }
      for (const key of keys) await validateGrader(graders[key]!, services, `${param}.graders.${key}`, true);
      let names: Set<string>;
      try {
        names = parseFormula(grader.calculate_output).names;
      } catch (error) {
        if (!(error instanceof FormulaError)) throw error;
        throw new GraderValidationError(`Invalid grader: ${error.message}.`, `${param}.calculate_output`);
      }
      const unknown = [...names].find((name) => !keys.includes(name));
      if (unknown !== undefined) {
        throw new GraderValidationError(
          `Invalid grader: calculate_output refers to "${unknown}", which is not one of the graders (${keys.join(', ')}).`,
          `${param}.calculate_output`,
        );
      }
      return;
    }
  }
}

/** Grades every case with one grader; outcomes in the order of the cases. */
export async function gradeBatch(
  grader: AnyGrader,
  cases: readonly GradeCase[],
  services: GraderServices,
): Promise<GradeOutcome[]> {
  switch (grader.type) {
    case 'string_check':
      return cases.map((scope) => gradeStringCheck(grader, scope));
    case 'text_similarity':
      return cases.map((scope) => gradeTextSimilarity(grader, scope));
    case 'python':
      return gradePython(grader, cases, services.python);
    case 'score_model':
    case 'label_model': {
      const judge = services.judge;
      if (!judge) {
        return cases.map(() =>
          failed({
            model_grader_server_error: true,
            model_grader_server_error_details: 'no judge model is available',
          }),
        );
      }
      const outcomes: GradeOutcome[] = [];
      for (const scope of cases) {
        outcomes.push(
          await (grader.type === 'score_model'
            ? gradeScoreModel(grader, scope, judge)
            : gradeLabelModel(grader, scope, judge)),
        );
      }
      return outcomes;
    }
    case 'multi': {
      const graders = subGraders(grader);
      const perKey: Record<string, GradeOutcome[]> = {};
      for (const [key, sub] of Object.entries(graders)) perKey[key] = await gradeBatch(sub, cases, services);
      return cases.map((_, i) =>
        combine(
          grader,
          Object.fromEntries(Object.entries(perKey).map(([key, outcomes]) => [key, outcomes[i]!])),
        ),
      );
    }
  }
}

/** Grades one model output against one dataset row. */
export async function gradeSample(
  grader: Grader,
  outputText: string,
  item: Record<string, unknown>,
  services: GraderServices,
): Promise<GradeOutcome> {
  const [outcome] = await gradeBatch(grader, [{ sample: sampleOf(outputText), item }], services);
  return outcome!;
}

/** The rewards of the graders inside a multi grader, by key, and their types (metrics report each). */
export function graderParts(grader: Grader): Array<{ key: string; name: string; type: string }> {
  if (grader.type !== 'multi') return [{ key: grader.name, name: grader.name, type: grader.type }];
  return Object.entries(subGraders(grader)).map(([key, sub]) => ({ key, name: sub.name, type: sub.type }));
}
