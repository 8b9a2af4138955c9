// tokens.cpp - strict reader and writer of the token file (format in tokens.h).
#include "tokens.h"

#include <cstring>

#include "error.h"
#include "fsutil.h"

namespace tk {

namespace {
constexpr char kMagic[8] = {'T', 'K', 'T', 'O', 'K', 'E', 'N', '1'};
constexpr uint32_t kVersion = 1;

template <typename T>
T load_le(const std::string& buf, size_t at) {
  T v;
  std::memcpy(&v, buf.data() + at, sizeof(T));  // the engine targets little-endian hosts (x86-64, arm64)
  return v;
}
}  // namespace

TokenFile read_token_file(const std::string& path, int vocab_size) {
  const std::string buf = read_file(path);
  if (buf.size() < 16 || std::memcmp(buf.data(), kMagic, 8) != 0)
    throw Error(path + ": not a token file (bad magic; expected \"TKTOKEN1\")");
  const uint32_t version = load_le<uint32_t>(buf, 8);
  if (version != kVersion)
    throw Error(path + ": unsupported token file version " + std::to_string(version) + " (expected 1)");
  const uint64_t n = load_le<uint32_t>(buf, 12);
  const uint64_t off_bytes = (n + 1) * 8;
  if (buf.size() < 16 + off_bytes)
    throw Error(path + ": truncated (offsets table of " + std::to_string(n + 1) + " entries does not fit)");
  TokenFile f;
  f.offsets.resize(n + 1);
  std::memcpy(f.offsets.data(), buf.data() + 16, off_bytes);
  if (f.offsets[0] != 0) throw Error(path + ": offsets[0] must be 0");
  for (uint64_t i = 0; i < n; ++i)
    if (f.offsets[i + 1] < f.offsets[i])
      throw Error(path + ": offsets decrease at example " + std::to_string(i));
  const uint64_t total = f.offsets[n];
  const uint64_t expect = 16 + off_bytes + total * 8;
  if (total > (buf.size() / 8) || buf.size() != expect)
    throw Error(path + ": size " + std::to_string(buf.size()) + " bytes does not match the " + std::to_string(total) +
                " tokens its header declares (expected " + std::to_string(expect) + ")");
  f.ids.resize(total);
  f.labels.resize(total);
  std::memcpy(f.ids.data(), buf.data() + 16 + off_bytes, total * 4);
  std::memcpy(f.labels.data(), buf.data() + 16 + off_bytes + total * 4, total * 4);
  if (vocab_size > 0) {
    for (uint64_t i = 0; i < total; ++i) {
      if (f.ids[i] < 0 || f.ids[i] >= vocab_size)
        throw Error(path + ": token id " + std::to_string(f.ids[i]) + " at position " + std::to_string(i) +
                    " is outside the model's vocabulary (vocab_size " + std::to_string(vocab_size) + ")");
      if (f.labels[i] != -100 && (f.labels[i] < 0 || f.labels[i] >= vocab_size))
        throw Error(path + ": label " + std::to_string(f.labels[i]) + " at position " + std::to_string(i) +
                    " is neither -100 nor a token id of the model (vocab_size " + std::to_string(vocab_size) + ")");
    }
  }
  return f;
}

void write_token_file(const std::string& path, const std::vector<std::vector<int32_t>>& ids,
                      const std::vector<std::vector<int32_t>>& labels) {
  if (ids.size() != labels.size()) throw Error(path + ": ids and labels have different example counts");
  std::string out(kMagic, 8);
  auto put = [&](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
  const uint32_t version = kVersion, n = static_cast<uint32_t>(ids.size());
  put(&version, 4);
  put(&n, 4);
  uint64_t off = 0;
  put(&off, 8);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].size() != labels[i].size())
      throw Error(path + ": example " + std::to_string(i) + " has " + std::to_string(ids[i].size()) + " ids but " +
                  std::to_string(labels[i].size()) + " labels");
    off += ids[i].size();
    put(&off, 8);
  }
  for (const auto& r : ids) put(r.data(), r.size() * 4);
  for (const auto& r : labels) put(r.data(), r.size() * 4);
  write_file_atomic(path, out);
}

}  // namespace tk
