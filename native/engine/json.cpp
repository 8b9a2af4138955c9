// json.cpp - strict RFC 8259 parser and a deterministic serializer for tk::json::Value.
#include "json.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "error.h"

namespace tk::json {

namespace {

const char* type_name(Type t) {
  switch (t) {
    case Type::Null: return "null";
    case Type::Bool: return "a boolean";
    case Type::Number: return "a number";
    case Type::String: return "a string";
    case Type::Array: return "an array";
    case Type::Object: return "an object";
  }
  return "?";
}

[[noreturn]] void type_error(const std::string& what, Type want, Type got) {
  throw Error(what + " must be " + type_name(want) + ", got " + type_name(got));
}

constexpr double kMaxExactInt = 9007199254740992.0;  // 2^53

}  // namespace

bool Value::is_integer() const {
  return type_ == Type::Number && std::isfinite(num_) && std::floor(num_) == num_ && std::fabs(num_) <= kMaxExactInt;
}

bool Value::as_bool(const std::string& what) const {
  if (type_ != Type::Bool) type_error(what, Type::Bool, type_);
  return bool_;
}

double Value::as_number(const std::string& what) const {
  if (type_ != Type::Number) type_error(what, Type::Number, type_);
  return num_;
}

int64_t Value::as_int(const std::string& what) const {
  if (type_ != Type::Number) type_error(what, Type::Number, type_);
  if (!is_integer()) throw Error(what + " must be an integer, got " + dump(*this));
  return static_cast<int64_t>(num_);
}

const std::string& Value::as_string(const std::string& what) const {
  if (type_ != Type::String) type_error(what, Type::String, type_);
  return *str_;
}

const Array& Value::as_array(const std::string& what) const {
  if (type_ != Type::Array) type_error(what, Type::Array, type_);
  return *arr_;
}

const Object& Value::as_object(const std::string& what) const {
  if (type_ != Type::Object) type_error(what, Type::Object, type_);
  return *obj_;
}

Array& Value::as_array_mut(const std::string& what) {
  if (type_ != Type::Array) type_error(what, Type::Array, type_);
  detach();
  return *arr_;
}

Object& Value::as_object_mut(const std::string& what) {
  if (type_ != Type::Object) type_error(what, Type::Object, type_);
  detach();
  return *obj_;
}

const Value* Value::find(const std::string& key) const {
  if (type_ != Type::Object) return nullptr;
  auto it = obj_->find(key);
  return it == obj_->end() ? nullptr : &it->second;
}

Value& Value::set(const std::string& key, Value v) {
  if (type_ == Type::Null) *this = Value(Object{});
  Object& o = as_object_mut("set target");
  return o[key] = std::move(v);
}

void Value::push(Value v) {
  if (type_ == Type::Null) *this = Value(Array{});
  as_array_mut("push target").push_back(std::move(v));
}

void Value::detach() {
  if (str_ && str_.use_count() > 1) str_ = std::make_shared<std::string>(*str_);
  if (arr_ && arr_.use_count() > 1) arr_ = std::make_shared<Array>(*arr_);
  if (obj_ && obj_.use_count() > 1) obj_ = std::make_shared<Object>(*obj_);
}

Value Value::clone() const {
  switch (type_) {
    case Type::Array: {
      Array a;
      a.reserve(arr_->size());
      for (const Value& v : *arr_) a.push_back(v.clone());
      return Value(std::move(a));
    }
    case Type::Object: {
      Object o;
      for (const auto& [k, v] : *obj_) o.emplace(k, v.clone());
      return Value(std::move(o));
    }
    case Type::String: return Value(*str_);
    default: return *this;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Parser: recursive descent over the RFC 8259 grammar, tracking line/column for errors.

namespace {

constexpr int kMaxDepth = 512;

class Parser {
 public:
  Parser(const std::string& text, const std::string& source) : s_(text), src_(source) {}

  Value parse_document() {
    skip_ws();
    Value v = parse_value(0);
    skip_ws();
    if (pos_ != s_.size()) fail("unexpected trailing characters after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos_ && i < s_.size(); i++) {
      if (s_[i] == '\n') {
        line++;
        col = 1;
      } else {
        col++;
      }
    }
    throw Error(src_ + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + what);
  }

  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) pos_++;
  }

  bool consume_literal(const char* lit) {
    size_t n = std::strlen(lit);
    if (s_.compare(pos_, n, lit) == 0) {
      pos_ += n;
      return true;
    }
    return false;
  }

  Value parse_value(int depth) {
    if (depth > kMaxDepth) fail("nesting deeper than 512 levels");
    if (pos_ >= s_.size()) fail("unexpected end of input, expected a value");
    char c = s_[pos_];
    switch (c) {
      case '{': return parse_object(depth);
      case '[': return parse_array(depth);
      case '"': return Value(parse_string());
      case 't':
        if (consume_literal("true")) return Value(true);
        break;
      case 'f':
        if (consume_literal("false")) return Value(false);
        break;
      case 'n':
        if (consume_literal("null")) return Value();
        break;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
    }
    fail(std::string("unexpected character '") + c + "', expected a value");
  }

  Value parse_object(int depth) {
    pos_++;  // '{'
    Object obj;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      pos_++;
      return Value(std::move(obj));
    }
    for (;;) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a string key");
      size_t key_pos = pos_;
      std::string key = parse_string();
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ':') fail("expected ':' after an object key");
      pos_++;
      skip_ws();
      Value v = parse_value(depth + 1);
      if (!obj.emplace(key, std::move(v)).second) {
        pos_ = key_pos;
        fail("duplicate key \"" + key + "\"");
      }
      skip_ws();
      if (pos_ >= s_.size()) fail("unexpected end of input inside an object");
      if (s_[pos_] == ',') {
        pos_++;
        continue;
      }
      if (s_[pos_] == '}') {
        pos_++;
        return Value(std::move(obj));
      }
      fail("expected ',' or '}' in an object");
    }
  }

  Value parse_array(int depth) {
    pos_++;  // '['
    Array arr;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      pos_++;
      return Value(std::move(arr));
    }
    for (;;) {
      skip_ws();
      arr.push_back(parse_value(depth + 1));
      skip_ws();
      if (pos_ >= s_.size()) fail("unexpected end of input inside an array");
      if (s_[pos_] == ',') {
        pos_++;
        continue;
      }
      if (s_[pos_] == ']') {
        pos_++;
        return Value(std::move(arr));
      }
      fail("expected ',' or ']' in an array");
    }
  }

  unsigned parse_hex4() {
    if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f') v |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= unsigned(c - 'A' + 10);
      else fail("invalid hex digit in a \\u escape");
    }
    return v;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }

  // Validates one UTF-8 sequence starting at pos_ (a byte >= 0x80) and copies it.
  void copy_utf8_sequence(std::string& out) {
    auto b0 = static_cast<unsigned char>(s_[pos_]);
    int len;
    uint32_t cp;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
      cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3;
      cp = b0 & 0x0F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4;
      cp = b0 & 0x07;
    } else {
      fail("invalid UTF-8 in a string");
    }
    if (pos_ + len > s_.size()) fail("truncated UTF-8 sequence in a string");
    for (int i = 1; i < len; i++) {
      auto b = static_cast<unsigned char>(s_[pos_ + i]);
      if ((b & 0xC0) != 0x80) fail("invalid UTF-8 in a string");
      cp = (cp << 6) | (b & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
      fail("invalid UTF-8 in a string");
    }
    out.append(s_, pos_, len);
    pos_ += len;
  }

  std::string parse_string() {
    pos_++;  // opening quote
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail("unterminated string");
      auto c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        pos_++;
        return out;
      }
      if (c < 0x20) fail("unescaped control character in a string");
      if (c >= 0x80) {
        copy_utf8_sequence(out);
        continue;
      }
      if (c != '\\') {
        out += char(c);
        pos_++;
        continue;
      }
      pos_++;
      if (pos_ >= s_.size()) fail("unterminated escape in a string");
      char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = parse_hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (!(pos_ + 2 <= s_.size() && s_[pos_] == '\\' && s_[pos_ + 1] == 'u')) fail("unpaired surrogate in a \\u escape");
            pos_ += 2;
            uint32_t lo = parse_hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("unpaired surrogate in a \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("unpaired surrogate in a \\u escape");
          }
          append_utf8(out, cp);
          break;
        }
        default: pos_--; fail(std::string("invalid escape '\\") + e + "'");
      }
    }
  }

  Value parse_number() {
    size_t start = pos_;
    if (s_[pos_] == '-') pos_++;
    if (pos_ >= s_.size()) fail("truncated number");
    if (s_[pos_] == '0') {
      pos_++;
    } else if (s_[pos_] >= '1' && s_[pos_] <= '9') {
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) pos_++;
    } else {
      fail("invalid number");
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      pos_++;
      if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_]))) fail("invalid number: digit expected after '.'");
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) pos_++;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      pos_++;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) pos_++;
      if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_]))) fail("invalid number: digit expected in the exponent");
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) pos_++;
    }
    double d = 0;
    auto [ptr, ec] = std::from_chars(s_.data() + start, s_.data() + pos_, d);
    if (ec == std::errc::result_out_of_range || !std::isfinite(d)) {
      pos_ = start;
      fail("number out of range");
    }
    if (ec != std::errc() || ptr != s_.data() + pos_) {
      pos_ = start;
      fail("invalid number");
    }
    return Value(d);
  }

  const std::string& s_;
  const std::string& src_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------------------------
// Serializer.

void dump_string(std::string& out, const std::string& s) {
  out += '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void dump_number(std::string& out, double d) {
  if (!std::isfinite(d)) throw Error("json: cannot serialize a non-finite number");
  char buf[64];
  if (std::floor(d) == d && std::fabs(d) <= kMaxExactInt) {
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(d));
    out.append(buf, p);
    return;
  }
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, d);  // shortest round-trip representation
  out.append(buf, p);
}

void newline(std::string& out, int indent, int level) {
  if (indent < 0) return;
  out += '\n';
  out.append(size_t(indent) * size_t(level), ' ');
}

void dump_value(std::string& out, const Value& v, int indent, int level) {
  switch (v.type()) {
    case Type::Null: out += "null"; break;
    case Type::Bool: out += v.as_bool() ? "true" : "false"; break;
    case Type::Number: dump_number(out, v.as_number()); break;
    case Type::String: dump_string(out, v.as_string()); break;
    case Type::Array: {
      const Array& a = v.as_array();
      if (a.empty()) {
        out += "[]";
        break;
      }
      out += '[';
      for (size_t i = 0; i < a.size(); i++) {
        if (i) out += ',';
        newline(out, indent, level + 1);
        dump_value(out, a[i], indent, level + 1);
      }
      newline(out, indent, level);
      out += ']';
      break;
    }
    case Type::Object: {
      const Object& o = v.as_object();
      if (o.empty()) {
        out += "{}";
        break;
      }
      out += '{';
      bool first = true;
      for (const auto& [k, child] : o) {
        if (!first) out += ',';
        first = false;
        newline(out, indent, level + 1);
        dump_string(out, k);
        out += indent < 0 ? ":" : ": ";
        dump_value(out, child, indent, level + 1);
      }
      newline(out, indent, level);
      out += '}';
      break;
    }
  }
}

}  // namespace

Value parse(const std::string& text, const std::string& source) { return Parser(text, source).parse_document(); }

std::string dump(const Value& v, int indent) {
  std::string out;
  dump_value(out, v, indent, 0);
  return out;
}

}  // namespace tk::json
