// cpu.h - runtime CPU dispatch: one table of micro-kernels per instruction set, chosen once at load time.
//
// The kernels live in their own translation units, each compiled with its own flags (kernels_portable.cpp with
// none, kernels_avx2.cpp with -mavx2 -mfma, kernels_avx512.cpp with -mavx512f/bw/vl/dq), from one source
// (kernels_body.inc), so one build runs on any x86-64 CPU and uses the widest registers it has. The rest of the
// engine is compiled for the baseline ISA and calls through kern().
//
// Selection: the widest path this CPU (and its OS) supports, or the one named by the environment variable
// TUNEKIT_CPU=portable|avx2|avx512. A forced path the CPU lacks is an error (thrown by the first kernel call),
// never a silent fallback. Results are deterministic per path; paths differ in rounding only (summation order).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tk {

struct Kernels {
  const char* name;  // "portable" | "avx2" | "avx512"
  int lanes;         // floats per vector register
  int mr, nr;        // register tile of `tile`: mr rows x nr columns; nr is a multiple of 16 (nr / 16 panels)

  // C (rows x cols) = alpha * A (rows x kc) B (kc x cols), or C += that when accumulate. A element (r, k) at
  // a[r * rs + k * cs] (rows <= mr; rows past `rows` are not read). B in 16-column panels: element (k, c) at
  // bp[(c / 16) * pstride + k * 16 + c % 16] (cols <= nr; panels padded with zeros past the matrix).
  void (*tile)(float* C, size_t ldc, const float* a, size_t rs, size_t cs, int rows, const float* bp, size_t pstride,
               int cols, int kc, float alpha, bool accumulate);

  // a . b in a fixed order (lanes, then a fixed tree across lanes, then the tail): the same bits at any thread count.
  float (*dot)(const float* a, const float* b, int n);
  float (*max_of)(const float* z, int n);  // n >= 1
  // y[i] = exp(x[i] - shift) (in place allowed); returns sum of y.
  float (*exp_shift_sum)(float* y, const float* x, float shift, int n);
  // the first i with z[i] == v, or -1
  int (*find_first)(const float* z, int n, float v);
  // y[i] = x[i] * f
  void (*scale)(float* y, const float* x, float f, int64_t n);

  // rows of RMSNorm forward / backward (see ops.h)
  void (*rmsnorm_rows)(float* out, float* rstd, const float* inp, const float* weight, int64_t rows, int C,
                       float eps);
  void (*rmsnorm_backward_rows)(float* dinp, const float* dout, const float* inp, const float* weight,
                                const float* rstd, int64_t rows, int C);
  // dweight[j] += sum over rows of dout[i][j] * inp[i][j] * rstd[i], for j in [j0, j1)
  void (*rmsnorm_dweight)(float* dweight, const float* dout, const float* inp, const float* rstd, int64_t rows, int C,
                          int j0, int j1);
  void (*swiglu_forward)(float* out, const float* gate, const float* up, int64_t n);
  void (*swiglu_backward)(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t n);
  // RoPE on NH heads of one token: v_j = a c_j - b s_j, v_{j+D/2} = b c_j + a s_j with s = sign * sin
  void (*rope_token)(float* x, const float* cos, const float* sin, int NH, int D, float sign);
  void (*add)(float* out, const float* a, const float* b, int64_t n);  // out = a + b (out may alias a)

  // out (rows, OC)[o0:o1] = x (rows, IC) W^T + bias for rows <= 8: each weight row read once for all rows; every
  // dot product summed in a fixed order, independent of `rows`.
  void (*gemv)(float* out, const float* x, const float* W, const float* bias, int rows, int IC, int OC, int o0,
               int o1);
};

// The table in use (throws tk::Error when TUNEKIT_CPU names a path this CPU cannot run, or an unknown one).
const Kernels& kern();
// The paths this CPU can run, narrowest first ("portable" always).
std::vector<std::string> available_cpu_paths();
// Switches the table (tests and benchmarks; not while kernels run). Throws tk::Error for an unavailable path.
void select_cpu_path(const std::string& name);
// A one-line description: the path, why (detected or TUNEKIT_CPU), and the CPU's features.
std::string cpu_report();

}  // namespace tk
