// test_train.cpp - the training run end to end on a tiny model folder: token file format, schedules, AdamW,
// clipping, determinism (same inputs -> same adapter bytes), cancel + resume == uninterrupted run, gradient
// accumulation averaged over tokens, packing, full fine-tuning output, evaluate/logits, PEFT adapter folder, errors.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "check.h"
#include "tiny_model.h"
#include "error.h"
#include "fsutil.h"
#include "json.h"
#include "llama.h"
#include "lora.h"
#include "model_io.h"
#include "ops.h"
#include "safetensors.h"
#include "optim.h"
#include "tokens.h"
#include "train.h"

using namespace tk;
using tk::test::check_scalar;
using tk::test::check_tensor;
using tk::test::expect;
using tk::test::expect_throws;
using tk::test::write_tiny_model;

namespace {

std::string g_tmp;

std::string tmp(const std::string& name) { return path_join(g_tmp, name); }

// n examples: a "prompt" of 3..6 tokens (not scored) then an answer that is a fixed function of the prompt.
void write_dataset(const std::string& path, int n, uint64_t seed) {
  std::vector<std::vector<int32_t>> ids, labels;
  for (int e = 0; e < n; ++e) {
    std::vector<int32_t> a, l;
    const int plen = 3 + static_cast<int>(rng_u64(seed, e, 0) % 4);
    for (int i = 0; i < plen; ++i) {
      a.push_back(3 + static_cast<int32_t>(rng_u64(seed, e, i + 1) % 60));
      l.push_back(-100);
    }
    const int alen = 2 + e % 5;
    for (int i = 0; i < alen; ++i) {
      int32_t t = 3 + (a[i % plen] * 7 + i) % 60;
      a.push_back(t);
      l.push_back(t);
    }
    a.push_back(2);
    l.push_back(2);
    ids.push_back(a);
    labels.push_back(l);
  }
  write_token_file(path, ids, labels);
}

void test_token_file() {
  std::printf("== token file\n");
  const std::string p = tmp("t.tok");
  write_token_file(p, {{1, 2, 3}, {}, {4, 5}}, {{-100, 2, 3}, {}, {4, -100}});
  TokenFile f = read_token_file(p, 10);
  expect(f.size() == 3 && f.length(0) == 3 && f.length(1) == 0 && f.length(2) == 2 && f.ids[4] == 5 &&
             f.labels[0] == -100 && f.labels[4] == -100,
         "round trip of ids, labels and offsets");
  std::string bytes = read_file(p);
  write_file_atomic(tmp("bad_magic.tok"), "XXTOKEN1" + bytes.substr(8));
  expect_throws([&] { read_token_file(tmp("bad_magic.tok")); }, "bad_magic.tok: not a token file", "bad magic");
  write_file_atomic(tmp("trunc.tok"), bytes.substr(0, bytes.size() - 4));
  expect_throws([&] { read_token_file(tmp("trunc.tok")); }, "does not match", "truncated file");
  std::string v2 = bytes;
  v2[8] = 2;
  write_file_atomic(tmp("v2.tok"), v2);
  expect_throws([&] { read_token_file(tmp("v2.tok")); }, "unsupported token file version 2", "unknown version");
  expect_throws([&] { read_token_file(p, 5); }, "outside the model's vocabulary", "token id >= vocab_size");
  expect_throws([&] { read_token_file(tmp("missing.tok")); }, "missing.tok", "missing file names the path");
}

void test_optim() {
  std::printf("== schedules, AdamW, clipping\n");
  expect(lr_lambda("linear", 0, 2, 10) == 0.0 && lr_lambda("linear", 1, 2, 10) == 0.5 &&
             lr_lambda("linear", 2, 2, 10) == 1.0 && lr_lambda("linear", 6, 2, 10) == 0.5 &&
             lr_lambda("linear", 10, 2, 10) == 0.0,
         "linear with warmup (transformers get_linear_schedule_with_warmup)");
  expect(std::fabs(lr_lambda("cosine", 2, 2, 10) - 1.0) < 1e-12 && std::fabs(lr_lambda("cosine", 6, 2, 10) - 0.5) < 1e-12 &&
             lr_lambda("cosine", 10, 2, 10) < 1e-12 && lr_lambda("cosine", 1, 2, 10) == 0.5,
         "cosine with warmup (get_cosine_schedule_with_warmup, 0.5 cycles)");
  expect(lr_lambda("constant", 0, 0, 5) == 1.0 && lr_lambda("constant", 0, 2, 5) == 0.0, "constant (with warmup)");
  expect(warmup_steps(0.1, 25) == 3 && warmup_steps(0.0, 25) == 0, "warmup steps = ceil(ratio * total)");
  expect_throws([] { lr_lambda("polynomial", 0, 0, 1); }, "lr_scheduler 'polynomial' is not supported", "unknown schedule");
  // AdamW, two steps, against the formula in double
  float p[2] = {0.5f, -1.0f}, m[2] = {0, 0}, v[2] = {0, 0};
  const float g1[2] = {0.1f, -0.2f}, g2[2] = {0.3f, 0.05f};
  const uint8_t mask[2] = {1, 0};
  AdamWConfig cfg;
  cfg.weight_decay = 0.1;
  double P[2] = {0.5, -1.0}, M[2] = {0, 0}, Vv[2] = {0, 0};
  for (int t = 1; t <= 2; ++t) {
    const float* g = t == 1 ? g1 : g2;
    adamw_update(p, g, m, v, mask, 2, t, 1e-2, cfg);
    for (int i = 0; i < 2; ++i) {
      if (mask[i]) P[i] *= 1 - 1e-2 * 0.1;
      M[i] = 0.9 * M[i] + 0.1 * g[i];
      Vv[i] = 0.999 * Vv[i] + 0.001 * g[i] * g[i];
      P[i] -= 1e-2 * (M[i] / (1 - std::pow(0.9, t))) / (std::sqrt(Vv[i] / (1 - std::pow(0.999, t))) + 1e-8);
    }
  }
  const float Pf[2] = {static_cast<float>(P[0]), static_cast<float>(P[1])};
  check_tensor(p, Pf, 2, "AdamW 2 steps (decay masked on the 2nd param) vs double formula", 1e-6);
  float g[3] = {3.0f, 4.0f, 0.0f};
  const double n = clip_grad_norm(g, 3, 1.0);
  const float want[3] = {static_cast<float>(3.0 / (5 + 1e-6)), static_cast<float>(4.0 / (5 + 1e-6)), 0.0f};
  expect(n == 5.0, "clip_grad_norm returns the norm before clipping");
  check_tensor(g, want, 3, "clip_grad_norm scales by max_norm / (norm + 1e-6)", 1e-7);
  float h[2] = {0.3f, 0.4f};
  clip_grad_norm(h, 2, 1.0);
  expect(h[0] == 0.3f && h[1] == 0.4f, "no clipping below max_norm");
}

TrainOptions base_options(const std::string& name) {
  TrainOptions o;
  o.model_dir = tmp("model");
  o.output_dir = tmp(name + "-out");
  o.checkpoint_dir = tmp(name + "-ckpt");
  o.train_tokens = tmp("train.tok");
  o.valid_tokens = tmp("valid.tok");
  o.lora.r = 4;
  o.lora.alpha = 8;
  o.lora.dropout = 0.1;
  o.lora.targets = parse_lora_targets({"q_proj", "v_proj", "o_proj", "down_proj"});
  o.batch_size = 3;
  o.grad_accum_steps = 2;
  o.n_epochs = 2;
  o.max_seq_len = 10;  // some examples are truncated
  o.learning_rate = 1e-2;
  o.lr_scheduler = "cosine";
  o.warmup_ratio = 0.1;
  o.weight_decay = 0.01;
  o.seed = 7;
  o.threads = 2;
  o.checkpoint_every_steps = 2;
  o.eval_every_steps = 2;
  return o;
}

std::string adapter_bytes(const std::string& dir) { return read_file(path_join(dir, "adapter_model.safetensors")); }

void test_lora_run() {
  std::printf("== LoRA training run: determinism, validation, checkpoints, cancel and resume\n");
  TrainOptions o = base_options("a");
  std::vector<Progress> prog;
  TrainResult ra = train(o, [&](const Progress& p) { prog.push_back(p); }, nullptr);
  // 14 examples / batch 3 -> 5 micro-batches -> 3 steps per epoch, 2 epochs
  expect(ra.total_steps == 6 && ra.steps == 6 && prog.size() == 6 && !ra.cancelled, "6 optimizer steps, one report each");
  expect(prog[0].learning_rate == 0.0 && prog[1].learning_rate > 0.0, "warmup: the first update uses lr 0");
  expect(prog[1].checkpoint_path == path_join(o.checkpoint_dir, "step-2") && prog[1].has_valid && !prog[0].has_valid,
         "checkpoint and periodic validation every 2 steps");
  expect(prog.back().is_full_valid && prog.back().full_valid_loss > 0 && prog.back().checkpoint_path.empty(),
         "full validation at the end, no checkpoint at the last step");
  expect(prog.back().train_loss < prog[0].train_loss, "training loss decreases (" + std::to_string(prog[0].train_loss) +
                                                           " -> " + std::to_string(prog.back().train_loss) + ")");
  expect(std::fabs(prog[2].epoch - 1.0) < 1e-12 && std::fabs(prog[5].epoch - 2.0) < 1e-12, "fractional epochs");
  expect(ra.checkpoints.size() == 2 && read_file(path_join(o.checkpoint_dir, "latest")) == "step-4\n",
         "checkpoints at steps 2 and 4, latest -> step-4");
  const std::string a = adapter_bytes(o.output_dir);

  // same inputs -> same adapter bytes
  TrainOptions o2 = base_options("a2");
  train(o2, nullptr, nullptr);
  expect(adapter_bytes(o2.output_dir) == a, "a second identical run writes identical adapter bytes");

  // cancel after step 3: a checkpoint is left, then resume finishes with the uninterrupted run's bytes
  TrainOptions ob = base_options("b");
  std::atomic<bool> cancel{false};
  TrainResult rb = train(ob, [&](const Progress& p) { if (p.step == 3) cancel = true; }, &cancel);
  expect(rb.cancelled && rb.steps == 3 && rb.output_dir.empty() &&
             read_file(path_join(ob.checkpoint_dir, "latest")) == "step-3\n",
         "cancel between steps leaves checkpoint step-3");
  expect(file_exists(path_join(ob.checkpoint_dir, "step-3/adapter/adapter_model.safetensors")),
         "the checkpoint holds a PEFT adapter folder");
  ob.resume = true;
  std::vector<Progress> pb;
  TrainResult rb2 = train(ob, [&](const Progress& p) { pb.push_back(p); }, nullptr);
  expect(!pb.empty() && pb[0].step == 4 && pb[0].resumed_from_step == 3 && pb.size() == 3 && rb2.steps == 6,
         "resume continues at step 4 and reports resumed_from_step 3");
  expect(adapter_bytes(ob.output_dir) == a, "resume after cancel == uninterrupted run (adapter bytes)");
  check_scalar(pb.back().full_valid_loss, prog.back().full_valid_loss, "resumed run's final validation loss", 0.0);

  // resume from the periodic checkpoint at step 2 (as after a kill -9 right after it)
  TrainOptions oc = base_options("a");
  oc.output_dir = tmp("c-out");
  oc.resume = true;
  write_file_atomic(path_join(oc.checkpoint_dir, "latest"), "step-2\n");
  train(oc, nullptr, nullptr);
  expect(adapter_bytes(oc.output_dir) == a, "resume from the step-2 checkpoint == uninterrupted run");

  // resume_from: a corrupt (flipped byte) or truncated newest candidate is skipped for the next one; when no
  // candidate reads back whole the run starts over; every way ends with the uninterrupted run's bytes
  {
    TrainOptions of = base_options("f");
    std::atomic<bool> stop{false};
    train(of, [&](const Progress& p) { if (p.step == 3) stop = true; }, &stop);  // step-2 and step-3 on disk
    const std::string state3 = path_join(of.checkpoint_dir, "step-3/state.bin");
    std::string bytes = read_file(state3);
    bytes[bytes.size() / 2] ^= 0x40;
    write_file_atomic(state3, bytes);
    of.resume = true;
    of.resume_from = {"step-3", "step-2"};
    std::vector<Progress> pf;
    train(of, [&](const Progress& p) { pf.push_back(p); }, nullptr);
    expect(!pf.empty() && pf[0].resumed_from_step == 2 && pf[0].step == 3,
           "a checkpoint whose checksum fails is skipped: resumed from step-2");
    expect(adapter_bytes(of.output_dir) == a, "resume past a corrupt checkpoint == uninterrupted run");
    write_file_atomic(path_join(of.checkpoint_dir, "step-2/state.bin"), bytes.substr(0, bytes.size() - 100));
    of.resume_from = {"step-3", "step-2", "step-9"};  // corrupt, truncated, absent
    pf.clear();
    train(of, [&](const Progress& p) { pf.push_back(p); }, nullptr);
    expect(pf.size() == 6 && pf[0].resumed_from_step == 0 && pf[0].step == 1,
           "no readable candidate: the run starts over and says resumed_from_step 0");
    expect(adapter_bytes(of.output_dir) == a, "a run started over == uninterrupted run");
    of.resume_from = {};
    write_file_atomic(path_join(of.checkpoint_dir, "latest"), "step-3\n");
    expect_throws([&] { train(of, nullptr, nullptr); }, "checksum mismatch", "`latest` naming a corrupt checkpoint");
  }

  // resuming with other options is refused
  TrainOptions od = oc;
  od.learning_rate = 2e-2;
  expect_throws([&] { train(od, nullptr, nullptr); }, "other training options", "resume with changed options");
  TrainOptions oe = base_options("e");
  oe.resume = true;
  expect_throws([&] { train(oe, nullptr, nullptr); }, "no checkpoint to resume from", "resume without a checkpoint");

  // the PEFT folder
  json::Value cfg = json::parse(read_file(path_join(o.output_dir, "adapter_config.json")), "adapter_config.json");
  expect(cfg.find("peft_type")->as_string() == "LORA" && cfg.find("task_type")->as_string() == "CAUSAL_LM" &&
             cfg.find("r")->as_int() == 4 && cfg.find("lora_alpha")->as_number() == 8 &&
             cfg.find("target_modules")->as_array().size() == 4 && !cfg.find("use_rslora")->as_bool() &&
             cfg.find("base_model_name_or_path")->as_string() == o.model_dir &&
             cfg.find("inference_mode")->as_bool() && cfg.find("bias")->as_string() == "none",
         "adapter_config.json has PEFT's fields");
  SafetensorsReader st(path_join(o.output_dir, "adapter_model.safetensors"));
  expect(st.metadata().at("format") == "pt" && st.names().size() == 2 * 4 * 2 &&
             st.has("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight") &&
             st.info("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight").shape ==
                 std::vector<int64_t>({32, 4}),
         "adapter_model.safetensors: PEFT key names and shapes, format pt");

  // evaluate() and logits() agree with the run
  EvalResult ev = evaluate(o.model_dir, o.output_dir, o.valid_tokens, o.max_seq_len, 2);
  check_scalar(ev.loss, prog.back().full_valid_loss, "evaluate() == the run's final full validation loss", 1e-6);
  check_scalar(ev.mean_token_accuracy, prog.back().full_valid_mean_token_accuracy, "evaluate() accuracy", 1e-12);
  EvalResult base = evaluate(o.model_dir, "", o.valid_tokens, o.max_seq_len, 2);
  expect(base.loss > ev.loss, "the adapter lowers the validation loss (" + std::to_string(base.loss) + " -> " +
                                  std::to_string(ev.loss) + ")");
  std::vector<int32_t> ids = {5, 9, 14, 3};
  std::vector<float> la = logits(o.model_dir, o.output_dir, ids, 2), l0 = logits(o.model_dir, "", ids, 2);
  expect(la.size() == 4 * 64 && la != l0, "logits() (T, V) with and without the adapter");
}

void test_accumulation_and_packing() {
  std::printf("== gradient accumulation averaged over tokens; packing\n");
  // batch 4 x 1 vs batch 2 x 2 (same rows, same order): identical token-mean loss and nearly identical update
  TrainOptions a = base_options("acc1");
  a.checkpoint_dir = "";
  a.valid_tokens = "";
  a.lora.dropout = 0;
  a.n_epochs = 1;
  a.batch_size = 4;
  a.grad_accum_steps = 1;
  a.lr_scheduler = "constant";
  a.warmup_ratio = 0;
  TrainOptions b = a;
  b.output_dir = tmp("acc2-out");
  b.batch_size = 2;
  b.grad_accum_steps = 2;
  std::vector<Progress> pa, pb;
  train(a, [&](const Progress& p) { pa.push_back(p); }, nullptr);
  train(b, [&](const Progress& p) { pb.push_back(p); }, nullptr);
  check_scalar(pb[0].train_loss, pa[0].train_loss, "step-1 loss: 4x1 == 2x2 (sum CE / scored tokens of the step)", 1e-6);
  check_scalar(pb[0].grad_norm, pa[0].grad_norm, "step-1 grad norm: 4x1 == 2x2", 1e-5);
  LoraWeights la = load_peft_adapter(a.output_dir, load_config(a.model_dir));
  LoraWeights lb = load_peft_adapter(b.output_dir, load_config(a.model_dir));
  check_tensor(lb.data.data(), la.data.data(), la.size(), "adapter after 1 epoch: 4x1 vs 2x2", 1e-4);

  TrainOptions p = a;
  p.output_dir = tmp("packed-out");
  p.packing = true;
  p.max_seq_len = 32;
  p.n_epochs = 3;
  std::vector<Progress> pp;
  TrainResult rp = train(p, [&](const Progress& q) { pp.push_back(q); }, nullptr);
  expect(rp.total_steps < 3 * 4 && pp.back().train_loss < pp[0].train_loss,
         "packed run: fewer steps (" + std::to_string(rp.total_steps) + "), loss decreases");
}

void test_full_ft() {
  std::printf("== full fine-tuning run\n");
  TrainOptions o = base_options("full");
  o.full = true;
  o.checkpoint_dir = tmp("full-ckpt");
  o.n_epochs = 1;
  o.learning_rate = 3e-3;
  std::atomic<bool> cancel{false};
  TrainResult r1 = train(o, [&](const Progress& p) { if (p.step == 1) cancel = true; }, &cancel);
  expect(r1.cancelled && file_exists(path_join(o.checkpoint_dir, "step-1/model/model.safetensors")),
         "full FT checkpoint holds an HF model folder");
  o.resume = true;
  TrainResult r = train(o, nullptr, nullptr);
  ModelWeights w0, w1;
  load_model(w0, o.model_dir);
  load_model(w1, o.output_dir);
  expect(r.steps == 3 && w1.config.hidden_size == 32 && w0.data != w1.data, "HF folder written, weights changed");
  TrainOptions u = o;
  u.resume = false;
  u.checkpoint_dir = "";
  u.output_dir = tmp("full-out2");
  train(u, nullptr, nullptr);
  expect(read_file(path_join(u.output_dir, "model.safetensors")) == read_file(path_join(o.output_dir, "model.safetensors")),
         "full FT: resume after cancel == uninterrupted run (model bytes)");
}

void test_errors() {
  std::printf("== bad input\n");
  TrainOptions o = base_options("err");
  o.lr_scheduler = "warmup_stable_decay";
  expect_throws([&] { train(o, nullptr, nullptr); }, "not supported", "unknown scheduler");
  o = base_options("err");
  o.train_tokens = tmp("nope.tok");
  expect_throws([&] { train(o, nullptr, nullptr); }, "nope.tok", "missing token file");
  write_token_file(tmp("big.tok"), {{1, 2, 300}}, {{1, 2, 300}});
  o = base_options("err");
  o.train_tokens = tmp("big.tok");
  expect_throws([&] { train(o, nullptr, nullptr); }, "big.tok: token id 300", "token id outside the vocabulary");
  expect_throws([] { parse_lora_targets({"lm_head"}); }, "LoRA target 'lm_head' is not supported", "unknown target");
  // adapter folders PEFT can write but this engine cannot run are rejected clearly
  const std::string ad = tmp("a-out");
  json::Value cfg = json::parse(read_file(path_join(ad, "adapter_config.json")), "cfg");
  json::Value c2 = cfg.clone();
  c2.set("rank_pattern", json::Object{{"q_proj", json::Value(8)}});
  make_dirs(tmp("rp"));
  write_file_atomic(tmp("rp/adapter_config.json"), json::dump(c2, 2));
  copy_file(path_join(ad, "adapter_model.safetensors"), tmp("rp/adapter_model.safetensors"));
  expect_throws([&] { load_peft_adapter(tmp("rp"), load_config(tmp("model"))); }, "rank_pattern entry 'q_proj'",
                "per-module rank_pattern rejected");
  json::Value c3 = cfg.clone();
  c3.set("use_dora", true);
  write_file_atomic(tmp("rp/adapter_config.json"), json::dump(c3, 2));
  expect_throws([&] { load_peft_adapter(tmp("rp"), load_config(tmp("model"))); }, "DoRA", "DoRA rejected");
}

}  // namespace

int main() {
  char tmpl[] = "/tmp/tunekit-test-train-XXXXXX";
  if (!mkdtemp(tmpl)) return 2;
  g_tmp = tmpl;
  int rc = 1;
  try {
    write_tiny_model(tmp("model"), false);
    write_dataset(tmp("train.tok"), 14, 1);
    write_dataset(tmp("valid.tok"), 5, 2);
    test_token_file();
    test_optim();
    test_lora_run();
    test_accumulation_and_packing();
    test_full_ft();
    test_errors();
    rc = tk::test::finish("test_train");
  } catch (const std::exception& e) {
    std::printf("[FAIL] unexpected error: %s\n", e.what());
  }
  std::filesystem::remove_all(g_tmp);
  return rc;
}
