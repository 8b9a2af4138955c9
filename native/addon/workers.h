// workers.h - the two ways the addon schedules engine work, shared by addon.cpp and generate.cpp so that every entry
// point settles its Promise by the same rules:
//   TaskWorker        runs a job on libuv's pool and resolves with a value built on the main thread.
//   StreamingWorker   also streams events (training progress, generated tokens) to an optional JS callback through a
//                     ThreadSafeFunction, and settles only after the last event was delivered.
// Engine errors (tk::Error, std::exception) reject with an Error whose code is ERR_TUNEKIT_ENGINE.
#pragma once

#include <napi.h>

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace tkaddon {

constexpr const char* kEngineErrorCode = "ERR_TUNEKIT_ENGINE";

inline Napi::Value engine_error(Napi::Env env, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, kEngineErrorCode));
  return err.Value();
}

// An already rejected promise (bad arguments are reported this way: nothing throws synchronously).
inline Napi::Promise rejected(Napi::Env env, const Napi::Value& error) {
  Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
  d.Reject(error);
  return d.Promise();
}

// Runs `work` off the main thread; `done` builds the resolved value on the main thread.
class TaskWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;

  TaskWorker(Napi::Env env, const char* name, Work work, Done done)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)),
        done_(std::move(done)) {}

  Napi::Promise Start() {
    Napi::Promise p = deferred_.Promise();
    Queue();  // the worker deletes itself after OnOK/OnError
    return p;
  }

 protected:
  void Execute() override {
    try {
      work_();
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("unknown engine error");
    }
  }
  void OnOK() override { deferred_.Resolve(done_(Env())); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(engine_error(Env(), e.Message())); }

 private:
  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
};

// Runs `run(emit)` off the main thread. Each emit(event) is queued (NonBlockingCall) to the JS callback, converted by
// `event_to_js` on the main thread. The promise resolves with result_to_js(result) or rejects with the engine error,
// but only after every queued event was delivered: with a callback it is settled by the ThreadSafeFunction's
// finalizer, which runs after the last queued call. A throwing callback calls `cancel` (the engine stops at its next
// check), no further events are delivered, and the promise rejects with what the callback threw.
// Without a callback, `emit` is an empty std::function (the engine skips reporting).
template <typename Event, typename Result>
class StreamingWorker : public Napi::AsyncWorker {
 public:
  using Emit = std::function<void(const Event&)>;
  using Run = std::function<Result(const Emit&)>;
  using EventToJs = std::function<Napi::Value(Napi::Env, const Event&)>;
  using ResultToJs = std::function<Napi::Value(Napi::Env, const Result&)>;
  using Cancel = std::function<void()>;

  // `callback` is the JS callback, or undefined/null for none (the caller has checked it is one of these);
  // `name` and `callback_name` name the async resources of the worker and of the ThreadSafeFunction.
  StreamingWorker(Napi::Env env, const char* name, const char* callback_name, Run run, Napi::Value callback,
                  EventToJs event_to_js, ResultToJs result_to_js, Cancel cancel)
      : Napi::AsyncWorker(env, name), run_(std::move(run)), result_to_js_(std::move(result_to_js)) {
    completion_ = new Completion{Napi::Promise::Deferred::New(env), {}, false, {}, std::move(event_to_js),
                                 std::move(cancel)};
    if (callback.IsFunction()) {
      tsfn_ = Napi::ThreadSafeFunction::New(
          env, callback.As<Napi::Function>(), callback_name, 0, 1, completion_,
          [](Napi::Env, void*, Completion* c) {
            c->settle();
            delete c;
          },
          static_cast<void*>(nullptr));
      has_tsfn_ = true;
    }
  }

  Napi::Promise Start() {
    Napi::Promise p = completion_->deferred.Promise();
    Queue();  // the worker deletes itself after OnOK/OnError; the completion lives until the promise settles
    return p;
  }

 protected:
  void Execute() override {
    try {
      Emit emit;
      if (has_tsfn_) {
        emit = [this](const Event& e) { tsfn_.NonBlockingCall(new Call{e, completion_}, deliver); };
      }
      result_ = run_(emit);
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("unknown engine error");
    }
  }

  void OnOK() override {
    completion_->value = Napi::Persistent(result_to_js_(Env(), result_));
    completion_->ok = true;
    finish();
  }

  void OnError(const Napi::Error& e) override {
    completion_->value = Napi::Persistent(engine_error(Env(), e.Message()));
    completion_->ok = false;
    finish();
  }

 private:
  // Everything needed to settle the promise; owned by the ThreadSafeFunction's finalizer when there is a callback.
  struct Completion {
    Napi::Promise::Deferred deferred;
    Napi::Reference<Napi::Value> value;  // the result, or the engine error
    bool ok = false;
    Napi::Reference<Napi::Value> callback_error;  // a throw from the callback (the run was cancelled)
    EventToJs event_to_js;
    Cancel cancel;

    void settle() {
      if (!callback_error.IsEmpty()) {
        deferred.Reject(callback_error.Value());
      } else if (ok) {
        deferred.Resolve(value.Value());
      } else {
        deferred.Reject(value.Value());
      }
    }
  };

  struct Call {
    Event event;
    Completion* completion;
  };

  static void deliver(Napi::Env env, Napi::Function fn, Call* call) {
    std::unique_ptr<Call> own(call);
    if (env == nullptr || fn == nullptr) return;  // the environment is shutting down
    Completion* c = own->completion;
    if (!c->callback_error.IsEmpty()) return;
    try {
      fn.Call({c->event_to_js(env, own->event)});
    } catch (const Napi::Error& e) {
      c->callback_error = Napi::Persistent(Napi::Value(e.Value()));
      if (c->cancel) c->cancel();
    }
  }

  void finish() {
    run_ = nullptr;  // drop what the run captured (e.g. a generator reference) before JS sees the promise settle
    if (has_tsfn_) {
      tsfn_.Release();  // the finalizer settles the promise after the queued calls
    } else {
      completion_->settle();
      delete completion_;
    }
  }

  Run run_;
  ResultToJs result_to_js_;
  Completion* completion_ = nullptr;
  Napi::ThreadSafeFunction tsfn_;
  bool has_tsfn_ = false;
  Result result_{};
};

}  // namespace tkaddon
