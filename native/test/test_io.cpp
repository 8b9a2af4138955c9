// test_io.cpp - tests of the engine's io layer: JSON, fp16/bf16 conversions, the safetensors reader/writer (round
// trips and every corruption case), config.json parsing, model loading/saving (single file, shards, dtypes) and
// the built-in model. Run by ctest; exits non-zero on the first failure with the check that failed.
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "error.h"
#include "fsutil.h"
#include "json.h"
#include "model.h"
#include "model_io.h"
#include "safetensors.h"

namespace fs = std::filesystem;

namespace {

int g_checks = 0;

#define CHECK(cond)                                                                   \
  do {                                                                                \
    g_checks++;                                                                       \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::exit(1);                                                                   \
    }                                                                                 \
  } while (0)

// Runs fn, expects a tk::Error whose message contains every one of `needles`.
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& needles, int line) {
  g_checks++;
  try {
    fn();
  } catch (const tk::Error& e) {
    for (const std::string& n : needles) {
      if (std::string(e.what()).find(n) == std::string::npos) {
        std::fprintf(stderr, "test_io.cpp:%d: error message lacks \"%s\": %s\n", line, n.c_str(), e.what());
        std::exit(1);
      }
    }
    return;
  }
  std::fprintf(stderr, "test_io.cpp:%d: expected a tk::Error, none thrown\n", line);
  std::exit(1);
}
#define EXPECT_ERROR(expr, ...) expect_error([&] { expr; }, {__VA_ARGS__}, __LINE__)

// A temporary directory removed at exit.
struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "tunekit-test-io-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return tk::path_join(path, name); }
};

float bits_f32(uint32_t b) { return std::bit_cast<float>(b); }

// Writes a raw safetensors file from a header string and a data buffer.
void write_raw(const std::string& path, const std::string& header, const std::string& data, int64_t len_override = -1) {
  std::string file(8, '\0');
  uint64_t n = len_override >= 0 ? uint64_t(len_override) : header.size();
  std::memcpy(file.data(), &n, 8);
  file += header + data;
  tk::write_file_atomic(path, file);
}

// ---------------------------------------------------------------------------------------------------------------

void test_json() {
  using tk::json::Value;
  Value v = tk::json::parse(R"( {"b": [1, 2.5, -3e2, true, false, null], "a": "x\u00e9\ud83d\ude00\n\"", "c": {}} )", "t");
  CHECK(v.is_object());
  CHECK(v.find("b")->as_array().size() == 6);
  CHECK(v.find("b")->as_array()[2].as_number() == -300);
  CHECK(v.find("b")->as_array()[0].as_int() == 1);
  CHECK(v.find("a")->as_string() == "x\xC3\xA9\xF0\x9F\x98\x80\n\"");
  CHECK(tk::json::dump(v) == "{\"a\":\"x\xC3\xA9\xF0\x9F\x98\x80\\n\\\"\",\"b\":[1,2.5,-300,true,false,null],\"c\":{}}");
  CHECK(tk::json::dump(tk::json::parse(tk::json::dump(v, 2), "t")) == tk::json::dump(v));
  CHECK(tk::json::dump(Value(0.1)) == "0.1");
  CHECK(tk::json::dump(Value(1e-5)) == "1e-05");
  CHECK(tk::json::dump(Value(int64_t(1) << 40)) == "1099511627776");
  Value copy = v;
  copy.set("d", 1);
  CHECK(!v.has("d"));  // copy-on-write
  EXPECT_ERROR(tk::json::parse("{\"a\":1,}", "cfg.json"), "cfg.json:1:8");
  EXPECT_ERROR(tk::json::parse("{\"a\":1,\n \"a\":2}", "cfg.json"), "cfg.json:2:2", "duplicate key \"a\"");
  EXPECT_ERROR(tk::json::parse("[1, 2", "x"), "end of input");
  EXPECT_ERROR(tk::json::parse("01", "x"), "trailing");
  EXPECT_ERROR(tk::json::parse("\"\\x\"", "x"), "invalid escape");
  EXPECT_ERROR(tk::json::parse("\"\\ud800\"", "x"), "surrogate");
  EXPECT_ERROR(tk::json::parse("\"\xC3\"", "x"), "UTF-8");
  EXPECT_ERROR(tk::json::parse("NaN", "x"), "unexpected character");
  EXPECT_ERROR(tk::json::parse("1e999", "x"), "out of range");
  EXPECT_ERROR(tk::json::parse("{} {}", "x"), "trailing");
  EXPECT_ERROR(tk::json::parse("[1.5]", "x").as_array()[0].as_int("field 'n'"), "field 'n' must be an integer");
  EXPECT_ERROR(tk::json::parse("\"s\"", "x").as_number("field 'n'"), "field 'n' must be a number");
}

void test_conversions() {
  // Expected bit patterns from torch 2.13 (tensor.to(torch.bfloat16 / torch.float16)).
  CHECK(tk::f32_to_bf16(1.0f) == 0x3F80);
  CHECK(tk::f32_to_bf16(3.14159274f) == 0x4049);
  CHECK(tk::f32_to_bf16(bits_f32(0x3F808000)) == 0x3F80);  // tie -> even
  CHECK(tk::f32_to_bf16(bits_f32(0x3F818000)) == 0x3F82);  // tie -> even (up)
  CHECK(tk::f32_to_bf16(INFINITY) == 0x7F80);
  CHECK(tk::f32_to_bf16(-0.0f) == 0x8000);
  CHECK(tk::f32_to_bf16(1e-40f) == 0x0001);
  CHECK(std::isnan(tk::bf16_to_f32(tk::f32_to_bf16(NAN))));
  CHECK(tk::f32_to_f16(1.0f) == 0x3C00);
  CHECK(tk::f32_to_f16(65504.0f) == 0x7BFF);
  CHECK(tk::f32_to_f16(65519.0f) == 0x7BFF);
  CHECK(tk::f32_to_f16(65520.0f) == 0x7C00);
  CHECK(tk::f32_to_f16(std::ldexp(1.0f, -24)) == 0x0001);
  CHECK(tk::f32_to_f16(std::ldexp(1.0f, -25)) == 0x0000);  // tie -> even (zero)
  CHECK(tk::f32_to_f16(1.5f * std::ldexp(1.0f, -25)) == 0x0001);
  CHECK(tk::f32_to_f16(std::ldexp(1.0f, -14)) == 0x0400);
  CHECK(tk::f32_to_f16(6.1e-5f) == 0x03FF);
  CHECK(tk::f32_to_f16(0.1f) == 0x2E66);
  CHECK(tk::f32_to_f16(-2.0f) == 0xC000);
  CHECK(tk::f32_to_f16(1.0f / 3.0f) == 0x3555);
  CHECK(tk::f32_to_f16(1e-8f) == 0x0000);
  CHECK(tk::f32_to_f16(NAN) == 0x7E00);
  CHECK(tk::f32_to_f16(-INFINITY) == 0xFC00);
  CHECK(tk::f16_to_f32(0x0001) == std::ldexp(1.0f, -24));
  CHECK(tk::f16_to_f32(0x03FF) == std::ldexp(1023.0f, -24));
  CHECK(tk::f16_to_f32(0x7BFF) == 65504.0f);
  CHECK(tk::bf16_to_f32(0x4049) == bits_f32(0x40490000));
  // Every non-NaN half / bfloat16 survives the round trip through fp32 bit-exactly.
  for (uint32_t h = 0; h < 0x10000; h++) {
    const auto b = uint16_t(h);
    if (!std::isnan(tk::f16_to_f32(b))) CHECK(tk::f32_to_f16(tk::f16_to_f32(b)) == b);
    if (!std::isnan(tk::bf16_to_f32(b))) CHECK(tk::f32_to_bf16(tk::bf16_to_f32(b)) == b);
  }
}

void test_safetensors_roundtrip(const TempDir& tmp) {
  const std::string path = tmp / "rt.safetensors";
  std::vector<float> a = {1.0f, 1.0f}, s = {2.0f}, b = {0.0f, 0.0f}, c = {0.0f, 0.0f, 0.0f};
  tk::write_safetensors(path, {{"b", {2}, b.data(), tk::DType::BF16},
                               {"a", {2}, a.data(), tk::DType::F32},
                               {"c", {3}, c.data(), tk::DType::F16},
                               {"s", {}, s.data(), tk::DType::F32},
                               {"z", {0, 3}, nullptr, tk::DType::F32}});
  // Byte-identical header to the reference writer (safetensors.torch.save_file of the same tensors).
  const std::string file = tk::read_file(path);
  uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);
  const std::string expected_header =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"s":{"dtype":"F32",)"
      R"("shape":[],"data_offsets":[8,12]},"z":{"dtype":"F32","shape":[0,3],"data_offsets":[12,12]},"b":{"dtype":)"
      R"("BF16","shape":[2],"data_offsets":[12,16]},"c":{"dtype":"F16","shape":[3],"data_offsets":[16,22]}}      )";
  CHECK(n == 312);
  CHECK(file.substr(8, n) == expected_header);
  CHECK(file.size() == 8 + 312 + 22);

  tk::SafetensorsReader r(path);
  CHECK(r.metadata().at("format") == "pt");
  CHECK((r.names() == std::vector<std::string>{"a", "b", "c", "s", "z"}));
  CHECK(r.info("s").shape.empty());
  CHECK(r.info("z").numel() == 0);
  CHECK(r.read_f32("s")[0] == 2.0f);
  CHECK(r.read_f32("z").empty());

  // Values survive in each dtype (bf16/f16 to their rounding).
  std::vector<float> vals = {0.1f, -1.5f, 3.14159f, 65504.0f, 1e-3f, -0.0f};
  tk::write_safetensors(path, {{"f32", {2, 3}, vals.data(), tk::DType::F32},
                               {"bf16", {6}, vals.data(), tk::DType::BF16},
                               {"f16", {3, 2}, vals.data(), tk::DType::F16}},
                        {});
  tk::SafetensorsReader r2(path);
  CHECK(r2.metadata().empty());
  std::vector<float> out(6);
  r2.read_f32("f32", {2, 3}, out.data());
  CHECK(out == vals);
  r2.read_f32("bf16", {6}, out.data());
  for (int i = 0; i < 6; i++) CHECK(out[size_t(i)] == tk::bf16_to_f32(tk::f32_to_bf16(vals[size_t(i)])));
  r2.read_f32("f16", {3, 2}, out.data());
  for (int i = 0; i < 6; i++) CHECK(out[size_t(i)] == tk::f16_to_f32(tk::f32_to_f16(vals[size_t(i)])));
  CHECK(r2.info("bf16").dtype == tk::DType::BF16);

  EXPECT_ERROR(tk::write_safetensors(path, {{"x", {1}, vals.data()}, {"x", {1}, vals.data()}}), "tensor 'x'", "duplicate");
  EXPECT_ERROR(tk::write_safetensors(path, {{"x", {1}, vals.data(), tk::DType::I32}}), "tensor 'x'", "F32, BF16 or F16");
}

void test_safetensors_corruption(const TempDir& tmp) {
  const std::string path = tmp / "bad.safetensors";
  const std::string four = std::string(16, '\0');
  auto entry = [](const std::string& name, const std::string& dtype, const std::string& shape, int b, int e) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + std::to_string(b) +
           "," + std::to_string(e) + "]}";
  };
  // Well-formed baseline.
  write_raw(path, "{" + entry("w", "F32", "[2,2]", 0, 16) + "}", four);
  CHECK(tk::SafetensorsReader(path).read_f32("w").size() == 4);

  // Truncated file: the data buffer is shorter than the tensors need.
  write_raw(path, "{" + entry("w", "F32", "[2,2]", 0, 16) + "}", four.substr(0, 10));
  EXPECT_ERROR(tk::SafetensorsReader{path}, path, "truncated");
  // Too short for the length prefix.
  tk::write_file_atomic(path, "abc");
  EXPECT_ERROR(tk::SafetensorsReader{path}, path, "truncated");
  // Header length pointing past the end of the file.
  write_raw(path, "{" + entry("w", "F32", "[2,2]", 0, 16) + "}", four, 1000);
  EXPECT_ERROR(tk::SafetensorsReader{path}, path, "truncated", "header length 1000");
  // Header length over the 100 MB limit.
  write_raw(path, "{}", "", 200'000'000);
  EXPECT_ERROR(tk::SafetensorsReader{path}, path, "100000000");
  // Not JSON / not an object / not starting with '{'.
  write_raw(path, "{\"w\":", "");
  EXPECT_ERROR(tk::SafetensorsReader{path}, path);
  write_raw(path, "[1]     ", "");
  EXPECT_ERROR(tk::SafetensorsReader{path}, path, "'{'");
  // Duplicate keys.
  write_raw(path, "{" + entry("w", "F32", "[2]", 0, 8) + "," + entry("w", "F32", "[2]", 8, 16) + "}", four);
  EXPECT_ERROR(tk::SafetensorsReader{path}, path, "duplicate key \"w\"");
  // Overlapping offsets.
  write_raw(path, "{" + entry("a", "F32", "[2,2]", 0, 16) + "," + entry("b", "F32", "[2]", 8, 16) + "}", four);
  EXPECT_ERROR(tk::SafetensorsReader{path}, path, "tensor 'b'", "overlap");
  // A hole between tensors.
  write_raw(path, "{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[2]", 8, 16) + "}", four);
  EXPECT_ERROR(tk::SafetensorsReader{path}, path, "tensor 'b'", "hole");
  // Trailing bytes not covered by any tensor.
  write_raw(path, "{" + entry("a", "F32", "[2]", 0, 8) + "}", four);
  EXPECT_ERROR(tk::SafetensorsReader{path}, path, "trailing bytes");
  // Unknown dtype.
  write_raw(path, "{" + entry("w", "F31", "[2,2]", 0, 16) + "}", four);
  EXPECT_ERROR(tk::SafetensorsReader{path}, path, "tensor 'w'", "unknown dtype 'F31'");
  // Offsets disagreeing with dtype x shape.
  write_raw(path, "{" + entry("w", "F32", "[2,3]", 0, 16) + "}", four);
  EXPECT_ERROR(tk::SafetensorsReader{path}, path, "tensor 'w'", "need 24");
  // Negative / non-integer shape entries, bad data_offsets.
  write_raw(path, "{" + entry("w", "F32", "[-4]", 0, 16) + "}", four);
  EXPECT_ERROR(tk::SafetensorsReader{path}, path, "tensor 'w'", "non-negative");
  write_raw(path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0]}}", four);
  EXPECT_ERROR(tk::SafetensorsReader{path}, path, "tensor 'w'", "data_offsets");
  write_raw(path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4]}}", four);
  EXPECT_ERROR(tk::SafetensorsReader{path}, path, "tensor 'w'");
  // Sub-byte dtype not ending on a byte boundary.
  write_raw(path, "{" + entry("w", "F4", "[3]", 0, 2) + "}", std::string(2, '\0'));
  EXPECT_ERROR(tk::SafetensorsReader{path}, path, "tensor 'w'", "byte boundary");
  // Metadata must be a string map.
  write_raw(path, "{\"__metadata__\":{\"format\":1}," + entry("w", "F32", "[4]", 0, 16) + "}", four);
  EXPECT_ERROR(tk::SafetensorsReader{path}, path, "__metadata__");
  // Reading: wrong shape, non-float dtype, absent tensor.
  write_raw(path, "{" + entry("w", "F32", "[2,2]", 0, 16) + "," + entry("i", "I32", "[1]", 16, 20) + "}", four + "abcd");
  tk::SafetensorsReader r(path);
  std::vector<float> out(4);
  EXPECT_ERROR(r.read_f32("w", {4}, out.data()), path, "tensor 'w'", "[2, 2]", "[4]");
  EXPECT_ERROR(r.read_f32("i", {1}, out.data()), path, "tensor 'i'", "I32");
  EXPECT_ERROR(r.read_f32("nope"), path, "tensor 'nope'", "not found");
  // Missing file.
  EXPECT_ERROR(tk::SafetensorsReader{tmp / "absent.safetensors"}, "absent.safetensors");
}

void test_config() {
  const std::string llama = R"({"architectures":["LlamaForCausalLM"],"model_type":"llama","vocab_size":128256,
    "hidden_size":2048,"intermediate_size":8192,"num_hidden_layers":16,"num_attention_heads":32,
    "num_key_value_heads":8,"head_dim":64,"rms_norm_eps":1e-05,"rope_theta":500000.0,"max_position_embeddings":131072,
    "rope_scaling":{"factor":32.0,"high_freq_factor":4.0,"low_freq_factor":1.0,"original_max_position_embeddings":8192,
    "rope_type":"llama3"},"tie_word_embeddings":true,"bos_token_id":128000,"eos_token_id":[128001,128008,128009],
    "torch_dtype":"bfloat16","hidden_act":"silu","attention_bias":false})";
  tk::LlamaConfig c = tk::parse_config_json(llama, "llama/config.json");
  CHECK(c.model_type == "llama" && c.vocab_size == 128256 && c.num_key_value_heads == 8 && c.head_dim == 64);
  CHECK(c.rope_llama3 && c.rope_factor == 32.0f && c.rope_original_max_position == 8192 && c.rope_theta == 500000.0f);
  CHECK(c.tie_word_embeddings && !c.attention_bias && c.bos_token_id == 128000);
  CHECK((c.eos_token_ids == std::vector<int>{128001, 128008, 128009}) && c.pad_token_id == -1);
  CHECK(c.torch_dtype == "bfloat16" && c.rms_norm_eps == 1e-5f);
  // Round trip through config_to_json.
  tk::LlamaConfig c2 = tk::parse_config_json(tk::config_to_json(c), "rt");
  CHECK(tk::config_to_json(c2) == tk::config_to_json(c));
  CHECK(c2.rope_llama3 && c2.rope_factor == 32.0f && c2.eos_token_ids.size() == 3);

  // transformers v5 rope_parameters; head_dim defaults to C / H; KV defaults to H.
  tk::LlamaConfig v5 = tk::parse_config_json(R"({"model_type":"llama","vocab_size":10,"hidden_size":64,
    "intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"dtype":"float16",
    "rope_parameters":{"rope_type":"default","rope_theta":1000000.0}})", "v5");
  CHECK(v5.rope_theta == 1e6f && !v5.rope_llama3 && v5.head_dim == 16 && v5.num_key_value_heads == 4);
  CHECK(v5.torch_dtype == "float16" && v5.eos_token_ids.empty() && v5.rms_norm_eps == 1e-6f);

  // Qwen2: q/k/v biases always, no o_proj bias; Mistral: sliding window.
  tk::LlamaConfig q = tk::parse_config_json(R"({"model_type":"qwen2","vocab_size":151936,"hidden_size":896,
    "intermediate_size":4864,"num_hidden_layers":24,"num_attention_heads":14,"num_key_value_heads":2,
    "rope_theta":1000000.0,"sliding_window":32768,"use_sliding_window":false,"tie_word_embeddings":true,
    "eos_token_id":151643})", "qwen");
  CHECK(q.attention_bias && !q.o_proj_bias && q.head_dim == 64 && q.sliding_window == 0 && q.eos_token_ids[0] == 151643);
  tk::LlamaConfig m = tk::parse_config_json(R"({"model_type":"mistral","vocab_size":32768,"hidden_size":4096,
    "intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,
    "sliding_window":4096})", "mistral");
  CHECK(m.sliding_window == 4096 && !m.attention_bias && m.kv_dim() == 1024);
  CHECK(tk::parse_config_json(tk::config_to_json(m), "rt").sliding_window == 4096);
  CHECK(tk::parse_config_json(tk::config_to_json(q), "rt").attention_bias);
  tk::LlamaConfig lb = tk::parse_config_json(R"({"model_type":"llama","vocab_size":10,"hidden_size":8,
    "intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2,"attention_bias":true})", "lb");
  CHECK(lb.attention_bias && lb.o_proj_bias);

  const std::string base = R"("vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,)";
  EXPECT_ERROR(tk::parse_config_json("{" + base + R"("num_attention_heads":2})", "c.json"), "c.json", "model_type");
  EXPECT_ERROR(tk::parse_config_json(R"({"model_type":"gpt2",)" + base + R"("num_attention_heads":2})", "c.json"),
               "c.json", "gpt2", "not supported");
  EXPECT_ERROR(tk::parse_config_json(R"({"model_type":"llama",)" + base + R"("num_attention_heads":2,
    "rope_scaling":{"rope_type":"yarn","factor":4.0}})", "c.json"), "c.json", "rope_scaling", "yarn");
  EXPECT_ERROR(tk::parse_config_json(R"({"model_type":"llama",)" + base + R"("num_attention_heads":3})", "c.json"),
               "c.json", "not divisible");
  EXPECT_ERROR(tk::parse_config_json(R"({"model_type":"llama",)" + base + R"("num_attention_heads":2,
    "num_key_value_heads":3})", "c.json"), "c.json", "multiple of num_key_value_heads");
  EXPECT_ERROR(tk::parse_config_json(R"({"model_type":"llama","hidden_size":8,"intermediate_size":16,
    "num_hidden_layers":1,"num_attention_heads":2})", "c.json"), "c.json", "'vocab_size'");
  EXPECT_ERROR(tk::parse_config_json(R"({"model_type":"llama",)" + base + R"("num_attention_heads":"2"})", "c.json"),
               "c.json", "'num_attention_heads'", "must be a number");
  EXPECT_ERROR(tk::parse_config_json(R"({"model_type":"llama",)" + base + R"("num_attention_heads":2,
    "hidden_act":"gelu"})", "c.json"), "c.json", "gelu");
  EXPECT_ERROR(tk::parse_config_json(R"({"model_type":"llama",)" + base + R"("num_attention_heads":2,
    "rope_scaling":{"rope_type":"llama3","factor":8.0}})", "c.json"), "c.json", "original_max_position_embeddings");
  EXPECT_ERROR(tk::load_config("/nonexistent-dir"), "/nonexistent-dir", "config.json");
}

tk::LlamaConfig tiny_config(const std::string& type, bool tied) {
  tk::LlamaConfig c;
  c.model_type = type;
  c.vocab_size = 11;
  c.hidden_size = 8;
  c.intermediate_size = 12;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.num_key_value_heads = type == "qwen2" ? 1 : 2;
  c.head_dim = 4;
  c.tie_word_embeddings = tied;
  c.attention_bias = type == "qwen2";
  c.eos_token_ids = {2};
  return c;
}

void test_model_roundtrip(const TempDir& tmp) {
  for (const auto& [type, tied] : {std::pair{"llama", false}, std::pair{"qwen2", true}, std::pair{"mistral", false}}) {
    tk::ModelWeights w;
    tk::allocate_weights(w, tiny_config(type, tied));
    tk::init_model_weights(w, 7);
    CHECK(w.layers[1].proj[static_cast<int>(tk::Proj::down)] != nullptr);
    CHECK((w.lm_head == w.embed_tokens) == tied);
    CHECK((w.layers[0].q_bias != nullptr) == (std::string(type) == "qwen2") && w.layers[0].o_bias == nullptr);
    CHECK(w.layers[0].input_layernorm[0] == 1.0f);
    const std::string dir = tmp / (std::string("model-") + type);
    tk::save_model(w, dir);
    tk::ModelWeights r;
    tk::load_model(r, dir);
    CHECK(r.data == w.data);
    CHECK(r.config.model_type == type && r.config.tie_word_embeddings == tied);
    tk::SafetensorsReader st(tk::path_join(dir, "model.safetensors"));
    CHECK(st.has("lm_head.weight") == !tied && st.metadata().at("format") == "pt");
  }
  // Init is deterministic and seed-dependent.
  tk::ModelWeights a, b;
  tk::allocate_weights(a, tiny_config("llama", false));
  tk::allocate_weights(b, tiny_config("llama", false));
  tk::init_model_weights(a, 1);
  tk::init_model_weights(b, 1);
  CHECK(a.data == b.data);
  tk::init_model_weights(b, 2);
  CHECK(a.data != b.data);
}

// A model folder written tensor by tensor, so tests can drop, add, reshape or re-type one tensor.
void write_folder(const std::string& dir, const tk::ModelWeights& w, const std::function<void(std::vector<tk::StTensorOut>&)>& edit,
                  tk::DType dtype = tk::DType::F32) {
  tk::make_dirs(dir);
  tk::write_file_atomic(tk::path_join(dir, "config.json"), tk::config_to_json(w.config));
  std::vector<tk::StTensorOut> ts;
  for (const tk::TensorSpec& s : tk::param_tensors(w.config)) ts.push_back({s.name, s.shape, w.data.data() + s.offset, dtype});
  edit(ts);
  tk::write_safetensors(tk::path_join(dir, "model.safetensors"), ts);
}

void test_model_loading_errors(const TempDir& tmp) {
  tk::ModelWeights w;
  tk::allocate_weights(w, tiny_config("llama", false));
  tk::init_model_weights(w, 3);
  tk::ModelWeights r;

  // bf16 / f16 checkpoints load, converted to fp32.
  write_folder(tmp / "bf16", w, [](auto&) {}, tk::DType::BF16);
  tk::load_model(r, tmp / "bf16");
  for (size_t i = 0; i < w.data.size(); i++) CHECK(r.data[i] == tk::bf16_to_f32(tk::f32_to_bf16(w.data[i])));
  write_folder(tmp / "f16", w, [](auto&) {}, tk::DType::F16);
  tk::load_model(r, tmp / "f16");
  for (size_t i = 0; i < w.data.size(); i++) CHECK(r.data[i] == tk::f16_to_f32(tk::f32_to_f16(w.data[i])));

  // Ignored extras: rotary inv_freq buffers.
  std::vector<float> inv(2, 1.0f);
  write_folder(tmp / "inv", w, [&](auto& ts) { ts.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", {2}, inv.data()}); });
  tk::load_model(r, tmp / "inv");
  CHECK(r.data == w.data);

  const std::string missing = tmp / "missing";
  write_folder(missing, w, [](auto& ts) { std::erase_if(ts, [](auto& t) { return t.name == "model.layers.1.mlp.up_proj.weight"; }); });
  EXPECT_ERROR(tk::load_model(r, missing), "missing/model.safetensors", "tensor 'model.layers.1.mlp.up_proj.weight'", "missing");
  const std::string extra = tmp / "extra";
  write_folder(extra, w, [&](auto& ts) { ts.push_back({"model.layers.0.mlp.extra.weight", {2}, inv.data()}); });
  EXPECT_ERROR(tk::load_model(r, extra), "extra/model.safetensors", "tensor 'model.layers.0.mlp.extra.weight'", "unexpected");
  const std::string shape = tmp / "shape";
  write_folder(shape, w, [](auto& ts) {
    for (auto& t : ts) {
      if (t.name == "model.norm.weight") t.shape = {2, 4};
    }
  });
  EXPECT_ERROR(tk::load_model(r, shape), "shape/model.safetensors", "tensor 'model.norm.weight'", "[2, 4]", "[8]");
  EXPECT_ERROR(tk::load_model(r, tmp / "empty-nothing"), "empty-nothing", "config.json");
  tk::make_dirs(tmp / "noweights");
  tk::write_file_atomic(tmp / "noweights/config.json", tk::config_to_json(w.config));
  EXPECT_ERROR(tk::load_model(r, tmp / "noweights"), "noweights", "model.safetensors");
  // A truncated weights file names the file.
  write_folder(tmp / "trunc", w, [](auto&) {});
  std::string bytes = tk::read_file(tmp / "trunc/model.safetensors");
  tk::write_file_atomic(tmp / "trunc/model.safetensors", bytes.substr(0, bytes.size() - 100));
  EXPECT_ERROR(tk::load_model(r, tmp / "trunc"), "trunc/model.safetensors", "truncated");
}

void test_sharded(const TempDir& tmp) {
  tk::ModelWeights w;
  tk::allocate_weights(w, tiny_config("qwen2", true));
  tk::init_model_weights(w, 5);
  const std::string dir = tmp / "sharded";
  tk::make_dirs(dir);
  tk::write_file_atomic(tk::path_join(dir, "config.json"), tk::config_to_json(w.config));
  std::vector<tk::StTensorOut> s1, s2;
  tk::json::Value map(tk::json::Object{});
  for (const tk::TensorSpec& s : tk::param_tensors(w.config)) {
    const bool first = s.name.find("layers.1.") == std::string::npos && s.name != "model.norm.weight";
    (first ? s1 : s2).push_back({s.name, s.shape, w.data.data() + s.offset, tk::DType::BF16});
    map.set(s.name, first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
  }
  tk::write_safetensors(tk::path_join(dir, "model-00001-of-00002.safetensors"), s1);
  tk::write_safetensors(tk::path_join(dir, "model-00002-of-00002.safetensors"), s2);
  tk::json::Value index(tk::json::Object{});
  index.set("metadata", tk::json::Object{{"total_size", tk::json::Value(1234)}});
  index.set("weight_map", map);
  tk::write_file_atomic(tk::path_join(dir, "model.safetensors.index.json"), tk::json::dump(index, 2));
  tk::ModelWeights r;
  tk::load_model(r, dir);
  for (size_t i = 0; i < w.data.size(); i++) CHECK(r.data[i] == tk::bf16_to_f32(tk::f32_to_bf16(w.data[i])));

  // The index pointing at a shard that does not exist.
  map.set("model.norm.weight", "model-00003-of-00002.safetensors");
  index.set("weight_map", map);
  tk::write_file_atomic(tk::path_join(dir, "model.safetensors.index.json"), tk::json::dump(index, 2));
  EXPECT_ERROR(tk::load_model(r, dir), "model.safetensors.index.json", "model-00003-of-00002.safetensors", "model.norm.weight");
  // The index pointing at the wrong (existing) shard.
  map.set("model.norm.weight", "model-00001-of-00002.safetensors");
  index.set("weight_map", map);
  tk::write_file_atomic(tk::path_join(dir, "model.safetensors.index.json"), tk::json::dump(index, 2));
  EXPECT_ERROR(tk::load_model(r, dir), "model-00002-of-00002.safetensors", "tensor 'model.norm.weight'", "not listed");
}

void test_builtin_model() {
  const std::string dir = TUNEKIT_BUILTIN_MODEL_DIR;
  tk::ModelWeights w;
  tk::load_model(w, dir);
  const tk::LlamaConfig& c = w.config;
  CHECK(c.vocab_size == 258 && c.hidden_size == 256 && c.num_hidden_layers == 4 && c.num_attention_heads == 4);
  CHECK(c.num_key_value_heads == 4 && c.intermediate_size == 680 && c.tie_word_embeddings);
  CHECK(c.eos_token_ids == std::vector<int>{257} && c.pad_token_id == 257 && c.bos_token_id == -1);
  CHECK(w.data.size() == 3205888);
  // Same bytes on every machine: the init is integer-only, so its checksum is pinned here.
  uint64_t h = 0xCBF29CE484222325ull;
  const auto* p = reinterpret_cast<const unsigned char*>(w.data.data());
  for (size_t i = 0; i < w.data.size() * sizeof(float); i++) h = (h ^ p[i]) * 0x100000001B3ull;
  std::printf("built-in model checksum %016llx\n", static_cast<unsigned long long>(h));
  CHECK(h == 0xd62f34747fcb6f1dull);
  double sum2 = 0;
  for (int64_t i = 0; i < 258 * 256; i++) sum2 += double(w.embed_tokens[i]) * w.embed_tokens[i];
  const double std_dev = std::sqrt(sum2 / (258 * 256));
  CHECK(std_dev > 0.0195 && std_dev < 0.0205);
  // The tokenizer maps bytes to ids 0..255 and the ChatML specials to 256, 257.
  const tk::json::Value tok = tk::json::parse(tk::read_file(tk::path_join(dir, "tokenizer.json")), "tokenizer.json");
  const tk::json::Object& vocab = tok.find("model")->find("vocab")->as_object();
  CHECK(vocab.size() == 256 && vocab.at("h").as_int() == 'h' && vocab.at("\xC4\xA0").as_int() == ' ');
  CHECK(tok.find("added_tokens")->as_array()[1].find("content")->as_string() == "<|im_end|>");
  const tk::json::Value tc = tk::json::parse(tk::read_file(tk::path_join(dir, "tokenizer_config.json")), "tc");
  CHECK(tc.find("chat_template")->as_string().find("<|im_start|>assistant\\n") != std::string::npos);
}

}  // namespace

int main() {
  TempDir tmp;
  test_json();
  test_conversions();
  test_safetensors_roundtrip(tmp);
  test_safetensors_corruption(tmp);
  test_config();
  test_model_roundtrip(tmp);
  test_model_loading_errors(tmp);
  test_sharded(tmp);
  test_builtin_model();
  std::printf("test_io: %d checks passed\n", g_checks);
  return 0;
}
