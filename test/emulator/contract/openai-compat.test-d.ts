/**
 * The contract against the official `openai` SDK's own types: what the server sends must fit the types the
 * SDK hands its users, and what the SDK sends must fit the request schemas. Known, intended differences are
 * named in each Omit.
 */
import type OpenAI from 'openai';
import { describe, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsSchema,
  ChatMessageParamSchema,
  ChatToolSchema,
  FileDeleted,
  FileListParamsSchema,
  FileObject,
  FineTuningJob,
  FineTuningJobCheckpoint,
  FineTuningJobEvent,
  Grader,
  GraderRunParamsSchema,
  GraderRunResponse,
  GraderValidateParamsSchema,
  JobCreateParamsSchema,
  JobListParamsSchema,
  Model,
  ModelDeleted,
} from '../../../emulator/contract';

/** Compiles only when a value of type A can be used where a B is expected, as in a user's code. */
function fits<B>(_value: B): void {}
declare const value: <A>() => A;

describe('responses fit the openai SDK types', () => {
  it('files', () => {
    // status_details: the wire carries `null` (reference §8.17) where the SDK type says `string | undefined`.
    fits<Omit<OpenAI.Files.FileObject, 'status_details'>>(value<Omit<FileObject, 'status_details'>>());
    fits<OpenAI.Files.FileDeleted>(value<FileDeleted>());
  });

  it('fine-tuning jobs, whose status also carries `paused` (missing from the SDK union)', () => {
    type Job = OpenAI.FineTuning.FineTuningJob;
    // hyperparameters: null on the wire for DPO and some failed jobs (reference §2.3); the SDK type omits null.
    // method: a multi grader's `graders` is a map {key: grader} on the wire (dpo-rft.md §4), where the SDK types
    // one grader; `kto` is a tunekit method; everything else of the method fits.
    fits<Omit<Job, 'status' | 'hyperparameters' | 'method'>>(
      value<Omit<FineTuningJob, 'status' | 'hyperparameters' | 'method'>>(),
    );
    fits<Job['method']>(
      value<
        Omit<NonNullable<FineTuningJob['method']>, 'type' | 'kto'> & {
          type: 'supervised' | 'dpo' | 'reinforcement';
          reinforcement?: { grader: Exclude<Grader, { type: 'multi' }> };
        }
      >(),
    );
    fits<Job['hyperparameters']>(value<NonNullable<FineTuningJob['hyperparameters']>>());
    expectTypeOf<Exclude<FineTuningJob['status'], 'paused'>>().toEqualTypeOf<Job['status']>();
    fits<OpenAI.FineTuning.FineTuningJobEvent>(value<FineTuningJobEvent>());
    fits<OpenAI.FineTuning.Jobs.FineTuningJobCheckpoint>(value<FineTuningJobCheckpoint>());
  });

  it('models', () => {
    fits<OpenAI.Models.Model>(value<Model>());
    fits<OpenAI.Models.ModelDeleted>(value<ModelDeleted>());
  });

  it('chat completions and chunks', () => {
    fits<OpenAI.Chat.ChatCompletion>(value<ChatCompletion>());
    fits<OpenAI.Chat.ChatCompletionChunk>(value<ChatCompletionChunk>());
  });
});

describe('requests the openai SDK sends fit the request schemas', () => {
  it('job create and list', () => {
    fits<z.input<typeof JobCreateParamsSchema>>(value<OpenAI.FineTuning.JobCreateParams>());
    fits<z.input<typeof JobListParamsSchema>>(value<OpenAI.FineTuning.JobListParams>());
  });

  it('grader run and validate', () => {
    // item: the SDK types `unknown`; a dataset row is a JSON object, and the contract asks for one.
    fits<z.input<typeof GraderRunParamsSchema>>(
      value<OpenAI.FineTuning.Alpha.GraderRunParams & { item?: Record<string, unknown> }>(),
    );
    fits<z.input<typeof GraderValidateParamsSchema>>(value<OpenAI.FineTuning.Alpha.GraderValidateParams>());
    fits<OpenAI.FineTuning.Alpha.GraderRunResponse>(value<GraderRunResponse>());
  });

  it('file list', () => {
    fits<z.input<typeof FileListParamsSchema>>(value<OpenAI.Files.FileListParams>());
  });

  it('chat completion create (function tools; custom tools are not carried)', () => {
    type Params = OpenAI.Chat.ChatCompletionCreateParamsNonStreaming;
    type Ours = z.input<typeof ChatCompletionCreateParamsSchema>;
    // OpenAI features the contract does not carry: a request using them gets a 400 naming the argument.
    type NotCarried = Exclude<keyof Params, keyof Ours>;
    expectTypeOf<NotCarried>().toEqualTypeOf<
      | 'audio'
      | 'function_call'
      | 'functions'
      | 'modalities'
      | 'moderation'
      | 'prediction'
      | 'prompt_cache_options'
      | 'prompt_cache_retention'
      | 'reasoning_effort'
      | 'verbosity'
      | 'web_search_options'
    >();
    type Compared = Exclude<keyof Params, NotCarried | 'messages' | 'tools' | 'tool_choice'>;
    fits<Pick<Ours, Compared>>(value<Pick<Params, Compared>>());
    fits<z.input<typeof ChatToolSchema>>(value<OpenAI.Chat.ChatCompletionFunctionTool>());
    type Message = z.input<typeof ChatMessageParamSchema>;
    fits<Message>(
      value<
        | OpenAI.Chat.ChatCompletionSystemMessageParam
        | OpenAI.Chat.ChatCompletionDeveloperMessageParam
        | OpenAI.Chat.ChatCompletionUserMessageParam
        | OpenAI.Chat.ChatCompletionToolMessageParam
        | (Omit<OpenAI.Chat.ChatCompletionAssistantMessageParam, 'tool_calls'> & {
            tool_calls?: OpenAI.Chat.ChatCompletionMessageFunctionToolCall[];
          })
      >(),
    );
  });
});
