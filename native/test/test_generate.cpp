// test_generate.cpp - the Generator (generate.h): KV-cache decode against the training forward, greedy output and
// logprobs against transformers' generate (+ PEFT) from test/fixtures/generate/generate.json, batched decode ==
// single-sequence decode, the merged export == the unmerged adapter, cancel/stop controls, and clear errors.
#include <cmath>
#include <filesystem>
#include <cstdio>
#include <string>
#include <vector>

#include "check.h"
#include "fsutil.h"
#include "generate.h"
#include "json.h"
#include "train.h"

using namespace tk;
using tk::test::check_tensor;
using tk::test::expect;
using tk::test::expect_throws;

namespace {

const std::string kFixtures = TUNEKIT_FIXTURES;
std::string model_dir(const std::string& c) { return kFixtures + "/" + c + "/model"; }
std::string adapter_dir(const std::string& c) { return kFixtures + "/" + c + "/lora_init"; }

void decode_matches_forward(Generator& g, const std::string& name, const std::string& adapter) {
  const std::vector<int32_t> prompt = {1, 17, 200, 45, 3, 99, 7};
  const std::vector<int32_t> forced = {12, 250, 8, 8, 131, 64, 2, 77};
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), forced.begin(), forced.end());
  const std::vector<float> ref = logits(g.model_dir(), adapter, all, 0);
  const std::vector<float> got = g.forced_logits(prompt, forced, adapter);
  const size_t V = g.config().vocab_size, P = prompt.size();
  check_tensor(got.data(), ref.data(), P * V, name + (adapter.empty() ? "" : " + lora") + ": prefill logits", 1e-6);
  check_tensor(got.data() + P * V, ref.data() + P * V, forced.size() * V,
               name + (adapter.empty() ? "" : " + lora") + ": decode-step logits vs full forward", 1e-6);
}

GenerateRequest greedy_request(const json::Value& c) {
  GenerateRequest r;
  for (const json::Value& t : c.find("prompt")->as_array()) r.prompt.push_back(static_cast<int32_t>(t.as_int()));
  r.max_tokens = static_cast<int>(c.find("max_new_tokens")->as_int());
  r.temperature = 0;
  r.top_logprobs = 5;
  if (!c.find("eos_token_id")->is_null()) {
    r.ignore_eos = true;
    r.stop_token_ids = {static_cast<int32_t>(c.find("eos_token_id")->as_int())};
  }
  return r;
}

// Greedy generation of every reference case of `name`; `merged`: g holds the merged export, so only the adapter
// cases run, without an adapter.
void greedy_matches_hf(Generator& g, const std::string& name, bool merged) {
  const json::Value ref = json::parse(read_file(kFixtures + "/generate/generate.json"), "generate.json");
  int n = 0;
  double worst = 0;
  bool tokens_equal = true;
  for (const json::Value& c : ref.find("cases")->as_array()) {
    if (c.find("model")->as_string() != name) continue;
    const bool has_adapter = !c.find("adapter")->is_null();
    if (merged && !has_adapter) continue;
    GenerateRequest req = greedy_request(c);
    if (has_adapter && !merged) req.adapter_dir = adapter_dir(name);
    std::vector<GeneratedToken> streamed;
    GenerateResult r = g.generate(req, [&](const GeneratedToken& t) { streamed.push_back(t); }, nullptr);
    std::vector<int32_t> got = r.choices[0].tokens;
    if (r.choices[0].stop_token >= 0) got.push_back(r.choices[0].stop_token);
    std::vector<int32_t> want;
    for (const json::Value& t : c.find("tokens")->as_array()) want.push_back(static_cast<int32_t>(t.as_int()));
    if (got != want) tokens_equal = false;
    const json::Array& lps = c.find("logprobs")->as_array();
    const json::Array& tops = c.find("top")->as_array();
    for (size_t i = 0; i < r.choices[0].logprobs.size() && i < lps.size(); ++i) {
      worst = std::fmax(worst, std::fabs(r.choices[0].logprobs[i] - lps[i].as_number()));
      const json::Array& top = tops[i].as_array();
      for (size_t j = 0; j < streamed[i].top.size(); ++j) {
        if (streamed[i].top[j].token != top[j].as_array()[0].as_int()) tokens_equal = false;
        worst = std::fmax(worst, std::fabs(streamed[i].top[j].logprob - top[j].as_array()[1].as_number()));
      }
    }
    ++n;
  }
  std::printf("       %s%s: %d greedy cases, max |logprob - HF| %.3e\n", name.c_str(), merged ? " (merged)" : "", n,
              worst);
  expect(n > 0 && tokens_equal, name + (merged ? " merged" : "") + ": greedy tokens and top-5 ids == HF generate");
  expect(worst < 1e-4, name + (merged ? " merged" : "") + ": logprobs within 1e-4 of HF");
}

void batched_equals_single(Generator& g, const std::string& adapter) {
  GenerateRequest r;
  r.prompt = {1, 250, 12, 12, 12, 64};
  r.adapter_dir = adapter;
  r.max_tokens = 20;
  r.temperature = 0.9;
  r.top_k = 50;
  r.seed = 99;
  r.ignore_eos = true;
  r.n = 5;
  GenerateResult batch = g.generate(r, {}, nullptr);
  // choice c draws with the RNG stream c, so a single run (n = 1) reproduces choice 0 of the batch
  GenerateRequest one = r;
  one.n = 1;
  GenerateResult single = g.generate(one, {}, nullptr);
  expect(single.choices[0].tokens == batch.choices[0].tokens &&
             single.choices[0].logprobs == batch.choices[0].logprobs,
         "batched decode (n=5): choice 0 == a single decode (n=1), bit for bit");
  GenerateResult again = g.generate(r, {}, nullptr);
  bool same = true;
  for (int c = 0; c < r.n; ++c) same = same && again.choices[c].tokens == batch.choices[c].tokens;
  expect(same, "same seed, same tokens for every choice");
  expect(batch.completion_tokens == 5 * 20, "completion_tokens counts every choice");
}

}  // namespace

int main() {
  for (const std::string name : {"llama-tiny", "qwen2-gqa-tied"}) {
    std::printf("== %s\n", name.c_str());
    Generator g(model_dir(name), GeneratorOptions{2, 64 << 20});
    decode_matches_forward(g, name, "");
    decode_matches_forward(g, name, adapter_dir(name));
    greedy_matches_hf(g, name, false);
    batched_equals_single(g, adapter_dir(name));

    const std::string out =
        (std::filesystem::temp_directory_path() / ("tunekit-test-generate-merged-" + name)).string();
    merge_adapter(model_dir(name), adapter_dir(name), out);
    Generator merged(out, GeneratorOptions{2, 0});
    greedy_matches_hf(merged, name, true);
    const std::vector<int32_t> ids = {5, 6, 7, 200, 1};
    const std::vector<float> a = logits(out, "", ids, 0), b = logits(model_dir(name), adapter_dir(name), ids, 0);
    check_tensor(a.data(), b.data(), a.size(), name + ": merged logits vs unmerged adapter", 1e-5);
    std::filesystem::remove_all(out);
  }

  std::printf("== controls and errors\n");
  Generator g(model_dir("llama-tiny"), GeneratorOptions{2, 64 << 20});
  GenerateRequest r;
  r.prompt = {1, 2, 3};
  r.max_tokens = 10;
  r.n = 2;
  GenerateControl cancelled(2);
  cancelled.cancel();
  GenerateResult rc = g.generate(r, {}, &cancelled);
  expect(rc.choices[0].finish_reason == FinishReason::cancelled && rc.choices[1].tokens.empty(),
         "cancelled before the start: every choice cancelled, no tokens");
  GenerateControl stop(2);
  r.temperature = 0;
  r.ignore_eos = true;
  GenerateResult rs = g.generate(r, [&](const GeneratedToken& t) { if (t.choice == 0) stop.stop_choice(0); }, &stop);
  expect(rs.choices[0].finish_reason == FinishReason::stop && rs.choices[0].tokens.size() == 1 &&
             rs.choices[1].finish_reason == FinishReason::length && rs.choices[1].tokens.size() == 10,
         "stop_choice(0) ends choice 0 after its token; choice 1 runs to max_tokens");
  expect(g.eos_token_ids() == std::vector<int32_t>{2}, "eos ids from config.json + generation_config.json");
  expect_throws([&] { GenerateRequest e; e.max_tokens = 2; g.generate(e, {}, nullptr); }, "prompt is empty",
                "empty prompt");
  expect_throws([&] { GenerateRequest e; e.prompt = {300}; g.generate(e, {}, nullptr); }, "out of range",
                "token id out of range");
  expect_throws([&] { GenerateRequest e; e.prompt = {1}; e.max_tokens = 128; g.generate(e, {}, nullptr); },
                "exceeds the model's context", "prompt + max_tokens beyond max_position_embeddings");
  expect_throws([&] { GenerateRequest e; e.prompt = {1}; e.top_p = 0; g.generate(e, {}, nullptr); }, "top_p",
                "top_p = 0");
  expect_throws([&] { g.load_adapter(adapter_dir("qwen2-gqa-tied")); }, "lora", "an adapter of another shape");
  expect_throws([&] { g.load_adapter(kFixtures + "/no-such-adapter"); }, "no-such-adapter", "a missing adapter");
  return tk::test::finish("test_generate");
}
