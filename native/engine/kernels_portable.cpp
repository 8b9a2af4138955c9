// kernels_portable.cpp - the kernel table for any CPU: scalar code (the compiler may vectorise it for the baseline
// ISA). Compiled with no ISA flags. See cpu.h and kernels_body.inc.
#include <math.h>
#include <cstring>

#include "cpu.h"

namespace tk::kernels_portable {

using V = float;
inline V vzero() { return 0.0f; }
inline V vset1(float f) { return f; }
inline V vload(const float* p) { return *p; }
inline void vstore(float* p, V v) { *p = v; }
inline V vadd(V a, V b) { return a + b; }
inline V vsub(V a, V b) { return a - b; }
inline V vmul(V a, V b) { return a * b; }
inline V vdiv(V a, V b) { return a / b; }
inline V vfma(V a, V b, V c) { return a * b + c; }
inline V vmax(V a, V b) { return a < b ? b : a; }
inline V vexp(V x) { return expf(x); }
inline float vhsum(V v) { return v; }
inline unsigned veq_mask(V v, float s) { return v == s ? 1u : 0u; }

#define TK_LANES 1
#define TK_MR 6
#define TK_PANELS 1
#define TK_NAME "portable"
#include "kernels_body.inc"

}  // namespace tk::kernels_portable

namespace tk {
const Kernels* portable_kernels() { return kernels_portable::make_kernels(); }
}  // namespace tk
