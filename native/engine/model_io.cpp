// model_io.cpp - Hugging Face config.json parsing and safetensors model loading/saving for Llama-family models.
// Config semantics follow transformers' LlamaConfig / Qwen2Config / MistralConfig and modeling_rope_utils.py
// (see ../shared/reference/training-math.md §2).
#include "model_io.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <memory>
#include <set>

#include "error.h"
#include "fsutil.h"
#include "json.h"
#include "safetensors.h"

namespace tk {

namespace {

// The shortest decimal of a float, as a JSON number (1e-5f prints as 1e-05, not 9.999999747378752e-06).
json::Value float_value(float f) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, f);
  double d = 0;
  std::from_chars(buf, p, d);
  return json::Value(d);
}

class ConfigReader {
 public:
  ConfigReader(const json::Value& root, const std::string& source) : root_(root), src_(source) {}

  std::string field(const std::string& key) const { return src_ + ": field '" + key + "'"; }

  const json::Value* get(const std::string& key) const {
    const json::Value* v = root_.find(key);
    return (v && !v->is_null()) ? v : nullptr;
  }

  int int_required(const std::string& key) const {
    const json::Value* v = get(key);
    if (!v) throw Error(src_ + ": missing required field '" + key + "'");
    return positive(key, v->as_int(field(key)));
  }

  int int_or(const std::string& key, int fallback) const {
    const json::Value* v = get(key);
    return v ? positive(key, v->as_int(field(key))) : fallback;
  }

  double number_or(const std::string& key, double fallback) const {
    const json::Value* v = get(key);
    return v ? v->as_number(field(key)) : fallback;
  }

  bool bool_or(const std::string& key, bool fallback) const {
    const json::Value* v = get(key);
    return v ? v->as_bool(field(key)) : fallback;
  }

  int token_id(const std::string& key) const {
    const json::Value* v = get(key);
    if (!v) return -1;
    int64_t id = v->as_int(field(key));
    if (id < 0 || id > INT32_MAX) throw Error(field(key) + " must be a non-negative token id");
    return int(id);
  }

  std::vector<int> token_ids(const std::string& key) const {
    const json::Value* v = get(key);
    if (!v) return {};
    if (!v->is_array()) return {token_id(key)};
    std::vector<int> out;
    for (const json::Value& e : v->as_array()) {
      int64_t id = e.as_int(field(key) + " entry");
      if (id < 0 || id > INT32_MAX) throw Error(field(key) + " entries must be non-negative token ids");
      out.push_back(int(id));
    }
    return out;
  }

 private:
  int positive(const std::string& key, int64_t v) const {
    if (v <= 0 || v > INT32_MAX) throw Error(field(key) + " must be a positive integer, got " + std::to_string(v));
    return int(v);
  }

  const json::Value& root_;
  const std::string& src_;
};

// Reads a rope_scaling / rope_parameters dict into c. `where` names it in errors.
void parse_rope_dict(LlamaConfig& c, const json::Value& rope, const std::string& where) {
  const json::Object& o = rope.as_object(where);
  std::string type = "default";
  if (auto it = o.find("rope_type"); it != o.end() && !it->second.is_null()) {
    type = it->second.as_string(where + ".rope_type");
  } else if (auto it2 = o.find("type"); it2 != o.end() && !it2->second.is_null()) {
    type = it2->second.as_string(where + ".type");
  }
  if (auto it = o.find("rope_theta"); it != o.end() && !it->second.is_null()) {
    c.rope_theta = float(it->second.as_number(where + ".rope_theta"));
  }
  if (type == "default") return;
  if (type != "llama3") {
    throw Error(where + ": rope type '" + type + "' is not supported (supported: default, llama3)");
  }
  auto num = [&](const char* key, bool required, double fallback) {
    auto it = o.find(key);
    if (it == o.end() || it->second.is_null()) {
      if (required) throw Error(where + ": llama3 rope scaling needs '" + key + "'");
      return fallback;
    }
    return it->second.as_number(where + "." + key);
  };
  c.rope_llama3 = true;
  c.rope_factor = float(num("factor", true, 1.0));
  c.rope_low_freq_factor = float(num("low_freq_factor", false, 1.0));
  c.rope_high_freq_factor = float(num("high_freq_factor", false, 4.0));
  const double orig = num("original_max_position_embeddings", true, 8192);
  if (orig <= 0 || orig != double(int64_t(orig))) throw Error(where + ".original_max_position_embeddings must be a positive integer");
  c.rope_original_max_position = int(orig);
  if (c.rope_factor <= 0 || c.rope_high_freq_factor <= c.rope_low_freq_factor) {
    throw Error(where + ": llama3 rope scaling needs factor > 0 and high_freq_factor > low_freq_factor");
  }
}

const char* architecture_of(const std::string& model_type) {
  if (model_type == "llama") return "LlamaForCausalLM";
  if (model_type == "qwen2") return "Qwen2ForCausalLM";
  if (model_type == "mistral") return "MistralForCausalLM";
  throw Error("unsupported model_type '" + model_type + "'");
}

json::Value id_or_null(int id) { return id < 0 ? json::Value() : json::Value(id); }

}  // namespace

LlamaConfig parse_config_json(const std::string& text, const std::string& source) {
  const json::Value root = json::parse(text, source);
  if (!root.is_object()) throw Error(source + ": config.json must be a JSON object");
  ConfigReader r(root, source);
  LlamaConfig c;

  const json::Value* mt = r.get("model_type");
  if (!mt) throw Error(source + ": missing 'model_type' (expected llama, qwen2 or mistral)");
  c.model_type = mt->as_string(r.field("model_type"));
  if (c.model_type != "llama" && c.model_type != "qwen2" && c.model_type != "mistral") {
    throw Error(source + ": model_type '" + c.model_type + "' is not supported (supported: llama, qwen2, mistral)");
  }
  if (const json::Value* act = r.get("hidden_act"); act && act->as_string(r.field("hidden_act")) != "silu") {
    throw Error(source + ": hidden_act '" + act->as_string() + "' is not supported (Llama-family models use silu)");
  }
  if (r.bool_or("mlp_bias", false)) throw Error(source + ": mlp_bias=true is not supported");

  c.vocab_size = r.int_required("vocab_size");
  c.hidden_size = r.int_required("hidden_size");
  c.intermediate_size = r.int_required("intermediate_size");
  c.num_hidden_layers = r.int_required("num_hidden_layers");
  c.num_attention_heads = r.int_required("num_attention_heads");
  c.num_key_value_heads = r.int_or("num_key_value_heads", c.num_attention_heads);
  if (c.hidden_size % c.num_attention_heads != 0 && !r.get("head_dim")) {
    throw Error(source + ": hidden_size " + std::to_string(c.hidden_size) + " is not divisible by num_attention_heads " +
                std::to_string(c.num_attention_heads) + " and no head_dim is given");
  }
  c.head_dim = r.int_or("head_dim", c.hidden_size / c.num_attention_heads);
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    throw Error(source + ": num_attention_heads " + std::to_string(c.num_attention_heads) +
                " is not a multiple of num_key_value_heads " + std::to_string(c.num_key_value_heads));
  }
  if (c.head_dim % 2 != 0) throw Error(source + ": head_dim " + std::to_string(c.head_dim) + " must be even for RoPE");

  c.rms_norm_eps = float(r.number_or("rms_norm_eps", 1e-6));
  if (!(c.rms_norm_eps > 0)) throw Error(r.field("rms_norm_eps") + " must be positive");
  c.max_position_embeddings = r.int_or("max_position_embeddings", 2048);
  c.rope_theta = float(r.number_or("rope_theta", 10000.0));
  // transformers v5 writes rope_parameters (with rope_theta inside); v4 writes rope_theta + rope_scaling.
  if (const json::Value* rp = r.get("rope_parameters")) {
    parse_rope_dict(c, *rp, source + ": rope_parameters");
  } else if (const json::Value* rs = r.get("rope_scaling")) {
    parse_rope_dict(c, *rs, source + ": rope_scaling");
  }
  if (!(c.rope_theta > 0)) throw Error(source + ": rope_theta must be positive");

  c.tie_word_embeddings = r.bool_or("tie_word_embeddings", false);
  if (c.model_type == "qwen2") {
    c.attention_bias = true;  // Qwen2 q/k/v projections always carry a bias; o_proj never
    c.o_proj_bias = false;
    if (r.bool_or("use_sliding_window", false)) {
      throw Error(source + ": use_sliding_window=true is not supported for qwen2 (per-layer sliding windows)");
    }
  } else if (c.model_type == "llama") {
    c.attention_bias = c.o_proj_bias = r.bool_or("attention_bias", false);
  } else {
    c.attention_bias = c.o_proj_bias = false;
    c.sliding_window = r.int_or("sliding_window", 0);
  }

  c.bos_token_id = r.token_id("bos_token_id");
  c.eos_token_ids = r.token_ids("eos_token_id");
  c.pad_token_id = r.token_id("pad_token_id");
  if (const json::Value* d = r.get("dtype")) {
    c.torch_dtype = d->as_string(r.field("dtype"));
  } else if (const json::Value* td = r.get("torch_dtype")) {
    c.torch_dtype = td->as_string(r.field("torch_dtype"));
  }
  return c;
}

LlamaConfig load_config(const std::string& model_dir) {
  const std::string path = path_join(model_dir, "config.json");
  if (!file_exists(path)) throw Error(model_dir + ": not a Hugging Face model folder (no config.json)");
  return parse_config_json(read_file(path), path);
}

std::string config_to_json(const LlamaConfig& c) {
  json::Value o(json::Object{});
  o.set("architectures", json::Array{json::Value(architecture_of(c.model_type))});
  o.set("model_type", c.model_type);
  o.set("vocab_size", c.vocab_size);
  o.set("hidden_size", c.hidden_size);
  o.set("intermediate_size", c.intermediate_size);
  o.set("num_hidden_layers", c.num_hidden_layers);
  o.set("num_attention_heads", c.num_attention_heads);
  o.set("num_key_value_heads", c.num_key_value_heads);
  o.set("head_dim", c.head_dim);
  o.set("hidden_act", "silu");
  o.set("rms_norm_eps", float_value(c.rms_norm_eps));
  o.set("rope_theta", float_value(c.rope_theta));
  if (c.rope_llama3) {
    json::Value rs(json::Object{});
    rs.set("rope_type", "llama3");
    rs.set("factor", float_value(c.rope_factor));
    rs.set("low_freq_factor", float_value(c.rope_low_freq_factor));
    rs.set("high_freq_factor", float_value(c.rope_high_freq_factor));
    rs.set("original_max_position_embeddings", c.rope_original_max_position);
    o.set("rope_scaling", rs);
  } else {
    o.set("rope_scaling", json::Value());
  }
  o.set("max_position_embeddings", c.max_position_embeddings);
  o.set("tie_word_embeddings", c.tie_word_embeddings);
  o.set("initializer_range", 0.02);
  o.set("attention_dropout", 0.0);
  o.set("use_cache", true);
  o.set("bos_token_id", id_or_null(c.bos_token_id));
  if (c.eos_token_ids.empty()) {
    o.set("eos_token_id", json::Value());
  } else if (c.eos_token_ids.size() == 1) {
    o.set("eos_token_id", c.eos_token_ids[0]);
  } else {
    json::Array ids;
    for (int id : c.eos_token_ids) ids.emplace_back(id);
    o.set("eos_token_id", ids);
  }
  o.set("pad_token_id", id_or_null(c.pad_token_id));
  o.set("torch_dtype", c.torch_dtype);
  if (c.model_type == "llama") {
    if (c.attention_bias != c.o_proj_bias) {
      throw Error("config_to_json: a llama config has either all four attention biases or none");
    }
    o.set("attention_bias", c.attention_bias);
    o.set("mlp_bias", false);
    o.set("pretraining_tp", 1);
  } else if (c.model_type == "qwen2") {
    if (!c.attention_bias || c.o_proj_bias) throw Error("config_to_json: qwen2 has q/k/v biases and no o_proj bias");
    o.set("use_sliding_window", false);
    o.set("sliding_window", json::Value());
    o.set("max_window_layers", c.num_hidden_layers);
  } else {
    if (c.attention_bias || c.o_proj_bias) throw Error("config_to_json: mistral has no attention biases");
    o.set("sliding_window", c.sliding_window > 0 ? json::Value(c.sliding_window) : json::Value());
  }
  return json::dump(o, 2) + "\n";
}

void load_model(ModelWeights& w, const std::string& model_dir) {
  const LlamaConfig c = load_config(model_dir);
  allocate_weights(w, c);
  const std::vector<TensorSpec> specs = param_tensors(c);
  std::set<std::string> expected;
  for (const TensorSpec& s : specs) expected.insert(s.name);
  auto ignorable = [&](const std::string& name) {
    const std::string suffix = "rotary_emb.inv_freq";
    const bool inv_freq = name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    return inv_freq || (c.tie_word_embeddings && name == "lm_head.weight");
  };

  std::map<std::string, std::unique_ptr<SafetensorsReader>> readers;  // by file name
  std::map<std::string, std::string> file_of;                          // tensor -> file name
  const std::string index_path = path_join(model_dir, "model.safetensors.index.json");
  const std::string single_path = path_join(model_dir, "model.safetensors");
  if (file_exists(index_path)) {
    const json::Value index = json::parse(read_file(index_path), index_path);
    const json::Value* wm = index.find("weight_map");
    if (!wm) throw Error(index_path + ": missing 'weight_map'");
    for (const auto& [name, file] : wm->as_object(index_path + ": weight_map")) {
      const std::string& f = file.as_string(index_path + ": weight_map entry '" + name + "'");
      if (f.find('/') != std::string::npos) throw Error(index_path + ": weight_map entry '" + name + "' points outside the folder");
      file_of[name] = f;
      if (!readers.count(f)) {
        const std::string shard = path_join(model_dir, f);
        if (!file_exists(shard)) throw Error(index_path + ": shard '" + f + "' (for tensor '" + name + "') does not exist");
        readers[f] = std::make_unique<SafetensorsReader>(shard);
      }
    }
  } else if (file_exists(single_path)) {
    readers["model.safetensors"] = std::make_unique<SafetensorsReader>(single_path);
    for (const std::string& name : readers["model.safetensors"]->names()) file_of[name] = "model.safetensors";
  } else {
    throw Error(model_dir + ": no model.safetensors or model.safetensors.index.json");
  }

  // Every tensor of every file must be expected (or ignorable) and listed where the index says it is.
  for (const auto& [f, reader] : readers) {
    for (const std::string& name : reader->names()) {
      if (ignorable(name)) continue;
      if (!expected.count(name)) {
        throw Error(reader->path() + ": tensor '" + name + "': unexpected tensor (not a parameter of this " + c.model_type +
                    " config)");
      }
      auto it = file_of.find(name);
      if (it == file_of.end() || it->second != f) {
        throw Error(reader->path() + ": tensor '" + name + "': not listed for this shard in model.safetensors.index.json");
      }
    }
  }
  for (const TensorSpec& s : specs) {
    auto it = file_of.find(s.name);
    if (it == file_of.end()) {
      const std::string where = readers.size() == 1 && !file_exists(index_path) ? single_path : index_path;
      throw Error(where + ": tensor '" + s.name + "': missing (expected shape " + shape_str(s.shape) + ")");
    }
    const SafetensorsReader& reader = *readers.at(it->second);
    if (!reader.has(s.name)) throw Error(reader.path() + ": tensor '" + s.name + "': missing (listed in the index)");
    reader.read_f32(s.name, s.shape, w.data.data() + s.offset);
  }
}

void save_model(const ModelWeights& w, const std::string& out_dir, const std::string& copy_tokenizer_from) {
  make_dirs(out_dir);
  LlamaConfig c = w.config;
  c.torch_dtype = "float32";
  std::vector<StTensorOut> tensors;
  for (const TensorSpec& s : param_tensors(c)) tensors.push_back({s.name, s.shape, w.data.data() + s.offset, DType::F32});
  write_safetensors(path_join(out_dir, "model.safetensors"), tensors);
  if (!copy_tokenizer_from.empty()) {
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"}) {
      const std::string from = path_join(copy_tokenizer_from, f);
      if (file_exists(from)) copy_file(from, path_join(out_dir, f));
    }
  }
  write_file_atomic(path_join(out_dir, "config.json"), config_to_json(c));  // last: marks the folder complete
}

// ---------------------------------------------------------------------------------------------------------------
// Deterministic init: splitmix64 (Steele, Lea, Flood 2014) streams, one per tensor keyed by its name, and the
// Irwin-Hall approximation of a standard normal (sum of 12 uniforms, centred) in exact integer arithmetic; the only
// floating-point operations are exact power-of-two scaling and one IEEE multiply, so the bytes are the same
// everywhere.

namespace {

struct SplitMix64 {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 0x100000001B3ull;
  }
  return h;
}

}  // namespace

void init_model_weights(ModelWeights& w, uint64_t seed, float init_std) {
  if (w.data.empty()) throw Error("init_model_weights: weights are not allocated");
  for (const TensorSpec& s : param_tensors(w.config)) {
    size_t n = 1;
    for (int64_t d : s.shape) n *= size_t(d);
    float* p = w.data.data() + s.offset;
    const bool is_norm = s.name.find("layernorm") != std::string::npos || s.name == "model.norm.weight";
    const bool is_bias = s.name.size() > 5 && s.name.compare(s.name.size() - 5, 5, ".bias") == 0;
    if (is_norm) {
      std::fill(p, p + n, 1.0f);
      continue;
    }
    if (is_bias) {
      std::fill(p, p + n, 0.0f);
      continue;
    }
    SplitMix64 rng{seed ^ fnv1a(s.name)};
    constexpr int64_t kUnit = int64_t(1) << 24;
    for (size_t i = 0; i < n; i++) {
      int64_t sum = 0;
      for (int k = 0; k < 12; k++) sum += int64_t(rng.next() >> 40);  // 12 uniforms on [0, 2^24)
      const int64_t centred = 2 * sum - 12 * (kUnit - 1);               // exact zero mean, variance 2^50
      const double z = double(centred) * (1.0 / double(int64_t(1) << 25));  // ~N(0, 1), exact scaling
      p[i] = float(z * double(init_std));
    }
  }
}

}  // namespace tk
