// llama.cpp - the decoder, top to bottom: embeddings, per layer (RMSNorm, q/k/v + RoPE, GQA attention, o_proj,
// residual, RMSNorm, SwiGLU MLP, residual), final norm, fused lm_head + cross-entropy; and the backward pass in
// reverse. LoRA branches follow PEFT's Linear.forward: y = x W^T + b + scaling * B(A(drop(x))).
#include "llama.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "error.h"
#include "ops.h"

namespace tk {

int64_t Batch::n_scored() const {
  int64_t n = 0;
  for (int32_t t : targets) n += t != -100;
  return n;
}

Batch make_batch(const std::vector<std::vector<int32_t>>& ids, const std::vector<std::vector<int32_t>>& labels,
                 int pad_id) {
  Batch b;
  b.B = static_cast<int>(ids.size());
  for (const auto& r : ids) b.T = std::max(b.T, static_cast<int>(r.size()));
  size_t n = (size_t)b.B * b.T;
  b.ids.assign(n, pad_id);
  b.targets.assign(n, -100);
  b.pos.assign(n, 0);
  b.seg_start.assign(n, 0);
  for (int r = 0; r < b.B; ++r) {
    int len = static_cast<int>(ids[r].size());
    for (int t = 0; t < b.T; ++t) {
      size_t i = (size_t)r * b.T + t;
      b.pos[i] = t;
      if (t < len) b.ids[i] = ids[r][t];
      if (t + 1 < len) b.targets[i] = labels[r][t + 1];  // HF label shift: position t predicts label t+1
    }
  }
  return b;
}

namespace {

inline const LoraModule* lora_of(const Llama& m, int l, Proj p) {
  if (!m.lora) return nullptr;
  const LoraModule& mod = m.lora->at(l, p);
  return mod.A ? &mod : nullptr;
}

inline uint64_t dropout_stream(const DropoutCtx& d, int l, Proj p) {
  return (d.stream << 20) ^ (static_cast<uint64_t>(l) << 3) ^ static_cast<uint64_t>(p);
}

// xd = x * mask / (1 - p), mask from the counter-based RNG (torch.nn.Dropout semantics, our own random stream).
void dropout_apply(float* xd, const float* x, int64_t n, float p, uint64_t seed, uint64_t stream) {
  const float scale = 1.0f / (1.0f - p);
  for (int64_t i = 0; i < n; ++i) xd[i] = rng_uniform01(seed, stream, i) >= p ? x[i] * scale : 0.0f;
}

const PackedWeight* packed(const std::vector<std::array<PackedWeight, kNumProj>>& pw, int l, Proj p) {
  return pw.empty() ? nullptr : &pw[l][static_cast<int>(p)];
}

const PackedWeight* packed_or_null(const PackedWeight& p) { return p.empty() ? nullptr : &p; }

float* u_ptr(const Llama& m, int l, Proj p) {
  return m.lora_u + ((size_t)l * kNumProj + static_cast<int>(p)) * m.max_tokens * std::max(1, m.lora ? m.lora->config.r : 1);
}

// out (N, OC) = in W^T + b (+ s * (drop(in) A^T) B^T), storing u = drop(in) A^T for the backward pass.
void linear_forward(Llama& m, float* out, const float* in, const float* W, const float* bias, int N, int l, Proj p,
                    const DropoutCtx* drop) {
  const int IC = proj_in_features(m.c, p), OC = proj_out_features(m.c, p);
  matmul_forward(out, in, W, bias, N, IC, OC, false, packed(m.packed_fwd, l, p));
  const LoraModule* lm = lora_of(m, l, p);
  if (!lm) return;
  const LoraConfig& lc = m.lora->config;
  const int R = lc.r;
  const float s = static_cast<float>(lc.scaling());
  const float* xin = in;
  if (drop && lc.dropout > 0) {
    dropout_apply(m.xd, in, (int64_t)N * IC, static_cast<float>(lc.dropout), drop->seed, dropout_stream(*drop, l, p));
    xin = m.xd;
  }
  float* u = u_ptr(m, l, p);
  sgemm(false, true, N, R, IC, 1.0f, xin, IC, lm->A, IC, 0.0f, u, R);  // u = x A^T
  sgemm(false, true, N, OC, R, s, u, R, lm->B, R, 1.0f, out, OC);      // out += s u B^T
}

// Backward of linear_forward: dx += dy W (+ LoRA path), or dx = ... when first (the first contribution to dx,
// which saves zeroing it); dW/db (full FT) and dA/dB (LoRA) accumulate.
// need_dx = false skips the input gradient (the lowest layer of a frozen base).
void linear_backward(Llama& m, Grads& g, float* dx, const float* dy, const float* in, int N, int l, Proj p,
                     const DropoutCtx* drop, bool need_dx, bool first = false) {
  const int IC = proj_in_features(m.c, p), OC = proj_out_features(m.c, p);
  const LayerWeights& lw = m.w->layers[l];
  const int pi = static_cast<int>(p);
  if (g.full) {
    LayerWeights& gw = g.full->layers[l];
    float* db = p == Proj::q ? gw.q_bias : p == Proj::k ? gw.k_bias : p == Proj::v ? gw.v_bias
              : p == Proj::o ? gw.o_bias : nullptr;
    matmul_backward_weight(gw.proj[pi], db, dy, in, N, IC, OC);
  }
  if (need_dx) matmul_backward_input(dx, dy, lw.proj[pi], N, IC, OC, !first, packed(m.packed_grad, l, p));
  const LoraModule* lm = lora_of(m, l, p);
  if (!lm || g.lora.empty()) return;
  const LoraModule& gm = g.lora[l][pi];
  const LoraConfig& lc = m.lora->config;
  const int R = lc.r;
  const float s = static_cast<float>(lc.scaling());
  const bool dropped = drop && lc.dropout > 0;
  const float* xin = in;
  if (dropped) {
    dropout_apply(m.xd, in, (int64_t)N * IC, static_cast<float>(lc.dropout), drop->seed, dropout_stream(*drop, l, p));
    xin = m.xd;
  }
  const float* u = u_ptr(m, l, p);
  sgemm(true, false, OC, R, N, s, dy, OC, u, R, 1.0f, gm.B, R);         // dB += s dy^T u
  sgemm(false, false, N, R, OC, s, dy, OC, lm->B, R, 0.0f, m.du, R);    // du = s dy B
  sgemm(true, false, R, IC, N, 1.0f, m.du, R, xin, IC, 1.0f, gm.A, IC);  // dA += du^T drop(x)
  if (!need_dx) return;
  if (!dropped) {
    sgemm(false, false, N, IC, R, 1.0f, m.du, R, lm->A, IC, 1.0f, dx, IC);  // dx += du A
  } else {
    // dx += (du A) * mask / (1 - p): reuse xd for du A, then apply the same mask
    sgemm(false, false, N, IC, R, 1.0f, m.du, R, lm->A, IC, 0.0f, m.xd, IC);
    const float pr = static_cast<float>(lc.dropout), scale = 1.0f / (1.0f - pr);
    const uint64_t st = dropout_stream(*drop, l, p);
    const int64_t n = (int64_t)N * IC;
    for (int64_t i = 0; i < n; ++i)
      if (rng_uniform01(drop->seed, st, i) >= pr) dx[i] += m.xd[i] * scale;
  }
}

}  // namespace

void rope_tables_for(const LlamaConfig& c, int P, std::vector<float>& cos, std::vector<float>& sin) {
  cos.assign((size_t)P * (c.head_dim / 2), 0.0f);
  sin.assign(cos.size(), 0.0f);
  RopeScaling sc;
  sc.llama3 = c.rope_llama3;
  sc.factor = c.rope_factor;
  sc.low_freq_factor = c.rope_low_freq_factor;
  sc.high_freq_factor = c.rope_high_freq_factor;
  sc.original_max_position = c.rope_original_max_position;
  rope_tables(cos.data(), sin.data(), P, c.head_dim, c.rope_theta, sc);
}

void llama_init(Llama& m, const ModelWeights& w, const LoraWeights* lora, int max_tokens, int max_T,
                bool pack_frozen) {
  m.w = &w;
  m.lora = lora;
  m.c = w.config;
  m.max_tokens = max_tokens;
  m.max_T = max_T;
  const LlamaConfig& c = m.c;
  const size_t N = max_tokens, L = c.num_hidden_layers, C = c.hidden_size, F = c.intermediate_size;
  const size_t HD = c.q_dim(), KVD = c.kv_dim(), H = c.num_attention_heads;
  const size_t R = lora ? lora->config.r : 0;
  const size_t n_lora_u = lora ? L * kNumProj * N * R : 0;
  const size_t sizes[] = {(L + 1) * N * C, L * N, L * N * C, L * N * HD, L * N * KVD, L * N * KVD, L * N * HD,
                          L * N * H,       L * N * C, L * N, L * N * C, L * N * F, L * N * F, L * N * F,
                          n_lora_u,        N,         N * C};
  size_t total = 0;
  for (size_t s : sizes) total += s;
  m.acts.assign(total, 0.0f);
  float* p = m.acts.data();
  float** ptrs[] = {&m.res, &m.rstd1, &m.a, &m.q, &m.k, &m.v, &m.att, &m.lse, &m.hmid, &m.rstd2, &m.m,
                    &m.gate, &m.up, &m.act, &m.lora_u, &m.rstdf, &m.xf};
  for (size_t i = 0; i < std::size(sizes); ++i) {
    *ptrs[i] = p;
    p += sizes[i];
  }
  const size_t wide = std::max({C, HD, F});
  const size_t ssizes[] = {N * wide, lora && lora->config.dropout > 0 ? N * wide : 0, N * C, N * C, N * HD, N * HD,
                           N * KVD, N * KVD, N * F, N * F, N * F, N * std::max<size_t>(R, 1)};
  total = 0;
  for (size_t s : ssizes) total += s;
  m.scratch.assign(total, 0.0f);
  p = m.scratch.data();
  float** sptrs[] = {&m.tmp, &m.xd, &m.dres, &m.dC, &m.dHD, &m.dq, &m.dk, &m.dv, &m.dF1, &m.dF2, &m.dF3, &m.du};
  for (size_t i = 0; i < std::size(ssizes); ++i) {
    *sptrs[i] = p;
    p += ssizes[i];
  }
  rope_tables_for(c, max_T, m.rope_cos, m.rope_sin);

  size_t pack_floats = packed_weight_floats(c.vocab_size, C);  // lm_head
  for (int p = 0; p < kNumProj; ++p)
    pack_floats += L * packed_weight_floats(proj_out_features(c, static_cast<Proj>(p)),
                                            proj_in_features(c, static_cast<Proj>(p)));
  m.packed_fwd.clear();
  m.packed_grad.clear();
  m.lm_head_fwd = m.lm_head_grad = PackedWeight{};
  if (pack_frozen && pack_floats * sizeof(float) <= kPackedWeightsBudget) {
    m.packed_fwd.resize(L);
    m.packed_grad.resize(L);
    for (size_t l = 0; l < L; ++l)
      for (int p = 0; p < kNumProj; ++p) {
        const int IC = proj_in_features(c, static_cast<Proj>(p)), OC = proj_out_features(c, static_cast<Proj>(p));
        m.packed_fwd[l][p] = pack_weight_forward(w.layers[l].proj[p], OC, IC);
        m.packed_grad[l][p] = pack_weight_input_grad(w.layers[l].proj[p], OC, IC);
      }
    m.lm_head_fwd = pack_weight_forward(w.lm_head, c.vocab_size, C);
    m.lm_head_grad = pack_weight_input_grad(w.lm_head, c.vocab_size, C);
  }
}

void llama_forward(Llama& m, const Batch& b, const DropoutCtx* drop) {
  const LlamaConfig& c = m.c;
  const ModelWeights& w = *m.w;
  const int B = b.B, T = b.T, N = B * T;
  if (N > m.max_tokens || T > m.max_T)
    throw Error("llama_forward: batch " + std::to_string(B) + "x" + std::to_string(T) + " exceeds the allocated " +
                std::to_string(m.max_tokens) + " tokens / rows of " + std::to_string(m.max_T));
  const int C = c.hidden_size, F = c.intermediate_size, H = c.num_attention_heads, KV = c.num_key_value_heads;
  const int D = c.head_dim, HD = c.q_dim(), KVD = c.kv_dim();
  const size_t sN = m.max_tokens;
  for (int i = 0; i < N; ++i)
    if (b.ids[i] < 0 || b.ids[i] >= c.vocab_size)
      throw Error("token id " + std::to_string(b.ids[i]) + " out of range for vocab_size " + std::to_string(c.vocab_size));
  embedding_forward(m.res, b.ids.data(), w.embed_tokens, N, C);
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const LayerWeights& lw = w.layers[l];
    float* x = m.res + l * sN * C;
    float* a = m.a + l * sN * C;
    float* q = m.q + l * sN * HD;
    float* k = m.k + l * sN * KVD;
    float* v = m.v + l * sN * KVD;
    float* att = m.att + l * sN * HD;
    float* hmid = m.hmid + l * sN * C;
    float* mm = m.m + l * sN * C;
    float* gate = m.gate + l * sN * F;
    float* up = m.up + l * sN * F;
    float* act = m.act + l * sN * F;
    rmsnorm_forward(a, m.rstd1 + l * sN, x, lw.input_layernorm, N, C, c.rms_norm_eps);
    linear_forward(m, q, a, lw.proj[0], lw.q_bias, N, l, Proj::q, drop);
    linear_forward(m, k, a, lw.proj[1], lw.k_bias, N, l, Proj::k, drop);
    linear_forward(m, v, a, lw.proj[2], lw.v_bias, N, l, Proj::v, drop);
    rope_forward(q, m.rope_cos.data(), m.rope_sin.data(), b.pos.data(), N, H, D);
    rope_forward(k, m.rope_cos.data(), m.rope_sin.data(), b.pos.data(), N, KV, D);
    attention_forward(att, m.lse + l * sN * H, q, k, v, b.seg_start.data(), B, T, H, KV, D, c.sliding_window);
    linear_forward(m, m.tmp, att, lw.proj[3], lw.o_bias, N, l, Proj::o, drop);
    residual_forward(hmid, x, m.tmp, (int64_t)N * C);
    rmsnorm_forward(mm, m.rstd2 + l * sN, hmid, lw.post_attention_layernorm, N, C, c.rms_norm_eps);
    linear_forward(m, gate, mm, lw.proj[4], nullptr, N, l, Proj::gate, drop);
    linear_forward(m, up, mm, lw.proj[5], nullptr, N, l, Proj::up, drop);
    swiglu_forward(act, gate, up, (int64_t)N * F);
    linear_forward(m, m.tmp, act, lw.proj[6], nullptr, N, l, Proj::down, drop);
    residual_forward(m.res + (l + 1) * sN * C, hmid, m.tmp, (int64_t)N * C);
  }
  rmsnorm_forward(m.xf, m.rstdf, m.res + c.num_hidden_layers * sN * C, w.norm, N, C, c.rms_norm_eps);
  if (m.logit_scale != 1.0f)
    for (int64_t i = 0, n = (int64_t)N * C; i < n; ++i) m.xf[i] *= m.logit_scale;
}

namespace {
void check_targets(const Batch& b, int V) {
  for (int32_t t : b.targets)
    if (t != -100 && (t < 0 || t >= V))
      throw Error("label " + std::to_string(t) + " out of range for vocab_size " + std::to_string(V));
}
}  // namespace

LossStats llama_loss(Llama& m, const Batch& b) {
  check_targets(b, m.c.vocab_size);
  LossStats s;
  const int N = b.B * b.T;
  lmhead_ce(&s.loss_sum, &s.n_correct, nullptr, nullptr, m.xf, m.w->lm_head, b.targets.data(), N, m.c.hidden_size,
            m.c.vocab_size, 0.0f, m.ce_workspace, packed_or_null(m.lm_head_fwd));
  s.n_scored = b.n_scored();
  return s;
}

LossStats llama_token_ce(Llama& m, const Batch& b, float* row_ce, uint8_t* row_correct) {
  check_targets(b, m.c.vocab_size);
  LossStats s;
  lmhead_ce(&s.loss_sum, &s.n_correct, nullptr, nullptr, m.xf, m.w->lm_head, b.targets.data(), b.B * b.T,
            m.c.hidden_size, m.c.vocab_size, 0.0f, m.ce_workspace, packed_or_null(m.lm_head_fwd), nullptr, nullptr,
            row_ce, row_correct);
  s.n_scored = b.n_scored();
  return s;
}

LossStats llama_backward(Llama& m, const Batch& b, float grad_scale, Grads& g, const DropoutCtx* drop,
                         const float* token_scale) {
  check_targets(b, m.c.vocab_size);
  const LlamaConfig& c = m.c;
  const ModelWeights& w = *m.w;
  const int B = b.B, T = b.T, N = B * T;
  const int C = c.hidden_size, F = c.intermediate_size, H = c.num_attention_heads, KV = c.num_key_value_heads;
  const int D = c.head_dim, HD = c.q_dim(), KVD = c.kv_dim(), L = c.num_hidden_layers;
  const size_t sN = m.max_tokens;
  const bool full = g.full != nullptr;

  // lm_head + CE, fused: dC = dloss/dxf; the lm_head (or tied embedding) grad accumulates when trained.
  LossStats s;
  lmhead_ce(&s.loss_sum, &s.n_correct, m.dC, full ? g.full->lm_head : nullptr, m.xf, w.lm_head, b.targets.data(), N,
            C, c.vocab_size, grad_scale, m.ce_workspace, packed_or_null(m.lm_head_fwd),
            packed_or_null(m.lm_head_grad), token_scale);
  s.n_scored = b.n_scored();
  if (m.logit_scale != 1.0f)  // xf was scaled after the final norm: the chain rule scales its gradient alike
    for (int64_t i = 0, n = (int64_t)N * C; i < n; ++i) m.dC[i] *= m.logit_scale;

  // final norm
  std::memset(m.dres, 0, sizeof(float) * (size_t)N * C);
  rmsnorm_backward(m.dres, full ? g.full->norm : nullptr, m.dC, m.res + L * sN * C, w.norm, m.rstdf, N, C);

  // The lowest layer that needs an input gradient: with a frozen base, nothing below the lowest adapter matters.
  int lowest = 0;
  if (!full) {
    lowest = L;
    for (int l = 0; l < L && lowest == L; ++l)
      for (int p = 0; p < kNumProj; ++p)
        if (lora_of(m, l, static_cast<Proj>(p))) { lowest = l; break; }
  }

  for (int l = L - 1; l >= lowest; --l) {
    const LayerWeights& lw = w.layers[l];
    LayerWeights* gw = full ? &g.full->layers[l] : nullptr;
    const float* x = m.res + l * sN * C;
    const float* a = m.a + l * sN * C;
    const float* q = m.q + l * sN * HD;
    const float* k = m.k + l * sN * KVD;
    const float* v = m.v + l * sN * KVD;
    const float* att = m.att + l * sN * HD;
    const float* hmid = m.hmid + l * sN * C;
    const float* mm = m.m + l * sN * C;
    const float* gate = m.gate + l * sN * F;
    const float* up = m.up + l * sN * F;
    const float* act = m.act + l * sN * F;

    // MLP: dres is the gradient of the layer output (= of hmid through the residual, and of the down_proj output)
    linear_backward(m, g, m.dF1, m.dres, act, N, l, Proj::down, drop, true, true);
    swiglu_backward(m.dF2, m.dF3, m.dF1, gate, up, (int64_t)N * F);  // dF2 = dgate, dF3 = dup
    linear_backward(m, g, m.dC, m.dF2, mm, N, l, Proj::gate, drop, true, true);
    linear_backward(m, g, m.dC, m.dF3, mm, N, l, Proj::up, drop, true);
    rmsnorm_backward(m.dres, gw ? gw->post_attention_layernorm : nullptr, m.dC, hmid, lw.post_attention_layernorm,
                     m.rstd2 + l * sN, N, C);

    // attention: dres is now the gradient of hmid
    linear_backward(m, g, m.dHD, m.dres, att, N, l, Proj::o, drop, true, true);
    attention_backward(m.dq, m.dk, m.dv, m.dHD, att, m.lse + l * sN * H, q, k, v, b.seg_start.data(), B, T, H, KV,
                       D, c.sliding_window);
    rope_backward(m.dq, m.rope_cos.data(), m.rope_sin.data(), b.pos.data(), N, H, D);
    rope_backward(m.dk, m.rope_cos.data(), m.rope_sin.data(), b.pos.data(), N, KV, D);
    const bool need_dx = full || l > lowest;
    linear_backward(m, g, m.dC, m.dq, a, N, l, Proj::q, drop, need_dx, true);
    linear_backward(m, g, m.dC, m.dk, a, N, l, Proj::k, drop, need_dx);
    linear_backward(m, g, m.dC, m.dv, a, N, l, Proj::v, drop, need_dx);
    if (need_dx)
      rmsnorm_backward(m.dres, gw ? gw->input_layernorm : nullptr, m.dC, x, lw.input_layernorm, m.rstd1 + l * sN, N,
                       C);
  }
  if (full) embedding_backward(g.full->embed_tokens, m.dres, b.ids.data(), N, C);
  return s;
}

void llama_logits(float* out, Llama& m, const Batch& b) {
  const int N = b.B * b.T;
  matmul_forward(out, m.xf, m.w->lm_head, nullptr, N, m.c.hidden_size, m.c.vocab_size, false,
                 packed_or_null(m.lm_head_fwd));
}

}  // namespace tk
