// test_preference.cpp - the objective seam and the preference objectives (objectives/preference.h): loss
// gradients against finite differences for every loss type and KTO; the per-token-weighted backward against the
// plain CE backward (linearity over rows); DPO and KTO training runs (ln 2 at the first step, the preference learnt,
// validation metrics, cancel + resume == uninterrupted run); errors. Parity with TRL itself: test/native/.
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "check.h"
#include "fsutil.h"
#include "llama.h"
#include "lora.h"
#include "objectives/preference.h"
#include "ops.h"
#include "tiny_model.h"
#include "tokens.h"
#include "train.h"

using namespace tk;
using tk::test::check_scalar;
using tk::test::check_tensor;
using tk::test::expect;
using tk::test::expect_throws;

namespace {

std::string g_tmp;
std::string tmp(const std::string& name) { return path_join(g_tmp, name); }

std::vector<PairLogps> some_pairs() {
  return {{-12.0, -15.5, -13.0, -14.0, 6, 9}, {-20.25, -18.0, -19.0, -18.5, 11, 7}, {-3.0, -3.5, -3.2, -3.1, 2, 3}};
}

// d(mean loss)/d(logps) of every loss type against central differences in double precision.
void test_pair_gradients() {
  std::printf("== pair losses: analytic gradients vs finite differences\n");
  const std::vector<std::vector<std::string>> types = {{"sigmoid"}, {"hinge"},      {"ipo"},   {"robust"},
                                                       {"simpo"},   {"orpo"},       {"sigmoid_norm"},
                                                       {"sigmoid", "ipo"}};
  for (const auto& t : types) {
    ObjectiveOptions o;
    o.method = "dpo";
    o.loss_types = t;
    o.beta = 0.3;
    o.label_smoothing = t[0] == "robust" ? 0.2 : 0.0;
    if (t.size() == 2) o.loss_weights = {1.0, 0.5};
    std::vector<PairLogps> p = some_pairs();
    std::vector<double> dc, dr;
    pair_loss_backward(o, p, 2.0, dc, dr);
    double worst = 0;
    for (size_t i = 0; i < p.size(); ++i)
      for (int side = 0; side < 2; ++side) {
        const double h = 1e-5;
        std::vector<PairLogps> a = p, b = p;
        (side ? a[i].rejected : a[i].chosen) += h;
        (side ? b[i].rejected : b[i].chosen) -= h;
        const double fd = 2.0 * (pair_loss_forward(o, a, nullptr) - pair_loss_forward(o, b, nullptr)) / (2 * h);
        worst = std::max(worst, std::fabs(fd - (side ? dr[i] : dc[i])));
      }
    std::string name = t[0] + (t.size() > 1 ? "+" + t[1] : "");
    expect(worst < 1e-7, name + ": max |analytic - finite difference| = " + std::to_string(worst));
  }
  ObjectiveOptions o;
  o.method = "dpo";
  std::vector<PairLogps> same = {{-5, -7, -5, -7, 3, 4}};
  check_scalar(pair_loss_forward(o, same, nullptr), std::log(2.0), "sigmoid loss at policy == reference is ln 2", 1e-15);

  ObjectiveOptions k;
  k.method = "kto";
  k.beta = 0.2;
  k.desirable_weight = 1.0;
  k.undesirable_weight = 1.5;
  std::vector<KtoLogps> x = {{-10, -11, true}, {-8, -7, false}, {-4, -4.5, true}};
  std::vector<double> d;
  kto_loss_backward(k, x, 0.3, 1.0, d);
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    std::vector<KtoLogps> a = x, b = x;
    a[i].logp += 1e-5;
    b[i].logp -= 1e-5;
    worst = std::max(worst, std::fabs((kto_loss_forward(k, a, 0.3) - kto_loss_forward(k, b, 0.3)) / 2e-5 - d[i]));
  }
  expect(worst < 1e-8, "kto: max |analytic - finite difference| = " + std::to_string(worst));
}

// The seam: llama_backward with per-token weights w is the gradient of sum_t w_t CE_t, so it is linear in w and,
// with w = 1/n on every scored token, equals the plain token-mean CE backward.
void test_weighted_backward() {
  std::printf("== per-token weighted backward\n");
  ModelWeights w;
  load_model(w, tmp("model"));
  LoraConfig lc;
  lc.r = 4;
  lc.alpha = 8;
  lc.targets = parse_lora_targets({"all-linear"});
  LoraWeights lora;
  allocate_lora(lora, w.config, lc);
  init_lora_peft(lora, 3);
  for (size_t i = 0; i < lora.size(); ++i) lora.data[i] += 0.05f * (rng_uniform01(9, 1, i) - 0.5f);  // B != 0
  Llama m;
  llama_init(m, w, &lora, 2 * 12, 12, true);
  SeqBatch sb = seq_batch({{5, 6, 7, 8, 9, 10, 11}, {12, 13, 14, 15, 16, 17, 18, 19, 20, 21}},
                          {{-100, -100, -100, 8, 9, 10, 11}, {-100, -100, 14, 15, 16, 17, 18, 19, 20, 21}}, {0, 0}, 0);
  const size_t N = sb.b.ids.size();
  auto grads_for = [&](const std::vector<float>* weights, float scale) {
    std::vector<float> g(lora.size(), 0.0f);
    Grads gr;
    gr.lora = lora_views(lora, g.data());
    llama_forward(m, sb.b, nullptr);
    llama_backward(m, sb.b, scale, gr, nullptr, weights ? weights->data() : nullptr);
    return g;
  };
  const float n = static_cast<float>(sb.b.n_scored());
  std::vector<float> uniform(N, 0.0f), row0(N, 0.0f), row1(N, 0.0f), mixed(N, 0.0f);
  for (size_t i = 0; i < N; ++i) {
    if (sb.b.targets[i] == -100) continue;
    uniform[i] = 1.0f / n;
    (i < (size_t)sb.b.T ? row0 : row1)[i] = 1.0f;
    mixed[i] = i < (size_t)sb.b.T ? 0.75f : -2.0f;
  }
  std::vector<float> plain = grads_for(nullptr, 1.0f / n), weighted = grads_for(&uniform, 0.0f);
  check_tensor(weighted.data(), plain.data(), plain.size(), "w = 1/n everywhere == the token-mean CE backward", 1e-6);
  std::vector<float> g0 = grads_for(&row0, 0.0f), g1 = grads_for(&row1, 0.0f), gm = grads_for(&mixed, 0.0f);
  std::vector<float> expect_m(g0.size());
  for (size_t i = 0; i < g0.size(); ++i) expect_m[i] = 0.75f * g0[i] - 2.0f * g1[i];
  check_tensor(gm.data(), expect_m.data(), gm.size(), "linear in the per-row weights (0.75 g_row0 - 2 g_row1)", 1e-5);

  // llama_token_ce: the per-token CE sums to the loss
  std::vector<float> ce(N, 0.0f);
  llama_forward(m, sb.b, nullptr);
  LossStats ls = llama_token_ce(m, sb.b, ce.data(), nullptr);
  double sum = 0;
  for (float c : ce) sum += c;
  check_scalar(sum, ls.loss_sum, "llama_token_ce rows sum to the CE loss", 1e-6);
  std::vector<double> lp;
  std::vector<int> cnt;
  seq_logps(sb, ce.data(), lp, cnt);
  expect(cnt[0] == 4 && cnt[1] == 8, "seq_logps counts completion tokens (4, 8)");
}

// Preference data: pairs whose chosen answer is a fixed function of the prompt and whose rejected answer is another.
void write_pairs(const std::string& path, int n, uint64_t seed, std::vector<uint8_t>* kto_flags) {
  std::vector<std::vector<int32_t>> ids, labels;
  for (int e = 0; e < n; ++e) {
    std::vector<int32_t> prompt;
    const int plen = 3 + static_cast<int>(rng_u64(seed, e, 0) % 3);
    for (int i = 0; i < plen; ++i) prompt.push_back(3 + static_cast<int32_t>(rng_u64(seed, e, i + 1) % 60));
    for (int side = 0; side < 2; ++side) {
      std::vector<int32_t> a = prompt, l(prompt.size(), -100);
      for (int i = 0; i < 3; ++i) {
        const int32_t t = 3 + (prompt[i % plen] * (side ? 11 : 7) + i) % 60;
        a.push_back(t);
        l.push_back(t);
      }
      a.push_back(2);
      l.push_back(2);
      ids.push_back(a);
      labels.push_back(l);
      if (kto_flags) kto_flags->push_back(side == 0);
    }
  }
  write_token_file(path, ids, labels);
}

TrainOptions dpo_options(const std::string& name) {
  TrainOptions o;
  o.model_dir = tmp("model");
  o.output_dir = tmp(name + "-out");
  o.checkpoint_dir = tmp(name + "-ckpt");
  o.train_tokens = tmp("pairs.tok");
  o.valid_tokens = tmp("valid-pairs.tok");
  o.lora.r = 4;
  o.lora.alpha = 8;
  o.lora.targets = parse_lora_targets({"all-linear"});
  o.batch_size = 4;
  o.grad_accum_steps = 2;
  o.n_epochs = 4;
  o.learning_rate = 2e-2;
  o.seed = 5;
  o.threads = 2;
  o.checkpoint_every_steps = 3;
  o.eval_every_steps = 2;
  o.objective.method = "dpo";
  o.objective.beta = 0.5;
  return o;
}

double metric(const Progress& p, const std::string& name) {
  for (const auto& [k, v] : p.metrics)
    if (k == name) return v;
  return NAN;
}

void test_dpo_run() {
  std::printf("== DPO training run\n");
  TrainOptions o = dpo_options("dpo");
  std::vector<Progress> prog;
  TrainResult r = train(o, [&](const Progress& p) { prog.push_back(p); }, nullptr);
  // 16 pairs / batch 4 -> 4 micro-batches -> 2 steps per epoch, 4 epochs
  expect(r.total_steps == 8 && prog.size() == 8, "8 optimizer steps over 16 pairs");
  check_scalar(prog[0].train_loss, std::log(2.0), "step 1 loss is ln 2 (fresh adapter: policy == reference)", 1e-6);
  expect(metric(prog[0], "rewards/margins") == 0.0, "step 1 reward margin is exactly 0");
  const Progress& last = prog.back();
  expect(last.train_loss < 0.5 && metric(last, "rewards/accuracies") == 1.0 && metric(last, "rewards/margins") > 0,
         "the preference is learnt: loss " + std::to_string(last.train_loss) + ", accuracy " +
             std::to_string(metric(last, "rewards/accuracies")) + ", margin " +
             std::to_string(metric(last, "rewards/margins")));
  expect(metric(last, "rewards/chosen") > metric(last, "rewards/rejected") &&
             std::isfinite(metric(last, "logps/chosen")) && std::isfinite(metric(last, "logps/rejected")),
         "rewards/chosen > rewards/rejected, logps reported");
  expect(prog[1].has_valid && std::isfinite(metric(prog[1], "valid_rewards/margins")) && last.is_full_valid &&
             metric(last, "full_valid_rewards/accuracies") >= 0.75,
         "periodic and final validation with TRL's metrics (final accuracy " +
             std::to_string(metric(last, "full_valid_rewards/accuracies")) + ")");
  const std::string bytes = read_file(path_join(o.output_dir, "adapter_model.safetensors"));

  TrainOptions oc = dpo_options("dpo-c");
  std::atomic<bool> cancel{false};
  train(oc, [&](const Progress& p) { if (p.step == 5) cancel = true; }, &cancel);
  oc.resume = true;
  std::vector<Progress> pc;
  train(oc, [&](const Progress& p) { pc.push_back(p); }, nullptr);
  expect(!pc.empty() && pc[0].step == 6 &&
             read_file(path_join(oc.output_dir, "adapter_model.safetensors")) == bytes,
         "cancel at step 5 + resume == the uninterrupted run (adapter bytes; reference recomputed from the start)");
  check_scalar(metric(pc.back(), "rewards/margins"), metric(last, "rewards/margins"), "resumed run's last margin", 0.0);

  for (const char* type : {"ipo", "hinge", "robust", "simpo", "orpo"}) {
    TrainOptions ot = dpo_options(std::string("dpo-") + type);
    ot.checkpoint_dir.clear();
    ot.objective.loss_types = {type};
    if (std::string(type) == "robust") ot.objective.label_smoothing = 0.1;
    std::vector<Progress> pt;
    train(ot, [&](const Progress& p) { pt.push_back(p); }, nullptr);
    expect(pt.back().train_loss < pt[0].train_loss && metric(pt.back(), "rewards/margins") > metric(pt[0], "rewards/margins"),
           std::string(type) + ": loss " + std::to_string(pt[0].train_loss) + " -> " +
               std::to_string(pt.back().train_loss) + ", margin grows");
  }

  TrainOptions of = dpo_options("dpo-full");
  of.full = true;
  of.learning_rate = 1e-3;
  of.checkpoint_dir.clear();
  std::vector<Progress> pf;
  train(of, [&](const Progress& p) { pf.push_back(p); }, nullptr);
  check_scalar(pf[0].train_loss, std::log(2.0), "full fine-tuning: step 1 loss ln 2 (reference = initial weights)", 1e-6);
  expect(metric(pf.back(), "rewards/margins") > 0, "full fine-tuning learns the preference");
}

void test_kto_run() {
  std::printf("== KTO training run\n");
  TrainOptions o = dpo_options("kto");
  o.checkpoint_dir.clear();
  o.valid_tokens.clear();
  o.objective.method = "kto";
  write_pairs(tmp("kto.tok"), 16, 11, &o.objective.desirable);
  o.train_tokens = tmp("kto.tok");
  std::vector<Progress> prog;
  train(o, [&](const Progress& p) { prog.push_back(p); }, nullptr);
  check_scalar(prog[0].train_loss, 0.5, "step 1 KTO loss is 0.5 (policy == reference, KL 0)", 1e-6);
  expect(metric(prog.back(), "rewards/margins") > 0.1 && prog.back().train_loss < prog[0].train_loss &&
             std::isfinite(metric(prog.back(), "kl")),
         "KTO learns: margin " + std::to_string(metric(prog.back(), "rewards/margins")) + ", kl " +
             std::to_string(metric(prog.back(), "kl")));
}

void test_errors() {
  std::printf("== errors\n");
  TrainOptions o = dpo_options("err");
  o.objective.loss_types = {"simpo", "sigmoid"};
  expect_throws([&] { train(o, nullptr, nullptr); }, "cannot be combined", "simpo combined with sigmoid");
  o = dpo_options("err");
  o.objective.loss_types = {"sigmoid", "sft"};
  o.objective.loss_weights = {1.0};
  expect_throws([&] { train(o, nullptr, nullptr); }, "one weight per loss_type", "loss_weights of the wrong length");
  o = dpo_options("err");
  o.objective.loss_types = {"exo_pair"};
  expect_throws([&] { train(o, nullptr, nullptr); }, "'exo_pair' is not supported", "unsupported loss type");
  o = dpo_options("err");
  o.packing = true;
  expect_throws([&] { train(o, nullptr, nullptr); }, "packing is not supported", "packing with dpo");
  o = dpo_options("err");
  write_token_file(tmp("odd.tok"), {{5, 6, 7}, {5, 6, 8}, {5, 6, 9}}, {{-100, 6, 7}, {-100, 6, 8}, {-100, 6, 9}});
  o.train_tokens = tmp("odd.tok");
  expect_throws([&] { train(o, nullptr, nullptr); }, "in pairs", "dpo on an odd number of rows");
  o = dpo_options("err");
  o.objective.method = "kto";
  o.objective.desirable = {1, 0};
  expect_throws([&] { train(o, nullptr, nullptr); }, "desirable flags", "kto flags that do not match the rows");
  o.objective.method = "ppo";
  expect_throws([&] { train(o, nullptr, nullptr); }, "method must be", "unknown method");
}

}  // namespace

int main() {
  char tmpl[] = "/tmp/tunekit-test-pref-XXXXXX";
  if (!mkdtemp(tmpl)) return 2;
  g_tmp = tmpl;
  int rc = 1;
  try {
    tk::test::write_tiny_model(tmp("model"), false);
    write_pairs(tmp("pairs.tok"), 16, 1, nullptr);
    write_pairs(tmp("valid-pairs.tok"), 4, 2, nullptr);
    test_pair_gradients();
    test_weighted_backward();
    test_dpo_run();
    test_kto_run();
    test_errors();
    rc = tk::test::finish("test_preference");
  } catch (const std::exception& e) {
    std::printf("[FAIL] unexpected error: %s\n", e.what());
  }
  std::filesystem::remove_all(g_tmp);
  return rc;
}
