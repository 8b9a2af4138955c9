// llama.h - forward and backward through the whole Llama-family decoder (Llama, Qwen2, Mistral shapes) with a
// frozen base + LoRA, or full fine-tuning. Semantics: transformers' LlamaForCausalLM / Qwen2ForCausalLM in fp32,
// PEFT LoRA layers (see /work/shared/reference/training-math.md sections 3-5).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "lora.h"
#include "ops.h"
#include "model.h"

namespace tk {

// One micro-batch, B rows of T tokens (right-padded or packed).
struct Batch {
  int B = 0, T = 0;
  std::vector<int32_t> ids;        // (B*T) input ids
  std::vector<int32_t> targets;    // (B*T) label of the NEXT token (already shifted), -100 = not scored
  std::vector<int32_t> pos;        // (B*T) position ids, restarting at 0 for each packed document
  std::vector<int32_t> seg_start;  // (B*T) index within the row where the token's document starts
  int64_t n_scored() const;
};

// A batch of single-document rows, for tests and evaluation: labels in HF convention (unshifted, -100 = masked).
Batch make_batch(const std::vector<std::vector<int32_t>>& ids, const std::vector<std::vector<int32_t>>& labels,
                 int pad_id = 0);

struct LossStats {
  double loss_sum = 0;    // sum of token cross-entropies
  int64_t n_correct = 0;  // scored tokens whose argmax is the label
  int64_t n_scored = 0;   // scored tokens
};

// Dropout masks are counter-based (ops.h rng): the same (seed, stream) gives the same masks in the backward pass
// and after a resume. stream identifies the micro-batch.
struct DropoutCtx {
  uint64_t seed = 0;
  uint64_t stream = 0;
};

// Where gradients go: LoRA views (lora_views over a flat buffer) or a full ModelWeights-shaped buffer.
struct Grads {
  std::vector<std::vector<LoraModule>> lora;  // [layer][proj], empty when full fine-tuning
  ModelWeights* full = nullptr;
};

// The runtime model: weights (not owned), optional LoRA (not owned), RoPE tables and the activations buffer,
// sized for up to max_tokens tokens per batch and rows of up to max_T tokens.
struct Llama {
  const ModelWeights* w = nullptr;
  const LoraWeights* lora = nullptr;
  LlamaConfig c;
  int max_tokens = 0, max_T = 0;
  // The lm_head reads xf * logit_scale: logits / temperature for a sampling temperature (GRPO's log-probs). Applied
  // by llama_forward to xf, and to the gradient reaching xf by llama_backward.
  float logit_scale = 1.0f;
  std::vector<float> rope_cos, rope_sin;  // (max_T, D/2)

  // activations, one flat buffer; per-layer tensors are strided by max_tokens
  std::vector<float> acts;
  float* res = nullptr;     // (L+1, N, C) residual stream: input of each layer, then the last layer's output
  float* rstd1 = nullptr;   // (L, N)
  float* a = nullptr;       // (L, N, C) input_layernorm output
  float* q = nullptr;       // (L, N, H*D) after RoPE
  float* k = nullptr;       // (L, N, KV*D) after RoPE
  float* v = nullptr;       // (L, N, KV*D)
  float* att = nullptr;     // (L, N, H*D) attention output (o_proj input)
  float* lse = nullptr;     // (L, B, H, T) attention row logsumexp
  float* hmid = nullptr;    // (L, N, C) residual after attention
  float* rstd2 = nullptr;   // (L, N)
  float* m = nullptr;       // (L, N, C) post_attention_layernorm output
  float* gate = nullptr;    // (L, N, F)
  float* up = nullptr;      // (L, N, F)
  float* act = nullptr;     // (L, N, F) silu(gate) * up (down_proj input)
  float* lora_u = nullptr;  // (L, 7, N, R) LoRA intermediates u = drop(x) A^T (targeted projections)
  float* rstdf = nullptr;   // (N)
  float* xf = nullptr;      // (N, C) final norm output

  // scratch for forward/backward
  std::vector<float> scratch;
  float* tmp = nullptr;   // (N, max(C, H*D, F))
  float* xd = nullptr;    // (N, max in) dropped LoRA input
  float* dres = nullptr;  // (N, C)
  float* dC = nullptr;    // (N, C)
  float* dHD = nullptr;   // (N, H*D)
  float* dq = nullptr;    // (N, H*D)
  float* dk = nullptr;    // (N, KV*D)
  float* dv = nullptr;    // (N, KV*D)
  float* dF1 = nullptr;   // (N, F)
  float* dF2 = nullptr;   // (N, F)
  float* dF3 = nullptr;   // (N, F)
  float* du = nullptr;    // (N, R)
  std::vector<float> ce_workspace;  // chunked lm_head logits (ops.h lmhead_ce)

  // The frozen base packed for its products (ops.h PackedWeight), when llama_init was asked to and the copies fit
  // kPackedWeightsBudget; empty otherwise (the products then go through sgemm).
  std::vector<std::array<PackedWeight, kNumProj>> packed_fwd, packed_grad;  // [layer][proj]: x W^T, dy W
  PackedWeight lm_head_fwd, lm_head_grad;
};

// Sets m.logit_scale for a scope, then restores it.
class LogitScale {
 public:
  LogitScale(Llama& m, double scale) : m_(m), saved_(m.logit_scale) { m.logit_scale = static_cast<float>(scale); }
  ~LogitScale() { m_.logit_scale = saved_; }
  LogitScale(const LogitScale&) = delete;
  LogitScale& operator=(const LogitScale&) = delete;

 private:
  Llama& m_;
  float saved_;
};

// cos/sin tables (P positions x head_dim / 2) of the model's RoPE, with its rope_theta and llama3 scaling.
void rope_tables_for(const LlamaConfig& c, int P, std::vector<float>& cos, std::vector<float>& sin);

// Packed copies of the frozen weights take two floats per weight; above this many bytes they are not made.
constexpr size_t kPackedWeightsBudget = size_t{1} << 30;

// Allocates activations for batches of up to max_tokens tokens and rows of up to max_T tokens. pack_frozen: the
// weights will not change while `m` is used (LoRA training, evaluation), so they are packed once for the
// products (within kPackedWeightsBudget).
void llama_init(Llama& m, const ModelWeights& w, const LoraWeights* lora, int max_tokens, int max_T,
                bool pack_frozen = false);

// Forward through the decoder and the final norm (no lm_head). drop == nullptr: no dropout (evaluation).
void llama_forward(Llama& m, const Batch& b, const DropoutCtx* drop);

// After llama_forward: the lm_head + cross-entropy loss without gradients.
LossStats llama_loss(Llama& m, const Batch& b);

// After llama_forward: each scored position's CE = -log p(target) into row_ce (B*T) and whether its argmax is the
// target into row_correct (B*T, may be null); unscored positions are left untouched. No gradients.
LossStats llama_token_ce(Llama& m, const Batch& b, float* row_ce, uint8_t* row_correct);

// After llama_forward(m, b, drop) with the same drop: the loss, and gradients ACCUMULATED into g for
// loss = sum of token CE * grad_scale (grad_scale = 1 / scored tokens of the whole optimizer step), or, when
// token_scale (B*T) is given, for loss = sum_t token_scale[t] * CE_t (objectives/preference.h: any objective whose
// gradient reaches the logits only through the scored tokens' log-probs; grad_scale is then unused).
LossStats llama_backward(Llama& m, const Batch& b, float grad_scale, Grads& g, const DropoutCtx* drop,
                         const float* token_scale = nullptr);

// After llama_forward: every row's logits, out (B*T, V).
void llama_logits(float* out, Llama& m, const Batch& b);

}  // namespace tk
