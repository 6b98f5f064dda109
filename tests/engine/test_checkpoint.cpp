#include <hdf5.h>

#include <filesystem>
#include <fstream>

#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {
fs::path tmp_dir() {
    fs::path d = fs::temp_directory_path() / ("qbert_ckpt_test_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
}
Checkpoint sample() {
    Rng rng(1);
    Checkpoint c;
    c.params = {{"bert.encoder.layer.0.attention.self.query.weight", Tensor::randn({4, 3}, rng)},
                {"bert.encoder.layer.0.attention.self.query.bias", Tensor::randn({4}, rng)},
                {"classifier.weight_mask", Tensor::ones({2, 4}, DType::U8)}};
    c.config_json = R"({"hidden_size": 4})";
    c.optimizer = {{"classifier.weight.exp_avg", Tensor::randn({2, 4}, rng)}};
    c.optimizer_steps = 17;
    return c;
}
}  // namespace

TEST_CASE("checkpoint round trip keeps names, shapes, dtypes, values, config, optimizer", "[checkpoint]") {
    const fs::path p = tmp_dir() / "model.h5";
    const Checkpoint c = sample();
    save_checkpoint(p.string(), c);
    REQUIRE(fs::exists(p));
    for (const auto& e : fs::directory_iterator(p.parent_path())) REQUIRE(e.path().string().find(".tmp.") == std::string::npos);
    const Checkpoint r = load_checkpoint(p.string());
    REQUIRE(r.params.size() == c.params.size());
    for (const auto& [name, t] : c.params) {
        auto it = std::find_if(r.params.begin(), r.params.end(), [&](const auto& kv) { return kv.first == name; });
        REQUIRE(it != r.params.end());
        REQUIRE(it->second.shape() == t.shape());
        REQUIRE(it->second.dtype() == t.dtype());
        REQUIRE(it->second.to_vector_f64() == t.to_vector_f64());
    }
    REQUIRE(r.config_json == c.config_json);
    REQUIRE(r.optimizer_steps == 17);
    REQUIRE(r.optimizer.size() == 1);
    // load into a model's parameters by name
    NamedTensors model{{"bert.encoder.layer.0.attention.self.query.weight", Tensor::zeros({4, 3})},
                       {"bert.encoder.layer.0.attention.self.query.bias", Tensor::zeros({4})},
                       {"classifier.weight_mask", Tensor::zeros({2, 4}, DType::U8)}};
    load_params_into(p.string(), r, model);
    REQUIRE(model[0].second.to_vector_f64() == c.params[0].second.to_vector_f64());
    fs::remove_all(p.parent_path());
}

TEST_CASE("bad checkpoints fail with the file and dataset named", "[checkpoint][errors]") {
    const fs::path dir = tmp_dir();
    const fs::path good = dir / "good.h5";
    save_checkpoint(good.string(), sample());

    SECTION("missing file") {
        REQUIRE_THROWS_WITH(load_checkpoint((dir / "nope.h5").string()), Contains("nope.h5") && Contains("no such file"));
    }
    SECTION("truncated file") {
        const fs::path t = dir / "trunc.h5";
        fs::copy_file(good, t);
        fs::resize_file(t, fs::file_size(t) / 2);
        REQUIRE_THROWS_WITH(load_checkpoint(t.string()), Contains("trunc.h5"));
    }
    SECTION("garbage bytes") {
        const fs::path g = dir / "garbage.h5";
        std::ofstream(g) << "this is not an hdf5 file at all";
        REQUIRE_THROWS_WITH(load_checkpoint(g.string()), Contains("garbage.h5") && Contains("not an HDF5"));
    }
    SECTION("flipped bytes inside a dataset's raw data fail its checksum") {
        const fs::path c = dir / "corrupt.h5";
        fs::copy_file(good, c);
        haddr_t off;
        {
            hid_t f = H5Fopen(c.string().c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
            hid_t d = H5Dopen2(f, "params/bert.encoder.layer.0.attention.self.query.weight", H5P_DEFAULT);
            off = H5Dget_offset(d);
            H5Dclose(d);
            H5Fclose(f);
        }
        REQUIRE(off != HADDR_UNDEF);
        {
            std::fstream f(c, std::ios::in | std::ios::out | std::ios::binary);
            f.seekp(static_cast<std::streamoff>(off) + 5);
            f.put('\x5A');
        }
        REQUIRE_THROWS_WITH(load_checkpoint(c.string()),
                            Contains("corrupt.h5") && Contains("query.weight") && Contains("checksum"));
    }
    SECTION("overwritten metadata is caught") {
        const fs::path c = dir / "badmeta.h5";
        fs::copy_file(good, c);
        {
            std::fstream f(c, std::ios::in | std::ios::out | std::ios::binary);
            f.seekp(48);  // just past the superblock signature and version fields
            const std::string junk(256, '\xAB');
            f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
        }
        REQUIRE_THROWS_WITH(load_checkpoint(c.string()), Contains("badmeta.h5"));
    }
    SECTION("wrong version") {
        const fs::path v = dir / "v2.h5";
        fs::copy_file(good, v);
        hid_t f = H5Fopen(v.string().c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
        const int64_t two = 2;
        H5Awrite(a, H5T_NATIVE_INT64, &two);
        H5Aclose(a);
        H5Fclose(f);
        REQUIRE_THROWS_WITH(load_checkpoint(v.string()), Contains("v2.h5") && Contains("format_version is 2"));
    }
    SECTION("wrong shape, missing and extra datasets") {
        const Checkpoint r = load_checkpoint(good.string());
        NamedTensors wrong{{"bert.encoder.layer.0.attention.self.query.weight", Tensor::zeros({3, 4})}};
        REQUIRE_THROWS_WITH(load_params_into(good.string(), r, wrong, true),
                            Contains("good.h5") && Contains("params/bert.encoder.layer.0.attention.self.query.weight") &&
                                Contains("[4,3]") && Contains("[3,4]"));
        NamedTensors missing{{"pooler.dense.weight", Tensor::zeros({2, 2})}};
        REQUIRE_THROWS_WITH(load_params_into(good.string(), r, missing, true),
                            Contains("params/pooler.dense.weight") && Contains("missing"));
        NamedTensors subset{{"classifier.weight_mask", Tensor::zeros({2, 4}, DType::U8)}};
        REQUIRE_THROWS_WITH(load_params_into(good.string(), r, subset, false), Contains("no matching model parameter"));
    }
    SECTION("unwritable destination leaves nothing behind") {
        REQUIRE_THROWS_WITH(save_checkpoint((dir / "no_such_dir" / "m.h5").string(), sample()),
                            Contains("m.h5") && Contains("cannot create"));
    }
    fs::remove_all(dir);
}
