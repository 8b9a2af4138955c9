// generate.cpp (addon) - the N-API surface of generation (native/engine/generate.h). Like addon.cpp it only converts
// arguments and schedules work: model loading, generation and merging run in AsyncWorkers on libuv's pool; tokens
// come back through a ThreadSafeFunction (NonBlockingCall); cancel and per-choice stop are atomic flags the decode
// loop checks before each step. Engine errors reject with code ERR_TUNEKIT_ENGINE, bad arguments with a TypeError.
//
//   generatorOpen({modelDir, threads?, adapterCacheBytes?}) -> Promise<{handle, config, eosTokenIds}>
//   generatorGenerate(handle, request, onToken?) -> {result: Promise<GenerateResult>, control}
//   generatorCancel(control); generatorStopChoice(control, i)
//   generatorLoadAdapter(handle, dir) -> Promise<bytes>; generatorUnloadAdapter(handle, dir) -> boolean
//   generatorResidentAdapters(handle) -> string[]; generatorClose(handle)
//   generatorForcedLogits(handle, {promptIds, forcedIds, adapterDir?}) -> Promise<{logits, rows, cols}>
//   mergeAdapter({modelDir, adapterDir, outDir}) -> Promise<void>
#include "register_generate.h"

#include <atomic>
#include <functional>
#include <memory>

#include "../engine/generate.h"
#include "convert.h"
#include "model_io.h"
#include "workers.h"

namespace tkaddon {

namespace {

// The JS handle of a Generator; close() drops this reference, running workers keep their own.
struct GeneratorHandle {
  std::shared_ptr<tk::Generator> generator;
};

struct ControlHandle {
  std::shared_ptr<tk::GenerateControl> control;
};

std::shared_ptr<tk::Generator> generator_of(const Napi::Value& v) {
  if (!v.IsExternal()) throw Napi::TypeError::New(v.Env(), "handle must be a generator handle");
  auto* h = v.As<Napi::External<GeneratorHandle>>().Data();
  if (!h || !h->generator) throw Napi::Error::New(v.Env(), "the generator is closed");
  return h->generator;
}

std::shared_ptr<tk::GenerateControl> control_of(const Napi::Value& v) {
  if (!v.IsExternal()) throw Napi::TypeError::New(v.Env(), "control must be a generation control");
  return v.As<Napi::External<ControlHandle>>().Data()->control;
}

std::string string_at(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsString()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

Napi::Object token_to_js(Napi::Env env, const tk::GeneratedToken& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("choice", t.choice);
  o.Set("token", t.token);
  o.Set("logprob", double(t.logprob));
  Napi::Array top = Napi::Array::New(env, t.top.size());
  for (size_t i = 0; i < t.top.size(); ++i) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("token", t.top[i].token);
    e.Set("logprob", double(t.top[i].logprob));
    top.Set(uint32_t(i), e);
  }
  o.Set("top", top);
  return o;
}

Napi::Object result_to_js(Napi::Env env, const tk::GenerateResult& r) {
  Napi::Array choices = Napi::Array::New(env, r.choices.size());
  for (size_t i = 0; i < r.choices.size(); ++i) {
    const tk::GenerateChoice& c = r.choices[i];
    Napi::Array tokens = Napi::Array::New(env, c.tokens.size());
    Napi::Array logprobs = Napi::Array::New(env, c.logprobs.size());
    for (size_t j = 0; j < c.tokens.size(); ++j) {
      tokens.Set(uint32_t(j), c.tokens[j]);
      logprobs.Set(uint32_t(j), double(c.logprobs[j]));
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("tokens", tokens);
    o.Set("logprobs", logprobs);
    o.Set("finishReason", tk::finish_reason_name(c.finish_reason));
    o.Set("stopToken", c.stop_token);
    choices.Set(uint32_t(i), o);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("choices", choices);
  o.Set("promptTokens", r.prompt_tokens);
  o.Set("completionTokens", r.completion_tokens);
  return o;
}

tk::GenerateRequest request_from_js(const Napi::Value& v) {
  OptionReader r(v, "request");
  tk::GenerateRequest q;
  q.prompt = r.int32s("promptIds");
  q.adapter_dir = r.string("adapterDir", false);
  q.n = r.integer("n", 1, 1);
  q.max_tokens = r.integer("maxTokens", 16, 1);
  q.temperature = r.number("temperature", 1.0);
  q.top_p = r.number("topP", 1.0);
  q.top_k = r.integer("topK", 0, 0);
  q.seed = r.uint64("seed", 0);
  if (!r.raw("stopTokenIds").IsUndefined()) q.stop_token_ids = r.int32s("stopTokenIds");
  q.ignore_eos = r.boolean("ignoreEos", false);
  q.top_logprobs = r.integer("topLogprobs", 0, 0);
  r.finish();
  if (q.prompt.empty()) throw Napi::TypeError::New(v.Env(), "request.promptIds must not be empty");
  if (q.n > 128) throw Napi::TypeError::New(v.Env(), "request.n must be at most 128");
  if (q.temperature < 0) throw Napi::TypeError::New(v.Env(), "request.temperature must be >= 0");
  if (!(q.top_p > 0 && q.top_p <= 1)) throw Napi::TypeError::New(v.Env(), "request.topP must be in (0, 1]");
  if (q.top_logprobs > 20) throw Napi::TypeError::New(v.Env(), "request.topLogprobs must be at most 20");
  return q;
}

Napi::Value GeneratorOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    OptionReader r(info[0], "options");
    std::string model_dir = r.string("modelDir", true);
    tk::GeneratorOptions opt;
    opt.threads = r.integer("threads", 0, 0);
    opt.adapter_cache_bytes = r.uint64("adapterCacheBytes", opt.adapter_cache_bytes);
    r.finish();
    auto out = std::make_shared<std::shared_ptr<tk::Generator>>();
    auto* w = new TaskWorker(
        env, "tunekit.generatorOpen", [=] { *out = std::make_shared<tk::Generator>(model_dir, opt); },
        [=](Napi::Env e) -> Napi::Value {
          auto* h = new GeneratorHandle{*out};
          Napi::Object o = Napi::Object::New(e);
          o.Set("handle", Napi::External<GeneratorHandle>::New(e, h, [](Napi::Env, GeneratorHandle* p) { delete p; }));
          o.Set("config", tk::config_to_json((*out)->config()));
          Napi::Array eos = Napi::Array::New(e, (*out)->eos_token_ids().size());
          for (size_t i = 0; i < (*out)->eos_token_ids().size(); ++i) eos.Set(uint32_t(i), (*out)->eos_token_ids()[i]);
          o.Set("eosTokenIds", eos);
          out->reset();
          return o;
        });
    return w->Start();
  } catch (const Napi::Error& e) {
    return rejected(env, e.Value());
  }
}

Napi::Value GeneratorGenerate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  try {
    std::shared_ptr<tk::Generator> g = generator_of(info[0]);
    tk::GenerateRequest req = request_from_js(info[1]);
    if (!info[2].IsUndefined() && !info[2].IsNull() && !info[2].IsFunction())
      throw Napi::TypeError::New(env, "onToken must be a function");
    auto control = std::make_shared<tk::GenerateControl>(req.n);
    o.Set("control", Napi::External<ControlHandle>::New(env, new ControlHandle{control},
                                                        [](Napi::Env, ControlHandle* p) { delete p; }));
    auto* w = new StreamingWorker<tk::GeneratedToken, tk::GenerateResult>(
        env, "tunekit.generate", "tunekit.generate.token",
        [g = std::move(g), req = std::move(req), control](const std::function<void(const tk::GeneratedToken&)>& emit) {
          return g->generate(req, emit, control.get());
        },
        info[2], token_to_js, result_to_js, [control] { control->cancel(); });
    o.Set("result", w->Start());
  } catch (const Napi::Error& e) {
    // bad arguments: a rejected result and a control that does nothing
    o.Set("control", Napi::External<ControlHandle>::New(env, new ControlHandle{std::make_shared<tk::GenerateControl>(0)},
                                                        [](Napi::Env, ControlHandle* p) { delete p; }));
    o.Set("result", rejected(env, e.Value()));
  }
  return o;
}

Napi::Value GeneratorCancel(const Napi::CallbackInfo& info) {
  control_of(info[0])->cancel();
  return info.Env().Undefined();
}

Napi::Value GeneratorStopChoice(const Napi::CallbackInfo& info) {
  auto control = control_of(info[0]);
  if (!info[1].IsNumber()) throw Napi::TypeError::New(info.Env(), "choice must be a number");
  control->stop_choice(info[1].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Value GeneratorLoadAdapter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    std::shared_ptr<tk::Generator> g = generator_of(info[0]);
    std::string dir = string_at(info, 1, "adapterDir");
    auto bytes = std::make_shared<uint64_t>(0);
    auto* w = new TaskWorker(
        env, "tunekit.generatorLoadAdapter", [=] { *bytes = g->load_adapter(dir); },
        [=](Napi::Env e) -> Napi::Value { return Napi::Number::New(e, double(*bytes)); });
    return w->Start();
  } catch (const Napi::Error& e) {
    return rejected(env, e.Value());
  }
}

Napi::Value GeneratorUnloadAdapter(const Napi::CallbackInfo& info) {
  std::shared_ptr<tk::Generator> g = generator_of(info[0]);
  return Napi::Boolean::New(info.Env(), g->unload_adapter(string_at(info, 1, "adapterDir")));
}

Napi::Value GeneratorResidentAdapters(const Napi::CallbackInfo& info) {
  std::shared_ptr<tk::Generator> g = generator_of(info[0]);
  std::vector<std::string> dirs = g->resident_adapters();
  Napi::Array a = Napi::Array::New(info.Env(), dirs.size());
  for (size_t i = 0; i < dirs.size(); ++i) a.Set(uint32_t(i), dirs[i]);
  return a;
}

Napi::Value GeneratorClose(const Napi::CallbackInfo& info) {
  if (!info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "handle must be a generator handle");
  info[0].As<Napi::External<GeneratorHandle>>().Data()->generator.reset();
  return info.Env().Undefined();
}

Napi::Value GeneratorForcedLogits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    std::shared_ptr<tk::Generator> g = generator_of(info[0]);
    OptionReader r(info[1], "options");
    auto prompt = std::make_shared<std::vector<int32_t>>(r.int32s("promptIds"));
    auto forced = std::make_shared<std::vector<int32_t>>(r.int32s("forcedIds"));
    std::string adapter = r.string("adapterDir", false);
    r.finish();
    auto out = std::make_shared<std::vector<float>>();
    auto* w = new TaskWorker(
        env, "tunekit.generatorForcedLogits", [=] { *out = g->forced_logits(*prompt, *forced, adapter); },
        [=](Napi::Env e) -> Napi::Value {
          Napi::Float32Array arr = Napi::Float32Array::New(e, out->size());
          std::copy(out->begin(), out->end(), arr.Data());
          const size_t rows = prompt->size() + forced->size();
          Napi::Object o = Napi::Object::New(e);
          o.Set("logits", arr);
          o.Set("rows", double(rows));
          o.Set("cols", double(out->size() / rows));
          return o;
        });
    return w->Start();
  } catch (const Napi::Error& e) {
    return rejected(env, e.Value());
  }
}

Napi::Value MergeAdapter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    OptionReader r(info[0], "options");
    std::string model_dir = r.string("modelDir", true);
    std::string adapter_dir = r.string("adapterDir", true);
    std::string out_dir = r.string("outDir", true);
    r.finish();
    auto* w = new TaskWorker(
        env, "tunekit.mergeAdapter", [=] { tk::merge_adapter(model_dir, adapter_dir, out_dir); },
        [](Napi::Env e) -> Napi::Value { return e.Undefined(); });
    return w->Start();
  } catch (const Napi::Error& e) {
    return rejected(env, e.Value());
  }
}

}  // namespace

void register_generate(Napi::Env env, Napi::Object exports) {
  exports.Set("generatorOpen", Napi::Function::New<GeneratorOpen>(env, "generatorOpen"));
  exports.Set("generatorGenerate", Napi::Function::New<GeneratorGenerate>(env, "generatorGenerate"));
  exports.Set("generatorCancel", Napi::Function::New<GeneratorCancel>(env, "generatorCancel"));
  exports.Set("generatorStopChoice", Napi::Function::New<GeneratorStopChoice>(env, "generatorStopChoice"));
  exports.Set("generatorLoadAdapter", Napi::Function::New<GeneratorLoadAdapter>(env, "generatorLoadAdapter"));
  exports.Set("generatorUnloadAdapter", Napi::Function::New<GeneratorUnloadAdapter>(env, "generatorUnloadAdapter"));
  exports.Set("generatorResidentAdapters",
              Napi::Function::New<GeneratorResidentAdapters>(env, "generatorResidentAdapters"));
  exports.Set("generatorClose", Napi::Function::New<GeneratorClose>(env, "generatorClose"));
  exports.Set("generatorForcedLogits", Napi::Function::New<GeneratorForcedLogits>(env, "generatorForcedLogits"));
  exports.Set("mergeAdapter", Napi::Function::New<MergeAdapter>(env, "mergeAdapter"));
}

}  // namespace tkaddon
