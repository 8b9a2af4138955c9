// generate.h - text generation with a resident base model: prefill + decode with a KV cache, n choices decoded as
// one batch, PEFT LoRA adapters applied UNMERGED and chosen per request (several resident at once, an LRU bounded by
// bytes), sampling as transformers' `generate` does it (temperature, top_k, top_p, in that order), per-token
// logprobs as OpenAI reports them (log-softmax of the raw logits, before temperature/top-k/top-p), and an export
// that merges an adapter into the base weights.
//
// Semantics: the forward pass is llama.h's (transformers' LlamaForCausalLM / Qwen2ForCausalLM in fp32). The prompt
// is run through llama_forward (so prefill logits equal tk::logits()); each decode step runs the same layers on the
// n new tokens, attending over the cached (post-RoPE) keys and values.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lora.h"
#include "model.h"

namespace tk {

struct GeneratorOptions {
  int threads = 0;                          // engine pool size; 0 = hardware concurrency
  uint64_t adapter_cache_bytes = 256 << 20;  // LRU budget for resident adapters (fp32 bytes of A and B)
};

struct GenerateRequest {
  std::vector<int32_t> prompt;  // token ids, at least one
  std::string adapter_dir;      // PEFT adapter folder; "" = the base model
  int n = 1;                    // choices, decoded as one batch from one shared prefill
  int max_tokens = 16;          // generated tokens per choice (a stop token counts)
  // Sampling. temperature 0 = greedy (argmax, first maximum like torch.argmax). Otherwise, like transformers'
  // TemperatureLogitsWarper -> TopKLogitsWarper -> TopPLogitsWarper, then one draw from the softmax.
  double temperature = 1.0;
  double top_p = 1.0;  // (0, 1]; keeps the smallest set of most likely tokens whose probability reaches top_p
  int top_k = 0;       // 0 = off
  uint64_t seed = 0;   // the draw of choice c at step t uses rng_uniform01(seed, c, t): same seed, same output
  // Stop tokens: the model's eos ids (config.json + generation_config.json) unless ignore_eos, plus these.
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  int top_logprobs = 0;  // 0..20 most likely alternatives reported with each token
};

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
};

// One generated token of one choice, reported as soon as its decode step ends. A stop token is not reported.
struct GeneratedToken {
  int choice = 0;
  int32_t token = 0;
  float logprob = 0;              // log-softmax of the raw logits at this token
  std::vector<TokenLogprob> top;  // top_logprobs most likely tokens, most likely first (ties: lower id first)
};

enum class FinishReason { stop, length, cancelled };
const char* finish_reason_name(FinishReason r);  // "stop" | "length" | "cancelled"

struct GenerateChoice {
  std::vector<int32_t> tokens;  // generated tokens, WITHOUT the stop token that ended the choice
  std::vector<float> logprobs;  // one per token
  FinishReason finish_reason = FinishReason::length;
  int32_t stop_token = -1;  // the stop token that ended it (finish_reason stop by a token), else -1
};

struct GenerateResult {
  std::vector<GenerateChoice> choices;
  int prompt_tokens = 0;
  int completion_tokens = 0;  // over all choices, counting each stop token that was generated
};

// Shared between the caller and a running generate(): both flags are checked before every decode step.
// stop_choice(i) ends choice i with finish_reason stop (the caller saw a stop string); cancel() ends every unfinished
// choice with finish_reason cancelled.
class GenerateControl {
 public:
  explicit GenerateControl(int n);
  void cancel() { cancel_.store(true); }
  bool cancelled() const { return cancel_.load(); }
  void stop_choice(int i);  // out-of-range i is ignored
  bool choice_stopped(int i) const;
  int n() const { return n_; }

 private:
  int n_;
  std::atomic<bool> cancel_{false};
  std::unique_ptr<std::atomic<bool>[]> stopped_;
};

// A base model held in memory with its adapters. generate() calls are serialized (one runs at a time; a queued
// call that is cancelled before it starts returns at once). All methods are thread-safe.
class Generator {
 public:
  Generator(const std::string& model_dir, const GeneratorOptions& opt = {});
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  const LlamaConfig& config() const;
  const std::string& model_dir() const;
  // The default stop tokens: eos_token_id of config.json and of generation_config.json (when present), deduplicated.
  const std::vector<int32_t>& eos_token_ids() const;

  // Makes an adapter resident (loading it if needed) and most recently used; returns its bytes. Throws tk::Error
  // naming the folder/file on a bad adapter or one that does not fit this model.
  uint64_t load_adapter(const std::string& adapter_dir);
  bool unload_adapter(const std::string& adapter_dir);  // false when it was not resident
  std::vector<std::string> resident_adapters() const;   // most recently used first
  uint64_t resident_adapter_bytes() const;

  // Generates. on_token (may be empty) is called on the calling thread after each decode step for each choice
  // that produced a (non-stop) token. control (may be null) must have n == req.n. Throws tk::Error on a bad request
  // (empty prompt, token id out of range, prompt + max_tokens beyond max_position_embeddings, bad sampling values).
  GenerateResult generate(const GenerateRequest& req, const std::function<void(const GeneratedToken&)>& on_token,
                          GenerateControl* control);

  // The logits (T, V) of the prompt's prefill and of each following forced token when `forced` is decoded with the
  // KV cache one token at a time: rows 0..T-1 from the prefill, row T+i after decoding forced[i]. For tests of the
  // decode path against the full-sequence forward.
  std::vector<float> forced_logits(const std::vector<int32_t>& prompt, const std::vector<int32_t>& forced,
                                   const std::string& adapter_dir);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes an HF model folder at out_dir with W += scaling * B A folded into every targeted projection (PEFT's
// merge_and_unload), in the base model's config; copies tokenizer.json, tokenizer_config.json,
// special_tokens_map.json and generation_config.json from model_dir. transformers loads it as a plain model.
void merge_adapter(const std::string& model_dir, const std::string& adapter_dir, const std::string& out_dir);

}  // namespace tk
