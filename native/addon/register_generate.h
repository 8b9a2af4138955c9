// register_generate.h - registers the generation functions of native/addon/generate.cpp on the addon's exports.
#pragma once

#include <napi.h>

namespace tkaddon {

void register_generate(Napi::Env env, Napi::Object exports);

}  // namespace tkaddon
