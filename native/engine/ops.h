// ops.h - the CPU kernels of the engine, as forward/backward pairs (after llm.c).
//
// Conventions: outputs first, then inputs, then sizes; gradients are d-prefixed; backward kernels ACCUMULATE
// (+=) into their gradient outputs unless stated otherwise, so the caller zeroes once per step.
// Legend: N tokens (= B*T), C channels, H query heads, KV key/value heads, D head_dim, F MLP width, V vocab,
// IC/OC in/out features of a linear layer.
//
// Threading: one engine-wide pool (set_num_threads). Every kernel partitions its work into a fixed set of
// disjoint output blocks; no result depends on which thread ran a block or in what order, so runs are
// bit-for-bit deterministic.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace tk {

// ---- threads -------------------------------------------------------------------------------------------------
void set_num_threads(int n);  // 0 = hardware concurrency
int num_threads();
// Runs fn(i) for i in [0, n) on the pool (the caller's thread takes part). fn must write disjoint outputs.
void parallel_for(int n, const std::function<void(int)>& fn);

// ---- GEMM ----------------------------------------------------------------------------------------------------
// Row-major C[M,N] = alpha * op(A)[M,K] op(B)[K,N] + beta * C, op = transpose when ta/tb. cblas_sgemm when built
// with TUNEKIT_HAVE_CBLAS, else the packed kernel of the CPU path in use (cpu.h: AVX-512, AVX2/FMA or portable).
// The pool splits C into row (or column) blocks; each block runs single-threaded.
void sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc);
// The same with the engine's own kernel even when a CBLAS is linked (the no-BLAS build's path; tested directly).
void sgemm_builtin(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                   int ldb, float beta, float* C, int ldc);

// ---- products with a frozen weight, packed once -------------------------------------------------------------
// A weight that does not change during a run (the frozen base of a LoRA fine-tune) can be packed once into the
// micro-kernel's panel layout, in the orientation its product needs. The products then skip the per-call packing of
// the weight (and the separate zeroing of C), and the pool splits them into many blocks at no repacking cost, so a
// thread that the OS preempts does not hold the others. Results do not depend on the thread count.
struct PackedWeight {
  int K = 0, N = 0;           // the product's op(B) is K x N
  std::vector<float> panels;  // [ceil(N / 16) panels][K][16], columns past N zero
  bool empty() const { return panels.empty(); }
};
// nn.Linear weight W (OC, IC): for x W^T (the forward; op(B) = W^T, K = IC, N = OC) ...
PackedWeight pack_weight_forward(const float* W, int OC, int IC);
// ... and for dy W (the activation gradient; op(B) = W, K = OC, N = IC).
PackedWeight pack_weight_input_grad(const float* W, int OC, int IC);
// Floats both packings of a weight (OC, IC) take.
size_t packed_weight_floats(int OC, int IC);
// C (M, B.N) = alpha * A (M, B.K; row-major, leading dimension lda) op(B) + beta * C, beta 0 or 1.
void sgemm_packed(int M, const float* A, int lda, const PackedWeight& B, float alpha, float beta, float* C, int ldc);

// nn.Linear layout, weight (OC, IC). `packed`, when given, is the same weight packed by pack_weight_forward
// (matmul_forward) or pack_weight_input_grad (matmul_backward_input).
// out (N, OC) = inp (N, IC) W^T + bias (bias may be null); accumulate: out += instead of =.
void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int IC, int OC,
                    bool accumulate = false, const PackedWeight* packed = nullptr);
// dinp (N, IC) += dout (N, OC) W (the activation gradient; frozen weights need only this); = when !accumulate.
void matmul_backward_input(float* dinp, const float* dout, const float* weight, int N, int IC, int OC,
                           bool accumulate = true, const PackedWeight* packed = nullptr);
// dweight (OC, IC) += dout^T inp; dbias (OC) += sum over N of dout (dbias may be null).
void matmul_backward_weight(float* dweight, float* dbias, const float* dout, const float* inp, int N, int IC,
                            int OC);

// ---- RMSNorm (LlamaRMSNorm: y = w * (x * rsqrt(mean(x^2) + eps))) ---------------------------------------------
// out (N, C), rstd (N), inp (N, C), weight (C)
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C, float eps);
// dinp (N, C) +=; dweight (C) += (may be null: frozen)
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int N, int C);

// ---- RoPE (half-split rotate_half, as transformers) ----------------------------------------------------------
// Tables cos/sin (P, D/2) for positions 0..P-1: inv_freq = 1/(theta ** (arange(0,D,2)/D)) in fp32 (optionally
// llama3-scaled), angle = float(pos) * inv_freq in fp32, exactly as transformers' LlamaRotaryEmbedding.
struct RopeScaling {
  bool llama3 = false;
  float factor = 1, low_freq_factor = 1, high_freq_factor = 4;
  int original_max_position = 8192;
};
void rope_tables(float* cos, float* sin, int P, int D, float theta, const RopeScaling& scaling);
// In place on x (N, NH, D) with per-token positions pos (N); NH = H for q, KV for k.
void rope_forward(float* x, const float* cos, const float* sin, const int32_t* pos, int N, int NH, int D);
// In place on dx (N, NH, D): the inverse rotation.
void rope_backward(float* dx, const float* cos, const float* sin, const int32_t* pos, int N, int NH, int D);

// ---- causal GQA attention with packing ------------------------------------------------------------------------
// q (B, T, H, D), k/v (B, T, KV, D), out (B, T, H, D), lse (B, H, T). Query t attends keys j with
// seg_start[t] <= j <= t (seg_start (B*T): index within the row where t's document starts; 0 without packing)
// and, when window > 0, t - j < window. Scale D^-0.5. Query head h uses kv head h / (H / KV).
void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const int32_t* seg_start, int B, int T, int H, int KV, int D, int window);
// dq (B,T,H,D), dk/dv (B,T,KV,D) are OVERWRITTEN (not accumulated).
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out, const float* lse,
                        const float* q, const float* k, const float* v, const int32_t* seg_start, int B, int T,
                        int H, int KV, int D, int window);

// ---- SwiGLU: out = silu(gate) * up --------------------------------------------------------------------------
void swiglu_forward(float* out, const float* gate, const float* up, int64_t n);
// dgate, dup OVERWRITTEN
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t n);

// ---- residual ------------------------------------------------------------------------------------------------
void residual_forward(float* out, const float* a, const float* b, int64_t n);  // out = a + b
void add_inplace(float* a, const float* b, int64_t n);                          // a += b

// ---- fused lm_head + cross-entropy -----------------------------------------------------------------------------
// Rows of x (N, C) are multiplied by W (V, C) in chunks; the (N, V) logits are never materialised.
// targets (N): the (already shifted) label of each row, -100 = not scored. Returns in *loss_sum the sum of
// logsumexp(z) - z[target] over scored rows, in *n_correct how many scored rows have argmax(z) == target (first
// maximum, like torch.argmax). When dx is non-null, backpropagates dloss = grad_scale per scored row:
// dx (N, C) = dz W (OVERWRITTEN), and when dW is non-null dW (V, C) += dz^T x (trained or tied lm_head).
// workspace: the caller's buffer (grown as needed, up to 128 MiB of chunk logits), reused across calls.
// Wf / Wb, when given: W packed by pack_weight_forward / pack_weight_input_grad (a frozen lm_head).
// Per-row (objectives other than the token-mean CE, objectives/preference.h): row_scale (N), when given, replaces
// grad_scale for each row (the gradient is then that of sum_i row_scale[i] * CE_i); row_ce (N) receives each scored
// row's CE (= -log p(target)), row_correct (N) whether its argmax is the target; unscored rows are left untouched.
void lmhead_ce(double* loss_sum, int64_t* n_correct, float* dx, float* dW, const float* x, const float* W,
               const int32_t* targets, int N, int C, int V, float grad_scale, std::vector<float>& workspace,
               const PackedWeight* Wf = nullptr, const PackedWeight* Wb = nullptr, const float* row_scale = nullptr,
               float* row_ce = nullptr, uint8_t* row_correct = nullptr);

// a . b over n floats: 8 lanes, a fixed-order horizontal sum, then the tail (the same bits at any thread count).
float dot(const float* a, const float* b, int n);

// Index of the first maximum of z[0..n) (torch.argmax semantics); 0 when n <= 0 or no element compares equal to
// the maximum (NaN logits).
int argmax_first(const float* z, int n);

// ---- embedding -------------------------------------------------------------------------------------------------
void embedding_forward(float* out, const int32_t* ids, const float* table, int N, int C);
void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int N, int C);  // += (full FT)

// ---- deterministic random numbers -----------------------------------------------------------------------------
// Counter-based: the value depends only on (seed, stream, index), never on call order, so dropout masks and
// shuffles are the same on resume.
uint64_t rng_u64(uint64_t seed, uint64_t stream, uint64_t index);
float rng_uniform01(uint64_t seed, uint64_t stream, uint64_t index);  // [0, 1) with 24 random bits

}  // namespace tk
