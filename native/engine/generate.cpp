// generate.cpp - the resident Generator: adapter LRU, prefill through llama_forward, batched decode over a KV
// cache, sampling and logprobs; and merge_adapter. See generate.h for the semantics.
#include "generate.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <numeric>

#include "error.h"
#include "fsutil.h"
#include "json.h"
#include "llama.h"
#include "model_io.h"
#include "cpu.h"
#include "ops.h"

namespace tk {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::cancelled: return "cancelled";
  }
  return "length";
}

GenerateControl::GenerateControl(int n) : n_(std::max(n, 0)), stopped_(new std::atomic<bool>[std::max(n, 1)]) {
  for (int i = 0; i < std::max(n, 1); ++i) stopped_[i].store(false);
}

void GenerateControl::stop_choice(int i) {
  if (i >= 0 && i < n_) stopped_[i].store(true);
}

bool GenerateControl::choice_stopped(int i) const { return i >= 0 && i < n_ && stopped_[i].load(); }

namespace {

// eos_token_id of generation_config.json (an int, a list, or absent/null).
std::vector<int32_t> generation_config_eos(const std::string& model_dir) {
  const std::string path = path_join(model_dir, "generation_config.json");
  if (!file_exists(path)) return {};
  const json::Value root = json::parse(read_file(path), path);
  const json::Value* e = root.find("eos_token_id");
  std::vector<int32_t> out;
  if (!e || e->is_null()) return out;
  const std::string what = path + ": field 'eos_token_id'";
  if (e->is_array()) {
    for (const json::Value& v : e->as_array(what)) out.push_back(static_cast<int32_t>(v.as_int(what)));
  } else {
    out.push_back(static_cast<int32_t>(e->as_int(what)));
  }
  return out;
}

// The linear layers of a decode step: out (n, OC) = x (n, IC) W^T + bias for a few rows. A decode step is bound by
// reading the weights, so each weight row is read once for up to kGemvRows rows at a time (a packed GEMM kernel
// spends more time packing W than multiplying). Several layers that share the input (q, k, v; gate, up) run in one
// parallel region, split into blocks of output features; each dot product is summed in a fixed order, so results
// depend neither on the thread count nor on how many rows are decoded together.
constexpr int kGemvRows = 8;
constexpr int kGemvBlock = 32;  // output features per task

struct GemvOut {
  float* out;
  const float* W;     // (OC, IC)
  const float* bias;  // (OC) or null
  int OC;
};

// Every output of `outs` for the n rows of x (n, IC), in one parallel region.
void decode_matmuls(std::initializer_list<GemvOut> outs, const float* x, int n, int IC) {
  std::vector<std::pair<int, int>> tasks;  // (output index, first feature)
  int idx = 0;
  for (const GemvOut& g : outs) {
    for (int o = 0; o < g.OC; o += kGemvBlock) tasks.emplace_back(idx, o);
    ++idx;
  }
  const GemvOut* list = outs.begin();
  const Kernels& kr = kern();
  parallel_for(static_cast<int>(tasks.size()), [&](int t) {
    const GemvOut& g = list[tasks[t].first];
    const int o0 = tasks[t].second, o1 = std::min(g.OC, o0 + kGemvBlock);
    for (int r0 = 0; r0 < n; r0 += kGemvRows)
      kr.gemv(g.out + (size_t)r0 * g.OC, x + (size_t)r0 * IC, g.W, g.bias, std::min(kGemvRows, n - r0), IC, g.OC,
                o0, o1);
  });
}

void decode_matmul(float* out, const float* x, const float* W, const float* bias, int n, int IC, int OC) {
  decode_matmuls({{out, W, bias, OC}}, x, n, IC);
}

std::string adapter_key(const std::string& dir) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::weakly_canonical(dir, ec);
  return ec ? dir : p.string();
}

// The KV cache of n sequences: per layer, sequence and kv head, the keys and values after RoPE of every position,
// (L, n, KV, S, D), so the keys one query head reads are contiguous.
struct KVCache {
  int n = 0, S = 0, L = 0, KV = 0, D = 0;
  std::vector<float> k, v;
  size_t at(int l, int seq, int kvh, int pos) const { return ((((size_t)l * n + seq) * KV + kvh) * S + pos) * D; }
  float* key(int l, int seq, int kvh, int pos) { return k.data() + at(l, seq, kvh, pos); }
  float* val(int l, int seq, int kvh, int pos) { return v.data() + at(l, seq, kvh, pos); }
  void init(int n_, int S_, int L_, int KV_, int D_) {
    n = n_, S = S_, L = L_, KV = KV_, D = D_;
    k.assign((size_t)L * n * KV * S * D, 0.0f);
    v.assign(k.size(), 0.0f);
  }
  // Stores (KV, D) rows k and v of one position.
  void put(int l, int seq, int pos, const float* krow, const float* vrow) {
    for (int h = 0; h < KV; ++h) {
      std::memcpy(key(l, seq, h, pos), krow + (size_t)h * D, sizeof(float) * D);
      std::memcpy(val(l, seq, h, pos), vrow + (size_t)h * D, sizeof(float) * D);
    }
  }
};

// Activations of one decode step for up to n rows (one new token per sequence).
struct DecodeBuffers {
  std::vector<float> data;
  float *x, *a, *q, *k, *v, *att, *t, *gate, *up, *act, *u, *lo, *rstd, *logits;
  void init(const LlamaConfig& c, int n, int R) {
    const size_t C = c.hidden_size, HD = c.q_dim(), KVD = c.kv_dim(), F = c.intermediate_size, V = c.vocab_size;
    const size_t sizes[] = {n * C, n * C, n * HD, n * KVD, n * KVD, n * HD, n * C, n * F, n * F, n * F,
                            n * (size_t)std::max(R, 1), n * std::max({C, HD, F}), (size_t)n, n * V};
    size_t total = 0;
    for (size_t s : sizes) total += s;
    data.assign(total, 0.0f);
    float** ptrs[] = {&x, &a, &q, &k, &v, &att, &t, &gate, &up, &act, &u, &lo, &rstd, &logits};
    float* p = data.data();
    for (size_t i = 0; i < std::size(sizes); ++i) {
      *ptrs[i] = p;
      p += sizes[i];
    }
  }
};

}  // namespace

struct Generator::Impl {
  std::string model_dir;
  GeneratorOptions opt;
  ModelWeights w;
  std::vector<int32_t> eos;

  struct Resident {
    std::string key;
    std::shared_ptr<const LoraWeights> lora;
    uint64_t bytes = 0;
  };
  mutable std::mutex cache_mu;
  std::list<Resident> lru;  // most recently used first
  uint64_t lru_bytes = 0;

  std::mutex run_mu;  // one generation at a time

  std::shared_ptr<const LoraWeights> adapter(const std::string& dir) {
    if (dir.empty()) return nullptr;
    const std::string key = adapter_key(dir);
    std::lock_guard<std::mutex> lk(cache_mu);
    for (auto it = lru.begin(); it != lru.end(); ++it) {
      if (it->key == key) {
        lru.splice(lru.begin(), lru, it);
        return lru.front().lora;
      }
    }
    auto lora = std::make_shared<LoraWeights>(load_peft_adapter(dir, w.config));
    const uint64_t bytes = lora->data.size() * sizeof(float);
    lru.push_front({key, lora, bytes});
    lru_bytes += bytes;
    // Evict least recently used adapters beyond the budget; the one just loaded always stays (a request needs it).
    // A running generation holds its own reference, so eviction never frees weights in use.
    while (lru_bytes > opt.adapter_cache_bytes && lru.size() > 1) {
      lru_bytes -= lru.back().bytes;
      lru.pop_back();
    }
    return lora;
  }

  // y (n, OC) += s (x A^T) B^T: the LoRA branch of PEFT's unmerged Linear.forward. The row kernel (not the GEMM)
  // keeps every row's result independent of how many rows are decoded together.
  void lora_add(float* y, const float* x, int n, int l, Proj p, const LoraWeights* lora, DecodeBuffers& buf) const {
    if (!lora) return;
    const LoraModule& m = lora->at(l, p);
    if (!m.A) return;
    const int IC = proj_in_features(w.config, p), OC = proj_out_features(w.config, p), R = lora->config.r;
    const float s = static_cast<float>(lora->config.scaling());
    decode_matmul(buf.u, x, m.A, nullptr, n, IC, R);
    decode_matmul(buf.lo, buf.u, m.B, nullptr, n, R, OC);
    for (size_t i = 0; i < (size_t)n * OC; ++i) y[i] += s * buf.lo[i];
  }

  // One decode step: rows r = 0..n-1 feed token tok[r] at position pos[r] of sequence slot[r]; keys/values are
  // appended to the cache and logits (n, V) written to buf.logits.
  void decode_step(DecodeBuffers& buf, KVCache& cache, const int32_t* tok, const int32_t* pos, const int32_t* slot,
                   int n, const LoraWeights* lora, const float* rope_cos, const float* rope_sin) const {
    const LlamaConfig& c = w.config;
    const int C = c.hidden_size, F = c.intermediate_size, H = c.num_attention_heads, KV = c.num_key_value_heads;
    const int D = c.head_dim, HD = c.q_dim(), KVD = c.kv_dim(), rep = H / KV, window = c.sliding_window;
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    embedding_forward(buf.x, tok, w.embed_tokens, n, C);
    for (int l = 0; l < c.num_hidden_layers; ++l) {
      const LayerWeights& lw = w.layers[l];
      rmsnorm_forward(buf.a, buf.rstd, buf.x, lw.input_layernorm, n, C, c.rms_norm_eps);
      decode_matmuls({{buf.q, lw.proj[0], lw.q_bias, HD}, {buf.k, lw.proj[1], lw.k_bias, KVD},
                      {buf.v, lw.proj[2], lw.v_bias, KVD}},
                     buf.a, n, C);
      lora_add(buf.q, buf.a, n, l, Proj::q, lora, buf);
      lora_add(buf.k, buf.a, n, l, Proj::k, lora, buf);
      lora_add(buf.v, buf.a, n, l, Proj::v, lora, buf);
      rope_forward(buf.q, rope_cos, rope_sin, pos, n, H, D);
      rope_forward(buf.k, rope_cos, rope_sin, pos, n, KV, D);
      for (int r = 0; r < n; ++r) {
        cache.put(l, slot[r], pos[r], buf.k + (size_t)r * KVD, buf.v + (size_t)r * KVD);
      }
      // One query per (row, head) over the cached keys 0..pos (and within the sliding window): softmax in fp32
      // with the max subtracted, as torch.softmax.
      parallel_for(n * H, [&](int i) {
        const int r = i / H, h = i % H, kvh = h / rep, t = pos[r];
        const int j0 = window > 0 ? std::max(0, t - window + 1) : 0;
        const float* qv = buf.q + (size_t)r * HD + (size_t)h * D;
        const float* keys = cache.key(l, slot[r], kvh, 0);
        const float* vals = cache.val(l, slot[r], kvh, 0);
        thread_local std::vector<float> s;
        s.resize(t - j0 + 1);
        float mx = -std::numeric_limits<float>::infinity();
        for (int j = j0; j <= t; ++j) {
          const float* kv = keys + (size_t)j * D;
          s[j - j0] = dot(qv, kv, D) * scale;
          mx = std::max(mx, s[j - j0]);
        }
        float sum = 0;
        for (float& e : s) sum += (e = std::exp(e - mx));
        float* o = buf.att + (size_t)r * HD + (size_t)h * D;
        std::fill(o, o + D, 0.0f);
        const float inv = 1.0f / sum;
        for (int j = j0; j <= t; ++j) {
          const float p = s[j - j0] * inv;
          const float* vv = vals + (size_t)j * D;
          for (int d = 0; d < D; ++d) o[d] += p * vv[d];
        }
      });
      decode_matmul(buf.t, buf.att, lw.proj[3], lw.o_bias, n, HD, C);
      lora_add(buf.t, buf.att, n, l, Proj::o, lora, buf);
      add_inplace(buf.x, buf.t, (int64_t)n * C);
      rmsnorm_forward(buf.a, buf.rstd, buf.x, lw.post_attention_layernorm, n, C, c.rms_norm_eps);
      decode_matmuls({{buf.gate, lw.proj[4], nullptr, F}, {buf.up, lw.proj[5], nullptr, F}}, buf.a, n, C);
      lora_add(buf.gate, buf.a, n, l, Proj::gate, lora, buf);
      lora_add(buf.up, buf.a, n, l, Proj::up, lora, buf);
      swiglu_forward(buf.act, buf.gate, buf.up, (int64_t)n * F);
      decode_matmul(buf.t, buf.act, lw.proj[6], nullptr, n, F, C);
      lora_add(buf.t, buf.act, n, l, Proj::down, lora, buf);
      add_inplace(buf.x, buf.t, (int64_t)n * C);
    }
    rmsnorm_forward(buf.a, buf.rstd, buf.x, w.norm, n, C, c.rms_norm_eps);
    decode_matmul(buf.logits, buf.a, w.lm_head, nullptr, n, C, c.vocab_size);
  }

  // Runs the prompt through llama_forward (the training forward) and fills slots 0..n-1 of the cache with its keys
  // and values. Returns the Llama (its xf holds the final-norm output of every prompt position).
  void prefill(Llama& m, KVCache& cache, const std::vector<int32_t>& prompt, const LoraWeights* lora) const {
    const int P = static_cast<int>(prompt.size());
    llama_init(m, w, lora, P, P);
    Batch b = make_batch({prompt}, {prompt});
    llama_forward(m, b, nullptr);
    const size_t KVD = w.config.kv_dim();
    for (int l = 0; l < w.config.num_hidden_layers; ++l) {
      const float* k = m.k + (size_t)l * P * KVD;
      const float* v = m.v + (size_t)l * P * KVD;
      for (int s = 0; s < cache.n; ++s)
        for (int t = 0; t < P; ++t) cache.put(l, s, t, k + (size_t)t * KVD, v + (size_t)t * KVD);
    }
  }

  void check_ids(const std::vector<int32_t>& ids, const char* what) const {
    for (int32_t id : ids)
      if (id < 0 || id >= w.config.vocab_size)
        throw Error(std::string(what) + ": token id " + std::to_string(id) + " out of range for vocab_size " +
                    std::to_string(w.config.vocab_size));
  }

};

namespace {

// log-softmax normalizer of raw logits, in double.
double logsumexp(const float* z, int V) {
  float mx = *std::max_element(z, z + V);
  double s = 0;
  for (int i = 0; i < V; ++i) s += std::exp(z[i] - mx);
  return mx + std::log(s);
}

// transformers' sampling: scores / temperature -> TopKLogitsWarper -> TopPLogitsWarper -> softmax -> one draw with
// the uniform u in [0, 1). Filtered tokens get probability 0.
int sample(const float* z, int V, double temperature, int top_k, double top_p, double u, std::vector<double>& scratch,
           std::vector<int>& order) {
  scratch.resize(V);
  for (int i = 0; i < V; ++i) scratch[i] = static_cast<double>(z[i]) / temperature;
  const double ninf = -std::numeric_limits<double>::infinity();
  if (top_k > 0 && top_k < V) {
    // keep every token whose score is >= the k-th largest (ties at the boundary kept, as torch.topk + `<`)
    std::vector<double> sorted(scratch);
    std::nth_element(sorted.begin(), sorted.begin() + (top_k - 1), sorted.end(), std::greater<double>());
    const double kth = sorted[top_k - 1];
    for (double& s : scratch)
      if (s < kth) s = ninf;
  }
  const double mx = *std::max_element(scratch.begin(), scratch.end());
  double sum = 0;
  for (double& s : scratch) sum += (s = s == ninf ? 0.0 : std::exp(s - mx));
  for (double& s : scratch) s /= sum;
  if (top_p < 1.0) {
    // TopP: ascending order, drop tokens whose cumulative probability is <= 1 - top_p; the most likely always stays
    order.resize(V);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return scratch[a] < scratch[b]; });
    double cum = 0;
    for (int i = 0; i < V - 1; ++i) {
      cum += scratch[order[i]];
      if (cum <= 1.0 - top_p) scratch[order[i]] = 0.0;
      else break;
    }
    sum = 0;
    for (double s : scratch) sum += s;
    for (double& s : scratch) s /= sum;
  }
  double acc = 0;
  int last = -1;
  for (int i = 0; i < V; ++i) {
    if (scratch[i] <= 0) continue;
    acc += scratch[i];
    last = i;
    if (u < acc) return i;
  }
  return last;  // u within rounding of 1
}

std::vector<TokenLogprob> top_logprobs(const float* z, int V, double lse, int k, std::vector<int>& order) {
  k = std::min(k, V);
  order.resize(V);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int a, int b) { return z[a] > z[b] || (z[a] == z[b] && a < b); });
  std::vector<TokenLogprob> out(k);
  for (int i = 0; i < k; ++i) out[i] = {order[i], static_cast<float>(z[order[i]] - lse)};
  return out;
}

}  // namespace

Generator::Generator(const std::string& model_dir, const GeneratorOptions& opt) : impl_(new Impl) {
  impl_->model_dir = model_dir;
  impl_->opt = opt;
  set_num_threads(opt.threads);
  load_model(impl_->w, model_dir);
  std::vector<int32_t> eos(impl_->w.config.eos_token_ids.begin(), impl_->w.config.eos_token_ids.end());
  for (int32_t id : generation_config_eos(model_dir))
    if (std::find(eos.begin(), eos.end(), id) == eos.end()) eos.push_back(id);
  impl_->eos = eos;
}

Generator::~Generator() = default;

const LlamaConfig& Generator::config() const { return impl_->w.config; }
const std::string& Generator::model_dir() const { return impl_->model_dir; }
const std::vector<int32_t>& Generator::eos_token_ids() const { return impl_->eos; }

uint64_t Generator::load_adapter(const std::string& adapter_dir) {
  if (adapter_dir.empty()) throw Error("load_adapter: empty adapter folder");
  return impl_->adapter(adapter_dir)->data.size() * sizeof(float);
}

bool Generator::unload_adapter(const std::string& adapter_dir) {
  const std::string key = adapter_key(adapter_dir);
  std::lock_guard<std::mutex> lk(impl_->cache_mu);
  for (auto it = impl_->lru.begin(); it != impl_->lru.end(); ++it) {
    if (it->key == key) {
      impl_->lru_bytes -= it->bytes;
      impl_->lru.erase(it);
      return true;
    }
  }
  return false;
}

std::vector<std::string> Generator::resident_adapters() const {
  std::lock_guard<std::mutex> lk(impl_->cache_mu);
  std::vector<std::string> out;
  for (const auto& r : impl_->lru) out.push_back(r.key);
  return out;
}

uint64_t Generator::resident_adapter_bytes() const {
  std::lock_guard<std::mutex> lk(impl_->cache_mu);
  return impl_->lru_bytes;
}

GenerateResult Generator::generate(const GenerateRequest& req,
                                   const std::function<void(const GeneratedToken&)>& on_token,
                                   GenerateControl* control) {
  Impl& im = *impl_;
  const LlamaConfig& c = im.w.config;
  const int P = static_cast<int>(req.prompt.size()), n = req.n, V = c.vocab_size;
  if (P == 0) throw Error("generate: the prompt is empty");
  if (n < 1 || n > 128) throw Error("generate: n must be in [1, 128], got " + std::to_string(n));
  if (req.max_tokens < 1) throw Error("generate: max_tokens must be at least 1, got " + std::to_string(req.max_tokens));
  if (!(req.temperature >= 0 && std::isfinite(req.temperature)))
    throw Error("generate: temperature must be a finite number >= 0");
  if (!(req.top_p > 0 && req.top_p <= 1)) throw Error("generate: top_p must be in (0, 1]");
  if (req.top_k < 0) throw Error("generate: top_k must be >= 0");
  if (req.top_logprobs < 0 || req.top_logprobs > 20) throw Error("generate: top_logprobs must be in [0, 20]");
  if (control && control->n() != n) throw Error("generate: the control was made for a different n");
  im.check_ids(req.prompt, "prompt");
  im.check_ids(req.stop_token_ids, "stop_token_ids");
  if ((int64_t)P + req.max_tokens > c.max_position_embeddings)
    throw Error("generate: the prompt (" + std::to_string(P) + " tokens) plus max_tokens (" +
                std::to_string(req.max_tokens) + ") exceeds the model's context of " +
                std::to_string(c.max_position_embeddings) + " tokens (max_position_embeddings)");

  GenerateResult res;
  res.prompt_tokens = P;
  res.choices.resize(n);
  std::unique_lock<std::mutex> run(im.run_mu);
  if (control && control->cancelled()) {
    for (auto& ch : res.choices) ch.finish_reason = FinishReason::cancelled;
    return res;
  }
  std::shared_ptr<const LoraWeights> lora = im.adapter(req.adapter_dir);

  std::vector<int32_t> stops = req.ignore_eos ? std::vector<int32_t>{} : im.eos;
  stops.insert(stops.end(), req.stop_token_ids.begin(), req.stop_token_ids.end());

  const int S = P + req.max_tokens;
  KVCache cache;
  cache.init(n, S, c.num_hidden_layers, c.num_key_value_heads, c.head_dim);
  std::vector<float> rope_cos, rope_sin;
  rope_tables_for(im.w.config, S, rope_cos, rope_sin);
  DecodeBuffers buf;
  buf.init(c, n, lora ? lora->config.r : 0);
  {
    Llama m;
    im.prefill(m, cache, req.prompt, lora.get());
    // logits of the last prompt position, shared by every choice's first token
    decode_matmul(buf.logits, m.xf + (size_t)(P - 1) * c.hidden_size, im.w.lm_head, nullptr, 1, c.hidden_size, V);
    for (int r = 1; r < n; ++r) std::memcpy(buf.logits + (size_t)r * V, buf.logits, sizeof(float) * V);
  }

  std::vector<int> active(n);
  std::iota(active.begin(), active.end(), 0);
  std::vector<int32_t> tok(n), pos(n), slot(n);
  // The pick of each row (token, log-softmax normalizer, alternatives) depends only on its logits and its RNG
  // stream, so the rows are picked in parallel; finishing, counting and reporting then run in choice order.
  struct Pick {
    int32_t token = 0;
    double lse = 0;
    std::vector<TokenLogprob> top;
  };
  std::vector<Pick> picks(n);
  for (int step = 0; !active.empty(); ++step) {
    // buf.logits row i belongs to choice active[i]
    parallel_for(static_cast<int>(active.size()), [&](int i) {
      thread_local std::vector<double> scratch;
      thread_local std::vector<int> order;
      const float* z = buf.logits + (size_t)i * V;
      Pick& p = picks[i];
      if (req.temperature == 0) {
        p.token = argmax_first(z, V);
      } else {
        const double u = static_cast<double>(rng_u64(req.seed, active[i], step) >> 11) * 0x1.0p-53;
        p.token = sample(z, V, req.temperature, req.top_k, req.top_p, u, scratch, order);
      }
      p.lse = logsumexp(z, V);
      if (req.top_logprobs > 0) p.top = top_logprobs(z, V, p.lse, req.top_logprobs, order);
    });
    std::vector<int> next;
    for (size_t i = 0; i < active.size(); ++i) {
      const int ch = active[i];
      GenerateChoice& out = res.choices[ch];
      if (control && control->cancelled()) {
        out.finish_reason = FinishReason::cancelled;
        continue;
      }
      if (control && control->choice_stopped(ch)) {
        out.finish_reason = FinishReason::stop;
        continue;
      }
      const float* z = buf.logits + i * V;
      const int32_t t = picks[i].token;
      ++res.completion_tokens;
      if (std::find(stops.begin(), stops.end(), t) != stops.end()) {
        out.finish_reason = FinishReason::stop;
        out.stop_token = t;
        continue;
      }
      GeneratedToken g;
      g.choice = ch;
      g.token = t;
      g.logprob = static_cast<float>(z[t] - picks[i].lse);
      g.top = std::move(picks[i].top);
      out.tokens.push_back(t);
      out.logprobs.push_back(g.logprob);
      if (on_token) on_token(g);
      if (static_cast<int>(out.tokens.size()) >= req.max_tokens) {
        out.finish_reason = FinishReason::length;
        continue;
      }
      next.push_back(ch);
    }
    active = next;
    if (active.empty()) break;
    const int m = static_cast<int>(active.size());
    for (int i = 0; i < m; ++i) {
      const GenerateChoice& ch = res.choices[active[i]];
      tok[i] = ch.tokens.back();
      pos[i] = P + static_cast<int>(ch.tokens.size()) - 1;
      slot[i] = active[i];
    }
    im.decode_step(buf, cache, tok.data(), pos.data(), slot.data(), m, lora.get(), rope_cos.data(), rope_sin.data());
  }
  return res;
}

std::vector<float> Generator::forced_logits(const std::vector<int32_t>& prompt, const std::vector<int32_t>& forced,
                                            const std::string& adapter_dir) {
  Impl& im = *impl_;
  const LlamaConfig& c = im.w.config;
  const int P = static_cast<int>(prompt.size()), F = static_cast<int>(forced.size()), V = c.vocab_size;
  if (P == 0) throw Error("forced_logits: the prompt is empty");
  im.check_ids(prompt, "prompt");
  im.check_ids(forced, "forced");
  if (P + F > c.max_position_embeddings) throw Error("forced_logits: longer than max_position_embeddings");
  std::unique_lock<std::mutex> run(im.run_mu);
  std::shared_ptr<const LoraWeights> lora = im.adapter(adapter_dir);
  KVCache cache;
  cache.init(1, P + F, c.num_hidden_layers, c.num_key_value_heads, c.head_dim);
  std::vector<float> out((size_t)(P + F) * V);
  {
    Llama m;
    im.prefill(m, cache, prompt, lora.get());
    Batch b = make_batch({prompt}, {prompt});
    llama_logits(out.data(), m, b);
  }
  std::vector<float> rope_cos, rope_sin;
  rope_tables_for(im.w.config, P + F, rope_cos, rope_sin);
  DecodeBuffers buf;
  buf.init(c, 1, lora ? lora->config.r : 0);
  for (int i = 0; i < F; ++i) {
    const int32_t tok = forced[i], pos = P + i, slot = 0;
    im.decode_step(buf, cache, &tok, &pos, &slot, 1, lora.get(), rope_cos.data(), rope_sin.data());
    std::memcpy(out.data() + (size_t)(P + i) * V, buf.logits, sizeof(float) * V);
  }
  return out;
}

void merge_adapter(const std::string& model_dir, const std::string& adapter_dir, const std::string& out_dir) {
  ModelWeights w;
  load_model(w, model_dir);
  const LoraWeights lora = load_peft_adapter(adapter_dir, w.config);
  const float s = static_cast<float>(lora.config.scaling());
  const int R = lora.config.r;
  for (int l = 0; l < w.config.num_hidden_layers; ++l) {
    for (int p = 0; p < kNumProj; ++p) {
      const LoraModule& m = lora.at(l, static_cast<Proj>(p));
      if (!m.A) continue;
      // W (out, in) += s * B (out, R) A (R, in), as PEFT's merge: delta = (B @ A) * scaling
      sgemm(false, false, m.out, m.in, R, s, m.B, R, m.A, m.in, 1.0f, w.layers[l].proj[p], m.in);
    }
  }
  save_model(w, out_dir, model_dir);
}

}  // namespace tk
