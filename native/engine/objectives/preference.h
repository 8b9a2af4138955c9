// preference.h - training objectives on whole sequences: DPO and TRL's family (IPO, hinge, robust, RPO, SimPO,
// ORPO) and KTO, plugged into the one training loop of train.cpp (data plan, accumulation, AdamW, schedule,
// checkpoints, resume, evaluation stay there).
//
// ---- The objective seam (how an objective other than SFT's token-mean CE trains) ------------------------------
// 1. Sequences: a micro-batch is a SeqBatch, whole rows (prompt + completion) whose Batch.targets are set only where
//    the objective needs a log-prob (the completion; for ORPO the whole chosen row), with `comp` marking the
//    completion positions. Position t of a row holds the prediction of token t+1 (HF shift), as everywhere.
// 2. Forward: llama_forward, then llama_token_ce (llama.h) gives every scored position's CE_t = -log p(target_t)
//    from the fused lm_head (no (N, V) logits kept). Per-sequence log-probs are sums over a row's `comp` positions
//    (seq_logps); the reference's are the same with the adapter off, computed once per example before training
//    (ReferenceLogps) and never again (TRL's precompute_ref_log_probs).
// 3. Backward: the objective's loss depends on the logits only through those log-probs, so its gradient is
//    dL/dz_t = w_t * (softmax_t - onehot_t) with per-token weights w_t = dL/dCE_t = -dL/dlogp_t. The objective
//    writes w (B*T) and calls llama_backward(m, b, 0, grads, drop, w): the rest of the backward pass (LoRA, full
//    fine-tuning, dropout masks) is SFT's.
// GRPO reuses this as is: per-token log-probs of the sampled completions from llama_token_ce, per-token weights
// from advantages and clipping (w_t = -A * d min(rho A, clip(rho) A)/dlogp_t / normaliser), plus beta * the k3 KL
// to the reference (d/dlogp_t = 1 - exp(ref_t - logp_t)), and the same llama_backward call.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../llama.h"
#include "../tokens.h"

namespace tk {

// Which objective train() optimises, with TRL's hyperparameter names and defaults.
struct ObjectiveOptions {
  std::string method = "sft";  // "sft" (token-mean CE, train.cpp) | "dpo" (paired rows) | "kto" (unpaired rows)
  // dpo: TRL DPOTrainer loss_type list, summed with loss_weights (empty = all 1): sigmoid | hinge | ipo | robust |
  // sigmoid_norm | sft (the NLL of the chosen completion, TRL 1.x's RPO); or alone: simpo (CPOTrainer's,
  // reference-free, token-averaged logps) | orpo (ORPOTrainer's odds ratio + NLL of the whole chosen sequence).
  std::vector<std::string> loss_types = {"sigmoid"};
  std::vector<double> loss_weights;
  double beta = 0.1;             // DPO beta, IPO tau, SimPO beta, ORPO lambda, KTO beta
  double label_smoothing = 0.0;  // robust (and simpo's conservative form), in [0, 0.5)
  double simpo_gamma = 0.5;      // simpo target margin
  double cpo_alpha = 0.0;        // simpo: weight of the chosen NLL (CPOTrainer's cpo_alpha; 0 = pure SimPO)
  bool reference_free = false;   // dpo: reference log-probs taken as 0
  // kto
  double desirable_weight = 1.0, undesirable_weight = 1.0;
  std::vector<uint8_t> desirable, valid_desirable;  // per example of the train / validation token file
  // grpo (objectives/grpo.h; TRL GRPOConfig names and defaults, beta above: TRL's default for grpo is 0)
  int num_generations = 8;             // completions per prompt: rows per group
  std::string grpo_loss_type = "dapo";  // grpo | dr_grpo | dapo | bnpo
  double epsilon = 0.2;                 // clip range of the policy ratio
  int max_completion_length = 256;      // dr_grpo's normaliser
  std::string scale_rewards = "group";  // group | batch | none
  std::vector<double> rewards;          // per row of the train token file
  double temperature = 1.0;             // the sampling temperature: log-probs of logits / temperature (TRL)
};

// Throws tk::Error naming the field when the options are inconsistent.
void validate_objective(const ObjectiveOptions& o);
void validate_grpo(const ObjectiveOptions& o);  // grpo.cpp

// ---- per-pair / per-example losses: forward and backward ------------------------------------------------------
// One preference pair: summed completion log-probs of policy and reference, completion token counts.
struct PairLogps {
  double chosen = 0, rejected = 0;          // log pi(y|x), summed over the completion
  double ref_chosen = 0, ref_rejected = 0;  // log pi_ref(y|x)
  int n_chosen = 0, n_rejected = 0;         // completion tokens scored
};
struct PairStats {  // TRL's logged values for one pair
  double reward_chosen = 0, reward_rejected = 0, logp_chosen = 0, logp_rejected = 0;
};
// Mean over the pairs of sum_k weight_k * loss_k (the sft/NLL terms excluded: they are token sums, see
// PreferenceObjective); stats (one per pair) when non-null.
double pair_loss_forward(const ObjectiveOptions& o, const std::vector<PairLogps>& p, std::vector<PairStats>* stats);
// d(that mean) / d(chosen), d / d(rejected) per pair, times `upstream`.
void pair_loss_backward(const ObjectiveOptions& o, const std::vector<PairLogps>& p, double upstream,
                        std::vector<double>& d_chosen, std::vector<double>& d_rejected);

// KTO: one example (desirable or not), its summed log-probs; kl = the batch's detached KL estimate z0 (>= 0).
struct KtoLogps {
  double logp = 0, ref = 0;
  bool desirable = true;
};
double kto_loss_forward(const ObjectiveOptions& o, const std::vector<KtoLogps>& x, double kl);  // mean over x
void kto_loss_backward(const ObjectiveOptions& o, const std::vector<KtoLogps>& x, double kl, double upstream,
                       std::vector<double>& d_logp);

// ---- sequences ---------------------------------------------------------------------------------------------------
struct SeqBatch {
  Batch b;
  std::vector<uint8_t> comp;  // (B*T) position predicts a completion token
};
// Rows from (ids, labels) pairs of whole sequences (labels -100 on the prompt); all_targets[r]: score every
// position of row r (ORPO's chosen NLL), else only the completion.
SeqBatch seq_batch(const std::vector<std::vector<int32_t>>& ids, const std::vector<std::vector<int32_t>>& labels,
                   const std::vector<uint8_t>& all_targets, int pad_id);
// Per row: sum over `comp` of -ce (the summed completion log-prob) and the count of those positions.
void seq_logps(const SeqBatch& sb, const float* ce, std::vector<double>& logp, std::vector<int>& n);

// Named metrics, averaged over the values added (TRL logs per micro-batch and averages over the logging window).
class MetricMeans {
 public:
  void add(const std::string& name, double v);
  std::vector<std::pair<std::string, double>> means(const std::string& prefix = "") const;
  void clear() { items_.clear(); }

 private:
  std::vector<std::pair<std::string, std::pair<double, int>>> items_;
};

// An objective over units of whole-sequence rows of a token file, as train() drives it (preference objectives
// below, GRPO in grpo.h).
class SequenceObjective {
 public:
  virtual ~SequenceObjective() = default;
  virtual int rows_per_unit() const = 0;
  // Units in a token file; throws when the file does not hold whole units.
  virtual size_t units(const TokenFile& tf) const = 0;
  // The longest row a unit of tf makes (after truncation), for sizing the model's buffers.
  virtual int max_row_len(const TokenFile& tf) const = 0;
  // Reference log-probs of every example of tf; slot 0 = training file, 1 = validation file.
  virtual void compute_reference(Llama& m, const TokenFile& tf, int slot) = 0;
  // Called with every unit of an optimizer step before its micro-batches (step-wide normalisers).
  virtual void begin_step(const TokenFile&, int, const std::vector<uint32_t>&) {}
  // One micro-batch of units: forward, loss, and (when g is non-null) gradients of scale * loss accumulated.
  // Adds the micro-batch's loss and TRL metrics to `metrics`; returns the loss.
  virtual double micro_step(Llama& m, const TokenFile& tf, int slot, const std::vector<uint32_t>& units, float scale,
                            Grads* g, const DropoutCtx* drop, MetricMeans& metrics, int64_t* scored_tokens) = 0;
};

// The objective on a token file whose examples are rows of whole sequences: for dpo, example 2i is pair i's
// chosen row and 2i+1 its rejected one; for kto, one example per row with ObjectiveOptions::desirable.
class PreferenceObjective : public SequenceObjective {
 public:
  PreferenceObjective(const ObjectiveOptions& o, int max_seq_len, int pad_id, int batch_size);
  int rows_per_unit() const override { return o_.method == "dpo" ? 2 : 1; }
  size_t units(const TokenFile& tf) const override;
  int max_row_len(const TokenFile& tf) const override;
  // Reference log-probs of every example of tf (and KTO's mismatched KL rows), with the model as it is now.
  // reference_free: zeros.
  void compute_reference(Llama& m, const TokenFile& tf, int slot) override;
  // Returns the micro-batch's loss as a mean over its units.
  double micro_step(Llama& m, const TokenFile& tf, int slot, const std::vector<uint32_t>& units, float scale,
                    Grads* g, const DropoutCtx* drop, MetricMeans& metrics, int64_t* scored_tokens) override;

 private:
  struct Row {
    std::vector<int32_t> ids, labels;
  };
  Row row(const TokenFile& tf, uint32_t example) const;
  Row kl_row(const TokenFile& tf, int slot, uint32_t example) const;
  uint32_t kl_partner(const TokenFile& tf, uint32_t example) const;
  // llama_forward + llama_token_ce (into ce_) + seq_logps
  void forward_logps(Llama& m, const SeqBatch& sb, const DropoutCtx* drop, uint8_t* correct, std::vector<double>& logp,
                     std::vector<int>& n);
  const std::vector<uint8_t>& desirable(int slot) const { return slot == 0 ? o_.desirable : o_.valid_desirable; }

  ObjectiveOptions o_;
  int max_seq_len_, pad_id_, batch_size_;
  std::vector<double> ref_[2], ref_kl_[2];  // per example
  std::vector<float> ce_, w_;
};

}  // namespace tk
