/**
 * Graders: how a reinforcement fine-tuning job scores a model sample, and the alpha endpoints that run and validate
 * one. Reference §1.6, §2.5 and shared/reference/dpo-rft.md §4; the official `openai` SDK's `graders` types.
 */
import { z } from 'zod';

/** A typed content item of a model grader's prompt. */
const GraderContentItemSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('input_text'), text: z.string() }),
  z.object({ type: z.literal('output_text'), text: z.string() }),
  z.object({ type: z.literal('input_image'), image_url: z.string(), detail: z.string().optional() }),
  z.object({
    type: z.literal('input_audio'),
    input_audio: z.object({ data: z.string(), format: z.enum(['mp3', 'wav']) }),
  }),
]);

export const GraderMessageSchema = z
  .object({
    role: z.enum(['user', 'assistant', 'system', 'developer']),
    content: z.union([
      z.string(),
      GraderContentItemSchema,
      z.array(z.union([z.string(), GraderContentItemSchema])),
    ]),
    type: z.literal('message').optional(),
  })
  .meta({
    id: 'GraderMessage',
    description: 'One message of a model grader’s prompt; text may hold templates.',
  });
export type GraderMessage = z.infer<typeof GraderMessageSchema>;

const name = z
  .string()
  .describe('Name of the grader; a `multi` formula refers to its graders by their keys.');
const template = (what: string) =>
  z.string().describe(`${what}: text with \`{{sample.…}}\` and \`{{item.…}}\` templates.`);

export const StringCheckGraderSchema = z
  .object({
    type: z.literal('string_check'),
    name,
    input: template('The text to check'),
    reference: template('The text to compare with'),
    operation: z
      .enum(['eq', 'ne', 'like', 'ilike'])
      .describe('`eq` equal, `ne` not equal, `like` contains (case-sensitive), `ilike` contains (any case).'),
  })
  .meta({ id: 'StringCheckGrader', description: 'Scores 1 when the check holds, else 0.' });

export const TEXT_SIMILARITY_METRICS = [
  'cosine',
  'fuzzy_match',
  'bleu',
  'gleu',
  'meteor',
  'rouge_1',
  'rouge_2',
  'rouge_3',
  'rouge_4',
  'rouge_5',
  'rouge_l',
] as const;

export const TextSimilarityGraderSchema = z
  .object({
    type: z.literal('text_similarity'),
    name,
    input: template('The text to score'),
    reference: template('The reference text'),
    evaluation_metric: z.enum(TEXT_SIMILARITY_METRICS),
    pass_threshold: z.number().optional().describe('Used by evals only; ignored when grading.'),
  })
  .meta({ id: 'TextSimilarityGrader', description: 'Scores the similarity of two texts, in [0, 1].' });

export const PythonGraderSchema = z
  .object({
    type: z.literal('python'),
    name,
    source: z.string().describe('Python source defining `grade(sample, item) -> float`; at most 256 kB.'),
    image_tag: z
      .string()
      .optional()
      .describe('The hosted runtime image; the emulator runs the local python3.'),
  })
  .meta({ id: 'PythonGrader', description: 'Runs `grade(sample, item)` in a separate python3 process.' });

export const ScoreModelGraderSchema = z
  .object({
    type: z.literal('score_model'),
    name,
    model: z.string().describe('The judge: any model the emulator serves.'),
    input: z.array(GraderMessageSchema),
    range: z
      .array(z.number())
      .optional()
      .describe('The score range, default [0, 1]; the score is clipped to it.'),
    sampling_params: z
      .object({
        max_completions_tokens: z.number().int().min(1).nullable().optional(),
        reasoning_effort: z
          .enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'])
          .nullable()
          .optional(),
        seed: z.number().int().nullable().optional(),
        temperature: z.number().nullable().optional(),
        top_p: z.number().nullable().optional(),
      })
      .optional(),
  })
  .meta({
    id: 'ScoreModelGrader',
    description: 'A judge model answers a score; unparsable answers score 0.',
  });

export const LabelModelGraderSchema = z
  .object({
    type: z.literal('label_model'),
    name,
    model: z.string().describe('The judge: any model the emulator serves.'),
    input: z.array(GraderMessageSchema),
    labels: z.array(z.string()).min(1),
    passing_labels: z.array(z.string()).min(1),
  })
  .meta({
    id: 'LabelModelGrader',
    description: 'A judge model picks a label; 1 when it is a passing label. Only allowed inside `multi`.',
  });

/** What a `multi` grader combines (a multi may not contain a multi). */
export const SubGraderSchema = z.discriminatedUnion('type', [
  StringCheckGraderSchema,
  TextSimilarityGraderSchema,
  PythonGraderSchema,
  ScoreModelGraderSchema,
  LabelModelGraderSchema,
]);
export type SubGrader = z.infer<typeof SubGraderSchema>;

export const MultiGraderSchema = z
  .object({
    type: z.literal('multi'),
    name,
    graders: z
      .union([z.record(z.string(), SubGraderSchema), SubGraderSchema, z.array(SubGraderSchema)])
      .describe(
        'The graders to combine, as a map `{key: grader}` (what the service accepts); a single grader or a ' +
          'list is keyed by each grader’s name.',
      ),
    calculate_output: z
      .string()
      .describe(
        'Formula over the keys: `+ - * / ^`, parentheses, numbers, min max abs floor ceil exp sqrt log.',
      ),
  })
  .meta({ id: 'MultiGrader', description: 'Combines several graders’ scores with a formula.' });

export const GraderSchema = z
  .discriminatedUnion('type', [
    StringCheckGraderSchema,
    TextSimilarityGraderSchema,
    PythonGraderSchema,
    ScoreModelGraderSchema,
    MultiGraderSchema,
  ])
  .meta({
    id: 'Grader',
    description:
      'How a reinforcement fine-tuning job scores a model sample (`label_model` only inside `multi`).',
  });
export type Grader = z.infer<typeof GraderSchema>;
export type AnyGrader = Grader | SubGrader;

export const GraderRunParamsSchema = z
  .strictObject({
    grader: GraderSchema,
    model_sample: z
      .string()
      .describe('The model output to grade: `{{sample.output_text}}`, and output_json when it parses.'),
    item: z.record(z.string(), z.unknown()).optional().describe('The dataset row: `{{item.…}}`.'),
  })
  .meta({ id: 'GraderRunParams', description: 'Body of `POST /v1/fine_tuning/alpha/graders/run`.' });
export type GraderRunParams = z.infer<typeof GraderRunParamsSchema>;

export const GraderErrorsSchema = z
  .object({
    formula_parse_error: z.boolean(),
    sample_parse_error: z.boolean(),
    truncated_observation_error: z.boolean(),
    unresponsive_reward_error: z.boolean(),
    invalid_variable_error: z.boolean(),
    other_error: z.boolean(),
    python_grader_server_error: z.boolean(),
    python_grader_server_error_type: z.string().nullable(),
    python_grader_runtime_error: z.boolean(),
    python_grader_runtime_error_details: z.string().nullable(),
    model_grader_server_error: z.boolean(),
    model_grader_refusal_error: z.boolean(),
    model_grader_parse_error: z.boolean(),
    model_grader_server_error_details: z.string().nullable(),
  })
  .meta({ id: 'GraderErrors', description: 'What went wrong while grading; any error scores 0.' });
export type GraderErrors = z.infer<typeof GraderErrorsSchema>;

export const GraderRunResponseSchema = z
  .object({
    reward: z.number(),
    metadata: z.object({
      name: z.string(),
      type: z.string(),
      errors: GraderErrorsSchema,
      execution_time: z.number().describe('Seconds.'),
      scores: z.record(z.string(), z.unknown()).describe('Sub-grader rewards of a `multi` grader, by key.'),
      token_usage: z.number().int().nullable().describe('Tokens the judge models used; null without one.'),
      sampled_model_name: z.string().nullable().describe('The judge model, for model graders.'),
    }),
    sub_rewards: z.record(z.string(), z.unknown()),
    model_grader_token_usage_per_model: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'GraderRunResponse', description: 'The reward and what happened while grading.' });
export type GraderRunResponse = z.infer<typeof GraderRunResponseSchema>;

export const GraderValidateParamsSchema = z.strictObject({ grader: GraderSchema }).meta({
  id: 'GraderValidateParams',
  description: 'Body of `POST /v1/fine_tuning/alpha/graders/validate`.',
});

export const GraderValidateResponseSchema = z
  .object({ grader: GraderSchema })
  .meta({ id: 'GraderValidateResponse', description: 'The validated grader, echoed.' });
