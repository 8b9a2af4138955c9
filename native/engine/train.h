// train.h - the training run: batching, gradient accumulation, AdamW, schedules, validation, checkpoints,
// resume and cancel; plus a loss-only evaluation pass and a forward-only logits call.
//
// This is the engine's public entry point (the N-API addon calls only what is declared here). Everything throws
// tk::Error (error.h) on bad input, with a message naming the file / field concerned.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "lora.h"
#include "objectives/preference.h"

namespace tk {

struct TrainOptions {
  std::string model_dir;       // Hugging Face folder (config.json + model.safetensors or shards)
  std::string output_dir;      // PEFT adapter folder (LoRA) or HF model folder (full fine-tuning)
  std::string checkpoint_dir;  // <checkpoint_dir>/step-<N>/ + `latest`; "" = no checkpoints
  std::string train_tokens;    // token file (tokens.h)
  std::string valid_tokens;    // token file or "" (no validation)

  bool full = false;  // full fine-tuning of every weight instead of LoRA
  LoraConfig lora;    // r, alpha, dropout, use_rslora, targets (ignored when full)
  std::string init_adapter_dir;  // start from this PEFT adapter (its r/alpha/targets replace `lora`) instead of
                                 // the PEFT init; "" = PEFT init from `seed`

  int batch_size = 8;          // sequences per micro-batch
  int grad_accum_steps = 1;    // micro-batches per optimizer step
  int n_epochs = 1;
  int max_seq_len = 1024;      // examples longer than this are truncated; packed rows have this length
  bool packing = false;        // concatenate examples into rows of max_seq_len, position ids reset per document

  double learning_rate = 5e-5;
  std::string lr_scheduler = "linear";  // "linear" | "cosine" | "constant"
  double warmup_ratio = 0.0;            // warmup steps = ceil(total_steps * warmup_ratio)
  double weight_decay = 0.0;            // decoupled; full FT excludes biases and norm weights (HF Trainer)
  double max_grad_norm = 1.0;           // <= 0 disables clipping
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_eps = 1e-8;

  uint64_t seed = 42;  // LoRA init, dropout masks, per-epoch shuffling
  int threads = 0;     // 0 = hardware concurrency

  int checkpoint_every_steps = 0;    // 0 = none during the run (a cancel still writes one)
  bool checkpoint_each_epoch = false;  // also one at the end of every epoch but the last (OpenAI's behaviour)
  int eval_every_steps = 0;        // 0 = only the full validation at the end
  bool resume = false;             // continue from a checkpoint in checkpoint_dir (error if none, see resume_from)
  // With resume: the checkpoint folder names to try, newest first (e.g. {"step-8", "step-6"}); the first whose
  // state.bin reads back whole (magic, size, checksum) is used, an unreadable one is skipped, and when none is
  // readable the run starts again from step 0 (resumed_from_step = 0). Empty = the folder `latest` names.
  std::vector<std::string> resume_from;
  // Step-wise training (a reinforcement job: each step's data is sampled by the policy the previous step left). A run
  // on one step's token file that continues the optimizer where an earlier run stopped: continue_state is the
  // state.bin that run wrote to save_state (trainable parameters, AdamW moments, step, data cursor; its options
  // fingerprint is not checked, the data differ by design). Step numbers, the Adam bias correction and the
  // schedule go on from its step; schedule_steps is the length of the whole schedule (0 = this run's steps).
  // The reference (beta > 0) is still the model as the first run started (the base for a fresh adapter).
  std::string continue_state;  // "" = start from the adapter init (or init_adapter_dir)
  std::string save_state;      // "" = none; else state.bin written here (atomically) when the run ends uncancelled
  int schedule_steps = 0;

  // What is optimised: "sft" (the token-mean CE above) or a preference objective (objectives/preference.h) on a
  // token file of whole sequences; those need packing off, and their reference log-probs are computed once per run,
  // before the first step, from the model as it starts: the base (a fresh adapter), the init adapter (TRL's frozen
  // "ref" copy of a pretrained adapter), or the initial weights (full fine-tuning: no frozen copy is kept).
  ObjectiveOptions objective;
};

struct Progress {
  int step = 0;  // optimizer steps done (1-based after the first step)
  int total_steps = 0;
  double epoch = 0;  // fractional epoch, e.g. 1.5
  double train_loss = 0;                 // token-mean CE of this step's global batch
  double train_mean_token_accuracy = 0;  // share of scored tokens whose argmax equals the label
  double learning_rate = 0;              // the learning rate used by this step's update
  double grad_norm = 0;                  // global L2 norm before clipping
  int64_t tokens_seen = 0;               // scored (label != -100) tokens trained on so far
  double elapsed_s = 0;
  bool has_valid = false;  // periodic validation ran at this step
  double valid_loss = 0, valid_mean_token_accuracy = 0;
  bool is_full_valid = false;  // the final full validation ran at this step
  double full_valid_loss = 0, full_valid_mean_token_accuracy = 0;
  std::string checkpoint_path;  // "" unless a checkpoint was written at this step
  int resumed_from_step = -1;   // on the first report after a resume: the step resumed from (0: every
                                // resume_from candidate was unreadable, the run started over); else -1
  // Objective metrics with TRL's names (preference objectives: rewards/chosen, rewards/rejected,
  // rewards/accuracies, rewards/margins, logps/chosen, logps/rejected, ...; "valid_" / "full_valid_" prefixed for
  // the validation passes of this step); empty for sft.
  std::vector<std::pair<std::string, double>> metrics;
};

struct CheckpointInfo {
  int step = 0;
  std::string path;         // <checkpoint_dir>/step-<N>
  std::string adapter_dir;  // PEFT adapter folder (LoRA) or HF model folder (full) inside `path`
  double train_loss = 0, train_mean_token_accuracy = 0;
  bool has_valid = false;
  double valid_loss = 0, valid_mean_token_accuracy = 0;
};

struct TrainResult {
  int steps = 0;  // optimizer steps done in total (including those before a resume)
  int total_steps = 0;
  int64_t trained_tokens = 0;  // scored tokens over all steps
  double final_train_loss = 0;
  bool cancelled = false;
  std::string output_dir;  // "" when cancelled (the checkpoint holds the state)
  std::vector<CheckpointInfo> checkpoints;
};

// Checkpoint folder: <checkpoint_dir>/step-<N>/{adapter/ (PEFT folder) | model/ (HF folder, full FT)} and
// state.bin ("TKCKPT01", u32 version 1, trainable parameters, AdamW m and v, step, tokens seen, data cursor, seed,
// a fingerprint of the options and data, and a checksum), then <checkpoint_dir>/latest ("step-<N>\n") written last
// and atomically: a kill at any moment leaves `latest` naming a complete checkpoint. The data order and dropout masks
// are functions of (seed, step), so resuming reproduces the uninterrupted run's bytes (same thread count).
//
// Runs the whole training. `on_progress` is called once per optimizer step, on the training thread.
// `cancel` (may be null) is checked between optimizer steps; on cancel a checkpoint is written (when
// checkpoint_dir is set) and the result has cancelled = true.
TrainResult train(const TrainOptions& opt, const std::function<void(const Progress&)>& on_progress,
                  const std::atomic<bool>* cancel);

struct EvalResult {
  double loss = 0;                 // token-mean CE over all scored tokens
  double mean_token_accuracy = 0;  // share of scored tokens whose argmax equals the label
  int64_t n_tokens = 0;            // scored tokens
};

// Loss-only pass over a token file with the base model plus an optional PEFT adapter ("" = base only).
EvalResult evaluate(const std::string& model_dir, const std::string& adapter_dir, const std::string& tokens_path,
                    int max_seq_len, int threads);

// Forward-only logits (T, V), row-major, for one sequence (positions 0..T-1).
std::vector<float> logits(const std::string& model_dir, const std::string& adapter_dir,
                          const std::vector<int32_t>& ids, int threads);

}  // namespace tk
