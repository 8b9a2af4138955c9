// make_builtin_model.cpp - writes the built-in model "tunekit-tiny-chat", a small Llama-shape model in the Hugging
// Face folder format, generated from a fixed seed at build time (so the repository stays light):
//
//   config.json                LlamaForCausalLM: C 256, L 4, H 4 (KV 4), F 680, V 258, tied embeddings
//   model.safetensors          deterministic init (model_io.h init_model_weights), identical bytes on every machine
//   tokenizer.json             byte-level BPE: ids 0..255 are the bytes (GPT-2 byte-to-unicode symbols), no merges,
//                              <|im_start|> = 256, <|im_end|> = 257
//   tokenizer_config.json      ChatML chat template, eos/pad <|im_end|>, model_max_length 1024
//   special_tokens_map.json, generation_config.json
//
// Usage: make_builtin_model <out_dir>. The folder is assembled beside <out_dir> and renamed into place, so a crash
// never leaves a half-written model.
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include "error.h"
#include "fsutil.h"
#include "json.h"
#include "model.h"
#include "model_io.h"

namespace {

constexpr uint64_t kSeed = 20260101;
constexpr int kImStart = 256, kImEnd = 257;

tk::LlamaConfig builtin_config() {
  tk::LlamaConfig c;
  c.model_type = "llama";
  c.vocab_size = 258;
  c.hidden_size = 256;
  c.intermediate_size = 680;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 4;
  c.head_dim = 64;
  c.rms_norm_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  c.max_position_embeddings = 1024;
  c.tie_word_embeddings = true;
  c.bos_token_id = -1;
  c.eos_token_ids = {kImEnd};
  c.pad_token_id = kImEnd;
  c.torch_dtype = "float32";
  return c;
}

// GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100.. in order.
std::string byte_symbol(int b) {
  const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  unsigned cp = unsigned(b);
  if (!printable) {
    int n = 0;
    for (int x = 0; x < b; x++) {
      const bool px = (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
      if (!px) n++;
    }
    cp = 256u + unsigned(n);
  }
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  }
  return s;
}

tk::json::Value added_token(int id, const std::string& content) {
  tk::json::Value t(tk::json::Object{});
  t.set("id", id);
  t.set("content", content);
  t.set("single_word", false);
  t.set("lstrip", false);
  t.set("rstrip", false);
  t.set("normalized", false);
  t.set("special", true);
  return t;
}

tk::json::Value byte_level(bool add_prefix_space, bool trim_offsets, bool use_regex) {
  tk::json::Value v(tk::json::Object{});
  v.set("type", "ByteLevel");
  v.set("add_prefix_space", add_prefix_space);
  v.set("trim_offsets", trim_offsets);
  v.set("use_regex", use_regex);
  return v;
}

std::string tokenizer_json() {
  tk::json::Value vocab(tk::json::Object{});
  for (int b = 0; b < 256; b++) vocab.set(byte_symbol(b), b);
  tk::json::Value model(tk::json::Object{});
  model.set("type", "BPE");
  model.set("dropout", tk::json::Value());
  model.set("unk_token", tk::json::Value());
  model.set("continuing_subword_prefix", tk::json::Value());
  model.set("end_of_word_suffix", tk::json::Value());
  model.set("fuse_unk", false);
  model.set("byte_fallback", false);
  model.set("ignore_merges", false);
  model.set("vocab", vocab);
  model.set("merges", tk::json::Array{});

  tk::json::Value t(tk::json::Object{});
  t.set("version", "1.0");
  t.set("truncation", tk::json::Value());
  t.set("padding", tk::json::Value());
  t.set("added_tokens", tk::json::Array{added_token(kImStart, "<|im_start|>"), added_token(kImEnd, "<|im_end|>")});
  t.set("normalizer", tk::json::Value());
  t.set("pre_tokenizer", byte_level(false, true, false));
  t.set("post_processor", byte_level(false, false, false));
  t.set("decoder", byte_level(true, true, true));
  t.set("model", model);
  return tk::json::dump(t, 2) + "\n";
}

// The usual Qwen-style ChatML template, without a default system prompt.
constexpr const char* kChatTemplate =
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

std::string tokenizer_config_json() {
  tk::json::Value decoder(tk::json::Object{});
  for (auto [id, content] : {std::pair{kImStart, "<|im_start|>"}, std::pair{kImEnd, "<|im_end|>"}}) {
    tk::json::Value t = added_token(id, content);
    t.as_object_mut().erase("id");
    decoder.set(std::to_string(id), t);
  }
  tk::json::Value c(tk::json::Object{});
  c.set("add_bos_token", false);
  c.set("add_eos_token", false);
  c.set("added_tokens_decoder", decoder);
  c.set("additional_special_tokens", tk::json::Array{tk::json::Value("<|im_start|>"), tk::json::Value("<|im_end|>")});
  c.set("bos_token", tk::json::Value());
  c.set("chat_template", kChatTemplate);
  c.set("clean_up_tokenization_spaces", false);
  c.set("eos_token", "<|im_end|>");
  c.set("errors", "replace");
  c.set("model_max_length", 1024);
  c.set("pad_token", "<|im_end|>");
  c.set("split_special_tokens", false);
  c.set("tokenizer_class", "PreTrainedTokenizerFast");
  c.set("unk_token", tk::json::Value());
  return tk::json::dump(c, 2) + "\n";
}

std::string special_tokens_map_json() {
  tk::json::Value m(tk::json::Object{});
  m.set("additional_special_tokens", tk::json::Array{tk::json::Value("<|im_start|>"), tk::json::Value("<|im_end|>")});
  m.set("eos_token", "<|im_end|>");
  m.set("pad_token", "<|im_end|>");
  return tk::json::dump(m, 2) + "\n";
}

std::string generation_config_json() {
  tk::json::Value g(tk::json::Object{});
  g.set("eos_token_id", kImEnd);
  g.set("pad_token_id", kImEnd);
  g.set("max_new_tokens", 256);
  return tk::json::dump(g, 2) + "\n";
}

void write_model(const std::string& dir) {
  tk::ModelWeights w;
  tk::allocate_weights(w, builtin_config());
  tk::init_model_weights(w, kSeed, 0.02f);
  tk::make_dirs(dir);
  tk::write_file_atomic(tk::path_join(dir, "tokenizer.json"), tokenizer_json());
  tk::write_file_atomic(tk::path_join(dir, "tokenizer_config.json"), tokenizer_config_json());
  tk::write_file_atomic(tk::path_join(dir, "special_tokens_map.json"), special_tokens_map_json());
  tk::write_file_atomic(tk::path_join(dir, "generation_config.json"), generation_config_json());
  tk::save_model(w, dir);
}

// True when `b` holds exactly the files of `a` with the same bytes.
bool same_files(const std::filesystem::path& a, const std::filesystem::path& b) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(b)) return false;
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(b)) n += e.is_regular_file() ? 1 : 2;
  for (const auto& e : fs::directory_iterator(a)) {
    const fs::path other = b / e.path().filename();
    if (!fs::is_regular_file(other) || tk::read_file(e.path().string()) != tk::read_file(other.string())) return false;
    n--;
  }
  return n == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <out_dir>\n", argv[0]);
    return 2;
  }
  namespace fs = std::filesystem;
  const fs::path out = fs::path(argv[1]);
  const fs::path tmp = fs::path(out.string() + ".tmp-" + std::to_string(::getpid()));
  try {
    fs::remove_all(tmp);
    write_model(tmp.string());
    if (same_files(tmp, out)) {
      // Unchanged (the init is deterministic): keep the folder in place, so nothing using it sees it vanish
      // during a rebuild; refresh config.json's time so the build system sees its output as up to date.
      fs::remove_all(tmp);
      fs::last_write_time(out / "config.json", fs::file_time_type::clock::now());
    } else {
      fs::remove_all(out);
      fs::rename(tmp, out);
    }
  } catch (const std::exception& e) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    std::fprintf(stderr, "make_builtin_model: %s\n", e.what());
    return 1;
  }
  std::printf("built-in model written to %s\n", out.string().c_str());
  return 0;
}
