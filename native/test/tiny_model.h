// tiny_model.h - a tiny random Llama-shaped model folder for the engine's C++ tests (vocab 64, hidden 32, 2 layers,
// GQA 4/2 heads, eos 2).
#pragma once

#include <string>

#include "model.h"
#include "model_io.h"
#include "ops.h"

namespace tk::test {

inline void write_tiny_model(const std::string& dir, bool tied) {
  LlamaConfig c;
  c.vocab_size = 64;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.rms_norm_eps = 1e-5f;
  c.tie_word_embeddings = tied;
  c.max_position_embeddings = 64;
  c.eos_token_ids = {2};
  ModelWeights w;
  allocate_weights(w, c);
  for (const TensorSpec& s : param_tensors(c)) {
    size_t n = 1;
    for (int64_t d : s.shape) n *= d;
    for (size_t i = 0; i < n; ++i)
      w.data[s.offset + i] = s.shape.size() == 1 ? 1.0f : 0.1f * (2.0f * rng_uniform01(42, s.offset, i) - 1.0f);
  }
  save_model(w, dir);
}

}  // namespace tk::test
