// json.h - a small strict JSON value, parser and serializer (RFC 8259).
//
// Used for config.json, safetensors headers, adapter_config.json and checkpoint metadata. The parser is strict:
// no comments, no trailing commas, no NaN/Infinity, duplicate object keys rejected, valid UTF-8 escapes only.
// Errors are tk::Error "<source>:<line>:<col>: <what>". Objects keep their keys sorted (std::map), which makes
// dump() deterministic.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tk::json {

class Value;
using Array = std::vector<Value>;
using Object = std::map<std::string, Value>;

enum class Type { Null, Bool, Number, String, Array, Object };

class Value {
 public:
  Value() = default;  // null
  Value(std::nullptr_t) {}
  Value(bool b) : type_(Type::Bool), bool_(b) {}
  Value(double d) : type_(Type::Number), num_(d) {}
  Value(int i) : type_(Type::Number), num_(i) {}
  Value(int64_t i) : type_(Type::Number), num_(static_cast<double>(i)) {}
  Value(uint64_t i) : type_(Type::Number), num_(static_cast<double>(i)) {}
  Value(const char* s) : type_(Type::String), str_(std::make_shared<std::string>(s)) {}
  Value(std::string s) : type_(Type::String), str_(std::make_shared<std::string>(std::move(s))) {}
  Value(Array a) : type_(Type::Array), arr_(std::make_shared<Array>(std::move(a))) {}
  Value(Object o) : type_(Type::Object), obj_(std::make_shared<Object>(std::move(o))) {}

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_number() const { return type_ == Type::Number; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }
  // True when the number is integral and fits in int64 exactly.
  bool is_integer() const;

  // Typed accessors; on a type mismatch they throw tk::Error naming `what` (e.g. "config.json: field 'vocab_size'").
  bool as_bool(const std::string& what = "value") const;
  double as_number(const std::string& what = "value") const;
  int64_t as_int(const std::string& what = "value") const;  // integral numbers only
  const std::string& as_string(const std::string& what = "value") const;
  const Array& as_array(const std::string& what = "value") const;
  const Object& as_object(const std::string& what = "value") const;
  Array& as_array_mut(const std::string& what = "value");
  Object& as_object_mut(const std::string& what = "value");

  // Object helpers: find returns nullptr when absent (or when this is not an object).
  const Value* find(const std::string& key) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }
  // Sets obj[key] = v (this must be an object; a null Value becomes an empty object first).
  Value& set(const std::string& key, Value v);
  // Appends to an array (a null Value becomes an empty array first).
  void push(Value v);

  // Deep copy (values share storage on copy; mutation through *_mut/set/push copies-on-write).
  Value clone() const;

 private:
  void detach();
  Type type_ = Type::Null;
  bool bool_ = false;
  double num_ = 0.0;
  std::shared_ptr<std::string> str_;
  std::shared_ptr<Array> arr_;
  std::shared_ptr<Object> obj_;
};

// Parses exactly one JSON value (surrounding whitespace allowed). `source` names the input in errors.
Value parse(const std::string& text, const std::string& source = "json");

// Serializes. indent < 0: compact (no spaces); indent >= 0: pretty with that many spaces per level.
// Integral numbers up to 2^53 print without a fraction; others print with the shortest round-trip digits.
std::string dump(const Value& v, int indent = -1);

}  // namespace tk::json
