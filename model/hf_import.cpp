#include "model/hf_import.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

namespace qbert::model {

using namespace engine;
using engine::detail::concat;

namespace {
float half_to_float(uint16_t h) {
    const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: normalize
            int e = -1;
            uint32_t m = mant;
            do {
                ++e;
                m <<= 1;
            } while ((m & 0x400) == 0);
            bits = sign | ((127 - 15 - e) << 23) | ((m & 0x3FF) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}
}  // namespace

std::vector<SafeTensor> read_safetensors(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(concat("safetensors '", path, "': cannot open (missing file?)"));
    const auto size = static_cast<uint64_t>(std::filesystem::file_size(path));
    uint64_t n = 0;
    in.read(reinterpret_cast<char*>(&n), 8);  // little-endian, as this machine
    if (!in || n == 0 || n > size - 8) throw Error(concat("safetensors '", path, "': bad header length ", n));
    std::string header(n, '\0');
    in.read(header.data(), static_cast<std::streamsize>(n));
    nlohmann::json j = nlohmann::json::parse(header, nullptr, false);
    if (!in || j.is_discarded() || !j.is_object()) throw Error(concat("safetensors '", path, "': header is not a JSON object"));
    const uint64_t data_start = 8 + n, data_size = size - data_start;
    std::vector<SafeTensor> out;
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (it.key() == "__metadata__") continue;
        const auto& e = it.value();
        const std::string where = concat("safetensors '", path, "' tensor '", it.key(), "'");
        if (!e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
            throw Error(where + ": needs dtype, shape and data_offsets");
        const std::string dt = e["dtype"].get<std::string>();
        const Shape shape = e["shape"].get<Shape>();
        const auto off = e["data_offsets"].get<std::vector<uint64_t>>();
        const size_t es = dt == "F32" ? 4 : dt == "F64" ? 8 : (dt == "F16" || dt == "BF16") ? 2 : 0;
        if (es == 0) {
            if (dt == "I64" || dt == "I32") continue;  // integer buffers (position_ids): not parameters
            throw Error(where + ": dtype " + dt + " is not supported (F32, F16, BF16, F64)");
        }
        const uint64_t numel = static_cast<uint64_t>(shape_numel(shape));
        if (off.size() != 2 || off[1] < off[0] || off[1] > data_size || off[1] - off[0] != numel * es)
            throw Error(concat(where, ": data_offsets [", off.size() > 0 ? off[0] : 0, ", ", off.size() > 1 ? off[1] : 0,
                               "] do not fit shape ", shape_str(shape), " of ", dt, " in a data section of ", data_size, " bytes"));
        std::vector<char> raw(off[1] - off[0]);
        in.seekg(static_cast<std::streamoff>(data_start + off[0]));
        in.read(raw.data(), static_cast<std::streamsize>(raw.size()));
        if (!in) throw Error(where + ": truncated file");
        Tensor t = Tensor::empty(shape);
        float* d = t.data<float>();
        for (uint64_t i = 0; i < numel; ++i) {
            if (dt == "F32") {
                std::memcpy(&d[i], raw.data() + 4 * i, 4);
            } else if (dt == "F64") {
                double v;
                std::memcpy(&v, raw.data() + 8 * i, 8);
                d[i] = static_cast<float>(v);
            } else {
                uint16_t h;
                std::memcpy(&h, raw.data() + 2 * i, 2);
                if (dt == "F16") {
                    d[i] = half_to_float(h);
                } else {
                    const uint32_t bits = static_cast<uint32_t>(h) << 16;  // bf16 is the top half of an f32
                    std::memcpy(&d[i], &bits, 4);
                }
            }
        }
        out.push_back({it.key(), t});
    }
    return out;
}

void write_safetensors(const std::string& path, const NamedTensors& tensors) {
    nlohmann::ordered_json j;
    uint64_t off = 0;
    for (const auto& [name, t] : tensors) {
        const uint64_t bytes = static_cast<uint64_t>(t.numel()) * 4;
        j[name] = {{"dtype", "F32"}, {"shape", t.shape()}, {"data_offsets", {off, off + bytes}}};
        off += bytes;
    }
    std::string header = j.dump();
    while ((header.size() + 8) % 8) header += ' ';  // the format pads the header with spaces to 8 bytes
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary);
        const uint64_t n = header.size();
        out.write(reinterpret_cast<const char*>(&n), 8);
        out.write(header.data(), static_cast<std::streamsize>(n));
        for (const auto& [name, t] : tensors) {
            const Tensor c = t.dtype() == DType::F32 && t.is_contiguous() ? t : t.to(DType::F32);
            out.write(static_cast<const char*>(c.raw_data()), static_cast<std::streamsize>(c.numel() * 4));
        }
        if (!out) throw Error(concat("safetensors '", path, "': write failed"));
    }
    std::filesystem::rename(tmp, path);
}

HfImport import_hf(const std::string& dir, uint64_t seed) {
    namespace fs = std::filesystem;
    const fs::path cfg_path = fs::path(dir) / "config.json", st_path = fs::path(dir) / "model.safetensors";
    std::ifstream cf(cfg_path);
    if (!cf) throw Error(concat("import-hf: '", cfg_path.string(), "' is missing"));
    std::stringstream ss;
    ss << cf.rdbuf();
    const BertConfig cfg = BertConfig::from_json(ss.str(), cfg_path.string());
    HfImport r;
    Rng init = Rng(seed).fork("init");
    r.model = std::make_unique<BertForSequenceClassification>(cfg, init);
    std::map<std::string, Tensor> ours;
    for (auto& [name, t] : r.model->named_parameters()) ours[name] = t;
    NoGradGuard ng;
    for (SafeTensor& st : read_safetensors(st_path.string())) {
        std::string name = st.name;
        if (!ours.count(name) && ours.count("bert." + name)) name = "bert." + name;  // a bare BertModel file
        auto it = ours.find(name);
        if (it == ours.end()) {
            r.skipped.push_back(st.name);
            continue;
        }
        if (it->second.shape() != st.value.shape())
            throw Error(concat("import-hf: tensor '", st.name, "' in '", st_path.string(), "' is ",
                               shape_str(st.value.shape()), " but the model (", cfg_path.string(), ") expects ",
                               shape_str(it->second.shape())));
        it->second.copy_(st.value);
        r.loaded.push_back(name);
        ours.erase(it);
    }
    for (const auto& [name, t] : ours) r.kept_init.push_back(name);
    if (r.loaded.empty()) throw Error(concat("import-hf: no tensor of '", st_path.string(), "' matches a BERT parameter name"));
    return r;
}

}  // namespace qbert::model
