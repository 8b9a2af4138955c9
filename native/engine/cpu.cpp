// cpu.cpp - runtime CPU dispatch (see cpu.h): detects the CPU's instruction sets once, at load time, and picks the
// widest kernel table this build has and this CPU runs, or the one TUNEKIT_CPU names.
#include "cpu.h"

#include <cstdlib>
#include <string>

#include "error.h"

namespace tk {

const Kernels* portable_kernels();
const Kernels* avx2_kernels();    // nullptr when the build has no AVX2 kernels (not x86-64, or no compiler support)
const Kernels* avx512_kernels();  // likewise

namespace {

struct CpuFeatures {
  bool avx2 = false, avx512 = false, avx512_bf16 = false, avx512_vnni = false;
};

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // __builtin_cpu_supports also checks that the OS saves the wider registers (XCR0), not only CPUID.
  f.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  f.avx512 = f.avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  f.avx512_bf16 = f.avx512 && __builtin_cpu_supports("avx512bf16");
  f.avx512_vnni = f.avx512 && __builtin_cpu_supports("avx512vnni");
#endif
  return f;
}

const CpuFeatures& features() {
  static const CpuFeatures f = detect();
  return f;
}

// The table for a path name, or nullptr when this build or this CPU cannot run it.
const Kernels* table_for(const std::string& name) {
  if (name == "portable") return portable_kernels();
  if (name == "avx2") return features().avx2 ? avx2_kernels() : nullptr;
  if (name == "avx512") return features().avx512 ? avx512_kernels() : nullptr;
  return nullptr;
}

struct Selection {
  const Kernels* table = nullptr;
  std::string error;   // why no table (a bad TUNEKIT_CPU)
  bool forced = false;
};

Selection choose() {
  Selection s;
  const char* env = std::getenv("TUNEKIT_CPU");
  if (env && *env) {
    const std::string want = env;
    s.forced = true;
    if (want != "portable" && want != "avx2" && want != "avx512") {
      s.error = "TUNEKIT_CPU=" + want + ": unknown kernel path (use portable, avx2 or avx512)";
    } else if (!(s.table = table_for(want))) {
      s.error = "TUNEKIT_CPU=" + want + ": this " +
                std::string((want == "avx2" ? avx2_kernels() : avx512_kernels()) ? "CPU" : "build") +
                " cannot run the " + want + " kernels (available: ";
      const auto paths = available_cpu_paths();
      for (size_t i = 0; i < paths.size(); ++i) s.error += (i ? ", " : "") + paths[i];
      s.error += ")";
    }
    return s;
  }
  for (const char* name : {"avx512", "avx2"})
    if ((s.table = table_for(name))) return s;
  s.table = portable_kernels();
  return s;
}

Selection& selection() {
  static Selection s = choose();
  return s;
}

// Chosen at load time, so the first kernel call pays nothing.
[[maybe_unused]] const Selection& g_loaded = selection();

}  // namespace

const Kernels& kern() {
  const Selection& s = selection();
  if (!s.table) throw Error(s.error);
  return *s.table;
}

std::vector<std::string> available_cpu_paths() {
  std::vector<std::string> out;
  for (const char* name : {"portable", "avx2", "avx512"})
    if (table_for(name)) out.emplace_back(name);
  return out;
}

void select_cpu_path(const std::string& name) {
  const Kernels* t = table_for(name);
  if (!t) throw Error("kernel path '" + name + "' is not available on this CPU and build");
  selection() = Selection{t, "", true};
}

std::string cpu_report() {
  const Selection& s = selection();
  const CpuFeatures& f = features();
  std::string out = s.table ? std::string(s.table->name) : "none (" + s.error + ")";
  out += s.forced ? " (forced)" : " (detected)";
  out += "; cpu:";
  if (f.avx2) out += " avx2 fma";
  if (f.avx512) out += " avx512f/bw/vl/dq";
  if (f.avx512_bf16) out += " avx512_bf16";
  if (f.avx512_vnni) out += " avx512_vnni";
  if (!f.avx2) out += " baseline";
  return out;
}

}  // namespace tk
