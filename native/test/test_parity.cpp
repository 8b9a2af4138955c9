// test_parity.cpp - the engine against Hugging Face transformers + PEFT (fixtures from test/fixtures/make_fixtures.py):
// logits and loss, LoRA gradients after one backward, full fine-tuning gradients, and the adapter after 3 AdamW
// steps with clipping and a linear warmup schedule. Tolerances are the fixtures' (meta.json).
#include <cstdio>
#include <string>
#include <vector>

#include "check.h"
#include "fsutil.h"
#include "json.h"
#include "llama.h"
#include "lora.h"
#include "model_io.h"
#include "ops.h"
#include "optim.h"
#include "safetensors.h"

using namespace tk;
using tk::test::check_scalar;
using tk::test::check_tensor;

namespace {

std::string peft_key(int l, Proj p, const char* ab) {
  return "base_model.model.model.layers." + std::to_string(l) + "." + proj_module(p) + ".lora_" + ab + ".weight";
}

void run_case(const std::string& name) {
  std::printf("== %s\n", name.c_str());
  const std::string dir = std::string(TUNEKIT_FIXTURES) + "/" + name;
  json::Value meta = json::parse(read_file(dir + "/meta.json"), "meta.json");
  const json::Value& tol = *meta.find("tolerances");
  const double tol_loss = tol.find("loss")->as_number(), tol_logits = tol.find("logits")->as_number();
  const double tol_grads = tol.find("lora_grads")->as_number(), tol_adapter = tol.find("adapter_after_steps")->as_number();
  const double tol_loss_steps = tol.find("loss_steps")->as_number();

  ModelWeights w;
  load_model(w, dir + "/model");
  const LlamaConfig& c = w.config;
  LoraWeights lora = load_peft_adapter(dir + "/lora_init", c);
  SafetensorsReader ref(dir + "/reference.safetensors");

  json::Value batch = json::parse(read_file(dir + "/batch.json"), "batch.json");
  std::vector<std::vector<int32_t>> ids, labels;
  for (const json::Value& ex : batch.as_array()) {
    std::vector<int32_t> a, b;
    for (const json::Value& v : ex.find("input_ids")->as_array()) a.push_back(static_cast<int32_t>(v.as_int()));
    for (const json::Value& v : ex.find("labels")->as_array()) b.push_back(static_cast<int32_t>(v.as_int()));
    ids.push_back(a);
    labels.push_back(b);
  }
  Batch b = make_batch(ids, labels);
  const int N = b.B * b.T, V = c.vocab_size;
  const float scale = 1.0f / static_cast<float>(b.n_scored());

  // ---- logits and loss with the adapter (the base packed for its products, as LoRA training runs it; the
  // full fine-tuning checks below run the unpacked products)
  Llama m;
  llama_init(m, w, &lora, N, b.T, /*pack_frozen=*/true);
  tk::test::expect(!m.packed_fwd.empty() && !m.lm_head_grad.empty(), name + ": frozen base packed");
  llama_forward(m, b, nullptr);
  std::vector<float> lg((size_t)N * V);
  llama_logits(lg.data(), m, b);
  for (size_t r = 0; r < ids.size(); ++r) {
    std::vector<float> want = ref.read_f32("logits." + std::to_string(r));
    check_tensor(lg.data() + r * b.T * V, want.data(), ids[r].size() * V, name + " logits." + std::to_string(r), tol_logits);
  }
  LossStats ls = llama_loss(m, b);
  check_scalar(ls.loss_sum / ls.n_scored, ref.read_f32("loss")[0], name + " loss (LoRA)", tol_loss);

  // ---- LoRA grads after one backward
  std::vector<float> gbuf(lora.size(), 0.0f);
  Grads g;
  g.lora = lora_views(lora, gbuf.data());
  llama_forward(m, b, nullptr);
  llama_backward(m, b, scale, g, nullptr);
  for (int l = 0; l < c.num_hidden_layers; ++l)
    for (Proj p : lora.config.targets) {
      const LoraModule& gm = g.lora[l][static_cast<int>(p)];
      for (const char* ab : {"A", "B"}) {
        std::string key = peft_key(l, p, ab);
        std::vector<float> want = ref.read_f32(key + ".grad");
        check_tensor(ab[0] == 'A' ? gm.A : gm.B, want.data(), want.size(), name + " grad " + key.substr(22),
                     tol_grads);
      }
    }

  // ---- full fine-tuning grads (base model, no adapter)
  if (ref.has("fullgrad_loss")) {
    Llama mf;
    llama_init(mf, w, nullptr, N, b.T);
    ModelWeights gw;
    allocate_weights(gw, c);
    Grads gf;
    gf.full = &gw;
    llama_forward(mf, b, nullptr);
    LossStats fs = llama_backward(mf, b, scale, gf, nullptr);
    check_scalar(fs.loss_sum / fs.n_scored, ref.read_f32("fullgrad_loss")[0], name + " loss (base)", tol_loss);
    const double tol_full = tol.find("full_grads")->as_number();
    for (const TensorSpec& s : param_tensors(c)) {
      std::vector<float> want = ref.read_f32("fullgrad." + s.name);
      check_tensor(gw.data.data() + s.offset, want.data(), want.size(), name + " fullgrad " + s.name, tol_full);
    }
  }

  // ---- 3 AdamW steps (lr 1e-2, wd 0.01, linear warmup 1 of 3, clip 1.0), the same batch every step
  const json::Value& op = *meta.find("optimizer");
  AdamWConfig acfg;
  acfg.lr = op.find("lr")->as_number();
  acfg.weight_decay = op.find("weight_decay")->as_number();
  acfg.eps = op.find("eps")->as_number();
  acfg.beta1 = op.find("betas")->as_array()[0].as_number();
  acfg.beta2 = op.find("betas")->as_array()[1].as_number();
  const int steps = static_cast<int>(op.find("steps")->as_int());
  const int64_t warm = op.find("num_warmup_steps")->as_int(), total = op.find("num_training_steps")->as_int();
  const double max_norm = op.find("max_grad_norm")->as_number();
  std::vector<float> am(lora.size(), 0.0f), av(lora.size(), 0.0f);
  for (int k = 0; k < steps; ++k) {
    std::fill(gbuf.begin(), gbuf.end(), 0.0f);
    llama_forward(m, b, nullptr);
    LossStats s = llama_backward(m, b, scale, g, nullptr);
    std::string sk = std::to_string(k + 1);
    check_scalar(s.loss_sum / s.n_scored, ref.read_f32("loss_step" + sk)[0], name + " loss_step" + sk, tol_loss_steps);
    double gn = clip_grad_norm(gbuf.data(), gbuf.size(), max_norm);
    check_scalar(gn, ref.read_f32("grad_norm_step" + sk)[0], name + " grad_norm_step" + sk, tol_grads);
    double lr = acfg.lr * lr_lambda("linear", k, warm, total);
    check_scalar(lr, ref.read_f32("lr_step" + sk)[0], name + " lr_step" + sk, 1e-6);
    adamw_update(lora.data.data(), gbuf.data(), am.data(), av.data(), nullptr, lora.size(), k + 1, lr, acfg);
  }
  for (int l = 0; l < c.num_hidden_layers; ++l)
    for (Proj p : lora.config.targets)
      for (const char* ab : {"A", "B"}) {
        std::string key = peft_key(l, p, ab);
        std::vector<float> want = ref.read_f32("step" + std::to_string(steps) + "." + key);
        const LoraModule& mod = lora.at(l, p);
        check_tensor(ab[0] == 'A' ? mod.A : mod.B, want.data(), want.size(),
                     name + " step" + std::to_string(steps) + " " + key.substr(22), tol_adapter);
      }
  llama_forward(m, b, nullptr);
  LossStats after = llama_loss(m, b);
  check_scalar(after.loss_sum / after.n_scored, ref.read_f32("loss_after_step" + std::to_string(steps))[0],
               name + " loss_after_step" + std::to_string(steps), tol_loss_steps);
}

}  // namespace

int main() {
  set_num_threads(2);
  tk::test::for_each_cpu_path([](const std::string& path) {
    for (const char* name : {"llama-tiny", "qwen2-gqa-tied"}) {
      try {
        run_case(name);
      } catch (const std::exception& e) {
        std::printf("[FAIL] %s on %s: %s\n", name, path.c_str(), e.what());
        ++tk::test::g_failures;
      }
    }
  });
  return tk::test::finish("test_parity");
}
