#include "model/export.h"

#include <cmath>
#include <map>
#include <set>

#include "engine/engine.h"
#include "model/compressed_linear.h"
#include "model/train.h"

namespace qbert::model {

using namespace engine;
using detail::concat;

namespace {
constexpr int kExportVersion = 1;

bool is_embedding_table(const std::string& name) {
    const std::string tail = "_embeddings.weight";
    return name.size() > tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
}

int64_t bytes_of(const Tensor& t) { return t.numel() * static_cast<int64_t>(dtype_size(t.dtype())); }

// Per-row symmetric int8: scale[r] = max|row r| / 127 (1 for an all-zero row), q = round-half-even(v / scale).
std::pair<Tensor, Tensor> quantize_rows(const Tensor& w) {
    const int64_t rows = w.size(0), cols = w.size(1);
    Tensor q = Tensor::empty({rows, cols}, DType::I8), scale = Tensor::empty({rows}, DType::F32);
    const Tensor wc = w.is_contiguous() ? w : w.clone();
    const float* v = wc.data<float>();
    int8_t* qv = q.data<int8_t>();
    float* sv = scale.data<float>();
    for (int64_t r = 0; r < rows; ++r) {
        float m = 0.0f;
        for (int64_t c = 0; c < cols; ++c) m = std::max(m, std::fabs(v[r * cols + c]));
        sv[r] = m > 0.0f ? m / 127.0f : 1.0f;
        for (int64_t c = 0; c < cols; ++c)
            qv[r * cols + c] = static_cast<int8_t>(std::clamp(std::nearbyint(v[r * cols + c] / sv[r]), -127.0f, 127.0f));
    }
    return {q, scale};
}

const Tensor& find(const Checkpoint& ck, const std::map<std::string, size_t>& index, const std::string& name,
                   const std::string& path) {
    auto it = index.find(name);
    if (it == index.end()) throw Error(concat("export '", path, "': dataset 'params/", name, "' is missing"));
    return ck.params[it->second].second;
}

void expect(const Tensor& t, DType dt, const Shape& shape, const std::string& name, const std::string& path) {
    if (t.dtype() != dt || t.shape() != shape)
        throw Error(concat("export '", path, "': dataset 'params/", name, "' is ", t.str(), " but the model expects ",
                           dtype_name(dt), shape_str(shape)));
}

// Grid indices back to the values the layer computes with, checking they lie in the format's range.
Tensor from_grid(const Tensor& wi, const FixedPoint& q, const std::string& name, const std::string& path) {
    Tensor w = Tensor::empty(wi.shape(), DType::F32);
    const int8_t* a = wi.data<int8_t>();
    float* o = w.data<float>();
    const float step = static_cast<float>(std::ldexp(1.0, -q.frac_width));
    for (int64_t i = 0; i < wi.numel(); ++i) {
        if (a[i] < q.qmin() || a[i] > q.qmax())
            throw Error(concat("export '", path, "': dataset 'params/", name, "' element ", i, " is ", int(a[i]),
                               ", outside the layer's format ", q.str(), " [", q.qmin(), ", ", q.qmax(), "]"));
        o[i] = static_cast<float>(a[i]) * step;
    }
    return w;
}
}  // namespace

std::vector<ExportedLayer> export_model(BertForSequenceClassification& m, const std::string& meta_json,
                                        const std::string& source, const std::string& out, const ExportOptions& o) {
    ENGINE_CHECK(o.int8 || o.sparse, "export: nothing to export: ask for --int8, --sparse or both");
    ENGINE_CHECK(o.sparse_min >= 0.0 && o.sparse_min <= 1.0, "export: --sparse-min must be in [0, 1], but got ",
                 o.sparse_min);
    NoGradGuard ng;
    Checkpoint ck;
    ck.config_json = m.config().to_json();
    nlohmann::json meta = checkpoint_structure_meta(m, meta_json);

    std::vector<ExportedLayer> done;
    std::set<std::string> replaced;  // parameter / buffer names not written as they are
    nlohmann::json layers = nlohmann::json::object();
    std::string why_none;
    for (const auto& [name, mod] : m.named_modules()) {
        auto* c = dynamic_cast<CompressedLinear*>(mod.get());
        if (!c) continue;
        const std::string int8_why = o.int8 ? c->int8_unsupported() : "not asked for";
        std::string sparse_why = o.sparse ? c->sparse_unsupported() : "not asked for";
        // the file keeps only the kept fp32 weights; a format whose quantizer reads the whole tensor (block maxima,
        // ternary's threshold and scale) would quantize them differently once the pruned ones are zero
        if (sparse_why.empty() && c->quant() &&
            (is_block(c->quant()->weight.kind) || c->quant()->weight.kind == FormatKind::Ternary))
            sparse_why = "its weight format " + c->quant()->weight.str() + " quantizes from the whole tensor, pruned "
                         "weights included: the kept weights alone would not give the same values";
        if (sparse_why.empty() && c->weight_sparsity() < o.sparse_min)
            sparse_why = concat("sparsity ", c->weight_sparsity(), " < --sparse-min ", o.sparse_min);
        const bool as_int8 = int8_why.empty(), as_sparse = sparse_why.empty();
        if (!as_int8 && !as_sparse) {
            if (why_none.empty()) why_none = name + ": " + (o.int8 ? int8_why : sparse_why);
            continue;
        }
        ExportedLayer e{name, as_int8 && as_sparse ? "int8_sparse" : as_int8 ? "int8" : "sparse", 0};
        const auto add = [&](const std::string& suffix, const Tensor& t) {
            ck.params.emplace_back(name + "." + suffix, t);
            e.bytes += bytes_of(t);
        };
        if (as_sparse) {
            // the pattern is the mask itself (kept entries that happen to be 0 stay entries), so loading gives back
            // the same mask
            const Tensor values = as_int8 ? c->int8_weight() : c->weight();
            const CsrMatrix csr = csr_from_dense(values.dtype() == DType::I8 ? values.to(DType::F32) : values,
                                                 c->weight_mask(), name + ".weight");
            add("weight_csr_row_ptr", csr.row_ptr);
            add("weight_csr_col", csr.col);
            add("weight_csr_val", as_int8 ? csr.val.to(DType::I8) : csr.val);
        } else {
            add("weight_int8", c->int8_weight());
        }
        replaced.insert(name + ".weight");
        replaced.insert(name + ".weight_mask");
        layers[name] = e.kind;
        done.push_back(e);
    }
    if (done.empty())
        throw Error(concat("export: checkpoint '", source, "' has no Linear layer to export as asked",
                           why_none.empty() ? std::string(" (it has no compressed Linear layers: quantize or prune it first)")
                                            : "; e.g. " + why_none));
    nlohmann::json embeddings = nlohmann::json::object();
    NamedTensors params = m.named_parameters();
    for (auto& b : m.named_buffers()) params.push_back(b);
    for (const auto& [name, t] : params) {
        if (replaced.count(name)) continue;
        if (o.int8 && o.int8_embeddings && is_embedding_table(name) && t.dim() == 2) {
            auto [q, scale] = quantize_rows(t.detach());
            ck.params.emplace_back(name + ".int8", q);
            ck.params.emplace_back(name + ".scale", scale);
            embeddings[name] = "int8_rows";
            done.push_back(ExportedLayer{name, "int8_rows", bytes_of(q) + bytes_of(scale)});
            continue;
        }
        ck.params.emplace_back(name, t.detach());
    }
    meta["export"] = nlohmann::json{{"version", kExportVersion}, {"source", source}, {"layers", layers},
                                    {"embeddings", embeddings}};
    ck.meta_json = meta.dump();
    save_checkpoint(out, ck);
    return done;
}

std::vector<std::string> restore_exported(BertForSequenceClassification& m, const Checkpoint& ck,
                                          const nlohmann::json& ex, const std::string& path) {
    if (!ex.is_object() || !ex.contains("version") || !ex["version"].is_number_integer() ||
        ex["version"].get<int>() != kExportVersion)
        throw Error(concat("export '", path, "': meta.export.version must be ", kExportVersion,
                           " (written by another qbert version?)"));
    std::map<std::string, size_t> index;
    for (size_t i = 0; i < ck.params.size(); ++i) index[ck.params[i].first] = i;
    std::vector<std::string> used;
    const auto take = [&](const std::string& name) -> const Tensor& {
        used.push_back(name);
        return find(ck, index, name, path);
    };
    NoGradGuard ng;
    std::map<std::string, CompressedLinear*> linears;
    for (const auto& [name, mod] : m.named_modules())
        if (auto* c = dynamic_cast<CompressedLinear*>(mod.get())) linears[name] = c;
    const nlohmann::json layers = ex.value("layers", nlohmann::json::object());
    const nlohmann::json embeddings = ex.value("embeddings", nlohmann::json::object());
    if (!layers.is_object() || !embeddings.is_object())
        throw Error(concat("export '", path, "': meta.export.layers and .embeddings must be JSON objects"));
    for (const auto& [name, kind_j] : layers.items()) {
        const std::string kind = kind_j.is_string() ? kind_j.get<std::string>() : "";
        if (kind != "int8" && kind != "sparse" && kind != "int8_sparse")
            throw Error(concat("export '", path, "': meta.export.layers.", name, " is ", kind_j.dump(),
                               "; expected int8, sparse or int8_sparse"));
        auto it = linears.find(name);
        if (it == linears.end())
            throw Error(concat("export '", path, "': layer '", name, "' is exported as ", kind,
                               " but is not a compressed Linear of this model (mismatched meta.compression?)"));
        CompressedLinear& c = *it->second;
        const bool int8 = kind != "sparse", sparse = kind != "int8";
        if (int8 && !c.int8_unsupported().empty())
            throw Error(concat("export '", path, "': layer '", name, "' is exported as int8 but ", c.int8_unsupported()));
        const Shape ws = c.weight().shape();
        const FixedPoint q = int8 ? c.quant()->weight.fixed_point() : FixedPoint{};
        Tensor w, mask;
        if (sparse) {
            CsrMatrix csr;
            csr.rows = ws[0];
            csr.cols = ws[1];
            csr.row_ptr = take(name + ".weight_csr_row_ptr");
            csr.col = take(name + ".weight_csr_col");
            const Tensor& val = take(name + ".weight_csr_val");
            const std::string vname = name + ".weight_csr_val";
            expect(val, int8 ? DType::I8 : DType::F32, csr.col.shape(), vname, path);
            csr.val = int8 ? from_grid(val, q, vname, path) : val;
            csr.validate(concat("export '", path, "': layer '", name, "' CSR weight"));
            w = csr_to_dense(csr);
            CsrMatrix pattern = csr;  // the mask: 1 at every stored entry
            pattern.val = Tensor::ones(csr.col.shape(), DType::F32);
            mask = csr_to_dense(pattern).to(DType::U8);
        } else {
            const Tensor& wi = take(name + ".weight_int8");
            expect(wi, DType::I8, ws, name + ".weight_int8", path);
            w = from_grid(wi, q, name + ".weight_int8", path);
            if (c.has_weight_mask()) {  // kept where the stored weight is nonzero: the same products
                mask = Tensor::empty(ws, DType::U8);
                const int8_t* a = wi.data<int8_t>();
                uint8_t* mv = mask.data<uint8_t>();
                for (int64_t i = 0; i < wi.numel(); ++i) mv[i] = a[i] != 0;
            }
        }
        Tensor param = c.weight();
        param.copy_(w);
        if (mask.defined()) c.set_weight_mask(mask);
        c.set_integer_inference(int8);
        c.set_sparse_inference(sparse);
    }
    NamedTensors params = m.named_parameters();
    for (const auto& [name, kind] : embeddings.items()) {
        if (kind != "int8_rows")
            throw Error(concat("export '", path, "': meta.export.embeddings.", name, " is ", kind.dump(),
                               "; expected int8_rows"));
        Tensor* p = nullptr;
        for (auto& [n, t] : params)
            if (n == name) p = &t;
        if (!p) throw Error(concat("export '", path, "': embedding '", name, "' is not a parameter of this model"));
        const Tensor& qt = take(name + ".int8");
        const Tensor& scale = take(name + ".scale");
        expect(qt, DType::I8, p->shape(), name + ".int8", path);
        expect(scale, DType::F32, Shape{p->size(0)}, name + ".scale", path);
        Tensor w = Tensor::empty(p->shape(), DType::F32);
        const int64_t cols = p->size(1);
        const int8_t* a = qt.data<int8_t>();
        const float* s = scale.data<float>();
        float* o = w.data<float>();
        for (int64_t i = 0; i < w.numel(); ++i) {
            if (!std::isfinite(s[i / cols]) || s[i / cols] <= 0.0f)
                throw Error(concat("export '", path, "': dataset 'params/", name, ".scale' row ", i / cols, " is ",
                                   s[i / cols], " (a scale must be positive and finite)"));
            o[i] = static_cast<float>(a[i]) * s[i / cols];
        }
        p->copy_(w);
    }
    return used;
}

}  // namespace qbert::model
