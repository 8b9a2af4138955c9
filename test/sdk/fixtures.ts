import type {
  Adapter,
  ChatCompletion,
  FileObject,
  FineTuningJob,
  FineTuningJobCheckpoint,
  FineTuningJobEvent,
  Model,
} from '../../src/index';

export function fileObject(id = 'file-abc123', extra: Partial<FileObject> = {}): FileObject {
  return {
    id,
    object: 'file',
    bytes: 120,
    created_at: 1_700_000_000,
    filename: 'train.jsonl',
    purpose: 'fine-tune',
    status: 'processed',
    status_details: null,
    ...extra,
  };
}

export function job(id = 'ftjob-abc123', extra: Partial<FineTuningJob> = {}): FineTuningJob {
  return {
    id,
    object: 'fine_tuning.job',
    created_at: 1_700_000_000,
    error: null,
    fine_tuned_model: null,
    finished_at: null,
    hyperparameters: { batch_size: 'auto', learning_rate_multiplier: 'auto', n_epochs: 'auto' },
    model: 'tiny-llama',
    organization_id: 'org-tunekit',
    result_files: [],
    seed: 42,
    status: 'queued',
    trained_tokens: null,
    training_file: 'file-abc123',
    validation_file: null,
    ...extra,
  };
}

export function jobEvent(id: string, message = `event ${id}`): FineTuningJobEvent {
  return {
    id,
    object: 'fine_tuning.job.event',
    created_at: 1_700_000_000,
    level: 'info',
    message,
    type: 'message',
    data: {},
  };
}

export function checkpoint(id: string, step: number): FineTuningJobCheckpoint {
  return {
    id,
    object: 'fine_tuning.job.checkpoint',
    created_at: 1_700_000_000,
    fine_tuned_model_checkpoint: `ft:tiny-llama:org::abc12345:ckpt-step-${step}`,
    fine_tuning_job_id: 'ftjob-abc123',
    step_number: step,
    metrics: { step, train_loss: 1.5 },
  };
}

export function adapter(id = 'adapter-abc123'): Adapter {
  return {
    id,
    object: 'adapter',
    fine_tuning_job_id: 'ftjob-abc123',
    fine_tuned_model: 'ft:tiny-llama:org::abc12345',
    base_model: 'tiny-llama',
    step: 30,
    peft_type: 'LORA',
    r: 8,
    lora_alpha: 16,
    target_modules: ['q_proj', 'v_proj'],
    bytes: 4096,
    created_at: 1_700_000_000,
  };
}

export function model(id: string): Model {
  return { id, object: 'model', created: 1_700_000_000, owned_by: 'org-tunekit' };
}

export function chatCompletion(content: string): ChatCompletion {
  return {
    id: 'chatcmpl-abc',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'tiny-llama',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, refusal: null },
        finish_reason: 'stop',
        logprobs: null,
      },
    ],
    usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
  };
}
