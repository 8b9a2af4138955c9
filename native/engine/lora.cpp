// lora.cpp - LoRA adapter weights and the PEFT adapter folder (peft/tuners/lora, PeftModel.save_pretrained).
#include "lora.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <set>

#include "error.h"
#include "fsutil.h"
#include "json.h"
#include "ops.h"
#include "safetensors.h"

namespace tk {

double LoraConfig::scaling() const { return use_rslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / r; }

bool LoraConfig::targets_proj(Proj p) const { return std::find(targets.begin(), targets.end(), p) != targets.end(); }

std::vector<Proj> parse_lora_targets(const std::vector<std::string>& names) {
  std::vector<Proj> out;
  auto add = [&](Proj p) {
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  };
  for (const std::string& raw : names) {
    if (raw == "all-linear" || raw == "all") {
      for (int p = 0; p < kNumProj; ++p) add(static_cast<Proj>(p));
      continue;
    }
    std::string n = raw;
    if (size_t dot = n.rfind('.'); dot != std::string::npos) n = n.substr(dot + 1);  // "self_attn.q_proj"
    bool found = false;
    for (int p = 0; p < kNumProj; ++p) {
      std::string full = proj_name(static_cast<Proj>(p));
      std::string shortn = full.substr(0, full.size() - 5);  // "q_proj" -> "q"
      if (n == full || n == shortn) {
        add(static_cast<Proj>(p));
        found = true;
      }
    }
    if (!found)
      throw Error("LoRA target '" + raw +
                  "' is not supported (supported: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, "
                  "all-linear)");
  }
  if (out.empty()) throw Error("LoRA targets: at least one target module is required");
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::vector<LoraModule>> lora_views(const LoraWeights& w, float* base) {
  std::vector<std::vector<LoraModule>> v(w.n_layers, std::vector<LoraModule>(kNumProj));
  for (int l = 0; l < w.n_layers; ++l)
    for (int p = 0; p < kNumProj; ++p) {
      const LoraModule& src = w.m[l][p];
      if (!src.A) continue;
      v[l][p] = {base + (src.A - w.data.data()), base + (src.B - w.data.data()), src.in, src.out};
    }
  return v;
}

void allocate_lora(LoraWeights& w, const LlamaConfig& c, const LoraConfig& cfg) {
  if (cfg.r <= 0) throw Error("LoRA r must be positive, got " + std::to_string(cfg.r));
  if (!(cfg.dropout >= 0.0 && cfg.dropout < 1.0)) throw Error("LoRA dropout must be in [0, 1)");
  if (cfg.targets.empty()) throw Error("LoRA targets: at least one target module is required");
  w.config = cfg;
  w.n_layers = c.num_hidden_layers;
  size_t total = 0;
  for (int l = 0; l < w.n_layers; ++l)
    for (int p = 0; p < kNumProj; ++p)
      if (cfg.targets_proj(static_cast<Proj>(p)))
        total += (size_t)cfg.r * (proj_in_features(c, static_cast<Proj>(p)) + proj_out_features(c, static_cast<Proj>(p)));
  w.data.assign(total, 0.0f);
  w.m.assign(w.n_layers, std::vector<LoraModule>(kNumProj));
  float* ptr = w.data.data();
  for (int l = 0; l < w.n_layers; ++l)
    for (int p = 0; p < kNumProj; ++p) {
      Proj pr = static_cast<Proj>(p);
      if (!cfg.targets_proj(pr)) continue;
      LoraModule& mod = w.m[l][p];
      mod.in = proj_in_features(c, pr);
      mod.out = proj_out_features(c, pr);
      mod.A = ptr;
      ptr += (size_t)cfg.r * mod.in;
      mod.B = ptr;
      ptr += (size_t)mod.out * cfg.r;
    }
}

void init_lora_peft(LoraWeights& w, uint64_t seed) {
  const int R = w.config.r;
  for (int l = 0; l < w.n_layers; ++l)
    for (int p = 0; p < kNumProj; ++p) {
      LoraModule& mod = w.m[l][p];
      if (!mod.A) continue;
      // nn.init.kaiming_uniform_(A, a=sqrt(5)): bound = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + 5))
      const float bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(mod.in)));
      const uint64_t stream = 0x4c6f5241ull ^ (static_cast<uint64_t>(l) << 8) ^ static_cast<uint64_t>(p);
      for (int64_t i = 0; i < (int64_t)R * mod.in; ++i)
        mod.A[i] = (2.0f * rng_uniform01(seed, stream, i) - 1.0f) * bound;
      std::fill(mod.B, mod.B + (size_t)mod.out * R, 0.0f);
    }
}

namespace {

std::string peft_key(int layer, Proj p, const char* ab) {
  return "base_model.model.model.layers." + std::to_string(layer) + "." + proj_module(p) + ".lora_" + ab + ".weight";
}

}  // namespace

void save_peft_adapter(const LoraWeights& w, const std::string& dir, const std::string& base_model_name_or_path) {
  const LoraConfig& lc = w.config;
  make_dirs(dir);
  json::Array targets;
  std::vector<std::string> names;
  for (Proj p : lc.targets) names.push_back(proj_name(p));
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) targets.push_back(n);
  // LoraConfig fields as PEFT's save_pretrained writes them (json.dumps(asdict(config), indent=2, sort_keys=True)).
  json::Object cfg{
      {"alpha_pattern", json::Object{}},
      {"auto_mapping", nullptr},
      {"base_model_name_or_path", base_model_name_or_path},
      {"bias", "none"},
      {"exclude_modules", nullptr},
      {"fan_in_fan_out", false},
      {"inference_mode", true},
      {"init_lora_weights", true},
      {"layer_replication", nullptr},
      {"layers_pattern", nullptr},
      {"layers_to_transform", nullptr},
      {"loftq_config", json::Object{}},
      {"lora_alpha", lc.alpha},
      {"lora_bias", false},
      {"lora_dropout", lc.dropout},
      {"megatron_config", nullptr},
      {"megatron_core", "megatron.core"},
      {"modules_to_save", nullptr},
      {"peft_type", "LORA"},
      {"r", lc.r},
      {"rank_pattern", json::Object{}},
      {"revision", nullptr},
      {"target_modules", targets},
      {"task_type", "CAUSAL_LM"},
      {"use_dora", false},
      {"use_rslora", lc.use_rslora},
  };
  std::vector<StTensorOut> tensors;
  for (int l = 0; l < w.n_layers; ++l)
    for (int p = 0; p < kNumProj; ++p) {
      const LoraModule& mod = w.m[l][p];
      if (!mod.A) continue;
      Proj pr = static_cast<Proj>(p);
      tensors.push_back({peft_key(l, pr, "A"), {lc.r, mod.in}, mod.A});
      tensors.push_back({peft_key(l, pr, "B"), {mod.out, lc.r}, mod.B});
    }
  write_safetensors(path_join(dir, "adapter_model.safetensors"), tensors, {{"format", "pt"}});
  write_file_atomic(path_join(dir, "adapter_config.json"), json::dump(json::Value(cfg), 2) + "\n");
}

LoraWeights load_peft_adapter(const std::string& dir, const LlamaConfig& c) {
  const std::string cfg_path = path_join(dir, "adapter_config.json");
  const std::string st_path = path_join(dir, "adapter_model.safetensors");
  if (!file_exists(cfg_path)) throw Error(cfg_path + ": not found (not a PEFT adapter folder)");
  if (!file_exists(st_path)) {
    if (file_exists(path_join(dir, "adapter_model.bin")))
      throw Error(dir + ": adapter_model.bin (pickle) is not supported; save the adapter with safetensors");
    throw Error(st_path + ": not found");
  }
  json::Value cfg = json::parse(read_file(cfg_path), cfg_path);
  auto field = [&](const char* k) { return cfg_path + ": field '" + k + "'"; };
  const json::Value* pt = cfg.find("peft_type");
  if (!pt || pt->as_string(field("peft_type")) != "LORA")
    throw Error(cfg_path + ": peft_type must be \"LORA\"");
  LoraConfig lc;
  lc.r = cfg.find("r") ? static_cast<int>(cfg.find("r")->as_int(field("r"))) : 8;
  lc.alpha = cfg.find("lora_alpha") ? cfg.find("lora_alpha")->as_number(field("lora_alpha")) : 8.0;
  if (const json::Value* d = cfg.find("lora_dropout"); d && !d->is_null()) lc.dropout = d->as_number(field("lora_dropout"));
  if (const json::Value* rs = cfg.find("use_rslora"); rs && !rs->is_null()) lc.use_rslora = rs->as_bool(field("use_rslora"));
  if (const json::Value* v = cfg.find("use_dora"); v && !v->is_null() && v->as_bool(field("use_dora")))
    throw Error(cfg_path + ": DoRA adapters (use_dora: true) are not supported");
  if (const json::Value* v = cfg.find("bias"); v && !v->is_null() && v->as_string(field("bias")) != "none")
    throw Error(cfg_path + ": bias '" + v->as_string() + "' is not supported (only \"none\")");
  if (const json::Value* v = cfg.find("lora_bias"); v && !v->is_null() && v->as_bool(field("lora_bias")))
    throw Error(cfg_path + ": lora_bias: true is not supported");
  if (const json::Value* v = cfg.find("fan_in_fan_out"); v && !v->is_null() && v->as_bool(field("fan_in_fan_out")))
    throw Error(cfg_path + ": fan_in_fan_out: true is not supported (Llama uses nn.Linear)");
  if (const json::Value* v = cfg.find("modules_to_save"); v && !v->is_null() && !v->as_array(field("modules_to_save")).empty())
    throw Error(cfg_path + ": modules_to_save is not supported");
  // rank_pattern / alpha_pattern give some modules another rank or alpha; one rank and one scaling for the whole
  // adapter is what this engine runs, so patterns are accepted only when they restate the global values.
  for (const char* k : {"rank_pattern", "alpha_pattern"}) {
    const json::Value* v = cfg.find(k);
    if (!v || v->is_null()) continue;
    for (const auto& [pattern, val] : v->as_object(field(k))) {
      double x = val.as_number(field(k));
      double global = std::string(k) == "rank_pattern" ? lc.r : lc.alpha;
      if (x != global)
        throw Error(cfg_path + ": " + k + " entry '" + pattern + "' sets " + std::to_string(x) +
                    " instead of the global value; per-module ranks/alphas are not supported");
    }
  }
  if (lc.r <= 0) throw Error(cfg_path + ": r must be positive");

  SafetensorsReader st(st_path);
  // Targets are read from the tensors themselves (this also covers regex target_modules and layers_to_transform:
  // modules without tensors keep A = B = 0, which adds nothing).
  static const std::regex key_re(R"(base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.lora_([AB])\.weight)");
  std::set<Proj> targets;
  for (const std::string& name : st.names()) {
    std::smatch mt;
    if (!std::regex_match(name, mt, key_re))
      throw Error(st_path + ": tensor '" + name + "' is not a LoRA A/B weight of a decoder projection (unsupported)");
    int layer = std::stoi(mt[1].str());
    if (layer >= c.num_hidden_layers)
      throw Error(st_path + ": tensor '" + name + "': layer " + std::to_string(layer) + " does not exist in a " +
                  std::to_string(c.num_hidden_layers) + "-layer model");
    bool ok = false;
    for (int p = 0; p < kNumProj; ++p)
      if (mt[2].str() + "." + mt[3].str() == proj_module(static_cast<Proj>(p))) {
        targets.insert(static_cast<Proj>(p));
        ok = true;
      }
    if (!ok) throw Error(st_path + ": tensor '" + name + "': unknown module '" + mt[3].str() + "'");
  }
  if (targets.empty()) throw Error(st_path + ": no LoRA tensors");
  lc.targets.assign(targets.begin(), targets.end());
  LoraWeights w;
  allocate_lora(w, c, lc);
  for (int l = 0; l < w.n_layers; ++l)
    for (Proj p : lc.targets) {
      LoraModule& mod = w.at(l, p);
      std::string ka = peft_key(l, p, "A"), kb = peft_key(l, p, "B");
      if (st.has(ka) != st.has(kb))
        throw Error(st_path + ": tensor '" + (st.has(ka) ? kb : ka) + "' is missing (its A/B partner is present)");
      if (!st.has(ka)) continue;
      st.read_f32(ka, {lc.r, mod.in}, mod.A);
      st.read_f32(kb, {mod.out, lc.r}, mod.B);
    }
  return w;
}

}  // namespace tk
