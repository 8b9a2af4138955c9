// train.cpp - the training run (see train.h): data plan, gradient accumulation, AdamW, validation, checkpoints.
//
// Semantics follow transformers' Trainer / TRL's SFTTrainer: labels are shifted inside the model, the loss of an
// optimizer step is the sum of token cross-entropies over all its micro-batches divided by the number of scored
// tokens of the whole step (num_items_in_batch), clipping before the update, the schedule stepped after it.
#include "train.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <type_traits>

#include "error.h"
#include "fsutil.h"
#include "llama.h"
#include "model_io.h"
#include "ops.h"
#include "objectives/grpo.h"
#include "optim.h"
#include "tokens.h"

namespace tk {

namespace {

// ---- data plan -------------------------------------------------------------------------------------------------
// A row is one or more documents (packing), each a prefix of one example (truncated to max_seq_len).
struct Doc {
  uint32_t example;
  uint32_t len;
};
using Row = std::vector<Doc>;
using MicroBatch = std::vector<Row>;
struct Step {
  std::vector<MicroBatch> micro;
  int epoch;
};

constexpr uint64_t kShuffleStream = 0x5368756666ull;

// Fisher-Yates with the counter-based RNG: the permutation of an epoch depends only on (seed, epoch).
std::vector<uint32_t> epoch_order(size_t n, uint64_t seed, int epoch) {
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
  for (size_t i = n; i > 1; --i) {
    size_t j = rng_u64(seed, kShuffleStream + epoch, i) % i;
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

std::vector<Row> make_rows(const TokenFile& tf, const std::vector<uint32_t>& order, int max_seq_len, bool packing) {
  std::vector<Row> rows;
  int used = 0;
  for (uint32_t ex : order) {
    uint32_t len = static_cast<uint32_t>(std::min<size_t>(tf.length(ex), max_seq_len));
    if (len == 0) continue;
    if (!packing) {
      rows.push_back({{ex, len}});
      continue;
    }
    if (rows.empty() || used + static_cast<int>(len) > max_seq_len) {
      rows.emplace_back();
      used = 0;
    }
    rows.back().push_back({ex, len});
    used += static_cast<int>(len);
  }
  return rows;
}

// Units per epoch: examples (sft: rows from make_rows) or preference units (one row {unit, 1} each; the objective
// builds the sequences).
std::vector<Step> make_plan(const TokenFile& tf, const TrainOptions& o, size_t preference_units) {
  std::vector<Step> steps;
  for (int e = 0; e < o.n_epochs; ++e) {
    std::vector<Row> rows;
    if (o.objective.method == "sft") {
      rows = make_rows(tf, epoch_order(tf.size(), o.seed, e), o.max_seq_len, o.packing);
    } else {
      // kto keeps the file order (TRL requires sequential sampling: each example's KL completion is its neighbour's
      // in a fixed batch); dpo shuffles per epoch as sft does
      std::vector<uint32_t> order = epoch_order(preference_units, o.seed, e);
      if (o.objective.method == "kto") std::sort(order.begin(), order.end());
      for (uint32_t u : order) rows.push_back({{u, 1}});
    }
    std::vector<MicroBatch> micro;
    for (size_t i = 0; i < rows.size(); i += o.batch_size)
      micro.emplace_back(rows.begin() + i, rows.begin() + std::min(rows.size(), i + o.batch_size));
    for (size_t i = 0; i < micro.size(); i += o.grad_accum_steps) {
      Step s;
      s.epoch = e;
      s.micro.assign(micro.begin() + i, micro.begin() + std::min(micro.size(), i + o.grad_accum_steps));
      steps.push_back(std::move(s));
    }
  }
  return steps;
}

// Rows -> Batch: right padding to the longest row; per document: positions from 0, targets = next label within
// the document (so no token is predicted across a document boundary), attention limited to the document.
Batch assemble(const TokenFile& tf, const MicroBatch& mb, int pad_id) {
  Batch b;
  b.B = static_cast<int>(mb.size());
  for (const Row& r : mb) {
    int len = 0;
    for (const Doc& d : r) len += d.len;
    b.T = std::max(b.T, len);
  }
  const size_t n = (size_t)b.B * b.T;
  b.ids.assign(n, pad_id);
  b.targets.assign(n, -100);
  b.pos.resize(n);
  b.seg_start.resize(n);
  for (int r = 0; r < b.B; ++r) {
    int t = 0;
    for (const Doc& d : mb[r]) {
      const uint64_t off = tf.offsets[d.example];
      const int start = t;
      for (uint32_t j = 0; j < d.len; ++j, ++t) {
        size_t i = (size_t)r * b.T + t;
        b.ids[i] = tf.ids[off + j];
        if (j + 1 < d.len) b.targets[i] = tf.labels[off + j + 1];
        b.pos[i] = static_cast<int32_t>(j);
        b.seg_start[i] = start;
      }
    }
    for (int s = t; s < b.T; ++s) {  // padding: its own causal segment, never scored
      size_t i = (size_t)r * b.T + s;
      b.pos[i] = s - t;
      b.seg_start[i] = t;
    }
  }
  return b;
}

// preference_units > 0: micro-batches of preference units in file order.
std::vector<MicroBatch> eval_batches(const TokenFile& tf, int max_seq_len, int batch_size, size_t preference_units = 0) {
  std::vector<uint32_t> order(preference_units ? preference_units : tf.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
  std::vector<Row> rows;
  if (preference_units == 0) rows = make_rows(tf, order, max_seq_len, false);
  else
    for (uint32_t u : order) rows.push_back({{u, 1}});
  std::vector<MicroBatch> out;
  for (size_t i = 0; i < rows.size(); i += batch_size)
    out.emplace_back(rows.begin() + i, rows.begin() + std::min(rows.size(), i + batch_size));
  return out;
}

int max_row_len(const std::vector<MicroBatch>& mbs) {
  int T = 1;
  for (const MicroBatch& mb : mbs)
    for (const Row& r : mb) {
      int len = 0;
      for (const Doc& d : r) len += d.len;
      T = std::max(T, len);
    }
  return T;
}

std::vector<uint32_t> units_of(const MicroBatch& mb) {
  std::vector<uint32_t> u;
  for (const Row& r : mb) u.push_back(r[0].example);
  return u;
}

// A preference objective's validation over micro-batches: the mean loss of the micro-batches and their metrics.
double evaluate_preference(SequenceObjective& po, Llama& m, const TokenFile& vf, const std::vector<MicroBatch>& mbs,
                           MetricMeans& metrics) {
  double loss = 0;
  for (const MicroBatch& mb : mbs) loss += po.micro_step(m, vf, 1, units_of(mb), 0.0f, nullptr, nullptr, metrics, nullptr);
  return mbs.empty() ? 0.0 : loss / static_cast<double>(mbs.size());
}

LossStats evaluate_batches(Llama& m, const TokenFile& tf, const std::vector<MicroBatch>& mbs, int pad_id) {
  LossStats total;
  for (const MicroBatch& mb : mbs) {
    Batch b = assemble(tf, mb, pad_id);
    llama_forward(m, b, nullptr);
    LossStats s = llama_loss(m, b);
    total.loss_sum += s.loss_sum;
    total.n_correct += s.n_correct;
    total.n_scored += s.n_scored;
  }
  return total;
}

// ---- checkpoints -------------------------------------------------------------------------------------------------
constexpr char kCkptMagic[8] = {'T', 'K', 'C', 'K', 'P', 'T', '0', '1'};
constexpr uint32_t kCkptVersion = 1;

uint64_t fnv1a(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ull) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

// Everything that shapes the trajectory: resuming with other options or data would not reproduce the run.
uint64_t run_fingerprint(const TrainOptions& o, const TokenFile& tf) {
  uint64_t h_extra = 0;
  std::string s = std::to_string(o.full) + "|" + std::to_string(o.lora.r) + "|" + std::to_string(o.lora.alpha) + "|" +
                  std::to_string(o.lora.dropout) + "|" + std::to_string(o.lora.use_rslora) + "|";
  for (Proj p : o.lora.targets) s += proj_name(p);
  s += "|" + std::to_string(o.batch_size) + "|" + std::to_string(o.grad_accum_steps) + "|" + std::to_string(o.n_epochs) +
       "|" + std::to_string(o.max_seq_len) + "|" + std::to_string(o.packing) + "|" + std::to_string(o.learning_rate) +
       "|" + o.lr_scheduler + "|" + std::to_string(o.warmup_ratio) + "|" + std::to_string(o.weight_decay) + "|" +
       std::to_string(o.max_grad_norm) + "|" + std::to_string(o.adam_beta1) + "|" + std::to_string(o.adam_beta2) +
       "|" + std::to_string(o.adam_eps) + "|" + std::to_string(o.seed) + "|" + o.init_adapter_dir;
  const ObjectiveOptions& ob = o.objective;
  if (ob.method != "sft") {  // (an sft run keeps the fingerprint it had before objectives existed)
    std::vector<std::string> parts = {ob.method,
                                      std::to_string(ob.beta),
                                      std::to_string(ob.label_smoothing),
                                      std::to_string(ob.simpo_gamma),
                                      std::to_string(ob.cpo_alpha),
                                      std::to_string(ob.reference_free),
                                      std::to_string(ob.desirable_weight),
                                      std::to_string(ob.undesirable_weight)};
    parts.insert(parts.end(), ob.loss_types.begin(), ob.loss_types.end());
    for (double w : ob.loss_weights) parts.push_back(std::to_string(w));
    for (const std::string& part : parts) s.append(1, '|').append(part);
    for (uint8_t d : ob.desirable) s.push_back(d ? '1' : '0');
    if (ob.method == "grpo") {
      s += "|" + std::to_string(ob.num_generations) + "|" + ob.grpo_loss_type + "|" + std::to_string(ob.epsilon) + "|" +
           std::to_string(ob.max_completion_length) + "|" + ob.scale_rewards;
      h_extra = fnv1a(ob.rewards.data(), ob.rewards.size() * sizeof(double));
    }
  }
  uint64_t h = fnv1a(s.data(), s.size()) ^ h_extra;
  h = fnv1a(tf.offsets.data(), tf.offsets.size() * 8, h);
  h = fnv1a(tf.ids.data(), tf.ids.size() * 4, h);
  return fnv1a(tf.labels.data(), tf.labels.size() * 4, h);
}

struct TrainState {
  uint64_t step = 0;  // optimizer steps done
  uint64_t total_steps = 0;
  uint64_t fingerprint = 0;
  int64_t tokens_seen = 0;
  double elapsed_s = 0;
  uint64_t epoch = 0, micro_cursor = 0;  // data cursor: epoch of the next step, micro-batches consumed in total
  uint64_t seed = 0;                     // the RNG state: every stream is a function of (seed, counter)
};

// TrainState's fields in their order in state.bin, each 8 bytes: the one list the writer and the reader share.
template <class State>
auto state_fields(State& st) {
  using Ptr = std::conditional_t<std::is_const_v<State>, const void*, void*>;
  static_assert(sizeof(TrainState) == 8 * 8, "every TrainState field is stored as 8 bytes");
  return std::array<Ptr, 8>{&st.step,      &st.total_steps, &st.fingerprint,  &st.tokens_seen,
                            &st.elapsed_s, &st.epoch,       &st.micro_cursor, &st.seed};
}

std::string state_bytes(const TrainState& st, bool full, const float* params, const float* m, const float* v,
                        uint64_t n) {
  std::string out(kCkptMagic, 8);
  auto put = [&](const void* p, size_t k) { out.append(static_cast<const char*>(p), k); };
  const uint32_t version = kCkptVersion, kind = full ? 1 : 0;
  put(&version, 4);
  put(&kind, 4);
  for (const void* field : state_fields(st)) put(field, 8);
  put(&n, 8);
  put(params, n * 4);
  put(m, n * 4);
  put(v, n * 4);
  const uint64_t check = fnv1a(out.data(), out.size());
  put(&check, 8);
  return out;
}

void read_state(const std::string& path, bool full, TrainState& st, float* params, float* m, float* v, uint64_t n) {
  const std::string buf = read_file(path);
  const size_t header = 8 + 4 + 4 + 8 * 9;
  if (buf.size() < header + 8 || std::memcmp(buf.data(), kCkptMagic, 8) != 0)
    throw Error(path + ": not a tunekit checkpoint (bad magic)");
  uint32_t version, kind;
  std::memcpy(&version, buf.data() + 8, 4);
  std::memcpy(&kind, buf.data() + 12, 4);
  if (version != kCkptVersion) throw Error(path + ": unsupported checkpoint version " + std::to_string(version));
  if (kind != (full ? 1u : 0u))
    throw Error(path + ": checkpoint is for " + (kind ? "full fine-tuning" : "LoRA") + ", this run is " +
                (full ? "full fine-tuning" : "LoRA"));
  size_t at = 16;
  auto get = [&](void* p, size_t k) {
    std::memcpy(p, buf.data() + at, k);
    at += k;
  };
  uint64_t stored_n;
  for (void* field : state_fields(st)) get(field, 8);
  get(&stored_n, 8);
  if (stored_n != n || buf.size() != header + 12 * n + 8)
    throw Error(path + ": holds " + std::to_string(stored_n) + " trainable parameters, this run has " +
                std::to_string(n) + " (or the file is truncated)");
  uint64_t check;
  std::memcpy(&check, buf.data() + buf.size() - 8, 8);
  if (check != fnv1a(buf.data(), buf.size() - 8)) throw Error(path + ": checksum mismatch (corrupt checkpoint)");
  get(params, n * 4);
  get(m, n * 4);
  get(v, n * 4);
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

TrainResult train(const TrainOptions& o, const std::function<void(const Progress&)>& on_progress,
                  const std::atomic<bool>* cancel) {
  const auto t0 = std::chrono::steady_clock::now();
  if (o.batch_size <= 0) throw Error("batch_size must be positive");
  if (o.grad_accum_steps <= 0) throw Error("grad_accum_steps must be positive");
  if (o.n_epochs <= 0) throw Error("n_epochs must be positive");
  if (o.max_seq_len <= 1) throw Error("max_seq_len must be at least 2");
  if (!(o.learning_rate >= 0)) throw Error("learning_rate must be >= 0");
  if (o.output_dir.empty()) throw Error("output_dir is required");
  if (o.resume && o.checkpoint_dir.empty()) throw Error("resume requires checkpoint_dir");
  lr_lambda(o.lr_scheduler, 0, 0, 1);  // validates the name
  validate_objective(o.objective);
  const bool pref = o.objective.method != "sft";
  if (pref && o.packing) throw Error("packing is not supported with the '" + o.objective.method + "' objective");
  set_num_threads(o.threads);

  ModelWeights w;
  load_model(w, o.model_dir);
  const LlamaConfig& c = w.config;
  const int pad_id = c.pad_token_id >= 0 ? c.pad_token_id : 0;
  const TokenFile tf = read_token_file(o.train_tokens, c.vocab_size);
  TokenFile vf;
  const bool has_valid = !o.valid_tokens.empty();
  if (has_valid) vf = read_token_file(o.valid_tokens, c.vocab_size);

  std::unique_ptr<SequenceObjective> po;
  size_t train_units = 0, valid_units = 0;
  if (pref) {
    const ObjectiveOptions& ob = o.objective;
    if (ob.method == "grpo") po = std::make_unique<GrpoObjective>(ob, o.max_seq_len, pad_id);
    else po = std::make_unique<PreferenceObjective>(ob, o.max_seq_len, pad_id, o.batch_size);
    try {
      train_units = po->units(tf);
      if (has_valid) valid_units = po->units(vf);
    } catch (const Error& e) {
      throw Error(o.train_tokens + ": " + e.what());
    }
  }
  if (!o.continue_state.empty() && o.resume) throw Error("continue_state and resume exclude each other");
  const std::vector<Step> plan = make_plan(tf, o, train_units);
  if (plan.empty()) throw Error(o.train_tokens + ": no non-empty training examples");
  // Continuing (continue_state): this run's steps come after `base` steps done by earlier runs; plan[k - base].
  int64_t base = 0;
  int64_t total_steps = static_cast<int64_t>(plan.size());
  // the schedule's length: schedule_steps when given (a step-wise run), else the run's own steps
  auto schedule_of = [&o](int64_t total) { return std::max<int64_t>(o.schedule_steps, total); };
  int64_t schedule_total = schedule_of(total_steps);
  int64_t warmup = warmup_steps(o.warmup_ratio, schedule_total);
  std::vector<int> steps_in_epoch(o.n_epochs, 0), first_step_of_epoch(o.n_epochs, 0);
  for (const Step& s : plan) steps_in_epoch[s.epoch]++;
  for (int e = 1; e < o.n_epochs; ++e) first_step_of_epoch[e] = first_step_of_epoch[e - 1] + steps_in_epoch[e - 1];
  std::vector<MicroBatch> valid_mbs =
      has_valid ? eval_batches(vf, o.max_seq_len, o.batch_size, valid_units) : std::vector<MicroBatch>{};

  // trainable parameters, gradients, AdamW moments: four parallel flat buffers
  LoraWeights lora;
  ModelWeights gfull;
  Grads grads;
  std::vector<float> glora;
  float* params;
  float* gbuf;
  uint64_t n_params;
  std::vector<uint8_t> decay_mask;
  if (o.full) {
    allocate_weights(gfull, c);
    grads.full = &gfull;
    params = w.data.data();
    gbuf = gfull.data.data();
    n_params = w.data.size();
    decay_mask.assign(n_params, 1);
    for (const TensorSpec& s : param_tensors(c))  // HF Trainer: no decay on biases and norm weights (1-D tensors)
      if (s.shape.size() == 1) std::fill(decay_mask.begin() + s.offset, decay_mask.begin() + s.offset + s.shape[0], 0);
  } else {
    if (o.init_adapter_dir.empty()) {
      allocate_lora(lora, c, o.lora);
      init_lora_peft(lora, o.seed);
    } else {
      lora = load_peft_adapter(o.init_adapter_dir, c);
    }
    glora.assign(lora.size(), 0.0f);
    grads.lora = lora_views(lora, glora.data());
    params = lora.data.data();
    gbuf = glora.data();
    n_params = lora.size();
  }
  std::vector<float> adam_m(n_params, 0.0f), adam_v(n_params, 0.0f);
  AdamWConfig acfg;
  acfg.lr = o.learning_rate;
  acfg.beta1 = o.adam_beta1;
  acfg.beta2 = o.adam_beta2;
  acfg.eps = o.adam_eps;
  acfg.weight_decay = o.weight_decay;

  TrainState st;
  st.total_steps = total_steps;
  st.fingerprint = run_fingerprint(o, tf);
  st.seed = o.seed;
  int max_T = 1;
  if (pref) {
    max_T = std::max(po->max_row_len(tf), has_valid ? po->max_row_len(vf) : 1);
  } else {
    max_T = std::max(max_row_len(valid_mbs), 1);
    for (const Step& s : plan) max_T = std::max(max_T, max_row_len(s.micro));
  }
  const int rows_per_batch = o.batch_size * (pref ? po->rows_per_unit() : 1);
  Llama model;
  llama_init(model, w, o.full ? nullptr : &lora, rows_per_batch * max_T, max_T, /*pack_frozen=*/!o.full);
  if (pref) {
    // Reference log-probs, once per run, from the model as it starts, before a resume loads the trained state (TRL
    // 1.13: a fresh adapter's reference is the base with the adapter off, a pretrained adapter's a frozen copy of
    // it, full fine-tuning's the initial weights): a fresh adapter (B = 0) adds nothing, so it is off for this pass.
    if (!o.full && o.init_adapter_dir.empty()) model.lora = nullptr;
    po->compute_reference(model, tf, 0);
    if (has_valid) po->compute_reference(model, vf, 1);
    model.lora = o.full ? nullptr : &lora;
  }

  int resumed_from = -1;
  if (o.resume) {
    std::vector<std::string> names = o.resume_from;
    if (names.empty()) {
      const std::string latest_path = path_join(o.checkpoint_dir, "latest");
      if (!file_exists(latest_path)) throw Error(latest_path + ": no checkpoint to resume from");
      names.push_back(trim(read_file(latest_path)));
    }
    resumed_from = 0;  // unless a candidate reads back whole: start over (the run is a function of its options)
    for (const std::string& name : names) {
      const std::string dir = path_join(o.checkpoint_dir, name);
      TrainState saved;
      try {
        // read_state checks magic, size and checksum before it touches params / m / v
        read_state(path_join(dir, "state.bin"), o.full, saved, params, adam_m.data(), adam_v.data(), n_params);
      } catch (const Error&) {
        if (o.resume_from.empty()) throw;  // `latest` names one checkpoint: it must be whole
        continue;
      }
      if (saved.fingerprint != st.fingerprint)
        throw Error(dir + ": checkpoint was made with other training options or data; cannot resume this run");
      st = saved;
      resumed_from = static_cast<int>(st.step);
      break;
    }
  }

  if (!o.continue_state.empty()) {
    TrainState saved;
    read_state(o.continue_state, o.full, saved, params, adam_m.data(), adam_v.data(), n_params);
    base = static_cast<int64_t>(saved.step);
    st.step = saved.step;
    st.tokens_seen = saved.tokens_seen;
    st.elapsed_s = saved.elapsed_s;
    st.micro_cursor = saved.micro_cursor;
    total_steps = base + static_cast<int64_t>(plan.size());
    st.total_steps = total_steps;
    schedule_total = schedule_of(total_steps);
    warmup = warmup_steps(o.warmup_ratio, schedule_total);
  }

  TrainResult result;
  result.total_steps = static_cast<int>(total_steps);
  int64_t last_ckpt_step = o.resume ? static_cast<int64_t>(st.step) : -1;

  auto write_checkpoint = [&](int step, double loss, double acc, const Progress* p) -> std::string {
    const std::string name = "step-" + std::to_string(step);
    const std::string dir = path_join(o.checkpoint_dir, name);
    const std::string weights_dir = path_join(dir, o.full ? "model" : "adapter");
    make_dirs(dir);
    last_ckpt_step = step;
    if (o.full) save_model(w, weights_dir, o.model_dir);
    else save_peft_adapter(lora, weights_dir, o.model_dir);
    write_file_atomic(path_join(dir, "state.bin"), state_bytes(st, o.full, params, adam_m.data(), adam_v.data(), n_params));
    write_file_atomic(path_join(o.checkpoint_dir, "latest"), name + "\n");  // last: the pointer flips atomically
    CheckpointInfo ci;
    ci.step = step;
    ci.path = dir;
    ci.adapter_dir = weights_dir;
    ci.train_loss = loss;
    ci.train_mean_token_accuracy = acc;
    if (p && p->has_valid) {
      ci.has_valid = true;
      ci.valid_loss = p->valid_loss;
      ci.valid_mean_token_accuracy = p->valid_mean_token_accuracy;
    }
    result.checkpoints.push_back(ci);
    return dir;
  };

  double last_loss = 0, last_acc = 0;
  size_t valid_cursor = 0;
  const double elapsed_before = st.elapsed_s;
  for (int64_t k = static_cast<int64_t>(st.step); k < total_steps; ++k) {
    if (cancel && cancel->load()) {
      result.cancelled = true;
      if (!o.checkpoint_dir.empty() && last_ckpt_step != static_cast<int64_t>(st.step))
        write_checkpoint(static_cast<int>(st.step), last_loss, last_acc, nullptr);
      break;
    }
    const Step& step = plan[k - base];
    int64_t n_scored = 0;
    std::fill(gbuf, gbuf + n_params, 0.0f);
    LossStats ls;
    MetricMeans step_metrics;
    double pref_loss = 0;
    if (pref) {
      // each micro-batch's loss is a mean over its units; the step's is the mean over its micro-batches (HF
      // Trainer divides each by the accumulation steps)
      const float scale = 1.0f / static_cast<float>(step.micro.size());
      std::vector<uint32_t> step_units;
      for (const MicroBatch& mb : step.micro)
        for (uint32_t u : units_of(mb)) step_units.push_back(u);
      po->begin_step(tf, 0, step_units);
      for (const MicroBatch& mb : step.micro) {
        DropoutCtx drop{o.seed, st.micro_cursor++};
        pref_loss += scale * po->micro_step(model, tf, 0, units_of(mb), scale, &grads, &drop, step_metrics, &n_scored);
      }
    } else {
      std::vector<Batch> batches;
      for (const MicroBatch& mb : step.micro) {
        batches.push_back(assemble(tf, mb, pad_id));
        n_scored += batches.back().n_scored();
      }
      const float grad_scale = n_scored > 0 ? 1.0f / static_cast<float>(n_scored) : 0.0f;
      for (const Batch& b : batches) {
        DropoutCtx drop{o.seed, st.micro_cursor++};
        llama_forward(model, b, &drop);
        LossStats s = llama_backward(model, b, grad_scale, grads, &drop);
        ls.loss_sum += s.loss_sum;
        ls.n_correct += s.n_correct;
        ls.n_scored += s.n_scored;
      }
    }
    const double lr = o.learning_rate * lr_lambda(o.lr_scheduler, k, warmup, schedule_total);
    double gnorm = 0;
    if (n_scored > 0) {  // a step without scored tokens has no gradient: no update (the schedule still advances)
      gnorm = clip_grad_norm(gbuf, n_params, o.max_grad_norm);
      adamw_update(params, gbuf, adam_m.data(), adam_v.data(), o.full ? decay_mask.data() : nullptr, n_params, k + 1,
                   lr, acfg);
    }
    st.step = k + 1;
    st.tokens_seen += n_scored;
    st.epoch = k + 1 < total_steps ? plan[k + 1 - base].epoch : o.n_epochs;
    last_loss = n_scored > 0 ? ls.loss_sum / n_scored : 0.0;
    last_acc = n_scored > 0 ? static_cast<double>(ls.n_correct) / n_scored : 0.0;
    std::vector<std::pair<std::string, double>> metrics;
    if (pref) {
      last_loss = pref_loss;
      last_acc = 0;
      for (const auto& [name, v] : step_metrics.means())
        if (name == "mean_token_accuracy") last_acc = v;
        else if (name != "loss") metrics.push_back({name, v});
    }

    Progress p;
    p.step = static_cast<int>(k + 1);
    p.total_steps = static_cast<int>(total_steps);
    const int64_t done_in_epoch = k + 1 - base - first_step_of_epoch[step.epoch];
    p.epoch = step.epoch + static_cast<double>(done_in_epoch) / steps_in_epoch[step.epoch];
    p.train_loss = last_loss;
    p.train_mean_token_accuracy = last_acc;
    p.learning_rate = lr;
    p.grad_norm = gnorm;
    p.tokens_seen = st.tokens_seen;
    p.resumed_from_step = resumed_from;
    resumed_from = -1;
    const bool last = k + 1 == total_steps;
    if (pref && has_valid && !valid_mbs.empty()) {
      // the same schedule as sft's validation below, with the objective's loss and metrics
      auto add_valid = [&](const std::vector<MicroBatch>& mbs, const std::string& prefix, double& loss, double& acc) {
        MetricMeans vm;
        loss = evaluate_preference(*po, model, vf, mbs, vm);
        acc = 0;
        for (const auto& [name, v] : vm.means(prefix))
          if (name == prefix + "mean_token_accuracy") acc = v;
          else if (name != prefix + "loss") metrics.push_back({name, v});
      };
      if (o.eval_every_steps > 0 && (k + 1) % o.eval_every_steps == 0 && !last) {
        p.has_valid = true;
        add_valid({valid_mbs[valid_cursor++ % valid_mbs.size()]}, "valid_", p.valid_loss, p.valid_mean_token_accuracy);
      }
      if (last) {
        p.has_valid = p.is_full_valid = true;
        add_valid(valid_mbs, "full_valid_", p.full_valid_loss, p.full_valid_mean_token_accuracy);
        p.valid_loss = p.full_valid_loss;
        p.valid_mean_token_accuracy = p.full_valid_mean_token_accuracy;
      }
    } else if (has_valid && !valid_mbs.empty()) {
      if (o.eval_every_steps > 0 && (k + 1) % o.eval_every_steps == 0 && !last) {
        // periodic validation: the next validation micro-batch in turn (like OpenAI's per-step valid_loss)
        LossStats vs = evaluate_batches(model, vf, {valid_mbs[valid_cursor++ % valid_mbs.size()]}, pad_id);
        p.has_valid = true;
        p.valid_loss = vs.n_scored ? vs.loss_sum / vs.n_scored : 0.0;
        p.valid_mean_token_accuracy = vs.n_scored ? static_cast<double>(vs.n_correct) / vs.n_scored : 0.0;
      }
      if (last) {
        LossStats vs = evaluate_batches(model, vf, valid_mbs, pad_id);
        p.has_valid = p.is_full_valid = true;
        p.valid_loss = p.full_valid_loss = vs.n_scored ? vs.loss_sum / vs.n_scored : 0.0;
        p.valid_mean_token_accuracy = p.full_valid_mean_token_accuracy =
            vs.n_scored ? static_cast<double>(vs.n_correct) / vs.n_scored : 0.0;
      }
    }
    p.metrics = std::move(metrics);
    st.elapsed_s = elapsed_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    p.elapsed_s = st.elapsed_s;
    const bool epoch_end = !last && plan[k + 1 - base].epoch != step.epoch;
    if (!o.checkpoint_dir.empty() && !last &&
        ((o.checkpoint_every_steps > 0 && (k + 1) % o.checkpoint_every_steps == 0) ||
         (o.checkpoint_each_epoch && epoch_end)))
      p.checkpoint_path = write_checkpoint(static_cast<int>(k + 1), last_loss, last_acc, &p);
    if (on_progress) on_progress(p);
  }
  result.steps = static_cast<int>(st.step);
  result.trained_tokens = st.tokens_seen;
  result.final_train_loss = last_loss;
  if (!result.cancelled) {
    if (o.full) save_model(w, o.output_dir, o.model_dir);
    else save_peft_adapter(lora, o.output_dir, o.model_dir);
    result.output_dir = o.output_dir;
    if (!o.save_state.empty())
      write_file_atomic(o.save_state, state_bytes(st, o.full, params, adam_m.data(), adam_v.data(), n_params));
  }
  return result;
}

EvalResult evaluate(const std::string& model_dir, const std::string& adapter_dir, const std::string& tokens_path,
                    int max_seq_len, int threads) {
  if (max_seq_len <= 1) throw Error("max_seq_len must be at least 2");
  set_num_threads(threads);
  ModelWeights w;
  load_model(w, model_dir);
  LoraWeights lora;
  if (!adapter_dir.empty()) lora = load_peft_adapter(adapter_dir, w.config);
  const TokenFile tf = read_token_file(tokens_path, w.config.vocab_size);
  const int batch_size = 8;
  std::vector<MicroBatch> mbs = eval_batches(tf, max_seq_len, batch_size);
  const int max_T = max_row_len(mbs);
  Llama m;
  llama_init(m, w, adapter_dir.empty() ? nullptr : &lora, batch_size * max_T, max_T);
  LossStats s = evaluate_batches(m, tf, mbs, w.config.pad_token_id >= 0 ? w.config.pad_token_id : 0);
  EvalResult r;
  r.n_tokens = s.n_scored;
  r.loss = s.n_scored ? s.loss_sum / s.n_scored : 0.0;
  r.mean_token_accuracy = s.n_scored ? static_cast<double>(s.n_correct) / s.n_scored : 0.0;
  return r;
}

std::vector<float> logits(const std::string& model_dir, const std::string& adapter_dir,
                          const std::vector<int32_t>& ids, int threads) {
  if (ids.empty()) throw Error("logits: no input ids");
  set_num_threads(threads);
  ModelWeights w;
  load_model(w, model_dir);
  LoraWeights lora;
  if (!adapter_dir.empty()) lora = load_peft_adapter(adapter_dir, w.config);
  const int T = static_cast<int>(ids.size());
  Llama m;
  llama_init(m, w, adapter_dir.empty() ? nullptr : &lora, T, T);
  Batch b = make_batch({ids}, {ids});
  llama_forward(m, b, nullptr);
  std::vector<float> out((size_t)T * w.config.vocab_size);
  llama_logits(out.data(), m, b);
  return out;
}

}  // namespace tk
