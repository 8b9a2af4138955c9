// safetensors.h - strict reader and writer of the safetensors format (huggingface/safetensors).
//
// File: u64 little-endian header length N, N bytes of JSON header ({"name": {"dtype","shape","data_offsets"}} +
// optional "__metadata__" string map), then the data buffer. Offsets are relative to the buffer start.
// The reader rejects everything the reference reader rejects (bad length, bad JSON, header > 100 MB, duplicate keys,
// unknown dtype, offsets that do not tile the buffer contiguously, size/shape mismatch, truncated file) with a
// tk::Error naming the file and, where one is concerned, the tensor.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tk {

enum class DType {
  BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, C64,
  F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ, F4, F6_E2M3, F6_E3M2,
};

const char* dtype_name(DType d);                         // "F32", ...
bool dtype_from_name(const std::string& name, DType* out);  // false when unknown
int dtype_bits(DType d);                                 // 32 for F32, 4 for F4, ...
bool dtype_is_float_convertible(DType d);                // F32, F16, BF16, F64

// Scalar conversions (bit-exact with torch): fp32 -> bf16/f16 round to nearest even; NaN stays NaN.
uint16_t f32_to_bf16(float f);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);

struct StTensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;  // byte offsets into the data buffer, end exclusive
  int64_t numel() const;
};

class SafetensorsReader {
 public:
  explicit SafetensorsReader(const std::string& path);  // maps the file read-only; validates the whole header
  ~SafetensorsReader();
  SafetensorsReader(const SafetensorsReader&) = delete;
  SafetensorsReader& operator=(const SafetensorsReader&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::vector<std::string> names() const;  // sorted
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const StTensorInfo& info(const std::string& name) const;  // throws if absent
  // The raw little-endian bytes of a tensor (end - begin of them).
  const uint8_t* raw(const std::string& name) const;

  // Checks the shape equals `shape` (error names file, tensor, both shapes) and converts F32/F16/BF16/F64 to
  // fp32 into out[numel].
  void read_f32(const std::string& name, const std::vector<int64_t>& shape, float* out) const;
  // Same without a shape check; returns the values.
  std::vector<float> read_f32(const std::string& name) const;

 private:
  std::string path_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, StTensorInfo> tensors_;
  const uint8_t* map_ = nullptr;  // whole file
  uint64_t map_size_ = 0;
  uint64_t data_start_ = 0;  // 8 + N
};

struct StTensorOut {
  std::string name;
  std::vector<int64_t> shape;
  const float* data;             // numel fp32 values, row-major
  DType dtype = DType::F32;      // stored as F32, BF16 or F16 (round to nearest even)
};

// Writes F32 (or converts to BF16/F16 with round-to-nearest-even) with the header padded with spaces to a multiple
// of 8 bytes, tensors ordered like the reference writer (descending dtype size, then name), __metadata__
// {"format":"pt"} by default; atomic (write_file_atomic semantics). Duplicate names -> tk::Error.
void write_safetensors(const std::string& path, const std::vector<StTensorOut>& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// Formats a shape as "[2, 3]" (used in error messages across the engine).
std::string shape_str(const std::vector<int64_t>& shape);

}  // namespace tk
