// test_model.cpp - the whole decoder on tiny random models: gradients of every LoRA parameter (with dropout and
// rsLoRA) and of every weight in full fine-tuning (tied embeddings, q/k/v/o biases, GQA) against central finite
// differences of the loss; packing equals separate rows; bitwise determinism across runs and thread counts.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "check.h"
#include "llama.h"
#include "lora.h"
#include "ops.h"

using namespace tk;
using tk::test::check_scalar;
using tk::test::check_tensor;
using tk::test::expect;

namespace {

LlamaConfig tiny_config(bool qwen_like) {
  LlamaConfig c;
  c.vocab_size = 40;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 6;  // q_dim 24 != hidden_size: exercises head_dim from config
  c.rms_norm_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  c.tie_word_embeddings = qwen_like;
  c.attention_bias = qwen_like;
  c.o_proj_bias = qwen_like;
  return c;
}

void random_weights(ModelWeights& w, uint64_t seed, float scale) {
  for (const TensorSpec& s : param_tensors(w.config)) {
    const bool norm = s.shape.size() == 1 && s.name.find("layernorm") != std::string::npos;
    size_t n = 1;
    for (int64_t d : s.shape) n *= d;
    for (size_t i = 0; i < n; ++i) {
      const float u = 2.0f * rng_uniform01(seed, s.offset, i) - 1.0f;
      w.data[s.offset + i] = norm || s.name == "model.norm.weight" ? 1.0f + 0.2f * u : scale * u;
    }
  }
}

Batch tiny_batch(int V) {
  std::vector<std::vector<int32_t>> ids = {{1, 5, 9, 2, 33, 7, 7, 12, 30, 4}, {3, 8, 21, 39, 0, 11}};
  std::vector<std::vector<int32_t>> labels = ids;
  labels[0][0] = labels[0][1] = labels[0][2] = -100;  // prompt tokens not scored
  labels[1][3] = -100;
  for (auto& r : ids)
    for (auto& t : r) t %= V;
  return make_batch(ids, labels);
}

// loss * scale for the current parameters
double model_loss(Llama& m, const Batch& b, const DropoutCtx* drop, double scale) {
  llama_forward(m, b, drop);
  return llama_loss(m, b).loss_sum * scale;
}

void test_lora_grads() {
  std::printf("== LoRA gradients (all 7 projections, r 3, rsLoRA, dropout 0.25) vs finite differences\n");
  LlamaConfig c = tiny_config(false);
  ModelWeights w;
  allocate_weights(w, c);
  random_weights(w, 11, 0.4f);
  LoraConfig lc;
  lc.r = 3;
  lc.alpha = 5;
  lc.use_rslora = true;
  lc.dropout = 0.25;
  lc.targets = parse_lora_targets({"all-linear"});
  LoraWeights lora;
  allocate_lora(lora, c, lc);
  init_lora_peft(lora, 5);
  for (size_t i = 0; i < lora.size(); ++i)  // nonzero B so every gradient is nonzero
    if (lora.data[i] == 0.0f) lora.data[i] = 0.3f * (2.0f * rng_uniform01(9, 9, i) - 1.0f);
  Batch b = tiny_batch(c.vocab_size);
  const double scale = 1.0 / b.n_scored();
  Llama m;
  llama_init(m, w, &lora, b.B * b.T, b.T);
  DropoutCtx drop{77, 3};
  std::vector<float> g(lora.size(), 0.0f);
  Grads grads;
  grads.lora = lora_views(lora, g.data());
  llama_forward(m, b, &drop);
  llama_backward(m, b, static_cast<float>(scale), grads, &drop);
  std::vector<float> num(lora.size());
  const float eps = 1e-2f;
  for (size_t i = 0; i < lora.size(); ++i) {
    const float orig = lora.data[i];
    lora.data[i] = orig + eps;
    const double fp = model_loss(m, b, &drop, scale);
    lora.data[i] = orig - eps;
    const double fm = model_loss(m, b, &drop, scale);
    lora.data[i] = orig;
    num[i] = static_cast<float>((fp - fm) / (2 * eps));
  }
  for (int l = 0; l < c.num_hidden_layers; ++l)
    for (Proj p : lc.targets) {
      const LoraModule& mod = lora.at(l, p);
      const size_t a_off = mod.A - lora.data.data(), b_off = mod.B - lora.data.data();
      const std::string name = "layer " + std::to_string(l) + " " + proj_name(p);
      check_tensor(g.data() + a_off, num.data() + a_off, (size_t)lc.r * mod.in, name + " lora_A", 1e-2);
      check_tensor(g.data() + b_off, num.data() + b_off, (size_t)mod.out * lc.r, name + " lora_B", 1e-2);
    }
  // dropout is active in training and absent in evaluation
  const double with = model_loss(m, b, &drop, scale), without = model_loss(m, b, nullptr, scale);
  expect(std::fabs(with - without) > 1e-6, "dropout changes the training loss (" + std::to_string(with) + " vs " +
                                               std::to_string(without) + ")");
}

void test_full_grads() {
  std::printf("== full fine-tuning gradients (tied embeddings, q/k/v/o biases, GQA) vs finite differences\n");
  LlamaConfig c = tiny_config(true);
  ModelWeights w;
  allocate_weights(w, c);
  random_weights(w, 12, 0.4f);
  Batch b = tiny_batch(c.vocab_size);
  const double scale = 1.0 / b.n_scored();
  Llama m;
  llama_init(m, w, nullptr, b.B * b.T, b.T);
  ModelWeights gw;
  allocate_weights(gw, c);
  Grads grads;
  grads.full = &gw;
  llama_forward(m, b, nullptr);
  llama_backward(m, b, static_cast<float>(scale), grads, nullptr);
  const float eps = 1e-2f;
  for (const TensorSpec& s : param_tensors(c)) {
    size_t n = 1;
    for (int64_t d : s.shape) n *= d;
    std::vector<float> num(n);
    for (size_t i = 0; i < n; ++i) {
      float& x = w.data[s.offset + i];
      const float orig = x;
      x = orig + eps;
      const double fp = model_loss(m, b, nullptr, scale);
      x = orig - eps;
      const double fm = model_loss(m, b, nullptr, scale);
      x = orig;
      num[i] = static_cast<float>((fp - fm) / (2 * eps));
    }
    check_tensor(gw.data.data() + s.offset, num.data(), n, "full grad " + s.name, 1e-2);
  }
}

void test_packing() {
  std::printf("== packing: two documents in one row == two separate rows\n");
  LlamaConfig c = tiny_config(true);
  ModelWeights w;
  allocate_weights(w, c);
  random_weights(w, 13, 0.4f);
  std::vector<int32_t> d1 = {4, 9, 13, 2, 8}, d2 = {7, 1, 30, 22, 5, 6, 19};
  Batch sep = make_batch({d1, d2}, {d1, d2});
  Batch packed;
  packed.B = 1;
  packed.T = 12;
  for (int i = 0; i < 5; ++i) {
    packed.ids.push_back(d1[i]);
    packed.targets.push_back(i + 1 < 5 ? d1[i + 1] : -100);
    packed.pos.push_back(i);
    packed.seg_start.push_back(0);
  }
  for (int i = 0; i < 7; ++i) {
    packed.ids.push_back(d2[i]);
    packed.targets.push_back(i + 1 < 7 ? d2[i + 1] : -100);
    packed.pos.push_back(i);
    packed.seg_start.push_back(5);
  }
  Llama m;
  llama_init(m, w, nullptr, 14, 7 + 5);
  llama_forward(m, sep, nullptr);
  std::vector<float> ls((size_t)sep.B * sep.T * c.vocab_size), lp((size_t)12 * c.vocab_size);
  llama_logits(ls.data(), m, sep);
  LossStats s1 = llama_loss(m, sep);
  llama_forward(m, packed, nullptr);
  llama_logits(lp.data(), m, packed);
  LossStats s2 = llama_loss(m, packed);
  check_tensor(lp.data(), ls.data(), 5 * c.vocab_size, "packed doc 1 logits == alone", 1e-6);
  check_tensor(lp.data() + 5 * c.vocab_size, ls.data() + (size_t)sep.T * c.vocab_size, 7 * c.vocab_size,
               "packed doc 2 logits == alone (positions reset, no cross-document attention)", 1e-6);
  check_scalar(s2.loss_sum, s1.loss_sum, "packed loss == separate rows loss", 1e-6);
  expect(s1.n_scored == s2.n_scored, "same scored tokens");
}

void test_determinism() {
  std::printf("== determinism\n");
  LlamaConfig c = tiny_config(false);
  c.hidden_size = 64;
  c.intermediate_size = 96;
  c.vocab_size = 300;
  ModelWeights w;
  allocate_weights(w, c);
  random_weights(w, 14, 0.1f);
  LoraConfig lc;
  lc.r = 4;
  lc.dropout = 0.1;
  LoraWeights lora;
  allocate_lora(lora, c, lc);
  init_lora_peft(lora, 1);
  std::vector<std::vector<int32_t>> ids(4, std::vector<int32_t>(70));
  for (int r = 0; r < 4; ++r)
    for (int t = 0; t < 70; ++t) ids[r][t] = static_cast<int32_t>(rng_u64(1, r, t) % 300);
  Batch b = make_batch(ids, ids);
  auto run = [&](int threads) {
    set_num_threads(threads);
    Llama m;
    llama_init(m, w, &lora, b.B * b.T, b.T);
    std::vector<float> g(lora.size(), 0.0f);
    Grads gr;
    gr.lora = lora_views(lora, g.data());
    DropoutCtx d{3, 4};
    llama_forward(m, b, &d);
    llama_backward(m, b, 1.0f / b.n_scored(), gr, &d);
    return g;
  };
  std::vector<float> a = run(2), a2 = run(2), a1 = run(1);
  expect(a == a2, "same inputs, same thread count: bitwise identical LoRA grads");
  // Another thread count splits the GEMMs into other blocks, and a BLAS may round those differently: close, not
  // necessarily bitwise equal (runs are reproducible for a given thread count, which the trainer records).
  check_tensor(a1.data(), a.data(), a.size(), "1 thread vs 2 threads: LoRA grads", 1e-5);
  set_num_threads(2);
}

}  // namespace

int main() {
  set_num_threads(2);
  test_lora_grads();
  test_full_grads();
  test_packing();
  test_determinism();
  return tk::test::finish("test_model");
}
