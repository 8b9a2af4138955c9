// tokens.h - the token file: tokenized training/validation examples, written by the emulator (JS) and read here.
//
// Little-endian: magic "TKTOKEN1" (8 bytes), u32 version = 1, u32 n_examples, u64 offsets[n_examples + 1] (token
// index where each example starts; offsets[0] = 0, non-decreasing), int32 input_ids[offsets[n]], int32
// labels[offsets[n]] (HF convention, unshifted; -100 = not scored). Nothing after that.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tk {

struct TokenFile {
  std::vector<uint64_t> offsets;  // n_examples + 1
  std::vector<int32_t> ids;
  std::vector<int32_t> labels;
  size_t size() const { return offsets.empty() ? 0 : offsets.size() - 1; }
  size_t length(size_t i) const { return offsets[i + 1] - offsets[i]; }
};

// Strict reader: bad magic/version, truncated or oversized file, bad offsets -> tk::Error naming the file.
// When vocab_size > 0 every id must be in [0, vocab_size) and every label in it or -100.
TokenFile read_token_file(const std::string& path, int vocab_size = 0);
// Writer (tests and tools); atomic.
void write_token_file(const std::string& path, const std::vector<std::vector<int32_t>>& ids,
                      const std::vector<std::vector<int32_t>>& labels);

}  // namespace tk
