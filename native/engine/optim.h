// optim.h - AdamW (torch.optim.AdamW), learning-rate schedules (transformers' get_*_schedule_with_warmup) and
// global-norm gradient clipping (torch.nn.utils.clip_grad_norm_).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tk {

struct AdamWConfig {
  double lr = 5e-5;  // base learning rate (the schedule multiplies it)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;
};

// One AdamW update of n parameters at step t (1-based) with learning rate lr, in torch's single-tensor order:
// p *= 1 - lr*wd (decay_mask[i] == 0 skips it; decay_mask may be null = decay all); m = lerp(m, g, 1-beta1);
// v = beta2 v + (1-beta2) g^2; p -= lr/(1-beta1^t) * m / (sqrt(v)/sqrt(1-beta2^t) + eps).
void adamw_update(float* params, const float* grads, float* m, float* v, const uint8_t* decay_mask, int64_t n,
                  int64_t t, double lr, const AdamWConfig& cfg);

// LambdaLR multiplier after k optimizer steps (k = 0 for the first update) for "linear" | "cosine" | "constant"
// (constant_with_warmup when warmup > 0). Throws tk::Error on an unknown name.
double lr_lambda(const std::string& schedule, int64_t k, int64_t warmup, int64_t total);
// warmup steps = ceil(total * ratio) (transformers TrainingArguments.get_warmup_steps)
int64_t warmup_steps(double ratio, int64_t total);

// Global L2 norm of grads (accumulated in double over a fixed order of blocks), and scaling by
// max_norm / (norm + 1e-6) when that is < 1. Returns the norm before clipping. max_norm <= 0: no clipping.
double clip_grad_norm(float* grads, int64_t n, double max_norm);

}  // namespace tk
