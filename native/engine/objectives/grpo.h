// grpo.h - Group Relative Policy Optimization (Shao et al. 2024, DeepSeekMath) and TRL's loss variants (Dr. GRPO,
// DAPO, BNPO), as TRL 1.13's GRPOTrainer._compute_loss computes them, on the objective seam of preference.h: the
// per-token log-probs of the completions come from llama_token_ce, the loss reaches the logits only through them, so
// the backward is llama_backward with per-token weights w_t = dL/dCE_t = -dL/dlogp_t.
//
// For completion i of a group of G (the same prompt) with reward r_i:
//   advantage   A_i = (r_i - mean(group)) / (std(group) + 1e-4)   (std unbiased; scale_rewards "batch": the std of
//               every reward of the step; "none": no division, Dr. GRPO)
//   ratio       rho_t = exp(logp_t - old_t), old = the log-probs the completion was sampled with (detached)
//   token loss  l_t = -min(rho_t A_i, clip(rho_t, 1 - eps, 1 + eps) A_i) + beta * rho_t * k3_t, with
//               k3_t = exp(ref_t - logp_t) - (ref_t - logp_t) - 1 the estimate of KL to the reference (the model
//               as the run starts: the base for a fresh adapter, a frozen copy of a pretrained one, as TRL 1.13),
//               times rho_t as TRL 1.13's default use_bias_correction_kl does
//   aggregation over the completion tokens M: grpo mean_i(sum_t l M / sum_t M); bnpo sum l M / sum M (micro-batch);
//               dr_grpo sum l M / (rows * max_completion_length); dapo sum l M / (completion tokens of the whole
//               step); grpo, bnpo and dr_grpo are also divided by the micro-batches of the step (accumulation).
// Log-probs are those of logits / temperature (ObjectiveOptions::temperature, the sampling temperature), as TRL
// divides the logits by its sampling temperature before the log-softmax, for the policy and the reference alike.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "preference.h"

namespace tk {

// Group-relative advantages of rewards laid out as consecutive groups of `group` completions.
std::vector<double> grpo_advantages(const std::vector<double>& rewards, int group, const std::string& scale_rewards);

// One row's completion tokens (positions in the batch) and what the loss needs of each.
struct GrpoRow {
  double advantage = 0;
  std::vector<size_t> pos;       // positions of the row's completion tokens in the (B*T) batch
  std::vector<double> logp;      // policy log-probs now
  std::vector<double> old_logp;  // log-probs at sampling time (= logp, detached, when sampled by this policy)
  std::vector<double> ref_logp;  // reference log-probs (only read when beta > 0)
};

struct GrpoLoss {
  double loss = 0;
  double kl = 0;  // mean k3 KL over the tokens (0 when beta = 0)
  double clip_low = 0, clip_high = 0, clip_region = 0;  // shares of tokens clipped below, above, either (A-signed)
  int64_t tokens = 0;
};

// The loss of a micro-batch of rows and, when w is non-null, the per-token weights (accumulated into w at each
// row's positions) for llama_backward. `normaliser`: tokens of the whole step for dapo, rows * max_completion_length
// for dr_grpo, unused otherwise; `scale`: 1 / micro-batches of the step (not applied to dapo).
GrpoLoss grpo_loss(const ObjectiveOptions& o, const std::vector<GrpoRow>& rows, double normaliser, double scale,
                   float* w);

// GRPO on a token file of sampled completions: rows of prompt + completion (labels -100 on the prompt), in groups of
// num_generations consecutive rows of one prompt; ObjectiveOptions::rewards holds one reward per row. A unit is one
// group. The reference log-probs are computed once per run.
class GrpoObjective : public SequenceObjective {
 public:
  GrpoObjective(const ObjectiveOptions& o, int max_seq_len, int pad_id);
  int rows_per_unit() const override { return o_.num_generations; }
  size_t units(const TokenFile& tf) const override;
  int max_row_len(const TokenFile& tf) const override;
  void compute_reference(Llama& m, const TokenFile& tf, int slot) override;
  void begin_step(const TokenFile& tf, int slot, const std::vector<uint32_t>& units) override;
  double micro_step(Llama& m, const TokenFile& tf, int slot, const std::vector<uint32_t>& units, float scale,
                    Grads* g, const DropoutCtx* drop, MetricMeans& metrics, int64_t* scored_tokens) override;

 private:
  SeqBatch batch(const TokenFile& tf, const std::vector<uint32_t>& units) const;

  ObjectiveOptions o_;
  int max_seq_len_, pad_id_;
  std::vector<std::vector<float>> ref_[2];  // per example: reference log-prob of each completion token
  std::vector<double> advantages_;          // per example, for the current step
  int64_t step_tokens_ = 0;                 // completion tokens of the current step (dapo's normaliser)
  std::vector<float> ce_, w_;
};

}  // namespace tk
