/**
 * Messages between the server process (InferenceClient) and the inference child process, over the fork IPC
 * channel. Requests carry an id; the child answers each with deltas then one `chat_done`, or one `failed`.
 */
import type { ChatMessage } from '../data';

/** A chat completion to generate: the model's weights, the conversation and the sampling settings. */
export interface ChatJob {
  modelDir: string;
  /** PEFT adapter applied unmerged (LoRA fine-tuned models and checkpoints); null for a base model. */
  adapterDir: string | null;
  messages: ChatMessage[];
  n: number;
  /** null: up to the model's context length. */
  maxTokens: number | null;
  temperature: number;
  topP: number;
  /** null: a fresh seed. */
  seed: number | null;
  /** Stop sequences, cut from the output. */
  stop: string[];
  logprobs: boolean;
  topLogprobs: number;
}

/** One candidate token in OpenAI's `top_logprobs`. */
export interface TopLogprob {
  token: string;
  logprob: number;
  bytes: number[] | null;
}

/** One output token in OpenAI's `logprobs.content`. */
export interface TokenLogprob extends TopLogprob {
  top_logprobs: TopLogprob[];
}

export type FinishReason = 'stop' | 'length';

/** New output of one choice. `finishReason` is set on the choice's last delta. */
export interface ChoiceDelta {
  index: number;
  content: string;
  /** The tokens this delta's text came from; null when logprobs were not asked. */
  logprobs: TokenLogprob[] | null;
  finishReason?: FinishReason;
}

export interface ChatOutcome {
  promptTokens: number;
  completionTokens: number;
}

/** An error the child answers a request with, in OpenAI's terms. */
export interface ServingError {
  status: number;
  message: string;
  param: string | null;
  code: string | null;
}

export interface MergeJob {
  modelDir: string;
  adapterDir: string;
  outDir: string;
}

export type ParentMessage =
  | { type: 'chat'; id: number; job: ChatJob }
  | { type: 'merge'; id: number; job: MergeJob }
  | { type: 'cancel'; id: number };

export type ChildMessage =
  | { type: 'deltas'; id: number; deltas: ChoiceDelta[] }
  | { type: 'chat_done'; id: number; outcome: ChatOutcome }
  | { type: 'merged'; id: number }
  | { type: 'failed'; id: number; error: ServingError };
