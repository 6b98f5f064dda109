// The layering of the source tree (docs/design.md, "Layers"): which top-level folder may include which. A
// quoted include "X/..." of a qbert folder X that the including folder may not use is a violation. Checked on
// the real tree, and on a small made-up tree to show the check can fail.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "support/helpers.h"

namespace fs = std::filesystem;

namespace {
// Folder (or sub-folder, the longest match wins) -> the qbert folders its files may include.
const std::map<std::string, std::set<std::string>> kAllowed{
    {"util", {"util"}},
    {"engine", {"engine", "util"}},
    // kernels are plain loops and library calls on raw pointers: no ops, autograd, optimizers or files
    {"engine/kernels", {"engine/core", "engine/kernels", "util"}},
    {"model", {"engine", "model", "util"}},
    {"passes", {"engine", "model", "passes", "util"}},
    // the search core knows nothing about tensors (as Optuna's samplers know nothing about models)
    {"search", {"search", "util"}},
    {"experiments", {"engine", "model", "passes", "search", "experiments", "util"}},
    {"apps", {"engine", "model", "passes", "search", "experiments", "util", "apps"}},
};
const std::set<std::string> kQbertFolders{"util", "engine", "model", "passes", "search", "experiments", "apps"};

std::string rule_for(const std::string& rel) {
    std::string best;
    for (const auto& [folder, allowed] : kAllowed)
        if (rel.rfind(folder + "/", 0) == 0 && folder.size() > best.size()) best = folder;
    return best;
}

bool allowed(const std::string& rule, const std::string& included) {
    for (const auto& a : kAllowed.at(rule))
        if (included.rfind(a + "/", 0) == 0) return true;
    return false;
}

// Every include in the tree under `root` that breaks the rules, as "file:line includes X (folder may use: ...)".
std::vector<std::string> layer_violations(const fs::path& root) {
    std::vector<std::string> out;
    const std::regex include_re(R"(^\s*#\s*include\s*"([^"]+)\")");
    for (const auto& top : kQbertFolders) {
        if (!fs::exists(root / top)) continue;
        for (const auto& e : fs::recursive_directory_iterator(root / top)) {
            const auto ext = e.path().extension();
            if (!e.is_regular_file() || (ext != ".h" && ext != ".cpp")) continue;
            const std::string rel = fs::relative(e.path(), root).generic_string();
            const std::string rule = rule_for(rel);
            std::ifstream in(e.path());
            int lineno = 0;
            for (std::string line; std::getline(in, line);) {
                ++lineno;
                std::smatch m;
                if (!std::regex_search(line, m, include_re)) continue;
                const std::string inc = m[1];
                const std::string first = inc.substr(0, inc.find('/'));
                if (!kQbertFolders.count(first) || allowed(rule, inc)) continue;
                std::string may;
                for (const auto& a : kAllowed.at(rule)) may += (may.empty() ? "" : ", ") + a;
                out.push_back(rel + ":" + std::to_string(lineno) + " includes " + inc + " (" + rule + "/ may use: " + may + ")");
            }
        }
    }
    return out;
}
}  // namespace

TEST_CASE("layers: no folder includes one it may not (engine <- model <- passes <- experiments <- apps; search core tensor-free)",
          "[experiments][layers]") {
    const auto v = layer_violations(QBERT_SOURCE_ROOT);
    for (const auto& line : v) UNSCOPED_INFO(line);
    CHECK(v.empty());
}

TEST_CASE("layers: the check finds a forbidden include (engine including model, search including engine)",
          "[experiments][layers]") {
    qbert::test::TempDir dir;
    const fs::path root = dir.file("tree");
    fs::create_directories(root / "engine" / "kernels" / "ref");
    fs::create_directories(root / "search");
    fs::create_directories(root / "model");
    std::ofstream(root / "engine" / "ok.cpp") << "#include \"engine/core/error.h\"\n#include <vector>\n";
    std::ofstream(root / "engine" / "bad.cpp") << "// a comment\n#include \"model/bert.h\"\n";
    std::ofstream(root / "engine" / "kernels" / "ref" / "bad.h") << "#include \"engine/ops/elementwise.h\"\n";
    std::ofstream(root / "search" / "bad.cpp") << "  #  include \"engine/tensor/tensor.h\"\n";
    std::ofstream(root / "model" / "ok.cpp") << "#include \"engine/engine.h\"\n#include \"model/bert.h\"\n";
    auto v = layer_violations(root);
    std::sort(v.begin(), v.end());
    REQUIRE(v.size() == 3);
    CHECK(v[0].rfind("engine/bad.cpp:2 includes model/bert.h", 0) == 0);
    CHECK(v[1].rfind("engine/kernels/ref/bad.h:1 includes engine/ops/elementwise.h", 0) == 0);
    CHECK(v[2].rfind("search/bad.cpp:1 includes engine/tensor/tensor.h", 0) == 0);
}
