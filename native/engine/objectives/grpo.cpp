// grpo.cpp - GRPO and TRL's loss variants on the objective seam (see grpo.h for the formulas).
#include "grpo.h"

#include <algorithm>
#include <cmath>

#include "../error.h"

namespace tk {

void validate_grpo(const ObjectiveOptions& o) {
  static const char* losses[] = {"grpo", "dr_grpo", "dapo", "bnpo"};
  if (std::find(std::begin(losses), std::end(losses), o.grpo_loss_type) == std::end(losses))
    throw Error("objective.loss_type '" + o.grpo_loss_type + "' is not supported for grpo (grpo, dr_grpo, dapo, bnpo)");
  if (o.scale_rewards != "group" && o.scale_rewards != "batch" && o.scale_rewards != "none")
    throw Error("objective.scale_rewards must be 'group', 'batch' or 'none'");
  if (o.num_generations < 2) throw Error("objective.num_generations must be at least 2");
  if (!(o.epsilon > 0 && o.epsilon < 1)) throw Error("objective.epsilon must be in (0, 1)");
  if (!(o.beta >= 0) || !std::isfinite(o.beta)) throw Error("objective.beta must be >= 0 for grpo");
  if (o.max_completion_length < 1) throw Error("objective.max_completion_length must be positive");
  if (!(o.temperature > 0) || !std::isfinite(o.temperature)) throw Error("objective.temperature must be positive");
  for (double r : o.rewards)
    if (!std::isfinite(r)) throw Error("objective.rewards must be finite numbers");
}

namespace {

double mean_of(const double* x, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += x[i];
  return s / static_cast<double>(n);
}

// torch.std: unbiased (Bessel); NaN for a single value, as torch gives.
double std_of(const double* x, size_t n) {
  const double m = mean_of(x, n);
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += (x[i] - m) * (x[i] - m);
  return std::sqrt(s / static_cast<double>(n - 1));
}

}  // namespace

std::vector<double> grpo_advantages(const std::vector<double>& rewards, int group, const std::string& scale_rewards) {
  std::vector<double> adv(rewards.size());
  const double batch_std = scale_rewards == "batch" ? std_of(rewards.data(), rewards.size()) : 0;
  for (size_t g = 0; g + group <= rewards.size(); g += group) {
    const double* r = rewards.data() + g;
    const double m = mean_of(r, group);
    const double sd = scale_rewards == "group" ? std_of(r, group) : batch_std;
    for (int i = 0; i < group; ++i)
      adv[g + i] = scale_rewards == "none" ? r[i] - m : (r[i] - m) / (sd + 1e-4);
  }
  return adv;
}

GrpoLoss grpo_loss(const ObjectiveOptions& o, const std::vector<GrpoRow>& rows, double normaliser, double scale,
                   float* w) {
  GrpoLoss out;
  const std::string& type = o.grpo_loss_type;
  int64_t batch_tokens = 0;
  for (const GrpoRow& r : rows) batch_tokens += static_cast<int64_t>(r.pos.size());
  double kl_sum = 0, low = 0, high = 0;
  for (const GrpoRow& r : rows) {
    const size_t n = r.pos.size();
    // d(loss) / d(token loss) for this row's tokens
    double coef;
    if (type == "grpo") coef = scale / std::max<double>(1.0, static_cast<double>(n)) / static_cast<double>(rows.size());
    else if (type == "bnpo") coef = scale / std::max<double>(1.0, static_cast<double>(batch_tokens));
    else if (type == "dr_grpo") coef = scale / normaliser;
    else coef = 1.0 / std::max(1.0, normaliser);  // dapo: the step's tokens, not divided again by accumulation
    const double A = r.advantage;
    for (size_t k = 0; k < n; ++k) {
      const double rho = std::exp(r.logp[k] - r.old_logp[k]);
      const double clipped = std::clamp(rho, 1 - o.epsilon, 1 + o.epsilon);
      const double unclipped_term = rho * A, clipped_term = clipped * A;
      double token_loss = -std::min(unclipped_term, clipped_term);
      // the ratio's gradient passes unless the clipped term is the minimum and the clamp is active
      const bool passes = unclipped_term <= clipped_term || (rho >= 1 - o.epsilon && rho <= 1 + o.epsilon);
      double d_logp = passes ? -A * rho : 0.0;  // d token_loss / d logp
      if (o.beta > 0) {
        // TRL 1.13's default use_bias_correction_kl: the k3 estimate times the ratio (whose value is 1 here, its
        // gradient is not), an unbiased KL estimate for samples drawn from the old policy
        const double delta = r.ref_logp[k] - r.logp[k];
        const double kl = std::exp(delta) - delta - 1;
        token_loss += o.beta * kl * rho;
        d_logp += o.beta * ((1 - std::exp(delta)) * rho + kl * rho);
        kl_sum += kl * rho;
      }
      // TRL's clip metrics: low when rho < 1 - eps with A < 0, high when rho > 1 + eps with A > 0
      if (rho < 1 - o.epsilon && A < 0) low += 1;
      if (rho > 1 + o.epsilon && A > 0) high += 1;
      out.loss += coef * token_loss;
      if (w) w[r.pos[k]] += static_cast<float>(-coef * d_logp);  // w = dL/dCE = -dL/dlogp
    }
  }
  out.tokens = batch_tokens;
  const double t = static_cast<double>(std::max<int64_t>(1, batch_tokens));
  out.kl = kl_sum / t;
  out.clip_low = low / t;
  out.clip_high = high / t;
  out.clip_region = (low + high) / t;
  return out;
}

// ---- GrpoObjective ---------------------------------------------------------------------------------------------

GrpoObjective::GrpoObjective(const ObjectiveOptions& o, int max_seq_len, int pad_id)
    : o_(o), max_seq_len_(max_seq_len), pad_id_(pad_id) {
  validate_grpo(o_);
}

size_t GrpoObjective::units(const TokenFile& tf) const {
  if (tf.size() % o_.num_generations != 0)
    throw Error("grpo token file must hold groups of num_generations (" + std::to_string(o_.num_generations) +
                ") rows; it has " + std::to_string(tf.size()) + " rows");
  return tf.size() / o_.num_generations;
}

int GrpoObjective::max_row_len(const TokenFile& tf) const {
  int T = 1;
  for (size_t e = 0; e < tf.size(); ++e) T = std::max(T, static_cast<int>(std::min<size_t>(tf.length(e), max_seq_len_)));
  return T;
}

SeqBatch GrpoObjective::batch(const TokenFile& tf, const std::vector<uint32_t>& units) const {
  std::vector<std::vector<int32_t>> ids, labels;
  for (uint32_t u : units)
    for (int i = 0; i < o_.num_generations; ++i) {
      const uint32_t e = u * o_.num_generations + i;
      const size_t off = tf.offsets[e], len = std::min<size_t>(tf.length(e), max_seq_len_);
      ids.emplace_back(tf.ids.begin() + off, tf.ids.begin() + off + len);
      labels.emplace_back(tf.labels.begin() + off, tf.labels.begin() + off + len);
    }
  return seq_batch(ids, labels, std::vector<uint8_t>(ids.size(), 0), pad_id_);
}

void GrpoObjective::compute_reference(Llama& m, const TokenFile& tf, int slot) {
  if (slot != 0) throw Error("grpo: a validation token file is not supported (validation scores rewards, not a loss)");
  if (o_.rewards.size() != tf.size())
    throw Error("grpo: " + std::to_string(o_.rewards.size()) + " rewards for a token file of " +
                std::to_string(tf.size()) + " rows");
  ref_[slot].assign(tf.size(), {});
  if (o_.beta == 0) return;  // TRL skips the reference model when beta is 0
  const LogitScale at_temperature(m, 1.0 / o_.temperature);
  const size_t n_units = units(tf);
  for (uint32_t u = 0; u < n_units; ++u) {
    SeqBatch sb = batch(tf, {u});
    llama_forward(m, sb.b, nullptr);
    ce_.assign(sb.b.ids.size(), 0.0f);
    llama_token_ce(m, sb.b, ce_.data(), nullptr);
    for (int r = 0; r < sb.b.B; ++r) {
      std::vector<float>& out = ref_[slot][u * o_.num_generations + r];
      for (int t = 0; t < sb.b.T; ++t)
        if (sb.comp[(size_t)r * sb.b.T + t]) out.push_back(-ce_[(size_t)r * sb.b.T + t]);
    }
  }
}

void GrpoObjective::begin_step(const TokenFile& tf, int, const std::vector<uint32_t>& units) {
  // Advantages over the step's groups (TRL: over the generation batch), and dapo's token count.
  std::vector<double> rewards;
  step_tokens_ = 0;
  for (uint32_t u : units)
    for (int i = 0; i < o_.num_generations; ++i) {
      const uint32_t e = u * o_.num_generations + i;
      rewards.push_back(o_.rewards[e]);
      const size_t len = std::min<size_t>(tf.length(e), max_seq_len_);
      for (size_t t = 1; t < len; ++t) step_tokens_ += tf.labels[tf.offsets[e] + t] != -100;
    }
  const std::vector<double> adv = grpo_advantages(rewards, o_.num_generations, o_.scale_rewards);
  advantages_.assign(tf.size(), 0.0);
  size_t k = 0;
  for (uint32_t u : units)
    for (int i = 0; i < o_.num_generations; ++i) advantages_[u * o_.num_generations + i] = adv[k++];
}

double GrpoObjective::micro_step(Llama& m, const TokenFile& tf, int slot, const std::vector<uint32_t>& units,
                                 float scale, Grads* g, const DropoutCtx* drop, MetricMeans& metrics,
                                 int64_t* scored_tokens) {
  SeqBatch sb = batch(tf, units);
  const int T = sb.b.T;
  const LogitScale at_temperature(m, 1.0 / o_.temperature);
  llama_forward(m, sb.b, drop);
  ce_.assign(sb.b.ids.size(), 0.0f);
  llama_token_ce(m, sb.b, ce_.data(), nullptr);
  std::vector<GrpoRow> rows(sb.b.B);
  double reward_sum = 0, length_sum = 0;
  for (int r = 0; r < sb.b.B; ++r) {
    const uint32_t e = units[r / o_.num_generations] * o_.num_generations + r % o_.num_generations;
    GrpoRow& row = rows[r];
    row.advantage = advantages_[e];
    for (int t = 0; t < T; ++t) {
      const size_t i = (size_t)r * T + t;
      if (!sb.comp[i]) continue;
      row.pos.push_back(i);
      row.logp.push_back(-ce_[i]);
    }
    row.old_logp = row.logp;  // one update per batch of samples (TRL's num_iterations 1): the ratio is 1
    if (o_.beta > 0) row.ref_logp.assign(ref_[slot][e].begin(), ref_[slot][e].begin() + row.logp.size());
    reward_sum += o_.rewards[e];
    length_sum += static_cast<double>(row.pos.size());
  }
  const double normaliser = o_.grpo_loss_type == "dapo"
                                ? static_cast<double>(step_tokens_)
                                : static_cast<double>(sb.b.B) * o_.max_completion_length;
  w_.assign(sb.b.ids.size(), 0.0f);
  const GrpoLoss l = grpo_loss(o_, rows, normaliser, scale, g ? w_.data() : nullptr);
  if (scored_tokens) *scored_tokens += l.tokens;
  if (g) llama_backward(m, sb.b, 0.0f, *g, drop, w_.data());
  // the micro-batch's own loss, before accumulation scaling (TRL logs policy_loss the same way)
  // the micro-batch's loss before accumulation scaling (train() scales it back), as TRL logs policy_loss
  const double loss = l.loss / scale;
  double std_sum = 0;
  for (int r = 0; r < sb.b.B; r += o_.num_generations) {
    const uint32_t e = units[r / o_.num_generations] * o_.num_generations;
    std_sum += std_of(o_.rewards.data() + e, o_.num_generations);
  }
  metrics.add("loss", loss);
  metrics.add("reward", reward_sum / sb.b.B);
  metrics.add("reward_std", std_sum / (sb.b.B / o_.num_generations));
  metrics.add("completions/mean_length", length_sum / sb.b.B);
  metrics.add("clip_ratio/low_mean", l.clip_low);
  metrics.add("clip_ratio/high_mean", l.clip_high);
  metrics.add("clip_ratio/region_mean", l.clip_region);
  if (o_.beta > 0) metrics.add("kl", l.kl);
  return loss;
}

}  // namespace tk
