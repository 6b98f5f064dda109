#include "engine/serialization/checkpoint.h"

#include <hdf5.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>

#include "engine/autograd/grad_mode.h"

namespace qbert::engine {

namespace {
// RAII for HDF5 ids: closes with the right H5?close on scope exit.
class H5Id {
public:
    H5Id(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
    ~H5Id() {
        if (id_ >= 0) close_(id_);
    }
    H5Id(const H5Id&) = delete;
    H5Id& operator=(const H5Id&) = delete;
    hid_t get() const { return id_; }
    bool ok() const { return id_ >= 0; }

private:
    hid_t id_;
    herr_t (*close_)(hid_t);
};

// HDF5 prints its own error stack to stderr by default; we report errors ourselves.
void silence_hdf5() {
    static bool done = [] {
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
        return true;
    }();
    (void)done;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw Error("checkpoint '" + path + "': " + what);
}

// FNV-1a 64 of a dataset's bytes, stored as its "fnv1a64" attribute: HDF5 checksums metadata, not raw data.
uint64_t fnv1a64(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

hid_t h5_type(DType t) {
    switch (t) {
        case DType::F32: return H5T_NATIVE_FLOAT;
        case DType::F64: return H5T_NATIVE_DOUBLE;
        case DType::I8: return H5T_NATIVE_INT8;
        case DType::U8: return H5T_NATIVE_UINT8;
        case DType::I32: return H5T_NATIVE_INT32;
        case DType::I64: return H5T_NATIVE_INT64;
    }
    return H5T_NATIVE_FLOAT;
}

void write_string_attr(const std::string& path, hid_t obj, const char* name, const std::string& value) {
    H5Id type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), value.empty() ? 1 : value.size());
    H5Id space(H5Screate(H5S_SCALAR), H5Sclose);
    H5Id attr(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!attr.ok() || H5Awrite(attr.get(), type.get(), value.empty() ? "" : value.data()) < 0)
        fail(path, std::string("cannot write attribute '") + name + "'");
}

std::string read_string_attr(const std::string& path, hid_t obj, const char* name) {
    if (H5Aexists(obj, name) <= 0) fail(path, std::string("attribute '") + name + "' is missing");
    H5Id attr(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
    H5Id type(H5Aget_type(attr.get()), H5Tclose);
    if (!attr.ok() || H5Tget_class(type.get()) != H5T_STRING)
        fail(path, std::string("attribute '") + name + "' is not a string");
    std::string s(H5Tget_size(type.get()), '\0');
    H5Id mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), s.size());
    if (H5Aread(attr.get(), mem.get(), s.data()) < 0) fail(path, std::string("cannot read attribute '") + name + "'");
    while (!s.empty() && s.back() == '\0') s.pop_back();
    return s;
}

void write_int_attr(const std::string& path, hid_t obj, const char* name, int64_t v) {
    H5Id space(H5Screate(H5S_SCALAR), H5Sclose);
    H5Id attr(H5Acreate2(obj, name, H5T_NATIVE_INT64, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!attr.ok() || H5Awrite(attr.get(), H5T_NATIVE_INT64, &v) < 0)
        fail(path, std::string("cannot write attribute '") + name + "'");
}

int64_t read_int_attr(const std::string& path, hid_t obj, const char* name) {
    if (H5Aexists(obj, name) <= 0) fail(path, std::string("attribute '") + name + "' is missing");
    H5Id attr(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
    int64_t v = 0;
    if (!attr.ok() || H5Aread(attr.get(), H5T_NATIVE_INT64, &v) < 0)
        fail(path, std::string("cannot read attribute '") + name + "'");
    return v;
}

void write_tensors(const std::string& path, hid_t file, const char* group, const NamedTensors& ts) {
    H5Id g(H5Gcreate2(file, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (!g.ok()) fail(path, std::string("cannot create group '") + group + "'");
    std::map<std::string, int> seen;
    for (const auto& [name, t0] : ts) {
        if (seen[name]++) fail(path, "duplicate tensor name '" + name + "'");
        Tensor t = t0.is_contiguous() ? t0 : t0.clone();
        std::vector<hsize_t> dims(t.shape().begin(), t.shape().end());
        H5Id space(dims.empty() ? H5Screate(H5S_SCALAR)
                                : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                   H5Sclose);
        H5Id ds(H5Dcreate2(g.get(), name.c_str(), h5_type(t.dtype()), space.get(), H5P_DEFAULT, H5P_DEFAULT,
                           H5P_DEFAULT),
                H5Dclose);
        if (!ds.ok() || H5Dwrite(ds.get(), h5_type(t.dtype()), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw_data()) < 0)
            fail(path, "cannot write dataset '" + std::string(group) + "/" + name + "' " + t.str());
        const size_t nbytes = static_cast<size_t>(t.numel()) * dtype_size(t.dtype());
        write_int_attr(path, ds.get(), "fnv1a64", static_cast<int64_t>(fnv1a64(t.raw_data(), nbytes)));
    }
}

DType dtype_from_h5(const std::string& path, const std::string& ds_name, hid_t type) {
    const H5T_class_t cls = H5Tget_class(type);
    const size_t size = H5Tget_size(type);
    if (cls == H5T_FLOAT && size == 4) return DType::F32;
    if (cls == H5T_FLOAT && size == 8) return DType::F64;
    if (cls == H5T_INTEGER) {
        const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
        if (size == 1) return is_signed ? DType::I8 : DType::U8;
        if (size == 4 && is_signed) return DType::I32;
        if (size == 8 && is_signed) return DType::I64;
    }
    fail(path, "dataset '" + ds_name + "' has an unsupported element type");
}

NamedTensors read_tensors(const std::string& path, hid_t file, const char* group,
                          std::map<std::string, int64_t>* stored = nullptr) {
    NamedTensors out;
    H5Id g(H5Gopen2(file, group, H5P_DEFAULT), H5Gclose);
    if (!g.ok()) fail(path, std::string("group '") + group + "' is missing or unreadable");
    hsize_t n = 0;
    if (H5Gget_num_objs(g.get(), &n) < 0) fail(path, std::string("cannot list group '") + group + "'");
    for (hsize_t i = 0; i < n; ++i) {
        const ssize_t len = H5Gget_objname_by_idx(g.get(), i, nullptr, 0);
        std::string name(static_cast<size_t>(len), '\0');
        H5Gget_objname_by_idx(g.get(), i, name.data(), static_cast<size_t>(len) + 1);
        const std::string full = std::string(group) + "/" + name;
        H5Id ds(H5Dopen2(g.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
        if (!ds.ok()) fail(path, "cannot open dataset '" + full + "'");
        H5Id space(H5Dget_space(ds.get()), H5Sclose);
        H5Id type(H5Dget_type(ds.get()), H5Tclose);
        const int nd = H5Sget_simple_extent_ndims(space.get());
        if (nd < 0) fail(path, "dataset '" + full + "' has an unreadable shape");
        std::vector<hsize_t> dims(static_cast<size_t>(nd));
        H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
        Shape shape(dims.begin(), dims.end());
        Tensor t = Tensor::empty(shape, dtype_from_h5(path, full, type.get()));
        if (H5Dread(ds.get(), h5_type(t.dtype()), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw_data()) < 0)
            fail(path, "cannot read dataset '" + full + "' " + t.str() + " (truncated or corrupt file?)");
        const size_t nbytes = static_cast<size_t>(t.numel()) * dtype_size(t.dtype());
        if (static_cast<uint64_t>(read_int_attr(path, ds.get(), "fnv1a64")) != fnv1a64(t.raw_data(), nbytes))
            fail(path, "dataset '" + full + "' fails its checksum (corrupt file)");
        if (stored) (*stored)[name] = static_cast<int64_t>(H5Dget_storage_size(ds.get()));
        out.emplace_back(name, t);
    }
    return out;
}
}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& ckpt) {
    silence_hdf5();
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        // the 1.10 file format checksums every metadata block, so corrupt headers are caught on open
        H5Id fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
        H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_V110);
        H5Id file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
        if (!file.ok()) fail(path, "cannot create temporary file '" + tmp + "' (does the directory exist and is it writable?)");
        try {
            write_string_attr(path, file.get(), "qbert_format", "qbert-checkpoint");
            write_int_attr(path, file.get(), "format_version", kCheckpointVersion);
            write_string_attr(path, file.get(), "config", ckpt.config_json);
            write_string_attr(path, file.get(), "meta", ckpt.meta_json);
            write_tensors(path, file.get(), "params", ckpt.params);
            if (!ckpt.optimizer.empty()) {
                write_tensors(path, file.get(), "optimizer", ckpt.optimizer);
                H5Id g(H5Gopen2(file.get(), "optimizer", H5P_DEFAULT), H5Gclose);
                write_int_attr(path, g.get(), "steps", ckpt.optimizer_steps);
            }
            if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) fail(path, "cannot flush '" + tmp + "'");
        } catch (...) {
            std::remove(tmp.c_str());
            throw;
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::remove(tmp.c_str());
        fail(path, "cannot rename '" + tmp + "' into place: " + ec.message());
    }
}

Checkpoint load_checkpoint(const std::string& path) {
    silence_hdf5();
    if (!std::filesystem::exists(path)) fail(path, "no such file");
    if (H5Fis_hdf5(path.c_str()) <= 0)
        fail(path, "not an HDF5 file (truncated, corrupt, or another format)");
    H5Id file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!file.ok()) fail(path, "cannot open as HDF5 (truncated or corrupt file?)");
    Checkpoint ck;
    const std::string fmt = read_string_attr(path, file.get(), "qbert_format");
    if (fmt != "qbert-checkpoint") fail(path, "attribute qbert_format is '" + fmt + "', expected 'qbert-checkpoint'");
    const int64_t version = read_int_attr(path, file.get(), "format_version");
    if (version != kCheckpointVersion)
        fail(path, "format_version is " + std::to_string(version) + ", this build reads version " +
                       std::to_string(kCheckpointVersion) + "\nhint: re-create the checkpoint with this qbert");
    ck.config_json = read_string_attr(path, file.get(), "config");
    ck.meta_json = read_string_attr(path, file.get(), "meta");
    ck.params = read_tensors(path, file.get(), "params", &ck.stored_bytes);
    if (H5Lexists(file.get(), "optimizer", H5P_DEFAULT) > 0) {
        ck.optimizer = read_tensors(path, file.get(), "optimizer");
        H5Id g(H5Gopen2(file.get(), "optimizer", H5P_DEFAULT), H5Gclose);
        ck.optimizer_steps = read_int_attr(path, g.get(), "steps");
    }
    return ck;
}

void load_params_into(const std::string& path, const Checkpoint& ckpt, NamedTensors& params, bool allow_extra) {
    std::map<std::string, const Tensor*> in_file;
    for (const auto& [name, t] : ckpt.params) in_file[name] = &t;
    NoGradGuard ng;
    for (auto& [name, p] : params) {
        auto it = in_file.find(name);
        if (it == in_file.end()) fail(path, "dataset 'params/" + name + "' is missing");
        const Tensor& src = *it->second;
        if (src.shape() != p.shape() || src.dtype() != p.dtype())
            fail(path, "dataset 'params/" + name + "' is " + src.str() + " but the model expects " + p.str());
        p.copy_(src);
        in_file.erase(it);
    }
    if (!allow_extra && !in_file.empty())
        fail(path, "dataset 'params/" + in_file.begin()->first + "' has no matching model parameter (" +
                       std::to_string(in_file.size()) + " unused in all)");
}

}  // namespace qbert::engine
