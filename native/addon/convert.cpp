// convert.cpp - JS <-> engine struct conversions (see convert.h).
#include "convert.h"

#include <algorithm>
#include <cmath>

#include "error.h"

namespace tkaddon {

OptionReader::OptionReader(const Napi::Value& v, std::string what) : env_(v.Env()), what_(std::move(what)) {
  if (!v.IsObject() || v.IsArray() || v.IsFunction()) throw Napi::TypeError::New(env_, what_ + " must be an object");
  obj_ = v.As<Napi::Object>();
}

Napi::Value OptionReader::get(const char* key) {
  known_.emplace_back(key);
  return obj_.Get(key);
}

void OptionReader::fail(const std::string& key, const std::string& want) {
  throw Napi::TypeError::New(env_, what_ + "." + key + " must be " + want);
}

Napi::Value OptionReader::raw(const char* key) { return get(key); }

std::string OptionReader::string(const char* key, bool required, const std::string& fallback) {
  Napi::Value v = get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) throw Napi::TypeError::New(env_, what_ + "." + key + " is required");
    return fallback;
  }
  if (!v.IsString()) fail(key, "a string");
  return v.As<Napi::String>().Utf8Value();
}

bool OptionReader::boolean(const char* key, bool fallback) {
  Napi::Value v = get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) fail(key, "a boolean");
  return v.As<Napi::Boolean>().Value();
}

double OptionReader::number(const char* key, double fallback) {
  Napi::Value v = get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue())) fail(key, "a finite number");
  return v.As<Napi::Number>().DoubleValue();
}

int OptionReader::integer(const char* key, int fallback, int min_value) {
  Napi::Value v = get(key);
  if (v.IsUndefined()) return fallback;
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(std::floor(d) == d) || d < min_value || d > 2147483647.0) {
    fail(key, "an integer >= " + std::to_string(min_value));
  }
  return int(d);
}

uint64_t OptionReader::uint64(const char* key, uint64_t fallback) {
  Napi::Value v = get(key);
  if (v.IsUndefined()) return fallback;
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) fail(key, "a BigInt in [0, 2^64)");
    return x;
  }
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(std::floor(d) == d) || d < 0 || d > 9007199254740991.0) fail(key, "a non-negative safe integer or a BigInt");
  return uint64_t(d);
}

std::vector<std::string> OptionReader::strings(const char* key) {
  Napi::Value v = get(key);
  std::vector<std::string> out;
  if (v.IsUndefined()) return out;
  if (!v.IsArray()) fail(key, "an array of strings");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsString()) fail(key, "an array of strings");
    out.push_back(e.As<Napi::String>().Utf8Value());
  }
  return out;
}

std::vector<int32_t> OptionReader::int32s(const char* key) {
  Napi::Value v = get(key);
  std::vector<int32_t> out;
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    Napi::Int32Array a = v.As<Napi::Int32Array>();
    out.assign(a.Data(), a.Data() + a.ElementLength());
    return out;
  }
  if (!v.IsArray()) fail(key, "an Int32Array or an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    const double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : NAN;
    if (!(std::floor(d) == d) || d < -2147483648.0 || d > 2147483647.0) fail(key, "an Int32Array or an array of integers");
    out.push_back(int32_t(d));
  }
  return out;
}

std::vector<double> OptionReader::numbers(const char* key) {
  Napi::Value v = get(key);
  std::vector<double> out;
  if (v.IsUndefined()) return out;
  if (!v.IsArray()) fail(key, "an array of finite numbers");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber() || !std::isfinite(e.As<Napi::Number>().DoubleValue())) fail(key, "an array of finite numbers");
    out.push_back(e.As<Napi::Number>().DoubleValue());
  }
  return out;
}

void OptionReader::finish() {
  Napi::Array keys = obj_.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); i++) {
    const std::string k = keys.Get(i).ToString().Utf8Value();
    if (std::find(known_.begin(), known_.end(), k) == known_.end()) {
      std::string list;
      for (const std::string& s : known_) list += (list.empty() ? "" : ", ") + s;
      throw Napi::TypeError::New(env_, what_ + " has an unknown key '" + k + "' (known: " + list + ")");
    }
  }
}

tk::TrainOptions train_options_from_js(const Napi::Value& value) {
  OptionReader r(value, "options");
  tk::TrainOptions o;
  o.model_dir = r.string("modelDir", true);
  o.output_dir = r.string("outputDir", true);
  o.checkpoint_dir = r.string("checkpointDir", false);
  o.train_tokens = r.string("trainTokens", true);
  o.valid_tokens = r.string("validTokens", false);
  o.full = r.boolean("full", o.full);
  o.init_adapter_dir = r.string("initAdapterDir", false);
  Napi::Value lora = r.raw("lora");
  if (!lora.IsUndefined()) {
    OptionReader l(lora, "options.lora");
    o.lora.r = l.integer("r", o.lora.r, 1);
    o.lora.alpha = l.number("alpha", o.lora.alpha);
    o.lora.dropout = l.number("dropout", o.lora.dropout);
    o.lora.use_rslora = l.boolean("useRslora", o.lora.use_rslora);
    std::vector<std::string> targets = l.strings("targets");
    l.finish();
    if (!targets.empty()) {
      try {
        o.lora.targets = tk::parse_lora_targets(targets);
      } catch (const tk::Error& e) {
        throw Napi::TypeError::New(value.Env(), std::string("options.lora.targets: ") + e.what());
      }
    }
  }
  o.batch_size = r.integer("batchSize", o.batch_size, 1);
  o.grad_accum_steps = r.integer("gradAccumSteps", o.grad_accum_steps, 1);
  o.n_epochs = r.integer("nEpochs", o.n_epochs, 1);
  o.max_seq_len = r.integer("maxSeqLen", o.max_seq_len, 1);
  o.packing = r.boolean("packing", o.packing);
  o.learning_rate = r.number("learningRate", o.learning_rate);
  o.lr_scheduler = r.string("lrScheduler", false, o.lr_scheduler);
  o.warmup_ratio = r.number("warmupRatio", o.warmup_ratio);
  o.weight_decay = r.number("weightDecay", o.weight_decay);
  o.max_grad_norm = r.number("maxGradNorm", o.max_grad_norm);
  o.adam_beta1 = r.number("adamBeta1", o.adam_beta1);
  o.adam_beta2 = r.number("adamBeta2", o.adam_beta2);
  o.adam_eps = r.number("adamEps", o.adam_eps);
  o.seed = r.uint64("seed", o.seed);
  o.threads = r.integer("threads", o.threads, 0);
  o.checkpoint_every_steps = r.integer("checkpointEverySteps", o.checkpoint_every_steps, 0);
  o.checkpoint_each_epoch = r.boolean("checkpointEachEpoch", o.checkpoint_each_epoch);
  o.eval_every_steps = r.integer("evalEverySteps", o.eval_every_steps, 0);
  o.resume = r.boolean("resume", o.resume);
  o.resume_from = r.strings("resumeFrom");
  o.continue_state = r.string("continueState", false);
  o.save_state = r.string("saveState", false);
  o.schedule_steps = r.integer("scheduleSteps", o.schedule_steps, 0);
  Napi::Value objective = r.raw("objective");
  if (!objective.IsUndefined()) {
    OptionReader j(objective, "options.objective");
    tk::ObjectiveOptions& ob = o.objective;
    ob.method = j.string("method", false, ob.method);
    std::vector<std::string> types = j.strings("lossTypes");
    if (!types.empty()) ob.loss_types = types;
    ob.loss_weights = j.numbers("lossWeights");
    ob.beta = j.number("beta", ob.beta);
    ob.label_smoothing = j.number("labelSmoothing", ob.label_smoothing);
    ob.simpo_gamma = j.number("simpoGamma", ob.simpo_gamma);
    ob.cpo_alpha = j.number("cpoAlpha", ob.cpo_alpha);
    ob.reference_free = j.boolean("referenceFree", ob.reference_free);
    ob.desirable_weight = j.number("desirableWeight", ob.desirable_weight);
    ob.undesirable_weight = j.number("undesirableWeight", ob.undesirable_weight);
    ob.num_generations = j.integer("numGenerations", ob.num_generations, 2);
    ob.grpo_loss_type = j.string("grpoLossType", false, ob.grpo_loss_type);
    ob.epsilon = j.number("epsilon", ob.epsilon);
    ob.max_completion_length = j.integer("maxCompletionLength", ob.max_completion_length, 1);
    ob.scale_rewards = j.string("scaleRewards", false, ob.scale_rewards);
    ob.temperature = j.number("temperature", ob.temperature);
    ob.rewards = j.numbers("rewards");
    for (const char* key : {"desirable", "validDesirable"}) {
      if (j.raw(key).IsUndefined()) continue;
      std::vector<uint8_t>& dst = key[0] == 'd' ? ob.desirable : ob.valid_desirable;
      for (int32_t f : j.int32s(key)) dst.push_back(f != 0);
    }
    j.finish();
    try {
      tk::validate_objective(ob);
    } catch (const tk::Error& e) {
      throw Napi::TypeError::New(value.Env(), std::string("options.") + e.what());
    }
  }
  r.finish();
  return o;
}

Napi::Object progress_to_js(Napi::Env env, const tk::Progress& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("step", p.step);
  o.Set("totalSteps", p.total_steps);
  o.Set("epoch", p.epoch);
  o.Set("trainLoss", p.train_loss);
  o.Set("trainMeanTokenAccuracy", p.train_mean_token_accuracy);
  o.Set("learningRate", p.learning_rate);
  o.Set("gradNorm", p.grad_norm);
  o.Set("tokensSeen", double(p.tokens_seen));
  o.Set("elapsedS", p.elapsed_s);
  o.Set("hasValid", p.has_valid);
  o.Set("validLoss", p.valid_loss);
  o.Set("validMeanTokenAccuracy", p.valid_mean_token_accuracy);
  o.Set("isFullValid", p.is_full_valid);
  o.Set("fullValidLoss", p.full_valid_loss);
  o.Set("fullValidMeanTokenAccuracy", p.full_valid_mean_token_accuracy);
  o.Set("checkpointPath", p.checkpoint_path);
  o.Set("resumedFromStep", p.resumed_from_step);
  Napi::Object metrics = Napi::Object::New(env);
  for (const auto& [name, v] : p.metrics) metrics.Set(name, v);
  o.Set("metrics", metrics);
  return o;
}

Napi::Object train_result_to_js(Napi::Env env, const tk::TrainResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("steps", r.steps);
  o.Set("totalSteps", r.total_steps);
  o.Set("trainedTokens", double(r.trained_tokens));
  o.Set("finalTrainLoss", r.final_train_loss);
  o.Set("cancelled", r.cancelled);
  o.Set("outputDir", r.output_dir);
  Napi::Array cps = Napi::Array::New(env, r.checkpoints.size());
  for (size_t i = 0; i < r.checkpoints.size(); i++) {
    const tk::CheckpointInfo& c = r.checkpoints[i];
    Napi::Object co = Napi::Object::New(env);
    co.Set("step", c.step);
    co.Set("path", c.path);
    co.Set("adapterDir", c.adapter_dir);
    co.Set("trainLoss", c.train_loss);
    co.Set("trainMeanTokenAccuracy", c.train_mean_token_accuracy);
    co.Set("hasValid", c.has_valid);
    co.Set("validLoss", c.valid_loss);
    co.Set("validMeanTokenAccuracy", c.valid_mean_token_accuracy);
    cps.Set(uint32_t(i), co);
  }
  o.Set("checkpoints", cps);
  return o;
}

Napi::Object eval_result_to_js(Napi::Env env, const tk::EvalResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("loss", r.loss);
  o.Set("meanTokenAccuracy", r.mean_token_accuracy);
  o.Set("nTokens", double(r.n_tokens));
  return o;
}

}  // namespace tkaddon
