// check.h - the C++ test harness of the engine, in the llm.c manner: compare tensors with explicit tolerances and
// print the max abs / relative error of every comparison, so a run doubles as an error report.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cpu.h"

namespace tk::test {

inline int g_failures = 0;
inline int g_checks = 0;

// Max-norm relative error: max|a - b| / max|b| (the measure the fixtures define). Passes when <= tol.
inline bool check_tensor(const float* a, const float* b, size_t n, const std::string& label, double tol) {
  double max_abs = 0, max_ref = 0;
  size_t worst = 0;
  bool finite = true;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(a[i])) finite = false;
    double d = std::fabs(static_cast<double>(a[i]) - b[i]);
    if (d > max_abs) {
      max_abs = d;
      worst = i;
    }
    max_ref = std::fmax(max_ref, std::fabs(static_cast<double>(b[i])));
  }
  double rel = max_abs / std::fmax(max_ref, 1e-30);
  bool ok = finite && rel <= tol;
  ++g_checks;
  if (!ok) ++g_failures;
  std::printf("%s %-60s max abs %.3e  rel %.3e  (tol %.0e, n=%zu%s)\n", ok ? "[ok]  " : "[FAIL]", label.c_str(),
              max_abs, rel, tol, n, ok ? "" : (" worst at " + std::to_string(worst)).c_str());
  return ok;
}

inline bool check_scalar(double a, double b, const std::string& label, double tol) {
  double rel = std::fabs(a - b) / std::fmax(std::fabs(b), 1e-30);
  bool ok = std::isfinite(a) && rel <= tol;
  ++g_checks;
  if (!ok) ++g_failures;
  std::printf("%s %-60s %.9g vs %.9g  rel %.3e  (tol %.0e)\n", ok ? "[ok]  " : "[FAIL]", label.c_str(), a, b, rel, tol);
  return ok;
}

inline bool expect(bool cond, const std::string& label) {
  ++g_checks;
  if (!cond) ++g_failures;
  std::printf("%s %s\n", cond ? "[ok]  " : "[FAIL]", label.c_str());
  return cond;
}

// Expects fn() to throw tk::Error (or any std::exception) whose message contains `needle`.
template <typename F>
bool expect_throws(F&& fn, const std::string& needle, const std::string& label) {
  std::string msg;
  bool threw = false;
  try {
    fn();
  } catch (const std::exception& e) {
    threw = true;
    msg = e.what();
  }
  bool ok = threw && msg.find(needle) != std::string::npos;
  ++g_checks;
  if (!ok) ++g_failures;
  std::printf("%s %s%s%s\n", ok ? "[ok]  " : "[FAIL]", label.c_str(), threw ? " -> " : " (no error)", msg.c_str());
  return ok;
}

// Runs fn once per kernel path this CPU and build have (cpu.h), each announced; says loudly which paths the machine
// lacks, so a run on an AVX2-only CPU cannot pass for an AVX-512 check.
template <typename F>
void for_each_cpu_path(F&& fn) {
  const std::vector<std::string> paths = tk::available_cpu_paths();
  for (const char* want : {"portable", "avx2", "avx512"})
    if (std::find(paths.begin(), paths.end(), want) == paths.end())
      std::printf("[skip] kernel path %s: not available on this CPU/build (%s)\n", want, tk::cpu_report().c_str());
  for (const std::string& path : paths) {
    tk::select_cpu_path(path);
    std::printf("==== kernel path %s\n", path.c_str());
    fn(path);
  }
}

inline int finish(const char* name) {
  std::printf("%s: %d checks, %d failed\n", name, g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}

}  // namespace tk::test
