// error.h - the one exception type of the engine.
//
// Every engine failure throws tk::Error with a message that names the file and the tensor or field concerned,
// e.g. "model.safetensors: tensor 'model.norm.weight': shape [64] does not match expected [128]".
// The addon turns it into a rejected promise carrying that message.
#pragma once

#include <stdexcept>
#include <string>

namespace tk {

struct Error : std::runtime_error {
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace tk
