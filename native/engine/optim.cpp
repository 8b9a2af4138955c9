// optim.cpp - AdamW, schedules and clipping, matching torch / transformers (see optim.h).
#include "optim.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "error.h"
#include "ops.h"

namespace tk {

void adamw_update(float* params, const float* grads, float* m, float* v, const uint8_t* decay_mask, int64_t n,
                  int64_t t, double lr, const AdamWConfig& cfg) {
  // torch.optim.adamw _single_tensor_adamw: Python floats (double) for the scalars, fp32 tensor arithmetic.
  const float decay = static_cast<float>(1.0 - lr * cfg.weight_decay);
  const float b1c = static_cast<float>(1.0 - cfg.beta1);  // lerp weight
  const float b2 = static_cast<float>(cfg.beta2), one_m_b2 = static_cast<float>(1.0 - cfg.beta2);
  const double bc1 = 1.0 - std::pow(cfg.beta1, static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(cfg.beta2, static_cast<double>(t));
  const float step_size = static_cast<float>(lr / bc1);
  const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  const float eps = static_cast<float>(cfg.eps);
  const int64_t grain = 1 << 15;
  parallel_for(static_cast<int>((n + grain - 1) / grain), [&](int b) {
    const int64_t s = b * grain, e = std::min(n, s + grain);
    for (int64_t i = s; i < e; ++i) {
      float p = params[i];
      if (cfg.weight_decay != 0.0 && (!decay_mask || decay_mask[i])) p *= decay;
      const float g = grads[i];
      m[i] = m[i] + b1c * (g - m[i]);  // exp_avg.lerp_(grad, 1 - beta1) (weight < 0.5 branch)
      v[i] = v[i] * b2 + one_m_b2 * g * g;
      const float denom = std::sqrt(v[i]) / bc2_sqrt + eps;
      params[i] = p - step_size * (m[i] / denom);
    }
  });
}

int64_t warmup_steps(double ratio, int64_t total) {
  if (ratio < 0 || ratio > 1) throw Error("warmup_ratio must be in [0, 1]");
  return static_cast<int64_t>(std::ceil(static_cast<double>(total) * ratio));
}

double lr_lambda(const std::string& schedule, int64_t k, int64_t warmup, int64_t total) {
  if (k < warmup) return static_cast<double>(k) / static_cast<double>(std::max<int64_t>(1, warmup));
  if (schedule == "constant") return 1.0;
  if (schedule == "linear")
    return std::max(0.0, static_cast<double>(total - k) / static_cast<double>(std::max<int64_t>(1, total - warmup)));
  if (schedule == "cosine") {
    const double progress = static_cast<double>(k - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup));
    return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * 0.5 * 2.0 * progress)));
  }
  throw Error("lr_scheduler '" + schedule + "' is not supported (linear, cosine, constant)");
}

double clip_grad_norm(float* grads, int64_t n, double max_norm) {
  const int64_t grain = 1 << 16;
  const int nb = static_cast<int>((n + grain - 1) / grain);
  std::vector<double> partial(nb, 0.0);
  parallel_for(nb, [&](int b) {
    const int64_t s = b * grain, e = std::min(n, s + grain);
    double acc = 0.0;
    for (int64_t i = s; i < e; ++i) acc += static_cast<double>(grads[i]) * grads[i];
    partial[b] = acc;
  });
  double total = 0.0;
  for (double p : partial) total += p;
  const double norm = std::sqrt(total);
  if (max_norm > 0) {
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
      const float c = static_cast<float>(coef);
      parallel_for(nb, [&](int b) {
        const int64_t s = b * grain, e = std::min(n, s + grain);
        for (int64_t i = s; i < e; ++i) grads[i] *= c;
      });
    }
  }
  return norm;
}

}  // namespace tk
