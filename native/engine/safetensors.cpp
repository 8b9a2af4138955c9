// safetensors.cpp - strict safetensors reader (mmap) and writer, with fp16/bf16 conversions bit-exact with torch.
// Validation follows the reference reader (huggingface/safetensors, safetensors/src/tensor.rs): header length,
// header size limit, JSON object, dtype names, offsets tiling the buffer contiguously from 0, exact byte sizes.
#include "safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include "error.h"
#include "fsutil.h"
#include "json.h"

static_assert(std::endian::native == std::endian::little, "the engine assumes a little-endian host");

namespace tk {

namespace {

constexpr uint64_t kMaxHeaderSize = 100'000'000;  // the reference reader's limit

struct DTypeEntry {
  DType dtype;
  const char* name;
  int bits;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::BOOL, "BOOL", 8},         {DType::U8, "U8", 8},
    {DType::I8, "I8", 8},             {DType::I16, "I16", 16},
    {DType::U16, "U16", 16},          {DType::F16, "F16", 16},
    {DType::BF16, "BF16", 16},        {DType::I32, "I32", 32},
    {DType::U32, "U32", 32},          {DType::F32, "F32", 32},
    {DType::F64, "F64", 64},          {DType::I64, "I64", 64},
    {DType::U64, "U64", 64},          {DType::C64, "C64", 64},
    {DType::F8_E5M2, "F8_E5M2", 8},   {DType::F8_E4M3, "F8_E4M3", 8},
    {DType::F8_E8M0, "F8_E8M0", 8},   {DType::F8_E4M3FNUZ, "F8_E4M3FNUZ", 8},
    {DType::F8_E5M2FNUZ, "F8_E5M2FNUZ", 8}, {DType::F4, "F4", 4},
    {DType::F6_E2M3, "F6_E2M3", 6},   {DType::F6_E3M2, "F6_E3M2", 6},
};

const DTypeEntry& entry(DType d) {
  for (const auto& e : kDTypes) {
    if (e.dtype == d) return e;
  }
  throw Error("safetensors: unknown dtype enum value");
}

// a * b with overflow detection (sizes come from untrusted headers).
bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }

std::string tensor_ctx(const std::string& path, const std::string& name) { return path + ": tensor '" + name + "'"; }

}  // namespace

const char* dtype_name(DType d) { return entry(d).name; }

bool dtype_from_name(const std::string& name, DType* out) {
  for (const auto& e : kDTypes) {
    if (name == e.name) {
      *out = e.dtype;
      return true;
    }
  }
  return false;
}

int dtype_bits(DType d) { return entry(d).bits; }

bool dtype_is_float_convertible(DType d) {
  return d == DType::F32 || d == DType::F16 || d == DType::BF16 || d == DType::F64;
}

// ---------------------------------------------------------------------------------------------------------------
// Scalar conversions. Round-to-nearest-even as torch's c10::BFloat16 / c10::Half do.

uint16_t f32_to_bf16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0;  // NaN -> canonical quiet NaN (torch)
  uint32_t rounding_bias = 0x7FFFu + ((x >> 16) & 1u);
  return uint16_t((x + rounding_bias) >> 16);
}

float bf16_to_f32(uint16_t h) { return std::bit_cast<float>(uint32_t(h) << 16); }

uint16_t f32_to_f16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return sign | 0x7E00;              // NaN
  if (ax >= 0x47800000u) return sign | 0x7C00;             // >= 2^16: overflow to inf (also inf itself)
  if (ax >= 0x38800000u) {                                 // normal half: |f| >= 2^-14
    uint32_t exp = (ax >> 23) - 127 + 15;                  // 1..30
    uint32_t mant = ax & 0x7FFFFFu;
    uint32_t half = (exp << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) half++;  // carry may reach the exponent / inf: correct
    return sign | uint16_t(half);
  }
  // Subnormal half (or zero): value = m * 2^(E-150) with the implicit bit; unit of a half subnormal is 2^-24.
  uint32_t e = ax >> 23;
  if (e == 0) return sign;  // fp32 zero or subnormal: far below half's range
  uint32_t m = (ax & 0x7FFFFFu) | 0x800000u;
  uint32_t shift = 126 - e;  // >= 14 here
  if (shift >= 32) return sign;
  uint32_t res = m >> shift;
  uint32_t rem = m & ((1u << shift) - 1u);
  uint32_t halfway = 1u << (shift - 1);
  if (rem > halfway || (rem == halfway && (res & 1u))) res++;
  return sign | uint16_t(res);
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf / NaN (payload kept)
  } else if (exp != 0) {
    bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {
    // Subnormal: normalize the mantissa.
    int e = -1;
    do {
      e++;
      mant <<= 1;
    } while ((mant & 0x400u) == 0);
    bits = sign | uint32_t(127 - 15 - e) << 23 | ((mant & 0x3FFu) << 13);
  }
  return std::bit_cast<float>(bits);
}

int64_t StTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); i++) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

// ---------------------------------------------------------------------------------------------------------------
// Reader.

SafetensorsReader::SafetensorsReader(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path + ": not a regular file");
  }
  map_size_ = uint64_t(st.st_size);
  if (map_size_ < 8) {
    ::close(fd);
    throw Error(path + ": truncated safetensors file: " + std::to_string(map_size_) +
                " bytes, too short for the 8-byte header length");
  }
  void* m = ::mmap(nullptr, map_size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) throw Error(path + ": mmap failed: " + std::strerror(errno));
  map_ = static_cast<const uint8_t*>(m);

  try {
    uint64_t n = 0;
    std::memcpy(&n, map_, 8);
    if (n > kMaxHeaderSize) {
      throw Error(path + ": safetensors header length " + std::to_string(n) + " exceeds the 100000000-byte limit");
    }
    if (8 + n > map_size_) {
      throw Error(path + ": truncated safetensors file: header length " + std::to_string(n) + " but the file has only " +
                  std::to_string(map_size_) + " bytes");
    }
    data_start_ = 8 + n;
    std::string header(reinterpret_cast<const char*>(map_ + 8), n);
    if (header.empty() || header[0] != '{') throw Error(path + ": safetensors header does not start with '{'");
    json::Value root = json::parse(header, path + " (safetensors header)");
    if (!root.is_object()) throw Error(path + ": safetensors header is not a JSON object");

    for (const auto& [name, v] : root.as_object()) {
      if (name == "__metadata__") {
        for (const auto& [k, mv] : v.as_object(path + ": __metadata__")) {
          metadata_[k] = mv.as_string(path + ": __metadata__ value '" + k + "'");
        }
        continue;
      }
      const std::string ctx = tensor_ctx(path, name);
      const json::Value* dt = v.find("dtype");
      const json::Value* sh = v.find("shape");
      const json::Value* off = v.find("data_offsets");
      if (!v.is_object() || !dt || !sh || !off) {
        throw Error(ctx + ": header entry must be an object with dtype, shape and data_offsets");
      }
      StTensorInfo info;
      info.name = name;
      if (!dtype_from_name(dt->as_string(ctx + " dtype"), &info.dtype)) {
        throw Error(ctx + ": unknown dtype '" + dt->as_string() + "'");
      }
      uint64_t numel = 1;
      for (const json::Value& d : sh->as_array(ctx + " shape")) {
        if (!d.is_integer() || d.as_number() < 0) throw Error(ctx + ": shape entries must be non-negative integers");
        info.shape.push_back(d.as_int());
        if (mul_overflows(numel, uint64_t(d.as_int()), &numel)) throw Error(ctx + ": shape " + shape_str(info.shape) + " overflows");
      }
      const json::Array& o = off->as_array(ctx + " data_offsets");
      if (o.size() != 2 || !o[0].is_integer() || !o[1].is_integer() || o[0].as_number() < 0 || o[1].as_number() < 0) {
        throw Error(ctx + ": data_offsets must be two non-negative integers");
      }
      info.begin = uint64_t(o[0].as_int());
      info.end = uint64_t(o[1].as_int());
      if (info.end < info.begin) throw Error(ctx + ": data_offsets end < begin");
      uint64_t bits = 0;
      if (mul_overflows(numel, uint64_t(dtype_bits(info.dtype)), &bits)) throw Error(ctx + ": byte size overflows");
      if (bits % 8 != 0) throw Error(ctx + ": " + dt->as_string() + " tensor of shape " + shape_str(info.shape) + " does not end on a byte boundary");
      if (bits / 8 != info.end - info.begin) {
        throw Error(ctx + ": data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) + "] span " +
                    std::to_string(info.end - info.begin) + " bytes but dtype " + dt->as_string() + " and shape " +
                    shape_str(info.shape) + " need " + std::to_string(bits / 8));
      }
      tensors_.emplace(name, std::move(info));
    }

    // Offsets must tile the data buffer contiguously from 0, without holes or overlaps.
    std::vector<const StTensorInfo*> by_offset;
    for (const auto& [name, info] : tensors_) by_offset.push_back(&info);
    std::sort(by_offset.begin(), by_offset.end(), [](const StTensorInfo* a, const StTensorInfo* b) {
      return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t cursor = 0;
    for (const StTensorInfo* t : by_offset) {
      if (t->begin != cursor) {
        throw Error(tensor_ctx(path, t->name) + ": data_offsets [" + std::to_string(t->begin) + ", " + std::to_string(t->end) +
                    "] " + (t->begin < cursor ? "overlap the previous tensor" : "leave a hole after the previous tensor") +
                    " (expected begin " + std::to_string(cursor) + ")");
      }
      cursor = t->end;
    }
    uint64_t buffer = map_size_ - data_start_;
    if (cursor > buffer) {
      throw Error(path + ": truncated safetensors file: tensors need " + std::to_string(cursor) + " data bytes but only " +
                  std::to_string(buffer) + " are present");
    }
    if (cursor < buffer) {
      throw Error(path + ": safetensors data buffer has " + std::to_string(buffer - cursor) + " trailing bytes not covered by any tensor");
    }
  } catch (...) {
    ::munmap(const_cast<uint8_t*>(map_), map_size_);
    map_ = nullptr;
    throw;
  }
}

SafetensorsReader::~SafetensorsReader() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), map_size_);
}

std::vector<std::string> SafetensorsReader::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, info] : tensors_) out.push_back(name);
  return out;  // std::map keeps them sorted
}

const StTensorInfo& SafetensorsReader::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw Error(tensor_ctx(path_, name) + ": not found in the file");
  return it->second;
}

const uint8_t* SafetensorsReader::raw(const std::string& name) const { return map_ + data_start_ + info(name).begin; }

void SafetensorsReader::read_f32(const std::string& name, const std::vector<int64_t>& shape, float* out) const {
  const StTensorInfo& t = info(name);
  if (t.shape != shape) {
    throw Error(tensor_ctx(path_, name) + ": shape " + shape_str(t.shape) + " does not match the expected " + shape_str(shape));
  }
  if (!dtype_is_float_convertible(t.dtype)) {
    throw Error(tensor_ctx(path_, name) + ": dtype " + dtype_name(t.dtype) + " cannot be converted to fp32 (F32, F16, BF16, F64 only)");
  }
  const uint8_t* p = map_ + data_start_ + t.begin;
  const size_t n = size_t(t.numel());
  switch (t.dtype) {
    case DType::F32: std::memcpy(out, p, n * 4); break;
    case DType::F64:
      for (size_t i = 0; i < n; i++) {
        double d;
        std::memcpy(&d, p + 8 * i, 8);
        out[i] = float(d);
      }
      break;
    case DType::BF16:
      for (size_t i = 0; i < n; i++) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = bf16_to_f32(h);
      }
      break;
    case DType::F16:
      for (size_t i = 0; i < n; i++) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = f16_to_f32(h);
      }
      break;
    default: break;
  }
}

std::vector<float> SafetensorsReader::read_f32(const std::string& name) const {
  const StTensorInfo& t = info(name);
  std::vector<float> out(size_t(t.numel()));
  read_f32(name, t.shape, out.data());
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Writer. Header bytes match the reference writer: {"__metadata__":{...},"<name>":{"dtype":..,"shape":[..],
// "data_offsets":[b,e]},...} in offset order, padded with spaces to a multiple of 8.

void write_safetensors(const std::string& path, const std::vector<StTensorOut>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<const StTensorOut*> order;
  for (const StTensorOut& t : tensors) {
    if (t.dtype != DType::F32 && t.dtype != DType::BF16 && t.dtype != DType::F16) {
      throw Error(tensor_ctx(path, t.name) + ": the writer stores F32, BF16 or F16 only, not " + dtype_name(t.dtype));
    }
    if (t.name == "__metadata__") throw Error(path + ": '__metadata__' is not a valid tensor name");
    for (int64_t d : t.shape) {
      if (d < 0) throw Error(tensor_ctx(path, t.name) + ": negative dimension in shape " + shape_str(t.shape));
    }
    order.push_back(&t);
  }
  // Reference order: descending dtype (F32 > BF16 > F16 in its enum), then name.
  auto rank = [](DType d) { return d == DType::F32 ? 2 : d == DType::BF16 ? 1 : 0; };
  std::sort(order.begin(), order.end(), [&](const StTensorOut* a, const StTensorOut* b) {
    if (rank(a->dtype) != rank(b->dtype)) return rank(a->dtype) > rank(b->dtype);
    return a->name < b->name;
  });
  for (size_t i = 1; i < order.size(); i++) {
    if (order[i]->name == order[i - 1]->name) throw Error(tensor_ctx(path, order[i]->name) + ": duplicate tensor name");
  }

  std::string header = "{";
  if (!metadata.empty()) {
    json::Object meta;
    for (const auto& [k, v] : metadata) meta.emplace(k, json::Value(v));
    header += "\"__metadata__\":" + json::dump(json::Value(std::move(meta)));
  }
  uint64_t offset = 0;
  for (const StTensorOut* t : order) {
    uint64_t numel = 1;
    for (int64_t d : t->shape) numel *= uint64_t(d);
    uint64_t bytes = numel * uint64_t(dtype_bits(t->dtype) / 8);
    if (header.size() > 1) header += ',';
    header += json::dump(json::Value(t->name)) + ":{\"dtype\":\"" + dtype_name(t->dtype) + "\",\"shape\":[";
    for (size_t i = 0; i < t->shape.size(); i++) {
      if (i) header += ',';
      header += std::to_string(t->shape[i]);
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');

  std::string file;
  file.reserve(8 + header.size() + offset);
  uint64_t n = header.size();
  file.append(reinterpret_cast<const char*>(&n), 8);
  file += header;
  for (const StTensorOut* t : order) {
    uint64_t numel = 1;
    for (int64_t d : t->shape) numel *= uint64_t(d);
    if (numel > 0 && t->data == nullptr) throw Error(tensor_ctx(path, t->name) + ": no data");
    if (t->dtype == DType::F32) {
      file.append(reinterpret_cast<const char*>(t->data), numel * 4);
    } else {
      size_t at = file.size();
      file.resize(at + numel * 2);
      for (uint64_t i = 0; i < numel; i++) {
        uint16_t h = t->dtype == DType::BF16 ? f32_to_bf16(t->data[i]) : f32_to_f16(t->data[i]);
        std::memcpy(&file[at + 2 * i], &h, 2);
      }
    }
  }
  write_file_atomic(path, file);
}

}  // namespace tk
