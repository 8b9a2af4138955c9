// test_ops.cpp - every kernel of ops.h: GEMM (CBLAS path and the engine's own kernel, all transposes, odd sizes)
// against a double-precision reference, and each backward against central finite differences of its forward
// (loss = sum(out * R) for a fixed random R), plus naive double references for attention and cross-entropy, and
// bitwise determinism across thread counts.
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "check.h"
#include "ops.h"

using namespace tk;
using tk::test::check_scalar;
using tk::test::check_tensor;
using tk::test::expect;

namespace {

uint64_t g_stream = 1;
std::vector<float> rnd(size_t n, float scale = 1.0f) {
  std::vector<float> v(n);
  const uint64_t s = g_stream++;
  for (size_t i = 0; i < n; ++i) v[i] = (2.0f * rng_uniform01(7, s, i) - 1.0f) * scale;
  return v;
}

double dotd(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// Numeric gradient of f (a scalar function of x) by central differences at every element of x.
std::vector<float> numeric_grad(std::vector<float>& x, const std::function<double()>& f, float eps) {
  std::vector<float> g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const float orig = x[i];
    x[i] = orig + eps;
    const double fp = f();
    x[i] = orig - eps;
    const double fm = f();
    x[i] = orig;
    g[i] = static_cast<float>((fp - fm) / (2.0 * eps));
  }
  return g;
}

void test_gemm() {
  std::printf("== GEMM\n");
  const int shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {100, 47, 300}, {6, 16, 256}, {130, 260, 513}, {9, 40, 70}};
  for (auto& sh : shapes) {
    const int M = sh[0], N = sh[1], K = sh[2];
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        auto A = rnd((size_t)M * K), B = rnd((size_t)K * N), C0 = rnd((size_t)M * N);
        const int lda = ta ? M : K, ldb = tb ? K : N;
        std::vector<float> want(C0.size());
        for (int i = 0; i < M; ++i)
          for (int j = 0; j < N; ++j) {
            double s = 0;
            for (int k = 0; k < K; ++k)
              s += static_cast<double>(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                   (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
            want[(size_t)i * N + j] = static_cast<float>(0.5 * s + 0.25 * C0[(size_t)i * N + j]);
          }
        std::string label = "sgemm " + std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K) +
                            (ta ? " T" : " N") + (tb ? "T" : "N");
        auto C = C0;
        sgemm(ta, tb, M, N, K, 0.5f, A.data(), lda, B.data(), ldb, 0.25f, C.data(), N);
        check_tensor(C.data(), want.data(), C.size(), label, 1e-5);
        C = C0;
        sgemm_builtin(ta, tb, M, N, K, 0.5f, A.data(), lda, B.data(), ldb, 0.25f, C.data(), N);
        check_tensor(C.data(), want.data(), C.size(), label + " (builtin kernel)", 1e-5);
      }
  }
  // beta = 0 must ignore C's old content, even NaN
  std::vector<float> A = rnd(4 * 3), B = rnd(3 * 5), C(4 * 5, NAN);
  sgemm_builtin(false, false, 4, 5, 3, 1.0f, A.data(), 3, B.data(), 5, 0.0f, C.data(), 5);
  bool finite = true;
  for (float c : C) finite = finite && std::isfinite(c);
  expect(finite, "sgemm beta=0 overwrites NaN garbage");
}

// Products with a packed frozen weight: forward (x W^T) and input-gradient (dy W) orientations against the
// double-precision reference, odd sizes, an inner dimension long enough to be cut into blocks, beta 0 over NaN
// garbage and beta 1, alpha != 1, and bitwise equality across thread counts.
void test_gemm_packed() {
  std::printf("== GEMM with a packed frozen weight\n");
  const int shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {100, 47, 300}, {130, 260, 1500}, {300, 20, 2100}};
  for (auto& sh : shapes) {
    const int M = sh[0], OC = sh[1], IC = sh[2];
    auto W = rnd((size_t)OC * IC);
    for (int grad = 0; grad < 2; ++grad) {
      // forward: C (M, OC) = x (M, IC) W^T; input grad: C (M, IC) = dy (M, OC) W
      const int K = grad ? OC : IC, N = grad ? IC : OC;
      auto A = rnd((size_t)M * K), C0 = rnd((size_t)M * N);
      const PackedWeight P = grad ? pack_weight_input_grad(W.data(), OC, IC) : pack_weight_forward(W.data(), OC, IC);
      std::vector<float> want(C0.size()), want0(C0.size());
      for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
          double s = 0;
          for (int k = 0; k < K; ++k)
            s += static_cast<double>(A[(size_t)i * K + k]) * (grad ? W[(size_t)k * IC + j] : W[(size_t)j * IC + k]);
          want[(size_t)i * N + j] = static_cast<float>(0.5 * s + C0[(size_t)i * N + j]);
          want0[(size_t)i * N + j] = static_cast<float>(0.5 * s);
        }
      const std::string label = std::string("packed ") + (grad ? "dy W " : "x W^T ") + std::to_string(M) + "x" +
                                std::to_string(N) + "x" + std::to_string(K);
      auto C = C0;
      sgemm_packed(M, A.data(), K, P, 0.5f, 1.0f, C.data(), N);
      check_tensor(C.data(), want.data(), C.size(), label + " beta 1", 1e-5);
      std::vector<float> C2(C0.size(), NAN);
      sgemm_packed(M, A.data(), K, P, 0.5f, 0.0f, C2.data(), N);
      check_tensor(C2.data(), want0.data(), C2.size(), label + " beta 0 over NaN", 1e-5);
      set_num_threads(1);
      std::vector<float> C1(C0.size(), NAN);
      sgemm_packed(M, A.data(), K, P, 0.5f, 0.0f, C1.data(), N);
      set_num_threads(2);
      expect(C1 == C2, label + ": bitwise identical with 1 and 2 threads");
    }
  }
}

void test_matmul() {
  std::printf("== matmul (nn.Linear) backward vs finite differences\n");
  const int N = 5, IC = 6, OC = 4;
  auto x = rnd(N * IC), w = rnd(OC * IC), b = rnd(OC), R = rnd(N * OC);
  std::vector<float> out(N * OC);
  auto f = [&] {
    matmul_forward(out.data(), x.data(), w.data(), b.data(), N, IC, OC);
    return dotd(out, R);
  };
  std::vector<float> dx(N * IC, 0.0f), dw(OC * IC, 0.0f), db(OC, 0.0f);
  matmul_backward_input(dx.data(), R.data(), w.data(), N, IC, OC);
  matmul_backward_weight(dw.data(), db.data(), R.data(), x.data(), N, IC, OC);
  check_tensor(dx.data(), numeric_grad(x, f, 1e-2f).data(), dx.size(), "matmul dinp", 1e-3);
  check_tensor(dw.data(), numeric_grad(w, f, 1e-2f).data(), dw.size(), "matmul dweight", 1e-3);
  check_tensor(db.data(), numeric_grad(b, f, 1e-2f).data(), db.size(), "matmul dbias", 1e-3);
}

void test_rmsnorm() {
  std::printf("== RMSNorm\n");
  const int N = 4, C = 24;
  auto x = rnd(N * C), w = rnd(C), R = rnd(N * C);
  std::vector<float> out(N * C), rstd(N);
  auto f = [&] {
    rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5f);
    return dotd(out, R);
  };
  f();
  std::vector<float> dx(N * C, 0.0f), dw(C, 0.0f);
  rmsnorm_backward(dx.data(), dw.data(), R.data(), x.data(), w.data(), rstd.data(), N, C);
  check_tensor(dx.data(), numeric_grad(x, f, 1e-2f).data(), dx.size(), "rmsnorm dinp", 2e-3);
  check_tensor(dw.data(), numeric_grad(w, f, 1e-2f).data(), dw.size(), "rmsnorm dweight", 2e-3);
}

void test_rope() {
  std::printf("== RoPE\n");
  const int P = 16, D = 8, N = 6, NH = 3;
  std::vector<float> cs(P * D / 2), sn(P * D / 2);
  RopeScaling none;
  rope_tables(cs.data(), sn.data(), P, D, 10000.0f, none);
  // reference angles: pos * 1/(theta^(2j/D)) in double; fp32 tables agree to ~1e-6 at these positions
  double max_err = 0;
  for (int p = 0; p < P; ++p)
    for (int j = 0; j < D / 2; ++j)
      max_err = std::fmax(max_err, std::fabs(cs[p * D / 2 + j] - std::cos(p / std::pow(10000.0, 2.0 * j / D))));
  expect(max_err < 1e-5, "rope cos table vs double reference (max err " + std::to_string(max_err) + ")");
  std::vector<int32_t> pos = {0, 1, 2, 0, 5, 15};
  auto x = rnd(N * NH * D), R = rnd(N * NH * D);
  auto f = [&] {
    std::vector<float> y = x;
    rope_forward(y.data(), cs.data(), sn.data(), pos.data(), N, NH, D);
    return dotd(y, R);
  };
  std::vector<float> dx = R;
  rope_backward(dx.data(), cs.data(), sn.data(), pos.data(), N, NH, D);
  check_tensor(dx.data(), numeric_grad(x, f, 1e-2f).data(), dx.size(), "rope dinp", 1e-3);
  // position 0 is the identity
  std::vector<float> y = x;
  rope_forward(y.data(), cs.data(), sn.data(), pos.data(), N, NH, D);
  check_tensor(y.data(), x.data(), NH * D, "rope at position 0 is the identity", 0.0);
  // llama3 scaling: long wavelengths divided by factor, short ones kept
  RopeScaling l3;
  l3.llama3 = true;
  l3.factor = 8;
  l3.original_max_position = 64;
  std::vector<float> c3(P * 32), s3(P * 32), c0(P * 32), s0(P * 32);
  rope_tables(c3.data(), s3.data(), P, 64, 500000.0f, l3);
  rope_tables(c0.data(), s0.data(), P, 64, 500000.0f, none);
  expect(c3[1 * 32 + 0] == c0[1 * 32 + 0], "llama3 rope keeps the highest frequency");
  const double inv_last = 1.0 / std::pow(500000.0, 62.0 / 64.0);
  expect(std::fabs(s3[1 * 32 + 31] - std::sin(inv_last / 8)) < 1e-6, "llama3 rope divides the lowest frequency by factor");
}

// naive double attention for one configuration; returns out (B,T,H,D)
std::vector<double> naive_attention(const std::vector<float>& q, const std::vector<float>& k,
                                    const std::vector<float>& v, const std::vector<int32_t>& seg, int B, int T, int H,
                                    int KV, int D, int window) {
  std::vector<double> out((size_t)B * T * H * D, 0.0);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int t = 0; t < T; ++t) {
        const int kvh = h / (H / KV);
        std::vector<double> s(T, -INFINITY);
        double mx = -INFINITY;
        for (int j = 0; j <= t; ++j) {
          if (j < seg[b * T + t]) continue;
          if (window > 0 && t - j >= window) continue;
          double acc = 0;
          for (int d = 0; d < D; ++d)
            acc += (double)q[((size_t)(b * T + t) * H + h) * D + d] * k[((size_t)(b * T + j) * KV + kvh) * D + d];
          s[j] = acc / std::sqrt((double)D);
          mx = std::fmax(mx, s[j]);
        }
        double sum = 0;
        for (int j = 0; j < T; ++j) sum += std::isfinite(s[j]) ? std::exp(s[j] - mx) : 0.0;
        for (int j = 0; j < T; ++j) {
          if (!std::isfinite(s[j])) continue;
          const double p = std::exp(s[j] - mx) / sum;
          for (int d = 0; d < D; ++d)
            out[((size_t)(b * T + t) * H + h) * D + d] += p * v[((size_t)(b * T + j) * KV + kvh) * D + d];
        }
      }
  return out;
}

void test_attention(int window, int T, int D = 8) {
  std::printf("== attention (GQA 4/2 heads, packed rows, window %d, T %d, D %d)\n", window, T, D);
  const int B = 2, H = 4, KV = 2;
  const int N = B * T;
  auto q = rnd(N * H * D), k = rnd(N * KV * D), v = rnd(N * KV * D), R = rnd(N * H * D);
  // row 0: one document; row 1: documents starting at 0, T/3 and T/2
  std::vector<int32_t> seg(N, 0);
  for (int t = 0; t < T; ++t) seg[T + t] = t < T / 3 ? 0 : t < T / 2 ? T / 3 : T / 2;
  std::vector<float> out(N * H * D), lse(B * H * T);
  auto f = [&] {
    attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), seg.data(), B, T, H, KV, D, window);
    return dotd(out, R);
  };
  f();
  std::vector<double> ref = naive_attention(q, k, v, seg, B, T, H, KV, D, window);
  std::vector<float> reff(ref.begin(), ref.end());
  check_tensor(out.data(), reff.data(), out.size(), "attention forward vs naive double", 1e-5);
  std::vector<float> dq(N * H * D), dk(N * KV * D), dv(N * KV * D);
  attention_backward(dq.data(), dk.data(), dv.data(), R.data(), out.data(), lse.data(), q.data(), k.data(), v.data(),
                     seg.data(), B, T, H, KV, D, window);
  // determinism across thread counts: bitwise equal
  set_num_threads(1);
  std::vector<float> out1(out.size()), lse1(lse.size()), dq1(dq.size()), dk1(dk.size()), dv1(dv.size());
  attention_forward(out1.data(), lse1.data(), q.data(), k.data(), v.data(), seg.data(), B, T, H, KV, D, window);
  attention_backward(dq1.data(), dk1.data(), dv1.data(), R.data(), out.data(), lse.data(), q.data(), k.data(),
                     v.data(), seg.data(), B, T, H, KV, D, window);
  set_num_threads(2);
  expect(out1 == out && dq1 == dq && dk1 == dk && dv1 == dv, "attention bitwise identical with 1 and 2 threads");
  if (T <= 20) {  // finite differences over every element only for the small case
    check_tensor(dq.data(), numeric_grad(q, f, 1e-2f).data(), dq.size(), "attention dq", 2e-3);
    check_tensor(dk.data(), numeric_grad(k, f, 1e-2f).data(), dk.size(), "attention dk", 2e-3);
    check_tensor(dv.data(), numeric_grad(v, f, 1e-2f).data(), dv.size(), "attention dv", 2e-3);
  } else {
    // larger cases: the directional derivative along a random direction u, <grad, u>, against a central difference
    // of the double-precision reference (every element of every block enters the sum)
    const std::vector<float>* grads[] = {&dq, &dk, &dv};
    std::vector<float>* inputs[] = {&q, &k, &v};
    const char* names[] = {"attention dq . u (directional)", "attention dk . u (directional)",
                           "attention dv . u (directional)"};
    for (int which = 0; which < 3; ++which) {
      std::vector<float>& x = *inputs[which];
      const std::vector<float> x0 = x, u = rnd(x.size());
      auto f_double = [&](float eps) {
        for (size_t i = 0; i < x.size(); ++i) x[i] = x0[i] + eps * u[i];
        std::vector<double> o = naive_attention(q, k, v, seg, B, T, H, KV, D, window);
        double s = 0;
        for (size_t i = 0; i < o.size(); ++i) s += o[i] * R[i];
        return s;
      };
      const float eps = 1e-3f;
      const double numeric = (f_double(eps) - f_double(-eps)) / (2.0 * eps);
      x = x0;
      // error relative to sum |g_i u_i|: the sum may cancel to a small value, its terms do not
      double scale = 0;
      for (size_t i = 0; i < u.size(); ++i) scale += std::fabs(static_cast<double>((*grads[which])[i]) * u[i]);
      const double analytic = dotd(*grads[which], u), err = std::fabs(analytic - numeric) / scale;
      char what[160];
      std::snprintf(what, sizeof what, "%s: %.9g vs %.9g, error %.2e of sum |g u| (tol 1e-4)", names[which],
                    analytic, numeric, err);
      expect(err < 1e-4, what);
    }
  }
}

void test_swiglu() {
  std::printf("== SwiGLU\n");
  const int n = 40;
  auto g = rnd(n, 4.0f), u = rnd(n, 2.0f), R = rnd(n);
  std::vector<float> out(n);
  auto f = [&] {
    swiglu_forward(out.data(), g.data(), u.data(), n);
    return dotd(out, R);
  };
  f();
  std::vector<float> want(n);
  for (int i = 0; i < n; ++i) want[i] = static_cast<float>(g[i] / (1.0 + std::exp(-(double)g[i])) * u[i]);
  check_tensor(out.data(), want.data(), n, "swiglu forward vs double", 1e-6);
  std::vector<float> dg(n), du(n);
  swiglu_backward(dg.data(), du.data(), R.data(), g.data(), u.data(), n);
  check_tensor(dg.data(), numeric_grad(g, f, 1e-2f).data(), n, "swiglu dgate", 2e-3);
  check_tensor(du.data(), numeric_grad(u, f, 1e-2f).data(), n, "swiglu dup", 2e-3);
}

void test_lmhead_ce() {
  std::printf("== fused lm_head + cross-entropy\n");
  const int N = 300, C = 12, V = 37;  // N > one chunk of rows is not needed: chunks are tested by the model tests
  auto x = rnd(N * C), W = rnd(V * C);
  std::vector<int32_t> tg(N);
  for (int i = 0; i < N; ++i) tg[i] = i % 5 == 0 ? -100 : static_cast<int32_t>(rng_u64(3, 3, i) % V);
  double ref_loss = 0;
  int64_t ref_ok = 0, n = 0;
  for (int i = 0; i < N; ++i) {
    if (tg[i] == -100) continue;
    std::vector<double> z(V);
    int am = 0;
    for (int j = 0; j < V; ++j) {
      for (int c = 0; c < C; ++c) z[j] += (double)x[i * C + c] * W[j * C + c];
      if (z[j] > z[am]) am = j;
    }
    double mx = z[am], s = 0;
    for (int j = 0; j < V; ++j) s += std::exp(z[j] - mx);
    ref_loss += mx + std::log(s) - z[tg[i]];
    ref_ok += am == tg[i];
    ++n;
  }
  double loss;
  int64_t ok;
  std::vector<float> dx(N * C), dW(V * C, 0.0f);
  std::vector<float> ws;
  lmhead_ce(&loss, &ok, dx.data(), dW.data(), x.data(), W.data(), tg.data(), N, C, V, 0.5f, ws);
  check_scalar(loss, ref_loss, "lm_head CE loss sum vs naive double", 1e-6);
  expect(ok == ref_ok, "lm_head CE argmax count " + std::to_string(ok) + " == " + std::to_string(ref_ok));
  auto f = [&] {
    double l;
    int64_t o;
    lmhead_ce(&l, &o, nullptr, nullptr, x.data(), W.data(), tg.data(), N, C, V, 0.0f, ws);
    return 0.5 * l;
  };
  check_tensor(dx.data(), numeric_grad(x, f, 1e-2f).data(), dx.size(), "lm_head CE dx", 2e-3);
  check_tensor(dW.data(), numeric_grad(W, f, 1e-2f).data(), dW.size(), "lm_head CE dW", 2e-3);
  bool ignored_zero = true;
  for (int i = 0; i < N; i += 5)
    for (int c = 0; c < C; ++c) ignored_zero = ignored_zero && dx[i * C + c] == 0.0f;
  expect(ignored_zero, "ignored rows (-100) get zero gradient");
}

void test_rng() {
  std::printf("== RNG\n");
  expect(rng_u64(1, 2, 3) == rng_u64(1, 2, 3) && rng_u64(1, 2, 3) != rng_u64(1, 2, 4) &&
             rng_u64(1, 2, 3) != rng_u64(2, 2, 3),
         "counter-based RNG is a pure function of (seed, stream, index)");
  double mean = 0;
  for (int i = 0; i < 100000; ++i) mean += rng_uniform01(5, 0, i);
  mean /= 100000;
  expect(std::fabs(mean - 0.5) < 0.01, "uniform01 mean " + std::to_string(mean));
}

}  // namespace

int main() {
  set_num_threads(2);
  tk::test::for_each_cpu_path([](const std::string&) {
    test_gemm();
    test_gemm_packed();
    test_matmul();
    test_rmsnorm();
    test_rope();
    test_attention(0, 12);
    test_attention(5, 12);
    test_attention(0, 150);  // several query blocks
    test_attention(0, 200, 20);  // a head dim that is not a multiple of the 16-wide tiles, several blocks
    test_attention(40, 130, 48);  // the workload's head dim, sliding window
    test_swiglu();
    test_lmhead_ce();
  });
  test_rng();
  tk::test::expect_throws([] { tk::select_cpu_path("avx1024"); }, "not available", "an unknown kernel path is refused");
  return tk::test::finish("test_ops");
}
