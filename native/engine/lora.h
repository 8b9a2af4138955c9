// lora.h - LoRA adapters (PEFT semantics): config, one flat weight buffer, PEFT default init, and the PEFT
// adapter folder format (adapter_config.json + adapter_model.safetensors).
//
// y = x W^T + s * B(A(drop(x))), A (R, in), B (out, R), s = alpha / R (or alpha / sqrt(R) with rsLoRA).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model.h"

namespace tk {

struct LoraConfig {
  int r = 8;
  double alpha = 16;
  double dropout = 0.0;
  bool use_rslora = false;
  std::vector<Proj> targets = {Proj::q, Proj::k, Proj::v, Proj::o};

  double scaling() const;         // alpha / r, or alpha / sqrt(r) with rsLoRA
  bool targets_proj(Proj p) const;
};

// Parses "q_proj" / "q" / "all-linear" style names. Throws tk::Error on an unknown name.
std::vector<Proj> parse_lora_targets(const std::vector<std::string>& names);

// Every adapter tensor in one flat buffer (the same layout serves grads, AdamW m and v).
struct LoraModule {
  float* A = nullptr;  // (R, in)
  float* B = nullptr;  // (out, R)
  int in = 0, out = 0;
};

// Move-only: the module pointers point into `data` (a move keeps the buffer, a copy would not).
struct LoraWeights {
  LoraWeights() = default;
  LoraWeights(LoraWeights&&) = default;
  LoraWeights& operator=(LoraWeights&&) = default;
  LoraWeights(const LoraWeights&) = delete;
  LoraWeights& operator=(const LoraWeights&) = delete;

  LoraConfig config;
  int n_layers = 0;
  std::vector<float> data;                 // every A and B, layer-major, then projection order
  std::vector<std::vector<LoraModule>> m;  // [layer][proj]; A == nullptr where the proj is not targeted

  const LoraModule& at(int layer, Proj p) const { return m[layer][static_cast<int>(p)]; }
  LoraModule& at(int layer, Proj p) { return m[layer][static_cast<int>(p)]; }
  size_t size() const { return data.size(); }
};

// Allocates `w` for model `c` (zero-filled).
void allocate_lora(LoraWeights& w, const LlamaConfig& c, const LoraConfig& cfg);
// Carves the same layout over an external buffer of w.size() floats (for grads, m, v).
std::vector<std::vector<LoraModule>> lora_views(const LoraWeights& w, float* base);

// PEFT default init: A ~ kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)) from `seed`, B = 0.
void init_lora_peft(LoraWeights& w, uint64_t seed);

// Writes dir/adapter_config.json and dir/adapter_model.safetensors exactly as PEFT's save_pretrained does.
void save_peft_adapter(const LoraWeights& w, const std::string& dir, const std::string& base_model_name_or_path);

// Reads a PEFT LoRA adapter folder for model `c`. Rejects (tk::Error) DoRA, lora bias, rank/alpha patterns that
// would give modules different ranks or scalings, targets other than the seven projections, and misshaped tensors.
LoraWeights load_peft_adapter(const std::string& dir, const LlamaConfig& c);

}  // namespace tk
