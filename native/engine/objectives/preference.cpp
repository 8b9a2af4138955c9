// preference.cpp - DPO and TRL's family, KTO (see preference.h). The math follows TRL 1.13: DPOTrainer._compute_loss
// (sigmoid, hinge, ipo, robust, sigmoid_norm, sft), experimental CPOTrainer (simpo) and ORPOTrainer (orpo),
// KTOTrainer (kto); docs/emulator.md gives each formula.
#include "preference.h"

#include <algorithm>
#include <cmath>

#include "../error.h"

namespace tk {

namespace {

double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x)); }
double log_sigmoid(double x) { return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x)); }
// log(1 - exp(x)) for x < 0, branching at -ln 2 as ORPOTrainer's log1mexp does
double log1mexp(double x) { return x < -0.6931471805599453 ? std::log1p(-std::exp(x)) : std::log(-std::expm1(x)); }

bool is_alone_type(const std::string& t) { return t == "simpo" || t == "orpo"; }

double weight_of(const ObjectiveOptions& o, size_t k) { return o.loss_weights.empty() ? 1.0 : o.loss_weights[k]; }

double avg(double sum, int n) { return sum / std::max(n, 1); }

// The per-pair value of one loss type and its derivatives with respect to the summed chosen/rejected log-probs.
struct Term {
  double loss = 0, d_chosen = 0, d_rejected = 0;
};

Term pair_term(const ObjectiveOptions& o, const std::string& type, const PairLogps& p) {
  const double beta = o.beta, eps = o.label_smoothing;
  const double rc = o.reference_free ? 0.0 : p.ref_chosen, rr = o.reference_free ? 0.0 : p.ref_rejected;
  const double nc = std::max(p.n_chosen, 1), nr = std::max(p.n_rejected, 1);
  Term t;
  if (type == "sigmoid" || type == "hinge" || type == "robust") {
    const double delta = (p.chosen - rc) - (p.rejected - rr);
    const double x = beta * delta;
    double dx = 0;
    if (type == "sigmoid") {
      t.loss = -log_sigmoid(x);
      dx = -sigmoid(-x);
    } else if (type == "hinge") {
      t.loss = std::max(0.0, 1.0 - x);
      dx = 1.0 - x > 0 ? -1.0 : 0.0;
    } else {  // robust: [-(1-eps) log s(x) + eps log s(-x)] / (1 - 2 eps)
      t.loss = (-(1 - eps) * log_sigmoid(x) + eps * log_sigmoid(-x)) / (1 - 2 * eps);
      dx = (-(1 - eps) * sigmoid(-x) - eps * sigmoid(x)) / (1 - 2 * eps);
    }
    t.d_chosen = beta * dx;
    t.d_rejected = -beta * dx;
  } else if (type == "ipo" || type == "sigmoid_norm") {  // token-averaged log-ratios
    const double delta = (p.chosen - rc) / nc - (p.rejected - rr) / nr;
    double dd = 0;
    if (type == "ipo") {
      const double e = delta - 1.0 / (2.0 * beta);
      t.loss = e * e;
      dd = 2.0 * e;
    } else {
      t.loss = -log_sigmoid(beta * delta);
      dd = -beta * sigmoid(-beta * delta);
    }
    t.d_chosen = dd / nc;
    t.d_rejected = -dd / nr;
  } else if (type == "simpo") {  // CPOTrainer: x = beta (avg_c - avg_r) - gamma, conservative sigmoid
    const double x = beta * (p.chosen / nc - p.rejected / nr) - o.simpo_gamma;
    t.loss = -(1 - eps) * log_sigmoid(x) - eps * log_sigmoid(-x);
    const double dx = -(1 - eps) * sigmoid(-x) + eps * sigmoid(x);
    t.d_chosen = dx * beta / nc;
    t.d_rejected = -dx * beta / nr;
  } else if (type == "orpo") {  // ORPOTrainer: -beta log s(log_odds) on token-averaged log-probs
    const double ac = p.chosen / nc, ar = p.rejected / nr;
    const double log_odds = (ac - ar) - (log1mexp(ac) - log1mexp(ar));
    t.loss = -beta * log_sigmoid(log_odds);
    const double dl = -beta * sigmoid(-log_odds);
    t.d_chosen = dl / (-std::expm1(ac)) / nc;  // d log_odds / d ac = 1 / (1 - e^ac)
    t.d_rejected = -dl / (-std::expm1(ar)) / nr;
  }
  // "sft" contributes no per-pair term: its NLL is a token mean over the micro-batch (PreferenceObjective)
  return t;
}

}  // namespace

void validate_objective(const ObjectiveOptions& o) {
  if (o.method != "sft" && o.method != "dpo" && o.method != "kto" && o.method != "grpo")
    throw Error("objective.method must be 'sft', 'dpo', 'kto' or 'grpo' (got '" + o.method + "')");
  if (o.method == "sft") return;
  if (o.method == "grpo") {
    validate_grpo(o);
    return;
  }
  if (!(o.beta > 0) || !std::isfinite(o.beta)) throw Error("objective.beta must be a positive number");
  if (o.method == "kto") {
    if (!(o.desirable_weight >= 0) || !(o.undesirable_weight >= 0))
      throw Error("objective.desirable_weight and undesirable_weight must be >= 0");
    return;
  }
  if (o.loss_types.empty()) throw Error("objective.loss_type must name at least one loss");
  if (!o.loss_weights.empty() && o.loss_weights.size() != o.loss_types.size())
    throw Error("objective.loss_weights must have one weight per loss_type (" + std::to_string(o.loss_types.size()) +
                "), got " + std::to_string(o.loss_weights.size()));
  for (const std::string& t : o.loss_types) {
    static const char* known[] = {"sigmoid", "hinge", "ipo", "robust", "sigmoid_norm", "sft", "simpo", "orpo"};
    if (std::find(std::begin(known), std::end(known), t) == std::end(known))
      throw Error("objective.loss_type '" + t +
                  "' is not supported (sigmoid, hinge, ipo, robust, sigmoid_norm, sft, simpo, orpo)");
    if (is_alone_type(t) && o.loss_types.size() != 1)
      throw Error("objective.loss_type '" + t + "' is its own trainer in TRL and cannot be combined with others");
  }
  if (!(o.label_smoothing >= 0 && o.label_smoothing < 0.5))
    throw Error("objective.label_smoothing must be in [0, 0.5)");
  if (!std::isfinite(o.simpo_gamma)) throw Error("objective.simpo_gamma must be a finite number");
  if (!(o.cpo_alpha >= 0)) throw Error("objective.cpo_alpha must be >= 0");
}

double pair_loss_forward(const ObjectiveOptions& o, const std::vector<PairLogps>& p, std::vector<PairStats>* stats) {
  double total = 0;
  const bool avg_logps = o.loss_types.size() == 1 && is_alone_type(o.loss_types[0]);
  if (stats) stats->resize(p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    for (size_t k = 0; k < o.loss_types.size(); ++k) total += weight_of(o, k) * pair_term(o, o.loss_types[k], p[i]).loss;
    if (!stats) continue;
    PairStats& s = (*stats)[i];
    if (avg_logps) {  // CPO / ORPO log and reward the token-averaged log-probs
      s.logp_chosen = avg(p[i].chosen, p[i].n_chosen);
      s.logp_rejected = avg(p[i].rejected, p[i].n_rejected);
      s.reward_chosen = o.beta * s.logp_chosen;
      s.reward_rejected = o.beta * s.logp_rejected;
    } else {
      s.logp_chosen = p[i].chosen;
      s.logp_rejected = p[i].rejected;
      s.reward_chosen = o.beta * (p[i].chosen - (o.reference_free ? 0.0 : p[i].ref_chosen));
      s.reward_rejected = o.beta * (p[i].rejected - (o.reference_free ? 0.0 : p[i].ref_rejected));
    }
  }
  return p.empty() ? 0.0 : total / static_cast<double>(p.size());
}

void pair_loss_backward(const ObjectiveOptions& o, const std::vector<PairLogps>& p, double upstream,
                        std::vector<double>& d_chosen, std::vector<double>& d_rejected) {
  d_chosen.assign(p.size(), 0.0);
  d_rejected.assign(p.size(), 0.0);
  if (p.empty()) return;
  const double s = upstream / static_cast<double>(p.size());
  for (size_t i = 0; i < p.size(); ++i)
    for (size_t k = 0; k < o.loss_types.size(); ++k) {
      const Term t = pair_term(o, o.loss_types[k], p[i]);
      d_chosen[i] += s * weight_of(o, k) * t.d_chosen;
      d_rejected[i] += s * weight_of(o, k) * t.d_rejected;
    }
}

double kto_loss_forward(const ObjectiveOptions& o, const std::vector<KtoLogps>& x, double kl) {
  double total = 0;
  for (const KtoLogps& e : x) {
    const double rho = e.logp - e.ref;
    total += e.desirable ? o.desirable_weight * (1.0 - sigmoid(o.beta * (rho - kl)))
                         : o.undesirable_weight * (1.0 - sigmoid(o.beta * (kl - rho)));
  }
  return x.empty() ? 0.0 : total / static_cast<double>(x.size());
}

void kto_loss_backward(const ObjectiveOptions& o, const std::vector<KtoLogps>& x, double kl, double upstream,
                       std::vector<double>& d_logp) {
  d_logp.assign(x.size(), 0.0);
  if (x.empty()) return;
  const double s = upstream / static_cast<double>(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double rho = x[i].logp - x[i].ref;
    if (x[i].desirable) {  // d/drho [1 - s(beta (rho - kl))]
      const double sg = sigmoid(o.beta * (rho - kl));
      d_logp[i] = s * o.desirable_weight * -o.beta * sg * (1 - sg);
    } else {  // d/drho [1 - s(beta (kl - rho))]
      const double sg = sigmoid(o.beta * (kl - rho));
      d_logp[i] = s * o.undesirable_weight * o.beta * sg * (1 - sg);
    }
  }
}

SeqBatch seq_batch(const std::vector<std::vector<int32_t>>& ids, const std::vector<std::vector<int32_t>>& labels,
                   const std::vector<uint8_t>& all_targets, int pad_id) {
  SeqBatch sb;
  std::vector<std::vector<int32_t>> targets(ids.size());
  for (size_t r = 0; r < ids.size(); ++r) targets[r] = all_targets[r] ? ids[r] : labels[r];
  sb.b = make_batch(ids, targets, pad_id);
  sb.comp.assign(sb.b.ids.size(), 0);
  for (size_t r = 0; r < ids.size(); ++r)
    for (size_t t = 0; t + 1 < labels[r].size(); ++t) sb.comp[r * sb.b.T + t] = labels[r][t + 1] != -100;
  return sb;
}

void seq_logps(const SeqBatch& sb, const float* ce, std::vector<double>& logp, std::vector<int>& n) {
  logp.assign(sb.b.B, 0.0);
  n.assign(sb.b.B, 0);
  for (int r = 0; r < sb.b.B; ++r)
    for (int t = 0; t < sb.b.T; ++t) {
      const size_t i = (size_t)r * sb.b.T + t;
      if (!sb.comp[i]) continue;
      logp[r] -= ce[i];
      n[r]++;
    }
}

void MetricMeans::add(const std::string& name, double v) {
  for (auto& it : items_)
    if (it.first == name) {
      it.second.first += v;
      it.second.second++;
      return;
    }
  items_.push_back({name, {v, 1}});
}

std::vector<std::pair<std::string, double>> MetricMeans::means(const std::string& prefix) const {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& it : items_) out.push_back({prefix + it.first, it.second.first / it.second.second});
  return out;
}

// ---- PreferenceObjective -------------------------------------------------------------------------------------------

PreferenceObjective::PreferenceObjective(const ObjectiveOptions& o, int max_seq_len, int pad_id, int batch_size)
    : o_(o), max_seq_len_(max_seq_len), pad_id_(pad_id), batch_size_(batch_size) {
  validate_objective(o_);
  if (o_.method == "sft") throw Error("PreferenceObjective: method 'sft' trains with the token-mean CE");
  if (o_.method == "kto" && batch_size_ < 2)
    throw Error("kto needs batch_size >= 2: its KL estimate pairs each prompt with another example's completion");
}

size_t PreferenceObjective::units(const TokenFile& tf) const {
  if (o_.method == "dpo" && tf.size() % 2 != 0)
    throw Error("dpo token file must hold (chosen, rejected) rows in pairs; it has " + std::to_string(tf.size()) +
                " rows");
  return tf.size() / rows_per_unit();
}

PreferenceObjective::Row PreferenceObjective::row(const TokenFile& tf, uint32_t example) const {
  const size_t off = tf.offsets[example], len = std::min<size_t>(tf.length(example), max_seq_len_);
  Row r;
  r.ids.assign(tf.ids.begin() + off, tf.ids.begin() + off + len);
  r.labels.assign(tf.labels.begin() + off, tf.labels.begin() + off + len);
  return r;
}

// TRL's KTO pairs the examples inside consecutive chunks of batch_size in file order (the dataset map that builds
// KL_completion_ids): example k of a chunk gets the completion of example k-1, the first the last one's.
uint32_t PreferenceObjective::kl_partner(const TokenFile& tf, uint32_t example) const {
  const size_t start = example / batch_size_ * batch_size_;
  const size_t end = std::min(tf.size(), start + batch_size_);
  return static_cast<uint32_t>(example == start ? end - 1 : example - 1);
}

PreferenceObjective::Row PreferenceObjective::kl_row(const TokenFile& tf, int, uint32_t example) const {
  auto prompt_len = [&](uint32_t e) {
    size_t p = 0;
    while (p < tf.length(e) && tf.labels[tf.offsets[e] + p] == -100) ++p;
    return p;
  };
  const uint32_t partner = kl_partner(tf, example);
  const size_t pl = prompt_len(example), cl = prompt_len(partner);
  Row r;
  r.ids.assign(tf.ids.begin() + tf.offsets[example], tf.ids.begin() + tf.offsets[example] + pl);
  r.labels.assign(pl, -100);
  r.ids.insert(r.ids.end(), tf.ids.begin() + tf.offsets[partner] + cl, tf.ids.begin() + tf.offsets[partner + 1]);
  r.labels.insert(r.labels.end(), tf.labels.begin() + tf.offsets[partner] + cl,
                  tf.labels.begin() + tf.offsets[partner + 1]);
  if (r.ids.size() > static_cast<size_t>(max_seq_len_)) {
    r.ids.resize(max_seq_len_);
    r.labels.resize(max_seq_len_);
  }
  return r;
}

int PreferenceObjective::max_row_len(const TokenFile& tf) const {
  int T = 1;
  for (size_t e = 0; e < tf.size(); ++e) {
    T = std::max(T, static_cast<int>(std::min<size_t>(tf.length(e), max_seq_len_)));
    if (o_.method == "kto") T = std::max(T, static_cast<int>(kl_row(tf, 0, static_cast<uint32_t>(e)).ids.size()));
  }
  return T;
}

void PreferenceObjective::forward_logps(Llama& m, const SeqBatch& sb, const DropoutCtx* drop, uint8_t* correct,
                                        std::vector<double>& logp, std::vector<int>& n) {
  llama_forward(m, sb.b, drop);
  ce_.assign(sb.b.ids.size(), 0.0f);
  llama_token_ce(m, sb.b, ce_.data(), correct);
  seq_logps(sb, ce_.data(), logp, n);
}

void PreferenceObjective::compute_reference(Llama& m, const TokenFile& tf, int slot) {
  const size_t n = tf.size();
  ref_[slot].assign(n, 0.0);
  ref_kl_[slot].assign(o_.method == "kto" ? n : 0, 0.0);
  if (o_.method == "kto" && desirable(slot).size() != n)
    throw Error("kto: " + std::to_string(desirable(slot).size()) + " desirable flags for a token file of " +
                std::to_string(n) + " examples");
  const bool needs_ref = o_.method == "kto" ||
                         (!o_.reference_free && !is_alone_type(o_.loss_types[0]));
  if (!needs_ref) return;
  const size_t chunk = static_cast<size_t>(batch_size_) * rows_per_unit();
  for (int pass = 0; pass < (o_.method == "kto" ? 2 : 1); ++pass) {
    std::vector<double>& out = pass == 0 ? ref_[slot] : ref_kl_[slot];
    for (size_t s = 0; s < n; s += chunk) {
      std::vector<std::vector<int32_t>> ids, labels;
      for (size_t e = s; e < std::min(n, s + chunk); ++e) {
        Row r = pass == 0 ? row(tf, static_cast<uint32_t>(e)) : kl_row(tf, slot, static_cast<uint32_t>(e));
        ids.push_back(std::move(r.ids));
        labels.push_back(std::move(r.labels));
      }
      std::vector<double> lp;
      std::vector<int> cnt;
      forward_logps(m, seq_batch(ids, labels, std::vector<uint8_t>(ids.size(), 0), pad_id_), nullptr, nullptr, lp, cnt);
      for (size_t i = 0; i < lp.size(); ++i) out[s + i] = lp[i];
    }
  }
}

double PreferenceObjective::micro_step(Llama& m, const TokenFile& tf, int slot, const std::vector<uint32_t>& units,
                                       float scale, Grads* g, const DropoutCtx* drop, MetricMeans& metrics,
                                       int64_t* scored_tokens) {
  const size_t U = units.size();
  std::vector<std::vector<int32_t>> ids, labels;
  std::vector<uint8_t> all_targets;
  std::vector<uint32_t> examples;  // example of each row
  const bool orpo = o_.method == "dpo" && o_.loss_types[0] == "orpo";
  for (int part = 0; part < rows_per_unit(); ++part)  // dpo: every chosen row, then every rejected row (TRL's order)
    for (uint32_t u : units) {
      const uint32_t e = u * rows_per_unit() + part;
      Row r = row(tf, e);
      ids.push_back(std::move(r.ids));
      labels.push_back(std::move(r.labels));
      all_targets.push_back(orpo && part == 0);
      examples.push_back(e);
    }
  SeqBatch sb = seq_batch(ids, labels, all_targets, pad_id_);
  const size_t N = sb.b.ids.size();
  const int T = sb.b.T;

  // KTO's KL estimate: the policy on the mismatched rows, detached (no dropout, no gradient)
  double kl = 0;
  if (o_.method == "kto") {
    std::vector<std::vector<int32_t>> kids, klabels;
    for (uint32_t u : units) {
      Row r = kl_row(tf, slot, u);
      kids.push_back(std::move(r.ids));
      klabels.push_back(std::move(r.labels));
    }
    std::vector<double> lp;
    std::vector<int> cnt;
    forward_logps(m, seq_batch(kids, klabels, std::vector<uint8_t>(U, 0), pad_id_), nullptr, nullptr, lp, cnt);
    for (size_t i = 0; i < U; ++i) kl += lp[i] - ref_kl_[slot][units[i]];
    kl = std::max(0.0, kl / static_cast<double>(U));
  }

  std::vector<uint8_t> correct(N, 0);
  std::vector<double> lp;
  std::vector<int> cnt;
  forward_logps(m, sb, drop, correct.data(), lp, cnt);
  int64_t n_comp = 0;
  for (int c : cnt) n_comp += c;
  if (scored_tokens) *scored_tokens += n_comp;

  std::vector<double> d_row(ids.size(), 0.0);  // dL / d(summed completion log-prob) per row
  double loss = 0;
  w_.assign(N, 0.0f);
  if (o_.method == "dpo") {
    std::vector<PairLogps> pairs(U);
    for (size_t i = 0; i < U; ++i) {
      pairs[i].chosen = lp[i];
      pairs[i].rejected = lp[U + i];
      pairs[i].ref_chosen = ref_[slot][examples[i]];
      pairs[i].ref_rejected = ref_[slot][examples[U + i]];
      pairs[i].n_chosen = cnt[i];
      pairs[i].n_rejected = cnt[U + i];
    }
    std::vector<PairStats> st;
    loss = pair_loss_forward(o_, pairs, &st);
    // NLL terms, token means over the chosen rows of this micro-batch: TRL's "sft" loss type (completion), CPO's
    // cpo_alpha * NLL (completion), ORPO's NLL of the whole chosen sequence (prompt + completion)
    double nll_weight = 0;
    for (size_t k = 0; k < o_.loss_types.size(); ++k)
      if (o_.loss_types[k] == "sft") nll_weight += weight_of(o_, k);
    if (o_.loss_types[0] == "simpo") nll_weight = o_.cpo_alpha;
    if (orpo) nll_weight = 1.0;
    if (o_.loss_types[0] == "simpo" && nll_weight == 0) metrics.add("nll_loss", 0.0);  // CPOTrainer logs it always
    if (nll_weight > 0) {
      double ce_sum = 0;
      int64_t n_nll = 0;
      for (size_t r = 0; r < U; ++r)
        for (int t = 0; t < T; ++t) {
          const size_t i = r * T + t;
          if (orpo ? sb.b.targets[i] != -100 : sb.comp[i] != 0) {
            ce_sum += ce_[i];
            ++n_nll;
          }
        }
      if (n_nll > 0) {
        const double nll = ce_sum / static_cast<double>(n_nll);
        loss += nll_weight * nll;
        metrics.add("nll_loss", nll);
        if (g) {
          const float wt = static_cast<float>(scale * nll_weight / static_cast<double>(n_nll));
          for (size_t r = 0; r < U; ++r)
            for (int t = 0; t < T; ++t) {
              const size_t i = r * T + t;
              if (orpo ? sb.b.targets[i] != -100 : sb.comp[i] != 0) w_[i] += wt;
            }
        }
      }
    }
    if (g) {
      std::vector<double> dc, dr;
      pair_loss_backward(o_, pairs, 1.0, dc, dr);
      for (size_t i = 0; i < U; ++i) {
        d_row[i] = dc[i];
        d_row[U + i] = dr[i];
      }
    }
    double rc = 0, rr = 0, acc = 0, mg = 0, lc = 0, lr = 0;
    for (const PairStats& s : st) {
      rc += s.reward_chosen;
      rr += s.reward_rejected;
      acc += s.reward_chosen > s.reward_rejected ? 1.0 : 0.0;
      mg += s.reward_chosen - s.reward_rejected;
      lc += s.logp_chosen;
      lr += s.logp_rejected;
    }
    const double inv = U ? 1.0 / static_cast<double>(U) : 0.0;
    metrics.add("rewards/chosen", rc * inv);
    metrics.add("rewards/rejected", rr * inv);
    metrics.add("rewards/accuracies", acc * inv);
    metrics.add("rewards/margins", mg * inv);
    metrics.add("logps/chosen", lc * inv);
    metrics.add("logps/rejected", lr * inv);
  } else {  // kto
    std::vector<KtoLogps> xs(U);
    const std::vector<uint8_t>& des = desirable(slot);
    for (size_t i = 0; i < U; ++i) xs[i] = {lp[i], ref_[slot][units[i]], des[units[i]] != 0};
    loss = kto_loss_forward(o_, xs, kl);
    if (g) kto_loss_backward(o_, xs, kl, 1.0, d_row);
    double rc = 0, rr = 0, lc = 0, lr = 0;
    int nc = 0, nr = 0;
    for (const KtoLogps& x : xs) {
      const double reward = o_.beta * (x.logp - x.ref);
      if (x.desirable) {
        rc += reward;
        lc += x.logp;
        ++nc;
      } else {
        rr += reward;
        lr += x.logp;
        ++nr;
      }
    }
    metrics.add("kl", kl);
    if (nc > 0) {
      metrics.add("rewards/chosen", rc / nc);
      metrics.add("logps/chosen", lc / nc);
    }
    if (nr > 0) {
      metrics.add("rewards/rejected", rr / nr);
      metrics.add("logps/rejected", lr / nr);
    }
    if (nc > 0 && nr > 0) metrics.add("rewards/margins", rc / nc - rr / nr);
  }
  // chosen (dpo) or desirable (kto) completions' token accuracy, TRL's mean_token_accuracy
  int64_t ok = 0, tot = 0;
  for (size_t r = 0; r < U; ++r) {
    if (o_.method == "kto" && !desirable(slot)[units[r]]) continue;
    for (int t = 0; t < T; ++t)
      if (sb.comp[r * T + t]) {
        ok += correct[r * T + t];
        ++tot;
      }
  }
  if (tot > 0) metrics.add("mean_token_accuracy", static_cast<double>(ok) / static_cast<double>(tot));
  metrics.add("loss", loss);

  if (g) {
    // per-token CE weights: w_t = scale * dL/dCE_t = -scale * dL/dlogp_row on the row's completion positions
    for (size_t r = 0; r < ids.size(); ++r)
      for (int t = 0; t < T; ++t)
        if (sb.comp[r * T + t]) w_[r * T + t] += static_cast<float>(-scale * d_row[r]);
    llama_backward(m, sb.b, 0.0f, *g, drop, w_.data());
  }
  return loss;
}

}  // namespace tk
