// kernels_avx512.cpp - the kernel table for AVX-512 (16 floats per register; an 8 x 48 register tile: 24
// accumulators, 3 panel loads and 8 broadcasts per step). Compiled with -mavx512f -mavx512bw -mavx512vl
// -mavx512dq (this file only; see CMakeLists.txt). See cpu.h and kernels_body.inc.
#include "cpu.h"

#if defined(TUNEKIT_KERNELS_AVX512)
// GCC 12 warns that _mm512_undefined_ps() (inside the intrinsics' own headers) is used uninitialised.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <math.h>
#include <cstring>

namespace tk::kernels_avx512 {

using V = __m512;
inline V vzero() { return _mm512_setzero_ps(); }
inline V vset1(float f) { return _mm512_set1_ps(f); }
inline V vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, V v) { _mm512_storeu_ps(p, v); }
inline V vadd(V a, V b) { return _mm512_add_ps(a, b); }
inline V vsub(V a, V b) { return _mm512_sub_ps(a, b); }
inline V vmul(V a, V b) { return _mm512_mul_ps(a, b); }
inline V vdiv(V a, V b) { return _mm512_div_ps(a, b); }
inline V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
inline V vmax(V a, V b) { return _mm512_max_ps(a, b); }

// exp(x) for 16 floats: the AVX2 path's algorithm and constants, 16 lanes wide.
inline V vexp(V x) {
  const V hi = _mm512_set1_ps(88.3762626647949f), lo = _mm512_set1_ps(-88.3762626647949f);
  x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
  V fx = _mm512_roundscale_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f)),
                              _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
  x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), x);
  const V z = _mm512_mul_ps(x, x);
  V y = _mm512_set1_ps(1.9875691500E-4f);
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507E-3f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073E-3f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894E-2f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459E-1f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201E-1f));
  y = _mm512_add_ps(_mm512_fmadd_ps(y, z, x), _mm512_set1_ps(1.0f));
  __m512i n = _mm512_cvttps_epi32(fx);
  n = _mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(0x7f)), 23);
  return _mm512_mul_ps(y, _mm512_castsi512_ps(n));
}

// Fixed order: the two 256-bit halves, then the two 128-bit halves, then within 128 bits.
inline float vhsum(V v) {
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
inline unsigned veq_mask(V v, float s) {
  return static_cast<unsigned>(_mm512_cmp_ps_mask(v, _mm512_set1_ps(s), _CMP_EQ_OQ));
}

#define TK_LANES 16
#define TK_MR 8
#define TK_PANELS 3
#define TK_NAME "avx512"
#include "kernels_body.inc"

}  // namespace tk::kernels_avx512

namespace tk {
const Kernels* avx512_kernels() { return kernels_avx512::make_kernels(); }
}  // namespace tk
#else
namespace tk {
const Kernels* avx512_kernels() { return nullptr; }
}  // namespace tk
#endif
