// peak.cpp - this machine's FP32 ceilings, measured in the same run as a benchmark (bench/train.ts runs it):
//   * the register FMA peak of each instruction set the CPU has: independent FMA chains that never touch memory
//     (the method of shared/bench/fma_peak.c), per thread count;
//   * sustained sgemm (2048^3) on each of the engine's kernel paths, through the engine's own pool.
// Prints one JSON object. Usage: tunekit_peak [--threads N] [--seconds S]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cpu.h"
#include "ops.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

constexpr int kChains = 12;  // independent accumulators: >= FMA latency x FMA ports on current cores
constexpr long kInner = 20000;

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) double fma_avx2(double seconds, float* sink) {
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(0.001f * i);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  const double t0 = now();
  double t;
  long rounds = 0;
  do {
    for (long k = 0; k < kInner; ++k) {
#pragma GCC unroll 12
      for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    }
    rounds += kInner;
    t = now();
  } while (t - t0 < seconds);
  float s = 0;
  for (int i = 0; i < kChains; ++i) s += _mm256_cvtss_f32(acc[i]);
  *sink = s;
  return rounds * kChains * 16.0 / (t - t0);
}

__attribute__((target("avx512f"))) double fma_avx512(double seconds, float* sink) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  const double t0 = now();
  double t;
  long rounds = 0;
  do {
    for (long k = 0; k < kInner; ++k) {
#pragma GCC unroll 12
      for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
    rounds += kInner;
    t = now();
  } while (t - t0 < seconds);
  float s = 0;
  for (int i = 0; i < kChains; ++i) s += _mm512_cvtss_f32(acc[i]);
  *sink = s;
  return rounds * kChains * 32.0 / (t - t0);
}
#endif

// Total GFLOP/s of `threads` threads each running fn for `seconds`.
double fma_gflops(double (*fn)(double, float*), int threads, double seconds) {
  std::vector<double> rate(threads);
  std::vector<float> sink(threads);
  std::vector<std::thread> ts;
  for (int i = 0; i < threads; ++i) ts.emplace_back([&, i] { rate[i] = fn(seconds, &sink[i]); });
  double total = 0;
  for (int i = 0; i < threads; ++i) {
    ts[i].join();
    total += rate[i];
  }
  volatile float keep = sink[0];
  (void)keep;
  return total / 1e9;
}

// Sustained sgemm on the current kernel path: repeated 2048^3 products for `seconds`; the median rate.
double sgemm_gflops(double seconds) {
  const int n = 2048;
  std::vector<float> A((size_t)n * n, 0.5f), B((size_t)n * n, 0.25f), C((size_t)n * n);
  tk::sgemm_builtin(false, false, n, n, n, 1.0f, A.data(), n, B.data(), n, 0.0f, C.data(), n);  // warm-up
  std::vector<double> rates;
  const double t0 = now();
  do {
    const double s = now();
    tk::sgemm_builtin(false, false, n, n, n, 1.0f, A.data(), n, B.data(), n, 0.0f, C.data(), n);
    rates.push_back(2.0 * n * n * n / (now() - s) / 1e9);
  } while (now() - t0 < seconds || rates.size() < 3);
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  double seconds = 1.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
  }
  tk::set_num_threads(threads);
  const auto paths = tk::available_cpu_paths();
  std::string out = "{\"threads\":" + std::to_string(threads) + ",\"cpu\":\"" + tk::kern().name +
                    "\",\"fma_peak_gflops\":{";
  bool first = true;
#if defined(__x86_64__)
  for (const auto& p : paths) {
    double (*fn)(double, float*) = p == "avx2" ? fma_avx2 : p == "avx512" ? fma_avx512 : nullptr;
    if (!fn) continue;
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s\"%s\":%.1f", first ? "" : ",", p.c_str(), fma_gflops(fn, threads, seconds));
    out += buf;
    first = false;
  }
#endif
  out += "},\"sgemm_gflops\":{";
  const std::string chosen = tk::kern().name;
  first = true;
  for (const auto& p : paths) {
    if (p == "portable") continue;  // minutes per product; not a ceiling anyone compares against
    tk::select_cpu_path(p);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s\"%s\":%.1f", first ? "" : ",", p.c_str(), sgemm_gflops(seconds));
    out += buf;
    first = false;
  }
  tk::select_cpu_path(chosen);
  out += "}}";
  std::printf("%s\n", out.c_str());
  return 0;
}
