// convert.h - conversions between JS values and the engine's plain structs. Nothing here computes anything:
// options objects are read strictly (unknown keys and wrong types are TypeErrors naming the key), results become
// plain JS objects with camelCase keys mirroring train.h field by field.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "train.h"

namespace tkaddon {

// Reads `obj` as TrainOptions (camelCase keys: modelDir, outputDir, trainTokens, lora: {r, alpha, ...}, ...).
// Throws Napi::TypeError on a missing required key, an unknown key or a wrong type.
tk::TrainOptions train_options_from_js(const Napi::Value& obj);

Napi::Object progress_to_js(Napi::Env env, const tk::Progress& p);
Napi::Object train_result_to_js(Napi::Env env, const tk::TrainResult& r);
Napi::Object eval_result_to_js(Napi::Env env, const tk::EvalResult& r);

// A strict reader of one options object.
class OptionReader {
 public:
  OptionReader(const Napi::Value& v, std::string what);
  std::string string(const char* key, bool required, const std::string& fallback = "");
  bool boolean(const char* key, bool fallback);
  double number(const char* key, double fallback);
  int integer(const char* key, int fallback, int min_value);
  uint64_t uint64(const char* key, uint64_t fallback);  // a safe-integer number or a BigInt
  std::vector<std::string> strings(const char* key);     // array of strings; empty when absent
  std::vector<int32_t> int32s(const char* key);          // Int32Array or array of integers (required)
  std::vector<double> numbers(const char* key);          // array of finite numbers; empty when absent
  Napi::Value raw(const char* key);                      // undefined when absent
  // Throws on any key that none of the getters asked for.
  void finish();

 private:
  Napi::Value get(const char* key);
  [[noreturn]] void fail(const std::string& key, const std::string& want);
  Napi::Env env_;
  Napi::Object obj_;
  std::string what_;
  std::vector<std::string> known_;
};

}  // namespace tkaddon
