// model.h - the Llama-family model description shared by the whole engine.
//
// Legend (used in every shape comment of the engine):
//   B batch, T time (sequence length), C channels (hidden_size), H query heads, KV key/value heads,
//   D head_dim, F intermediate (MLP) size, V vocab size, L layers, R LoRA rank.
//
// Weights are held in fp32 in ONE flat buffer (`ModelWeights::data`), carved into named pointers in the
// order of `param_tensors()`. Loading (io) fills the buffer from a Hugging Face folder; the math
// (llama.cpp, lora.cpp, train.cpp) only reads/writes through the pointers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tk {

// Parsed config.json of a LlamaForCausalLM / Qwen2ForCausalLM / MistralForCausalLM folder.
struct LlamaConfig {
  std::string model_type = "llama";  // llama | qwen2 | mistral
  int vocab_size = 32000;            // V (embedding rows; may exceed the tokenizer's size)
  int hidden_size = 4096;            // C
  int intermediate_size = 11008;     // F
  int num_hidden_layers = 32;        // L
  int num_attention_heads = 32;      // H
  int num_key_value_heads = 32;      // KV (GQA when KV < H; query head h uses kv head h / (H / KV))
  int head_dim = 128;                // D (config `head_dim`, else C / H)
  float rms_norm_eps = 1e-6f;
  float rope_theta = 10000.0f;
  // rope_scaling of type "llama3" (others are rejected with a clear error by the loader).
  bool rope_llama3 = false;
  float rope_factor = 1.0f, rope_low_freq_factor = 1.0f, rope_high_freq_factor = 4.0f;
  int rope_original_max_position = 8192;
  int max_position_embeddings = 2048;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q,k,v biases (Qwen2 always; Llama when attention_bias=true also o_proj)
  bool o_proj_bias = false;     // Llama's attention_bias=true also adds an o_proj bias; Qwen2 does not
  int sliding_window = 0;       // 0 = full attention
  int bos_token_id = -1;
  std::vector<int> eos_token_ids;  // eos may be an int or a list in config.json
  int pad_token_id = -1;
  std::string torch_dtype = "float32";  // storage dtype of the checkpoint (compute is fp32 on the CPU)

  int q_dim() const { return num_attention_heads * head_dim; }    // H*D
  int kv_dim() const { return num_key_value_heads * head_dim; }  // KV*D
};

// The seven projections LoRA may target, in PEFT/HF naming order.
enum class Proj : int { q = 0, k, v, o, gate, up, down };
constexpr int kNumProj = 7;
const char* proj_name(Proj p);        // "q_proj", ..., "down_proj"
const char* proj_module(Proj p);      // "self_attn.q_proj", ..., "mlp.down_proj"
int proj_in_features(const LlamaConfig& c, Proj p);
int proj_out_features(const LlamaConfig& c, Proj p);

// Pointers into the flat fp32 weight buffer. nn.Linear layout: weight [out, in], y = x W^T + b.
struct LayerWeights {
  float* input_layernorm;           // (C)
  float* proj[kNumProj];            // q (H*D, C), k (KV*D, C), v (KV*D, C), o (C, H*D),
                                    // gate (F, C), up (F, C), down (C, F)
  float* q_bias;                    // (H*D) or nullptr
  float* k_bias;                    // (KV*D) or nullptr
  float* v_bias;                    // (KV*D) or nullptr
  float* o_bias;                    // (C) or nullptr
  float* post_attention_layernorm;  // (C)
};

struct ModelWeights {
  LlamaConfig config;
  std::vector<float> data;          // one flat buffer for every parameter
  float* embed_tokens = nullptr;    // (V, C)
  std::vector<LayerWeights> layers; // L entries
  float* norm = nullptr;            // (C)
  float* lm_head = nullptr;         // (V, C); == embed_tokens when tied
};

// One named tensor of the model, in HF naming (e.g. "model.layers.0.self_attn.q_proj.weight").
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  size_t offset;  // in floats, into ModelWeights::data
};

// The model's parameter tensors in their canonical order (lm_head.weight absent when tied).
std::vector<TensorSpec> param_tensors(const LlamaConfig& c);

// Allocates `data` for `c` (zero-filled) and sets every pointer. Used by the loader and by tests.
void allocate_weights(ModelWeights& w, const LlamaConfig& c);

}  // namespace tk
