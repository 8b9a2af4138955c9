// test_memorize.cpp - the built-in model (tunekit-tiny-chat) learns 20 question/answer pairs by heart with LoRA
// (r 16, alpha 32, all seven projections, lr 3e-3 with 10 warm-up steps, the whole set as one batch, 100 steps;
// the calibration of /work/shared/bench/memorize.py), then answers every question exactly under greedy decoding.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "check.h"
#include "fsutil.h"
#include "llama.h"
#include "lora.h"
#include "model_io.h"
#include "ops.h"
#include "tokens.h"
#include "train.h"

using namespace tk;
using tk::test::expect;

namespace {

constexpr int kImStart = 256, kImEnd = 257;

const char* kQA[][2] = {
    {"Capital of Norway?", "Oslo"}, {"Capital of Peru?", "Lima"}, {"Capital of Kenya?", "Nairobi"},
    {"Capital of Chile?", "Santiago"}, {"Capital of Nepal?", "Kathmandu"}, {"Capital of Egypt?", "Cairo"},
    {"Colour of the sky?", "Blue"}, {"Colour of grass?", "Green"}, {"Colour of snow?", "White"},
    {"Colour of coal?", "Black"}, {"Capital of Spain?", "Madrid"}, {"Capital of Italy?", "Rome"},
    {"Largest planet?", "Jupiter"}, {"Smallest prime?", "Two"}, {"Opposite of hot?", "Cold"},
    {"Author of Hamlet?", "Shakespeare"}, {"Boiling point of water in C?", "100"}, {"Legs on a spider?", "Eight"},
    {"Chemical symbol for gold?", "Au"}, {"Fastest land animal?", "Cheetah"},
};

void append_bytes(std::vector<int32_t>& v, const std::string& s) {
  for (unsigned char ch : s) v.push_back(ch);
}

// ChatML over bytes: <|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n
std::vector<int32_t> render_prompt(const std::string& q) {
  std::vector<int32_t> v = {kImStart};
  append_bytes(v, "user\n" + q);
  v.push_back(kImEnd);
  v.push_back('\n');
  v.push_back(kImStart);
  append_bytes(v, "assistant\n");
  return v;
}

}  // namespace

int main() {
  const std::string model_dir = TUNEKIT_BUILTIN_MODEL_DIR;
  char tmpl[] = "/tmp/tunekit-test-memorize-XXXXXX";
  if (!mkdtemp(tmpl)) return 2;
  const std::string dir = tmpl;
  int rc = 1;
  try {
    std::vector<std::vector<int32_t>> ids, labels;
    for (auto& qa : kQA) {
      std::vector<int32_t> p = render_prompt(qa[0]), a, l(p.size(), -100);
      append_bytes(a, qa[1]);
      a.push_back(kImEnd);
      p.insert(p.end(), a.begin(), a.end());
      l.insert(l.end(), a.begin(), a.end());
      ids.push_back(p);
      labels.push_back(l);
    }
    write_token_file(path_join(dir, "qa.tok"), ids, labels);
    TrainOptions o;
    o.model_dir = model_dir;
    o.output_dir = path_join(dir, "adapter");
    o.train_tokens = path_join(dir, "qa.tok");
    o.lora.r = 16;
    o.lora.alpha = 32;
    o.lora.targets = parse_lora_targets({"all-linear"});
    o.batch_size = 20;
    o.n_epochs = 100;
    o.max_seq_len = 128;
    o.learning_rate = 3e-3;
    o.lr_scheduler = "constant";
    o.warmup_ratio = 0.1;
    o.threads = 2;
    const auto t0 = std::chrono::steady_clock::now();
    double first = 0, last = 0;
    train(o, [&](const Progress& p) {
      if (p.step == 1) first = p.train_loss;
      last = p.train_loss;
    }, nullptr);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("trained 100 steps in %.1f s, loss %.4f -> %.4f\n", secs, first, last);

    ModelWeights w;
    load_model(w, model_dir);
    LoraWeights lora = load_peft_adapter(o.output_dir, w.config);
    Llama m;
    llama_init(m, w, &lora, 96, 96);
    int exact = 0;
    std::vector<float> lg;
    for (auto& qa : kQA) {
      std::vector<int32_t> x = render_prompt(qa[0]);
      std::string out;
      for (size_t step = 0; step < std::string(qa[1]).size() + 2; ++step) {
        Batch b = make_batch({x}, {x});
        llama_forward(m, b, nullptr);
        lg.resize((size_t)b.T * w.config.vocab_size);
        llama_logits(lg.data(), m, b);
        const float* row = lg.data() + (size_t)(b.T - 1) * w.config.vocab_size;
        int best = 0;
        for (int j = 1; j < w.config.vocab_size; ++j)
          if (row[j] > row[best]) best = j;
        if (best == kImEnd) break;
        x.push_back(best);
        out.push_back(best < 256 ? static_cast<char>(best) : '?');
      }
      const bool ok = out == qa[1];
      exact += ok;
      if (!ok) std::printf("  %s -> \"%s\" (want \"%s\")\n", qa[0], out.c_str(), qa[1]);
    }
    expect(exact == 20, std::to_string(exact) + "/20 answers exact under greedy decoding after 100 LoRA steps");
    rc = tk::test::finish("test_memorize");
  } catch (const std::exception& e) {
    std::printf("[FAIL] unexpected error: %s\n", e.what());
  }
  std::filesystem::remove_all(dir);
  return rc;
}
