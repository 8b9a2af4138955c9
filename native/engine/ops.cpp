// ops.cpp - CPU kernels: thread pool, GEMM, RMSNorm, RoPE, attention, SwiGLU, fused lm_head + cross-entropy.
// See ops.h for the conventions. Each kernel names the PyTorch/transformers function whose semantics it matches.
#include "ops.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "cpu.h"

#if defined(TUNEKIT_HAVE_CBLAS)
#include <cblas.h>
#endif

namespace tk {

// =============================================================================================================
// Thread pool: a fixed set of workers that take task indices from an atomic counter. Determinism comes from the
// kernels (every task writes its own output block), not from the order in which tasks run.
// =============================================================================================================
namespace {

thread_local bool t_in_pool_task = false;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

// Waiting threads spin this many times (~40 us) before sleeping: a training step runs hundreds of parallel regions
// a few hundred microseconds apart, and a futex wake-up per region and thread costs tens of microseconds.
constexpr int kSpinIterations = 2000;

class Pool {
 public:
  ~Pool() { resize(1); }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int n) {
    if (n < 1) n = 1;
    std::lock_guard<std::mutex> serial(run_mu_);  // never while another caller's parallel region runs
    if (n == size()) return;
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
      generation_.fetch_add(1);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    stop_ = false;
    const uint64_t gen = generation_.load();  // captured now: a worker must not miss a job posted before it starts
    for (int i = 0; i < n - 1; ++i) workers_.emplace_back([this, gen] { worker_loop(gen); });
  }

  void run(int n, const std::function<void(int)>& fn) {
    if (n <= 0) return;
    if (n == 1 || workers_.empty() || t_in_pool_task) {  // nested calls run inline
      bool was = t_in_pool_task;
      t_in_pool_task = true;
      for (int i = 0; i < n; ++i) fn(i);
      t_in_pool_task = was;
      return;
    }
    std::lock_guard<std::mutex> serial(run_mu_);  // one parallel region at a time across callers
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = &fn;
      job_n_ = n;
      next_.store(0);
      pending_.store(static_cast<int>(workers_.size()));
      generation_.fetch_add(1);  // publishes the job to spinning and sleeping workers alike
    }
    cv_.notify_all();
    work();
    for (int spin = 0; spin < kSpinIterations && pending_.load() != 0; ++spin) cpu_relax();
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [this] { return pending_.load() == 0; });
    job_ = nullptr;
  }

 private:
  void work() {
    t_in_pool_task = true;
    for (;;) {
      int i = next_.fetch_add(1);
      if (i >= job_n_) break;
      (*job_)(i);
    }
    t_in_pool_task = false;
  }

  void worker_loop(uint64_t seen) {
    for (;;) {
      for (int spin = 0; spin < kSpinIterations && generation_.load() == seen; ++spin) cpu_relax();
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return generation_.load() != seen; });
        seen = generation_.load();
        if (stop_) return;
      }
      work();
      {
        std::lock_guard<std::mutex> lk(mu_);
        pending_.fetch_sub(1);
      }
      done_cv_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mu_, run_mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* job_ = nullptr;
  int job_n_ = 0;
  std::atomic<int> next_{0};
  std::atomic<int> pending_{0};
  std::atomic<uint64_t> generation_{0};
  bool stop_ = false;
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

void set_num_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
#if defined(TUNEKIT_HAVE_CBLAS) && defined(OPENBLAS_VERSION)
  openblas_set_num_threads(1);  // our pool splits the GEMMs; OpenBLAS's own threads would oversubscribe
#endif
  pool().resize(n);
}

int num_threads() { return pool().size(); }

void parallel_for(int n, const std::function<void(int)>& fn) { pool().run(n, fn); }

// =============================================================================================================
// GEMM
// =============================================================================================================
namespace {

// Packed GEMM in the BLIS style: B is packed into KC x 16 panels, A into mr x KC panels, and the kernel table's
// mr x nr register tile (cpu.h) is accumulated over KC. Accumulates C += alpha * op(A) op(B) (beta is applied by
// the caller). NR is the panel width every packed operand shares; the tile spans nr / NR adjacent panels.
constexpr int NR = 16, KC = 256, MC = 96, NC = 2048;
static_assert(MC % 6 == 0 && MC % 8 == 0, "MC holds whole row tiles of every kernel path");

void pack_a(float* dst, int MR, bool ta, const float* A, int lda, int i0, int mc, int k0, int kc) {
  for (int ip = 0; ip < mc; ip += MR) {
    const int rows = std::min(MR, mc - ip);
    if (!ta) {  // rows of A are contiguous in k: read each row once, scatter into the panel (stride MR)
      for (int r = 0; r < rows; ++r) {
        const float* src = A + (size_t)(i0 + ip + r) * lda + k0;
        for (int k = 0; k < kc; ++k) dst[k * MR + r] = src[k];
      }
      for (int r = rows; r < MR; ++r)
        for (int k = 0; k < kc; ++k) dst[k * MR + r] = 0.0f;
    } else {
      for (int k = 0; k < kc; ++k) {
        const float* src = A + (size_t)(k0 + k) * lda + i0 + ip;
        for (int r = 0; r < rows; ++r) dst[k * MR + r] = src[r];
        for (int r = rows; r < MR; ++r) dst[k * MR + r] = 0.0f;
      }
    }
    dst += (size_t)kc * MR;
  }
}

void pack_b(float* dst, bool tb, const float* B, int ldb, int k0, int kc, int j0, int nc) {
  for (int jp = 0; jp < nc; jp += NR) {
    const int cols = std::min(NR, nc - jp);
    if (!tb) {
      for (int k = 0; k < kc; ++k) {
        const float* src = B + (size_t)(k0 + k) * ldb + j0 + jp;
        for (int c = 0; c < cols; ++c) dst[k * NR + c] = src[c];
        for (int c = cols; c < NR; ++c) dst[k * NR + c] = 0.0f;
      }
    } else {  // B is (N, K): each output column is a contiguous row of B
      for (int c = 0; c < cols; ++c) {
        const float* src = B + (size_t)(j0 + jp + c) * ldb + k0;
        for (int k = 0; k < kc; ++k) dst[k * NR + c] = src[k];
      }
      for (int c = cols; c < NR; ++c)
        for (int k = 0; k < kc; ++k) dst[k * NR + c] = 0.0f;
    }
    dst += (size_t)kc * NR;
  }
}

void gemm_serial(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                 int ldb, float* C, int ldc) {
  const Kernels& kr = kern();
  const int MR = kr.mr;
  thread_local std::vector<float> abuf, bbuf;
  abuf.resize((size_t)MC * KC);
  bbuf.resize((size_t)NC * KC);
  for (int j0 = 0; j0 < N; j0 += NC) {
    int nc = std::min(NC, N - j0);
    for (int k0 = 0; k0 < K; k0 += KC) {
      int kc = std::min(KC, K - k0);
      pack_b(bbuf.data(), tb, B, ldb, k0, kc, j0, nc);
      for (int i0 = 0; i0 < M; i0 += MC) {
        int mc = std::min(MC, M - i0);
        pack_a(abuf.data(), MR, ta, A, lda, i0, mc, k0, kc);
        for (int jp = 0; jp < nc; jp += kr.nr) {
          int cols = std::min(kr.nr, nc - jp);
          const float* bp = bbuf.data() + (size_t)(jp / NR) * kc * NR;
          for (int ip = 0; ip < mc; ip += MR) {
            int rows = std::min(MR, mc - ip);
            kr.tile(C + (size_t)(i0 + ip) * ldc + j0 + jp, ldc, abuf.data() + (size_t)(ip / MR) * kc * MR, 1, MR,
                    rows, bp, (size_t)kc * NR, cols, kc, alpha, true);
          }
        }
      }
    }
  }
}

// One block of C, single-threaded, with the engine's own kernel: C = alpha op(A) op(B) + beta C.
void gemm_block_builtin(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                        int ldb, float beta, float* C, int ldc) {
  for (int i = 0; i < M; ++i) {
    float* c = C + (size_t)i * ldc;
    if (beta == 0.0f) std::memset(c, 0, sizeof(float) * N);
    else if (beta != 1.0f) for (int j = 0; j < N; ++j) c[j] *= beta;
  }
  if (K > 0 && alpha != 0.0f) gemm_serial(ta, tb, M, N, K, alpha, A, lda, B, ldb, C, ldc);
}

// One block of C, single-threaded: CBLAS when built with it, else the engine's kernel. On the AVX-512 path the
// engine's kernel wins: the environment holds OpenBLAS to its Haswell (AVX2) kernels on these CPUs.
void gemm_block(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                int ldb, float beta, float* C, int ldc) {
#if defined(TUNEKIT_HAVE_CBLAS)
  if (kern().lanes >= 16) return gemm_block_builtin(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda,
              B, ldb, beta, C, ldc);
#else
  gemm_block_builtin(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

using GemmBlockFn = void (*)(bool, bool, int, int, int, float, const float*, int, const float*, int, float, float*, int);

void sgemm_split(GemmBlockFn gemm_block, bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  int nt = num_threads();
  double flops = 2.0 * M * N * K;
  // Splitting rows repacks all of B in every part, splitting columns repacks A: split the cheaper way. Blocks are
  // multiples of 16 so every block sees the same kernel tiling.
  bool split_rows = N <= M;
  int dim = split_rows ? M : N;
  // Up to 4 blocks per thread, taken in turn by whichever thread is free, so a thread that the OS preempts (the
  // machine is shared) does not hold the others at the end of the product; blocks stay >= 512 wide, where
  // repacking the other operand per block costs ~1.5 % of the block's arithmetic.
  int parts = flops < 2e6 ? 1 : std::max(nt, std::min(4 * nt, dim / 512));
  int block = std::max(16, ((dim + parts - 1) / parts + 15) / 16 * 16);
  int nblocks = (dim + block - 1) / block;
  parallel_for(nblocks, [&](int b) {
    int s = b * block, e = std::min(dim, s + block);
    if (split_rows) {
      const float* a = ta ? A + s : A + (size_t)s * lda;
      gemm_block(ta, tb, e - s, N, K, alpha, a, lda, B, ldb, beta, C + (size_t)s * ldc, ldc);
    } else {
      const float* bb = tb ? B + (size_t)s * ldb : B + s;
      gemm_block(ta, tb, M, e - s, K, alpha, A, lda, bb, ldb, beta, C + s, ldc);
    }
  });
}

}  // namespace

void sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc) {
  sgemm_split(gemm_block, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm_builtin(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                   int ldb, float beta, float* C, int ldc) {
  sgemm_split(gemm_block_builtin, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int IC, int OC,
                    bool accumulate, const PackedWeight* packed) {
  if (packed) sgemm_packed(N, inp, IC, *packed, 1.0f, accumulate ? 1.0f : 0.0f, out, OC);
  else sgemm(false, true, N, OC, IC, 1.0f, inp, IC, weight, IC, accumulate ? 1.0f : 0.0f, out, OC);
  if (bias) {
    parallel_for(std::min(N, 64), [&](int part) {
      for (int i = part; i < N; i += 64) {
        float* o = out + (size_t)i * OC;
        for (int j = 0; j < OC; ++j) o[j] += bias[j];
      }
    });
  }
}

void matmul_backward_input(float* dinp, const float* dout, const float* weight, int N, int IC, int OC,
                           bool accumulate, const PackedWeight* packed) {
  if (packed) sgemm_packed(N, dout, OC, *packed, 1.0f, accumulate ? 1.0f : 0.0f, dinp, IC);
  else sgemm(false, false, N, IC, OC, 1.0f, dout, OC, weight, IC, accumulate ? 1.0f : 0.0f, dinp, IC);
}

void matmul_backward_weight(float* dweight, float* dbias, const float* dout, const float* inp, int N, int IC,
                            int OC) {
  sgemm(true, false, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dweight, IC);
  if (dbias) {
    // column blocks: each output feature summed over tokens in token order
    int nb = (OC + 63) / 64;
    parallel_for(nb, [&](int b) {
      int s = b * 64, e = std::min(OC, s + 64);
      for (int i = 0; i < N; ++i) {
        const float* d = dout + (size_t)i * OC;
        for (int j = s; j < e; ++j) dbias[j] += d[j];
      }
    });
  }
}

// =============================================================================================================
// Vector helpers
// =============================================================================================================
namespace {

// y[i] = exp(x[i] - shift); returns the sum of y (the kernel path's lanes, then a fixed order).
inline float exp_shift_sum(float* y, const float* x, float shift, int n) { return kern().exp_shift_sum(y, x, shift, n); }

// max of z[0..n), n >= 1
inline float max_of(const float* z, int n) { return kern().max_of(z, n); }

// Splits [0, n) into fixed blocks of `grain` and runs them on the pool.
void parallel_blocks(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  int64_t nb = (n + grain - 1) / grain;
  parallel_for(static_cast<int>(nb), [&](int b) { fn(b * grain, std::min(n, (b + 1) * grain)); });
}

}  // namespace

float dot(const float* a, const float* b, int n) { return kern().dot(a, b, n); }

// =============================================================================================================
// RMSNorm: transformers' LlamaRMSNorm in fp32: r = rsqrt(mean(x^2) + eps); y = w * (x * r).
// =============================================================================================================
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C, float eps) {
  const Kernels& kr = kern();
  parallel_blocks(N, 32, [&](int64_t s, int64_t e) {
    kr.rmsnorm_rows(out + s * C, rstd + s, inp + s * C, weight, e - s, C, eps);
  });
}

// g = dy * w, n = x * r: dx = r * (g - n * mean(g * n)); dw = sum over tokens of dy * n.
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int N, int C) {
  const Kernels& kr = kern();
  parallel_blocks(N, 32, [&](int64_t s, int64_t e) {
    kr.rmsnorm_backward_rows(dinp + s * C, dout + s * C, inp + s * C, weight, rstd + s, e - s, C);
  });
  if (dweight) {
    parallel_blocks(C, 32, [&](int64_t s, int64_t e) {
      kr.rmsnorm_dweight(dweight, dout, inp, rstd, N, C, static_cast<int>(s), static_cast<int>(e));
    });
  }
}

// =============================================================================================================
// RoPE (transformers LlamaRotaryEmbedding + apply_rotary_pos_emb, rotate_half convention)
// =============================================================================================================
void rope_tables(float* cosv, float* sinv, int P, int D, float theta, const RopeScaling& sc) {
  int half = D / 2;
  std::vector<float> inv(half);
  for (int j = 0; j < half; ++j) {
    float e = static_cast<float>(2 * j) / static_cast<float>(D);  // arange(0, D, 2).float() / D
    inv[j] = 1.0f / std::pow(theta, e);
  }
  if (sc.llama3) {  // _compute_llama3_parameters, evaluated in fp32 like the torch tensors
    float low_wl = static_cast<float>(sc.original_max_position) / sc.low_freq_factor;
    float high_wl = static_cast<float>(sc.original_max_position) / sc.high_freq_factor;
    for (int j = 0; j < half; ++j) {
      float f = inv[j];
      float wavelen = static_cast<float>(2.0 * M_PI) / f;
      float scaled = wavelen > low_wl ? f / sc.factor : f;
      bool medium = !(wavelen < high_wl) && !(wavelen > low_wl);
      if (medium) {
        float smooth = (static_cast<float>(sc.original_max_position) / wavelen - sc.low_freq_factor) /
                       (sc.high_freq_factor - sc.low_freq_factor);
        scaled = (1.0f - smooth) * scaled / sc.factor + smooth * scaled;
      }
      inv[j] = scaled;
    }
  }
  for (int p = 0; p < P; ++p) {
    for (int j = 0; j < half; ++j) {
      float a = static_cast<float>(p) * inv[j];
      cosv[(size_t)p * half + j] = std::cos(a);
      sinv[(size_t)p * half + j] = std::sin(a);
    }
  }
}

namespace {
// Rotates each head's halves by the position's angles: sign = +1 applies RoPE (out_j = x_j cos - x_{j+D/2} sin,
// out_{j+D/2} = x_{j+D/2} cos + x_j sin), sign = -1 its transpose (the backward pass).
void rope_rotate(float* x, const float* cosv, const float* sinv, const int32_t* pos, int N, int NH, int D,
                 float sign) {
  const int half = D / 2;
  const Kernels& kr = kern();
  parallel_blocks(N, 64, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i)
      kr.rope_token(x + i * NH * D, cosv + (size_t)pos[i] * half, sinv + (size_t)pos[i] * half, NH, D, sign);
  });
}
}  // namespace

void rope_forward(float* x, const float* cosv, const float* sinv, const int32_t* pos, int N, int NH, int D) {
  rope_rotate(x, cosv, sinv, pos, N, NH, D, 1.0f);
}

void rope_backward(float* dx, const float* cosv, const float* sinv, const int32_t* pos, int N, int NH, int D) {
  rope_rotate(dx, cosv, sinv, pos, N, NH, D, -1.0f);
}

// =============================================================================================================
// Attention: softmax(q k^T / sqrt(D) + mask) v per head, mask = causal within the document (+ sliding window).
// Forward keeps only out and the row logsumexp; backward recomputes P = exp(S - lse) (FlashAttention-style).
// Each task owns one (batch row, head) - one (batch row, kv head) in the backward - and runs its products on the
// GEMM micro-kernel: K and V are packed once per task, the query-side operands once per block of query rows, and
// the 6 x 16 tiles that lie wholly above the causal diagonal are skipped (a library GEMM per block spent more time
// in call and packing overhead than in arithmetic at these sizes: D = 48, blocks of 64 rows).
// =============================================================================================================
namespace {
inline int key_start(const int32_t* seg_start, int row_base, int t, int window) {
  int s = seg_start[row_base + t];
  if (window > 0) s = std::max(s, t - window + 1);
  return s;
}

constexpr int kAttnBlock = 96;  // query rows per block: a multiple of every path's tile rows and columns

// The first key any row of [i0, i1) may see, rounded down to a key panel (NR keys).
int block_first_key(const int32_t* seg_start, int row_base, int i0, int i1, int window) {
  int lo = i1;
  for (int t = i0; t < i1; ++t) lo = std::min(lo, key_start(seg_start, row_base, t, window));
  return lo / NR * NR;
}

// B operand (kc x n), element (k, j) at b[k * rs + j * cs], packed into NR-column panels [panel][k][NR], columns
// past n zero.
void pack_b_strided(float* dst, const float* b, size_t rs, size_t cs, int kc, int n) {
  for (int j0 = 0; j0 < n; j0 += NR) {
    const int cols = std::min(NR, n - j0);
    for (int k = 0; k < kc; ++k) {
      float* d = dst + (size_t)k * NR;
      const float* src = b + (size_t)k * rs + (size_t)j0 * cs;
      if (cs == 1) {
        std::memcpy(d, src, sizeof(float) * cols);
      } else {
        for (int c = 0; c < cols; ++c) d[c] = src[(size_t)c * cs];
      }
      for (int c = cols; c < NR; ++c) d[c] = 0.0f;
    }
    dst += (size_t)kc * NR;
  }
}

// C (m x n) = alpha * A B (or += when accumulate); A element (i, k) at a[i * rs + k * cs], B packed in NR-column
// panels of b_panel floats each. krange(i, j, &lo, &hi) gives the part of the inner dimension that the tile at row
// i, column j needs (the rest multiplies zeros); hi <= lo skips the tile.
template <class KRange>
void tile_gemm(float* C, size_t ldc, int m, int n, const float* a, size_t rs, size_t cs, const float* bp,
               size_t b_panel, float alpha, bool accumulate, const KRange& krange) {
  const Kernels& kr = kern();
  for (int i = 0; i < m; i += kr.mr) {
    const int rows = std::min(kr.mr, m - i);
    for (int j = 0; j < n; j += kr.nr) {
      int lo = 0, hi = 0;
      krange(i, j, &lo, &hi);
      if (hi <= lo) continue;
      kr.tile(C + (size_t)i * ldc + j, ldc, a + (size_t)i * rs + (size_t)lo * cs, rs, cs, rows,
              bp + (size_t)(j / NR) * b_panel + (size_t)lo * NR, b_panel, std::min(kr.nr, n - j), hi - lo, alpha,
              accumulate);
    }
  }
}

inline int round_up(int x, int m) { return (x + m - 1) / m * m; }

// A block of query rows [i0, i0 + R) against keys [k0, i0 + R), and the part of the inner dimension each of its
// tiles needs (tile_gemm's krange; MR the kernel path's tile rows).
struct CausalBlock {
  int i0, R, k0, D, MR;
  int last_query(int i) const { return i0 + std::min(i + MR, R) - 1; }  // of the row tile at i
  // scores (row tiles x key panels, inner dimension D): none when the panel's first key is past the last query
  auto scores() const {
    return [this](int i, int j, int* lo, int* hi) {
      *lo = 0;
      *hi = k0 + j <= last_query(i) ? D : 0;
    };
  }
  // P V and dS K (row tiles, inner dimension keys): the keys up to the tile's last query
  auto keys() const {
    return [this](int i, int, int* lo, int* hi) {
      *lo = 0;
      *hi = last_query(i) + 1 - k0;
    };
  }
  // P^T dO and dS^T Q (key tiles, inner dimension queries): the queries from the tile's first key on
  auto queries() const {
    return [this](int i, int, int* lo, int* hi) {
      *lo = std::max(0, k0 + i - i0);
      *hi = R;
    };
  }
};

// Per-thread buffers of the attention tasks: packed K^T, V^T (D x T), K, V (T x D), the block's Q and dO (R x D),
// and the block's scores / probabilities and their gradients (R x T).
struct AttnScratch {
  std::vector<float> kt, vt, kp, vp, qb, db, S, dP;
  void size_for(int T, int D) {
    for (auto* v : {&kt, &vt}) v->resize((size_t)round_up(T, NR) * D);
    for (auto* v : {&kp, &vp}) v->resize((size_t)round_up(D, NR) * T);
    for (auto* v : {&qb, &db}) v->resize((size_t)kAttnBlock * round_up(D, NR));
    for (auto* v : {&S, &dP}) v->resize((size_t)kAttnBlock * T);
  }
};
}  // namespace

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const int32_t* seg_start, int B, int T, int H, int KV, int D, int window) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const int rep = H / KV;
  const size_t qs = (size_t)H * D, ks = (size_t)KV * D;  // row strides of q/out and k/v
  parallel_for(B * H, [&](int bh) {
    const int b = bh / H, h = bh % H, kvh = h / rep;
    thread_local AttnScratch w;
    w.size_for(T, D);
    const float* Q = q + (size_t)b * T * qs + h * D;
    const float* K = k + (size_t)b * T * ks + kvh * D;
    const float* Vv = v + (size_t)b * T * ks + kvh * D;
    float* O = out + (size_t)b * T * qs + h * D;
    pack_b_strided(w.kt.data(), K, 1, ks, D, T);  // K^T (D x T)
    pack_b_strided(w.vp.data(), Vv, ks, 1, T, D);  // V (T x D)
    for (int i0 = 0; i0 < T; i0 += kAttnBlock) {
      const int i1 = std::min(T, i0 + kAttnBlock), R = i1 - i0;
      const int k0 = block_first_key(seg_start, b * T, i0, i1, window), nk = i1 - k0;
      const CausalBlock blk{i0, R, k0, D, kern().mr};
      float* S = w.S.data();
      // S = scale Q_blk K[k0:i1]^T
      tile_gemm(S, nk, R, nk, Q + (size_t)i0 * qs, qs, 1, w.kt.data() + (size_t)k0 * D, (size_t)D * NR, scale, false,
                blk.scores());
      for (int r = 0; r < R; ++r) {
        const int t = i0 + r, s0 = key_start(seg_start, b * T, t, window);
        float* sr = S + (size_t)r * nk;
        const float mx = max_of(sr + (s0 - k0), t - s0 + 1);
        for (int j = k0; j < s0; ++j) sr[j - k0] = 0.0f;
        const float sum = exp_shift_sum(sr + (s0 - k0), sr + (s0 - k0), mx, t - s0 + 1);
        const float inv = 1.0f / sum;
        for (int j = s0; j <= t; ++j) sr[j - k0] *= inv;
        for (int j = t + 1; j < i1; ++j) sr[j - k0] = 0.0f;
        lse[((size_t)b * H + h) * T + t] = mx + std::log(sum);
      }
      // O_blk = P V[k0:i1]
      tile_gemm(O + (size_t)i0 * qs, qs, R, D, S, nk, 1, w.vp.data() + (size_t)k0 * NR, (size_t)T * NR, 1.0f, false,
                blk.keys());
    }
  });
}

// dV = P^T dO; dP = dO V^T; dS = P (dP - rowsum(dO * O)); dQ = scale dS K; dK = scale dS^T Q (summed over the
// query heads sharing a kv head, so one task per (batch row, kv head)).
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out, const float* lse,
                        const float* q, const float* k, const float* v, const int32_t* seg_start, int B, int T,
                        int H, int KV, int D, int window) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const int rep = H / KV;
  const size_t qs = (size_t)H * D, ks = (size_t)KV * D;
  parallel_for(B * KV, [&](int bk) {
    const int b = bk / KV, kvh = bk % KV;
    thread_local AttnScratch w;
    w.size_for(T, D);
    const float* K = k + (size_t)b * T * ks + kvh * D;
    const float* Vv = v + (size_t)b * T * ks + kvh * D;
    float* dK = dk + (size_t)b * T * ks + kvh * D;
    float* dV = dv + (size_t)b * T * ks + kvh * D;
    for (int t = 0; t < T; ++t) {
      std::memset(dK + (size_t)t * ks, 0, sizeof(float) * D);
      std::memset(dV + (size_t)t * ks, 0, sizeof(float) * D);
    }
    pack_b_strided(w.kt.data(), K, 1, ks, D, T);   // K^T (D x T): S = Q K^T
    pack_b_strided(w.vt.data(), Vv, 1, ks, D, T);  // V^T (D x T): dP = dO V^T
    pack_b_strided(w.kp.data(), K, ks, 1, T, D);   // K (T x D): dQ = dS K
    for (int h = kvh * rep; h < (kvh + 1) * rep; ++h) {
      const float* Q = q + (size_t)b * T * qs + h * D;
      const float* O = out + (size_t)b * T * qs + h * D;
      const float* dO = dout + (size_t)b * T * qs + h * D;
      float* dQ = dq + (size_t)b * T * qs + h * D;
      const float* L = lse + ((size_t)b * H + h) * T;
      for (int i0 = 0; i0 < T; i0 += kAttnBlock) {
        const int i1 = std::min(T, i0 + kAttnBlock), R = i1 - i0;
        const int k0 = block_first_key(seg_start, b * T, i0, i1, window), nk = i1 - k0;
        const CausalBlock blk{i0, R, k0, D, kern().mr};
        float* P = w.S.data();
        float* dS = w.dP.data();
        tile_gemm(P, nk, R, nk, Q + (size_t)i0 * qs, qs, 1, w.kt.data() + (size_t)k0 * D, (size_t)D * NR, scale,
                  false, blk.scores());
        tile_gemm(dS, nk, R, nk, dO + (size_t)i0 * qs, qs, 1, w.vt.data() + (size_t)k0 * D, (size_t)D * NR, 1.0f,
                  false, blk.scores());
        for (int r = 0; r < R; ++r) {
          const int t = i0 + r, s0 = key_start(seg_start, b * T, t, window);
          float* pr = P + (size_t)r * nk;
          float* dsr = dS + (size_t)r * nk;
          const float Di = dot(dO + (size_t)t * qs, O + (size_t)t * qs, D);
          for (int j = k0; j < s0; ++j) pr[j - k0] = dsr[j - k0] = 0.0f;
          exp_shift_sum(pr + (s0 - k0), pr + (s0 - k0), L[t], t - s0 + 1);  // P = exp(S - lse)
          for (int j = s0; j <= t; ++j) dsr[j - k0] = pr[j - k0] * (dsr[j - k0] - Di) * scale;  // scale * dS
          for (int j = t + 1; j < i1; ++j) pr[j - k0] = dsr[j - k0] = 0.0f;
        }
        // dQ_blk = dS K[k0:i1] (overwriting)
        tile_gemm(dQ + (size_t)i0 * qs, qs, R, D, dS, nk, 1, w.kp.data() + (size_t)k0 * NR, (size_t)T * NR, 1.0f,
                  false, blk.keys());
        // dK[k0:i1] += dS^T Q_blk and dV[k0:i1] += P^T dO_blk
        pack_b_strided(w.qb.data(), Q + (size_t)i0 * qs, qs, 1, R, D);
        pack_b_strided(w.db.data(), dO + (size_t)i0 * qs, qs, 1, R, D);
        tile_gemm(dK + (size_t)k0 * ks, ks, nk, D, dS, 1, nk, w.qb.data(), (size_t)R * NR, 1.0f, true, blk.queries());
        tile_gemm(dV + (size_t)k0 * ks, ks, nk, D, P, 1, nk, w.db.data(), (size_t)R * NR, 1.0f, true, blk.queries());
      }
    }
  });
}

// =============================================================================================================
// Products with a frozen weight packed once (see ops.h)
// =============================================================================================================
size_t packed_weight_floats(int OC, int IC) {
  return (size_t)round_up(OC, NR) * IC + (size_t)round_up(IC, NR) * OC;
}

PackedWeight pack_weight_forward(const float* W, int OC, int IC) {
  PackedWeight p;
  p.K = IC;
  p.N = OC;
  p.panels.resize((size_t)round_up(OC, NR) * IC);
  pack_b_strided(p.panels.data(), W, 1, IC, IC, OC);  // op(B) (k, j) = W[j][k]
  return p;
}

PackedWeight pack_weight_input_grad(const float* W, int OC, int IC) {
  PackedWeight p;
  p.K = OC;
  p.N = IC;
  p.panels.resize((size_t)round_up(IC, NR) * OC);
  pack_b_strided(p.panels.data(), W, IC, 1, OC, IC);  // op(B) (k, j) = W[k][j]
  return p;
}

void sgemm_packed(int M, const float* A, int lda, const PackedWeight& B, float alpha, float beta, float* C, int ldc) {
  const int K = B.K, N = B.N;
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (beta == 0.0f)
      for (int i = 0; i < M; ++i) std::memset(C + (size_t)i * ldc, 0, sizeof(float) * N);
    return;
  }
  // Blocking: a tile of A's rows (read in place) stays in L1 while it meets kPanels panels of B (288 columns); the
  // inner dimension is cut into blocks of at most 1024 (C is accumulated across them). Measured on the stories15m
  // shapes, single-threaded: on par with or above OpenBLAS, which also packs the weight on every call.
  constexpr int kPanels = 18;
  const int kc_max = K <= 1024 ? K : 768;
  const int npan = (N + NR - 1) / NR;
  // Tasks: blocks of 96 rows, or of kPanels panels when C is wider than it is tall; several per thread.
  const bool split_rows = N <= M;
  const Kernels& kr = kern();
  const int MR = kr.mr, tile_panels = kr.nr / NR;
  static_assert(kPanels % 3 == 0, "kPanels holds whole tiles of every kernel path");
  const int task_rows = split_rows ? MC : M;
  const int task_pans = split_rows ? npan : kPanels;
  const int n_row_tasks = (M + task_rows - 1) / task_rows, n_pan_tasks = (npan + task_pans - 1) / task_pans;
  const double flops = 2.0 * M * N * K;
  auto run = [&](int task) {
    const int i0 = (task % n_row_tasks) * task_rows, i1 = std::min(M, i0 + task_rows);
    const int q0 = (task / n_row_tasks) * task_pans, q1 = std::min(npan, q0 + task_pans);
    for (int pb = q0; pb < q1; pb += kPanels) {
      const int pe = std::min(q1, pb + kPanels);
      for (int k0 = 0; k0 < K; k0 += kc_max) {
        const int kc = std::min(kc_max, K - k0);
        const bool accumulate = beta != 0.0f || k0 > 0;
        for (int i = i0; i < i1; i += MR) {
          const int rows = std::min(MR, i1 - i);
          const float* a = A + (size_t)i * lda + k0;
          for (int p = pb; p < pe; p += tile_panels) {
            kr.tile(C + (size_t)i * ldc + (size_t)p * NR, ldc, a, lda, 1, rows,
                    B.panels.data() + ((size_t)p * K + k0) * NR, (size_t)K * NR,
                    std::min(NR * std::min(tile_panels, pe - p), N - p * NR), kc, alpha, accumulate);
          }
        }
      }
    }
  };
  const int tasks = n_row_tasks * n_pan_tasks;
  if (flops < 2e6) {
    for (int t = 0; t < tasks; ++t) run(t);
  } else {
    parallel_for(tasks, run);
  }
}

// =============================================================================================================
// SwiGLU (transformers LlamaMLP: down(silu(gate(x)) * up(x)); silu(a) = a * sigmoid(a))
// =============================================================================================================
void swiglu_forward(float* out, const float* gate, const float* up, int64_t n) {
  const Kernels& kr = kern();
  parallel_blocks(n, 1 << 14, [&](int64_t s, int64_t e) { kr.swiglu_forward(out + s, gate + s, up + s, e - s); });
}

// dup = dout * silu(a); dgate = dout * up * sig * (1 + a (1 - sig))
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t n) {
  const Kernels& kr = kern();
  parallel_blocks(n, 1 << 14, [&](int64_t s, int64_t e) {
    kr.swiglu_backward(dgate + s, dup + s, dout + s, gate + s, up + s, e - s);
  });
}

void residual_forward(float* out, const float* a, const float* b, int64_t n) {
  const Kernels& kr = kern();
  parallel_blocks(n, 1 << 16, [&](int64_t s, int64_t e) { kr.add(out + s, a + s, b + s, e - s); });
}

void add_inplace(float* a, const float* b, int64_t n) { residual_forward(a, a, b, n); }

int argmax_first(const float* z, int n) {
  if (n <= 0) return 0;
  // one pass for the maximum, one for the first index holding it: both vectorised, where a running (value, index)
  // pair would be a branch per element.
  const int i = kern().find_first(z, n, max_of(z, n));
  return i < 0 ? 0 : i;
}

// =============================================================================================================
// Fused lm_head + cross-entropy (torch.nn.functional.cross_entropy, ignore_index -100, fp32 logits).
// Only scored rows are computed; they are processed in chunks so at most (chunk, V) logits exist at a time.
// =============================================================================================================
void lmhead_ce(double* loss_sum, int64_t* n_correct, float* dx, float* dW, const float* x, const float* W,
               const int32_t* targets, int N, int C, int V, float grad_scale, std::vector<float>& workspace,
               const PackedWeight* Wf, const PackedWeight* Wb, const float* row_scale, float* row_ce,
               uint8_t* row_correct) {
  std::vector<int> rows;
  for (int i = 0; i < N; ++i) {
    if (targets[i] == -100) continue;
    rows.push_back(i);
  }
  if (dx) std::memset(dx, 0, sizeof(float) * (size_t)N * C);
  const int NS = static_cast<int>(rows.size());
  // Rows per chunk: large enough that packing W for the two GEMMs is amortised (measured: 256 rows lose ~20% to it
  // at V = 32000), small enough that the (chunk, V) logits stay within 128 MiB.
  const int chunk = std::max(64, std::min(1024, static_cast<int>((128ll << 20) / (4ll * V))));
  const size_t rows_cap = std::min(chunk, std::max(NS, 1));
  if (workspace.size() < rows_cap * (V + 2 * C)) workspace.resize(rows_cap * (V + 2 * C));
  float* z = workspace.data();                // (chunk, V) logits, then dz
  float* xs = z + rows_cap * V;               // (chunk, C) gathered scored rows
  float* dxs = xs + rows_cap * C;             // (chunk, C)
  std::vector<double> row_loss(NS);
  std::vector<uint8_t> row_ok(NS);
  for (int c0 = 0; c0 < NS; c0 += chunk) {
    int R = std::min(chunk, NS - c0);
    for (int r = 0; r < R; ++r) std::memcpy(xs + (size_t)r * C, x + (size_t)rows[c0 + r] * C, sizeof(float) * C);
    matmul_forward(z, xs, W, nullptr, R, C, V, false, Wf);  // z = xs W^T
    parallel_blocks(R, 4, [&](int64_t s, int64_t e) {
      for (int64_t r = s; r < e; ++r) {
        float* zr = z + (size_t)r * V;
        int tgt = targets[rows[c0 + r]];
        if (tgt < 0 || tgt >= V) tgt = -1;  // validated by the caller; keeps this kernel memory-safe
        const int am = argmax_first(zr, V);
        const float mx = zr[am];
        float zt = tgt >= 0 ? zr[tgt] : 0.0f;
        float sum = exp_shift_sum(zr, zr, mx, V);  // zr now holds exp(z - max)
        float lse = mx + std::log(sum);
        row_loss[c0 + r] = static_cast<double>(lse - zt);
        row_ok[c0 + r] = am == tgt;
        const int i = rows[c0 + r];
        if (row_ce) row_ce[i] = lse - zt;
        if (row_correct) row_correct[i] = am == tgt;
        if (dx) {  // dz = (softmax - onehot) * the row's gradient scale
          const float gs = row_scale ? row_scale[i] : grad_scale;
          kern().scale(zr, zr, gs / sum, V);
          if (tgt >= 0) zr[tgt] -= gs;
        }
      }
    });
    if (dx) {
      matmul_backward_input(dxs, z, W, R, C, V, false, Wb);  // dxs = dz W
      for (int r = 0; r < R; ++r) std::memcpy(dx + (size_t)rows[c0 + r] * C, dxs + (size_t)r * C, sizeof(float) * C);
      if (dW) sgemm(true, false, V, C, R, 1.0f, z, V, xs, C, 1.0f, dW, C);  // dW += dz^T xs
    }
  }
  double total = 0.0;
  int64_t ok = 0;
  for (int i = 0; i < NS; ++i) {
    total += row_loss[i];
    ok += row_ok[i];
  }
  *loss_sum = total;
  *n_correct = ok;
}

// =============================================================================================================
// Embedding
// =============================================================================================================
void embedding_forward(float* out, const int32_t* ids, const float* table, int N, int C) {
  parallel_blocks(N, 64, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) std::memcpy(out + i * C, table + (size_t)ids[i] * C, sizeof(float) * C);
  });
}

void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int N, int C) {
  // channel blocks keep the per-row accumulation in token order whatever the thread count
  parallel_blocks(C, 64, [&](int64_t s, int64_t e) {
    for (int i = 0; i < N; ++i) {
      float* d = dtable + (size_t)ids[i] * C;
      const float* g = dout + (size_t)i * C;
      for (int64_t j = s; j < e; ++j) d[j] += g[j];
    }
  });
}

// =============================================================================================================
// Counter-based RNG (splitmix64 finaliser chained over seed, stream, index)
// =============================================================================================================
namespace {
inline uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
}  // namespace

uint64_t rng_u64(uint64_t seed, uint64_t stream, uint64_t index) {
  return mix64(mix64(mix64(seed) ^ stream) ^ index);
}

float rng_uniform01(uint64_t seed, uint64_t stream, uint64_t index) {
  return static_cast<float>(rng_u64(seed, stream, index) >> 40) * (1.0f / 16777216.0f);
}

}  // namespace tk
