// model.cpp - the parameter table of a Llama-family model and the flat fp32 weight buffer behind it.
#include "model.h"

#include "error.h"

namespace tk {

namespace {

struct ProjInfo {
  const char* name;
  const char* module;
};

constexpr ProjInfo kProj[kNumProj] = {
    {"q_proj", "self_attn.q_proj"}, {"k_proj", "self_attn.k_proj"}, {"v_proj", "self_attn.v_proj"},
    {"o_proj", "self_attn.o_proj"}, {"gate_proj", "mlp.gate_proj"}, {"up_proj", "mlp.up_proj"},
    {"down_proj", "mlp.down_proj"},
};

}  // namespace

const char* proj_name(Proj p) { return kProj[static_cast<int>(p)].name; }
const char* proj_module(Proj p) { return kProj[static_cast<int>(p)].module; }

int proj_in_features(const LlamaConfig& c, Proj p) {
  switch (p) {
    case Proj::q:
    case Proj::k:
    case Proj::v:
    case Proj::gate:
    case Proj::up: return c.hidden_size;
    case Proj::o: return c.q_dim();
    case Proj::down: return c.intermediate_size;
  }
  throw Error("proj_in_features: bad projection");
}

int proj_out_features(const LlamaConfig& c, Proj p) {
  switch (p) {
    case Proj::q: return c.q_dim();
    case Proj::k:
    case Proj::v: return c.kv_dim();
    case Proj::o:
    case Proj::down: return c.hidden_size;
    case Proj::gate:
    case Proj::up: return c.intermediate_size;
  }
  throw Error("proj_out_features: bad projection");
}

// Order of transformers' named_parameters(): embeddings; per layer self_attn (q, k, v, o with biases), mlp
// (gate, up, down), input_layernorm, post_attention_layernorm; final norm; lm_head when untied.
std::vector<TensorSpec> param_tensors(const LlamaConfig& c) {
  std::vector<TensorSpec> out;
  size_t offset = 0;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    size_t n = 1;
    for (int64_t d : shape) n *= size_t(d);
    out.push_back({std::move(name), std::move(shape), offset});
    offset += n;
  };
  const int64_t C = c.hidden_size, V = c.vocab_size;
  add("model.embed_tokens.weight", {V, C});
  for (int l = 0; l < c.num_hidden_layers; l++) {
    const std::string prefix = "model.layers." + std::to_string(l) + ".";
    for (int pi = 0; pi < kNumProj; pi++) {
      const Proj p = static_cast<Proj>(pi);
      const std::string base = prefix + proj_module(p);
      add(base + ".weight", {proj_out_features(c, p), proj_in_features(c, p)});
      const bool qkv = p == Proj::q || p == Proj::k || p == Proj::v;
      if ((qkv && c.attention_bias) || (p == Proj::o && c.o_proj_bias)) add(base + ".bias", {proj_out_features(c, p)});
    }
    add(prefix + "input_layernorm.weight", {C});
    add(prefix + "post_attention_layernorm.weight", {C});
  }
  add("model.norm.weight", {C});
  if (!c.tie_word_embeddings) add("lm_head.weight", {V, C});
  return out;
}

void allocate_weights(ModelWeights& w, const LlamaConfig& c) {
  const std::vector<TensorSpec> specs = param_tensors(c);
  size_t total = 0;
  for (const TensorSpec& s : specs) {
    size_t n = 1;
    for (int64_t d : s.shape) n *= size_t(d);
    total = s.offset + n;
  }
  w.config = c;
  w.data.assign(total, 0.0f);
  w.layers.assign(size_t(c.num_hidden_layers), LayerWeights{});
  w.embed_tokens = w.norm = w.lm_head = nullptr;
  for (LayerWeights& lw : w.layers) {
    lw.input_layernorm = lw.post_attention_layernorm = nullptr;
    for (float*& p : lw.proj) p = nullptr;
    lw.q_bias = lw.k_bias = lw.v_bias = lw.o_bias = nullptr;
  }
  // Each spec's name determines its pointer; parsing the names keeps one source of truth for the order.
  for (const TensorSpec& s : specs) {
    float* p = w.data.data() + s.offset;
    const std::string& n = s.name;
    if (n == "model.embed_tokens.weight") {
      w.embed_tokens = p;
    } else if (n == "model.norm.weight") {
      w.norm = p;
    } else if (n == "lm_head.weight") {
      w.lm_head = p;
    } else {
      const size_t after = std::string("model.layers.").size();
      const size_t dot = n.find('.', after);
      const int l = std::stoi(n.substr(after, dot - after));
      const std::string rest = n.substr(dot + 1);
      LayerWeights& lw = w.layers[size_t(l)];
      if (rest == "input_layernorm.weight") {
        lw.input_layernorm = p;
      } else if (rest == "post_attention_layernorm.weight") {
        lw.post_attention_layernorm = p;
      } else {
        for (int pi = 0; pi < kNumProj; pi++) {
          const std::string m = proj_module(static_cast<Proj>(pi));
          if (rest == m + ".weight") lw.proj[pi] = p;
          if (rest == m + ".bias") {
            if (pi == 0) lw.q_bias = p;
            if (pi == 1) lw.k_bias = p;
            if (pi == 2) lw.v_bias = p;
            if (pi == 3) lw.o_bias = p;
          }
        }
      }
    }
  }
  if (c.tie_word_embeddings) w.lm_head = w.embed_tokens;
}

}  // namespace tk
