// fsutil.h - file helpers of the engine. Every failure throws tk::Error naming the path and the OS reason.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tk {

// Reads a whole file.
std::string read_file(const std::string& path);

// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename over `path`,
// fsync of the directory. A crash at any moment leaves either the old file or the new one, never a mix.
void write_file_atomic(const std::string& path, std::string_view bytes);

// Creates `path` and its missing parents (like mkdir -p). An existing directory is fine.
void make_dirs(const std::string& path);

// Joins two path parts with one '/'. An absolute `b` is returned as is.
std::string path_join(const std::string& a, const std::string& b);

bool file_exists(const std::string& path);  // a regular file (or a symlink to one)
bool dir_exists(const std::string& path);
uint64_t file_size(const std::string& path);  // throws when absent

// Copies a file (atomically at the destination).
void copy_file(const std::string& from, const std::string& to);

}  // namespace tk
