// model_io.h - loading and saving Hugging Face Llama-family folders (config.json + safetensors).
#pragma once

#include <cstdint>
#include <string>

#include "model.h"

namespace tk {

// Parses a config.json of LlamaForCausalLM / Qwen2ForCausalLM / MistralForCausalLM: GQA, head_dim, rope_theta or
// rope_parameters (transformers v5), rope_scaling of type llama3 (other types: clear error), tie_word_embeddings,
// attention_bias (Qwen2: q/k/v bias always), sliding_window, eos int or list, torch_dtype/dtype.
// `source` names the file in errors.
LlamaConfig parse_config_json(const std::string& text, const std::string& source);
LlamaConfig load_config(const std::string& model_dir);  // <model_dir>/config.json

// An HF config.json (pretty-printed) that transformers loads back into the same LlamaConfig.
std::string config_to_json(const LlamaConfig& c);

// Loads <model_dir>/model.safetensors, or the shards listed by model.safetensors.index.json, into w (allocating it
// for load_config(model_dir)). Tensors in F32/F16/BF16/F64 are converted to fp32. Any missing, unexpected or
// misshaped tensor -> tk::Error naming the file and the tensor. Ignores *.rotary_emb.inv_freq buffers and, when the
// embeddings are tied, a redundant lm_head.weight.
void load_model(ModelWeights& w, const std::string& model_dir);

// Writes an HF folder: config.json + model.safetensors (fp32; torch_dtype "float32"), and copies tokenizer.json,
// tokenizer_config.json, special_tokens_map.json, generation_config.json from `copy_tokenizer_from` when present.
void save_model(const ModelWeights& w, const std::string& out_dir, const std::string& copy_tokenizer_from = "");

// Deterministic random init, bit-identical on every machine (an integer PRNG, no libm): every matrix (embeddings,
// projections, lm_head) ~ approximately N(0, init_std^2) as the Irwin-Hall sum of 12 uniforms, biases 0, norm
// weights 1 (as transformers' _init_weights with initializer_range = init_std). `w` must be allocated.
void init_model_weights(ModelWeights& w, uint64_t seed, float init_std = 0.02f);

}  // namespace tk
