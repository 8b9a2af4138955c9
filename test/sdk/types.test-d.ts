import { describe, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import type {
  AdapterContentParamsSchema,
  AdapterDeletedSchema,
  AdapterListParamsSchema,
  AdapterSchema,
  ChatCompletionChunkSchema,
  ChatCompletionCreateParamsSchema,
  ChatCompletionSchema,
  CheckpointListParamsSchema,
  FileCreateFieldsSchema,
  FileDeletedSchema,
  FileListParamsSchema,
  FileObjectSchema,
  FineTuningJobCheckpointSchema,
  FineTuningJobEventSchema,
  FineTuningJobSchema,
  JobCreateParamsSchema,
  JobEventListParamsSchema,
  JobListParamsSchema,
  ModelDeletedSchema,
  ModelSchema,
} from '../../emulator/contract/index';
import type {
  Adapter,
  AdapterContentParams,
  AdapterDeleted,
  AdapterListParams,
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsBase,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
  CheckpointListParams,
  FileCreateParams,
  FileDeleted,
  FileListParams,
  FileObject,
  FineTuningJob,
  FineTuningJobCheckpoint,
  FineTuningJobEvent,
  JobCreateParams,
  JobListEventsParams,
  JobListParams,
  Model,
  ModelDeleted,
  Stream,
} from '../../src/index';
import { Tunekit } from '../../src/index';

// The SDK's hand-written types against the zod contract the emulator validates with. Response objects are
// checked both ways (what the server sends fits the SDK type, and the SDK type promises nothing the contract
// does not); request params must be accepted by the contract's input type.

describe('response objects match the contract', () => {
  it('FileObject', () => {
    expectTypeOf<z.output<typeof FileObjectSchema>>().toExtend<FileObject>();
    // The SDK also allows `expires_at: null` (reference §2.1 "int | absent/null"); the contract only omits it.
    expectTypeOf<Omit<FileObject, 'expires_at'>>().toExtend<
      Omit<z.output<typeof FileObjectSchema>, 'expires_at'>
    >();
  });
  it('FileDeleted', () => {
    expectTypeOf<z.output<typeof FileDeletedSchema>>().toExtend<FileDeleted>();
    expectTypeOf<FileDeleted>().toExtend<z.output<typeof FileDeletedSchema>>();
  });
  it('FineTuningJob', () => {
    expectTypeOf<z.output<typeof FineTuningJobSchema>>().toExtend<FineTuningJob>();
    expectTypeOf<FineTuningJob>().toExtend<z.output<typeof FineTuningJobSchema>>();
  });
  it('FineTuningJobEvent', () => {
    expectTypeOf<z.output<typeof FineTuningJobEventSchema>>().toExtend<FineTuningJobEvent>();
    expectTypeOf<FineTuningJobEvent>().toExtend<z.output<typeof FineTuningJobEventSchema>>();
  });
  it('FineTuningJobCheckpoint', () => {
    expectTypeOf<z.output<typeof FineTuningJobCheckpointSchema>>().toExtend<FineTuningJobCheckpoint>();
    expectTypeOf<FineTuningJobCheckpoint>().toExtend<z.output<typeof FineTuningJobCheckpointSchema>>();
  });
  it('Model and ModelDeleted', () => {
    expectTypeOf<z.output<typeof ModelSchema>>().toExtend<Model>();
    expectTypeOf<Model>().toExtend<z.output<typeof ModelSchema>>();
    expectTypeOf<z.output<typeof ModelDeletedSchema>>().toExtend<ModelDeleted>();
    expectTypeOf<ModelDeleted>().toExtend<z.output<typeof ModelDeletedSchema>>();
  });
  it('Adapter and AdapterDeleted', () => {
    expectTypeOf<z.output<typeof AdapterSchema>>().toExtend<Adapter>();
    expectTypeOf<Adapter>().toExtend<z.output<typeof AdapterSchema>>();
    expectTypeOf<z.output<typeof AdapterDeletedSchema>>().toExtend<AdapterDeleted>();
    expectTypeOf<AdapterDeleted>().toExtend<z.output<typeof AdapterDeletedSchema>>();
  });
  it('ChatCompletion and ChatCompletionChunk', () => {
    expectTypeOf<z.output<typeof ChatCompletionSchema>>().toExtend<ChatCompletion>();
    expectTypeOf<ChatCompletion>().toExtend<z.output<typeof ChatCompletionSchema>>();
    expectTypeOf<z.output<typeof ChatCompletionChunkSchema>>().toExtend<ChatCompletionChunk>();
    expectTypeOf<ChatCompletionChunk>().toExtend<z.output<typeof ChatCompletionChunkSchema>>();
  });
});

describe('request params are accepted by the contract', () => {
  it('JobCreateParams', () => {
    expectTypeOf<JobCreateParams>().toExtend<z.input<typeof JobCreateParamsSchema>>();
    expectTypeOf<z.output<typeof JobCreateParamsSchema>>().toExtend<JobCreateParams>();
  });
  it('JobListParams, JobListEventsParams, CheckpointListParams', () => {
    expectTypeOf<JobListParams>().toExtend<z.input<typeof JobListParamsSchema>>();
    expectTypeOf<JobListEventsParams>().toExtend<z.input<typeof JobEventListParamsSchema>>();
    expectTypeOf<CheckpointListParams>().toExtend<z.input<typeof CheckpointListParamsSchema>>();
  });
  it('FileCreateParams (text fields; the file part is an Uploadable on the SDK side) and FileListParams', () => {
    expectTypeOf<Omit<FileCreateParams, 'file'>>().toExtend<z.input<typeof FileCreateFieldsSchema>>();
    expectTypeOf<FileListParams>().toExtend<z.input<typeof FileListParamsSchema>>();
  });
  it('AdapterListParams and AdapterContentParams', () => {
    expectTypeOf<AdapterListParams>().toExtend<z.input<typeof AdapterListParamsSchema>>();
    expectTypeOf<AdapterContentParams>().toExtend<z.input<typeof AdapterContentParamsSchema>>();
  });
  it('ChatCompletionCreateParams', () => {
    expectTypeOf<ChatCompletionCreateParamsNonStreaming>().toExtend<
      z.input<typeof ChatCompletionCreateParamsSchema>
    >();
    expectTypeOf<ChatCompletionCreateParamsStreaming>().toExtend<
      z.input<typeof ChatCompletionCreateParamsSchema>
    >();
    expectTypeOf<
      z.output<typeof ChatCompletionCreateParamsSchema>
    >().toExtend<ChatCompletionCreateParamsBase>();
  });
});

describe('method signatures', () => {
  const client = new Tunekit({ apiKey: 'k' });
  const messages = [{ role: 'user' as const, content: 'hi' }];

  it('chat.completions.create is typed by its stream flag', () => {
    expectTypeOf(
      client.chat.completions.create({ model: 'm', messages }),
    ).resolves.toEqualTypeOf<ChatCompletion>();
    expectTypeOf(
      client.chat.completions.create({ model: 'm', messages, stream: true }),
    ).resolves.toEqualTypeOf<Stream<ChatCompletionChunk>>();
  });

  it('list methods are async-iterable over their items', () => {
    expectTypeOf(client.fineTuning.jobs.list()).toExtend<AsyncIterable<FineTuningJob>>();
    expectTypeOf(client.files.list()).toExtend<AsyncIterable<FileObject>>();
    expectTypeOf(client.adapters.list()).toExtend<AsyncIterable<Adapter>>();
    expectTypeOf(client.models.list()).toExtend<AsyncIterable<Model>>();
    expectTypeOf(client.fineTuning.jobs.streamEvents('ftjob-1')).toExtend<
      AsyncIterable<FineTuningJobEvent>
    >();
  });

  it('wait resolves with the job; withResponse carries the data type', () => {
    expectTypeOf(client.fineTuning.jobs.wait('ftjob-1')).resolves.toEqualTypeOf<FineTuningJob>();
    expectTypeOf(client.files.retrieve('file-1').withResponse()).resolves.toEqualTypeOf<{
      data: FileObject;
      response: Response;
      request_id: string | null;
    }>();
  });
});
