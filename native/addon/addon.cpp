// addon.cpp - the N-API surface of the engine. It only converts arguments and schedules work: every call runs on
// libuv's thread pool in an AsyncWorker and returns a Promise; training progress comes back through a
// ThreadSafeFunction (NonBlockingCall); cancel is an atomic flag the trainer checks between optimizer steps.
// Engine errors (tk::Error, std::exception) reject the promise with an Error whose code is ERR_TUNEKIT_ENGINE;
// bad arguments reject it with a TypeError. Nothing throws synchronously.
//
//   train(options, onProgress?, cancelToken?) -> Promise<TrainResult>
//   new CancelToken(); token.cancel(); token.cancelled
//   evaluate({modelDir, adapterDir?, tokensPath, maxSeqLen?, threads?}) -> Promise<{loss, meanTokenAccuracy, nTokens}>
//   logits({modelDir, adapterDir?, ids, threads?}) -> Promise<{logits: Float32Array, rows, cols}>
//   loadConfig(modelDir) -> Promise<string>          normalized config.json text (HF keys)
//   inspectSafetensors(path) -> Promise<string>      {"metadata":{...},"tensors":[{name,dtype,shape,dataOffsets}]}
//   initModel({outDir, config, seed?, initStd?, copyTokenizerFrom?}) -> Promise<void>   random-init HF folder
//   engineInfo() -> {cpu, cpuPaths, cpuReport, cblas}: the kernel path in use (see engine/cpu.h)
//   exitWithParent(parentPid) -> boolean   Linux: SIGKILL this process when its parent dies (PR_SET_PDEATHSIG)
#include <napi.h>

#ifdef __linux__
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#endif

#include <atomic>
#include <functional>
#include <memory>

#include "convert.h"
#include "cpu.h"
#include "error.h"
#include "json.h"
#include "model_io.h"
#include "register_generate.h"
#include "safetensors.h"
#include "train.h"
#include "workers.h"

namespace tkaddon {

namespace {

// ---- cancel token ----------------------------------------------------------------------------------------------

class CancelToken : public Napi::ObjectWrap<CancelToken> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CancelToken",
                       {InstanceMethod<&CancelToken::Cancel>("cancel"),
                        InstanceAccessor<&CancelToken::Cancelled>("cancelled")});
  }
  explicit CancelToken(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<CancelToken>(info), flag_(std::make_shared<std::atomic<bool>>(false)) {}
  std::shared_ptr<std::atomic<bool>> flag() const { return flag_; }

 private:
  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    flag_->store(true);
    return info.Env().Undefined();
  }
  Napi::Value Cancelled(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), flag_->load()); }
  std::shared_ptr<std::atomic<bool>> flag_;
};

struct AddonData {
  Napi::FunctionReference cancel_token_ctor;
};

// ---- training ----------------------------------------------------------------------------------------------------

Napi::Value Train(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    tk::TrainOptions opt = train_options_from_js(info[0]);
    if (!info[1].IsUndefined() && !info[1].IsNull() && !info[1].IsFunction()) {
      throw Napi::TypeError::New(env, "onProgress must be a function");
    }
    std::shared_ptr<std::atomic<bool>> cancel;
    if (info[2].IsUndefined() || info[2].IsNull()) {
      cancel = std::make_shared<std::atomic<bool>>(false);
    } else {
      AddonData* data = env.GetInstanceData<AddonData>();
      if (!info[2].IsObject() || !info[2].As<Napi::Object>().InstanceOf(data->cancel_token_ctor.Value())) {
        throw Napi::TypeError::New(env, "cancelToken must be a CancelToken");
      }
      cancel = CancelToken::Unwrap(info[2].As<Napi::Object>())->flag();
    }
    auto* worker = new StreamingWorker<tk::Progress, tk::TrainResult>(
        env, "tunekit.train", "tunekit.train.progress",
        [opt = std::move(opt), cancel](const std::function<void(const tk::Progress&)>& report) {
          return tk::train(opt, report, cancel.get());
        },
        info[1], progress_to_js, train_result_to_js,
        // a throwing progress callback stops the run (the engine leaves a checkpoint)
        [cancel] { cancel->store(true); });
    return worker->Start();
  } catch (const Napi::Error& e) {
    return rejected(env, e.Value());
  }
}

// ---- evaluation, logits, inspection ------------------------------------------------------------------------------

Napi::Value Evaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    OptionReader r(info[0], "options");
    std::string model_dir = r.string("modelDir", true);
    std::string adapter_dir = r.string("adapterDir", false);
    std::string tokens = r.string("tokensPath", true);
    int max_seq_len = r.integer("maxSeqLen", 1024, 1);
    int threads = r.integer("threads", 0, 0);
    r.finish();
    auto result = std::make_shared<tk::EvalResult>();
    auto* w = new TaskWorker(
        env, "tunekit.evaluate",
        [=] { *result = tk::evaluate(model_dir, adapter_dir, tokens, max_seq_len, threads); },
        [=](Napi::Env e) -> Napi::Value { return eval_result_to_js(e, *result); });
    return w->Start();
  } catch (const Napi::Error& e) {
    return rejected(env, e.Value());
  }
}

Napi::Value Logits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    OptionReader r(info[0], "options");
    std::string model_dir = r.string("modelDir", true);
    std::string adapter_dir = r.string("adapterDir", false);
    auto ids = std::make_shared<std::vector<int32_t>>(r.int32s("ids"));
    int threads = r.integer("threads", 0, 0);
    r.finish();
    if (ids->empty()) throw Napi::TypeError::New(env, "options.ids must not be empty");
    auto out = std::make_shared<std::vector<float>>();
    auto* w = new TaskWorker(
        env, "tunekit.logits", [=] { *out = tk::logits(model_dir, adapter_dir, *ids, threads); },
        [=](Napi::Env e) -> Napi::Value {
          Napi::Float32Array arr = Napi::Float32Array::New(e, out->size());
          std::copy(out->begin(), out->end(), arr.Data());
          Napi::Object o = Napi::Object::New(e);
          o.Set("logits", arr);
          o.Set("rows", double(ids->size()));
          o.Set("cols", double(out->size() / ids->size()));
          return o;
        });
    return w->Start();
  } catch (const Napi::Error& e) {
    return rejected(env, e.Value());
  }
}

std::string string_arg(const Napi::CallbackInfo& info, const char* name) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  return info[0].As<Napi::String>().Utf8Value();
}

Napi::Value LoadConfig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    std::string dir = string_arg(info, "modelDir");
    auto text = std::make_shared<std::string>();
    auto* w = new TaskWorker(
        env, "tunekit.loadConfig", [=] { *text = tk::config_to_json(tk::load_config(dir)); },
        [=](Napi::Env e) -> Napi::Value { return Napi::String::New(e, *text); });
    return w->Start();
  } catch (const Napi::Error& e) {
    return rejected(env, e.Value());
  }
}

Napi::Value InspectSafetensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    std::string path = string_arg(info, "path");
    auto text = std::make_shared<std::string>();
    auto* w = new TaskWorker(
        env, "tunekit.inspectSafetensors",
        [=] {
          tk::SafetensorsReader reader(path);
          tk::json::Value meta(tk::json::Object{});
          for (const auto& [k, v] : reader.metadata()) meta.set(k, v);
          tk::json::Array tensors;
          for (const std::string& name : reader.names()) {
            const tk::StTensorInfo& t = reader.info(name);
            tk::json::Array shape;
            for (int64_t d : t.shape) shape.emplace_back(d);
            tk::json::Value o(tk::json::Object{});
            o.set("name", name);
            o.set("dtype", tk::dtype_name(t.dtype));
            o.set("shape", shape);
            o.set("dataOffsets", tk::json::Array{tk::json::Value(t.begin), tk::json::Value(t.end)});
            tensors.push_back(o);
          }
          tk::json::Value root(tk::json::Object{});
          root.set("metadata", meta);
          root.set("tensors", tensors);
          *text = tk::json::dump(root);
        },
        [=](Napi::Env e) -> Napi::Value { return Napi::String::New(e, *text); });
    return w->Start();
  } catch (const Napi::Error& e) {
    return rejected(env, e.Value());
  }
}

Napi::Value InitModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    OptionReader r(info[0], "options");
    std::string out_dir = r.string("outDir", true);
    std::string config = r.string("config", true);
    uint64_t seed = r.uint64("seed", 0);
    double init_std = r.number("initStd", 0.02);
    std::string tokenizer_from = r.string("copyTokenizerFrom", false);
    r.finish();
    auto* w = new TaskWorker(
        env, "tunekit.initModel",
        [=] {
          tk::ModelWeights weights;
          tk::allocate_weights(weights, tk::parse_config_json(config, "initModel config"));
          tk::init_model_weights(weights, seed, float(init_std));
          tk::save_model(weights, out_dir, tokenizer_from);
        },
        [](Napi::Env e) -> Napi::Value { return e.Undefined(); });
    return w->Start();
  } catch (const Napi::Error& e) {
    return rejected(env, e.Value());
  }
}

Napi::Value EngineInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  try {
    o.Set("cpu", tk::kern().name);
  } catch (const std::exception& e) {  // a TUNEKIT_CPU this CPU cannot run
    throw Napi::Error::New(env, e.what());
  }
  const auto paths = tk::available_cpu_paths();
  Napi::Array list = Napi::Array::New(env, paths.size());
  for (size_t i = 0; i < paths.size(); ++i) list.Set(static_cast<uint32_t>(i), paths[i]);
  o.Set("cpuPaths", list);
  o.Set("cpuReport", tk::cpu_report());
#ifdef TUNEKIT_HAVE_CBLAS
  o.Set("cblas", true);
#else
  o.Set("cblas", false);
#endif
  return o;
}

// A child process of the emulator (trainer, inference) must not outlive the server: the kernel kills it in the
// parent's exit path, before anything can see the parent gone, so it writes nothing more. Parent death means the
// death of the thread that forked this process (Node forks from its main thread). If the parent died before the
// call (getppid() no longer `parentPid`), the process kills itself now. Returns false where there is no such
// mechanism (not Linux); the caller then relies on its IPC channel closing.
Napi::Value ExitWithParent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) {
    Napi::TypeError::New(env, "parentPid must be a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
#ifdef __linux__
  const auto parent = static_cast<pid_t>(info[0].As<Napi::Number>().Int64Value());
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return Napi::Boolean::New(env, false);
  if (::getppid() != parent) ::raise(SIGKILL);
  return Napi::Boolean::New(env, true);
#else
  return Napi::Boolean::New(env, false);
#endif
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = CancelToken::Define(env);
  auto* data = new AddonData{Napi::Persistent(ctor)};
  env.SetInstanceData<AddonData>(data);
  exports.Set("CancelToken", ctor);
  exports.Set("train", Napi::Function::New<Train>(env, "train"));
  exports.Set("evaluate", Napi::Function::New<Evaluate>(env, "evaluate"));
  exports.Set("logits", Napi::Function::New<Logits>(env, "logits"));
  exports.Set("loadConfig", Napi::Function::New<LoadConfig>(env, "loadConfig"));
  exports.Set("inspectSafetensors", Napi::Function::New<InspectSafetensors>(env, "inspectSafetensors"));
  exports.Set("initModel", Napi::Function::New<InitModel>(env, "initModel"));
  exports.Set("engineInfo", Napi::Function::New<EngineInfo>(env, "engineInfo"));
  exports.Set("exitWithParent", Napi::Function::New<ExitWithParent>(env, "exitWithParent"));
  register_generate(env, exports);
  return exports;
}

}  // namespace tkaddon

static Napi::Object InitTunekit(Napi::Env env, Napi::Object exports) { return tkaddon::Init(env, exports); }

NODE_API_MODULE(tunekit, InitTunekit)
