// Catch2 v2 runner for every qbert test executable. Besides Catch2's own report it prints, for each test
// case that skipped itself (QBERT_SKIP, tests/support/skip.h), a line
//   qbert-skip: <test name>: <reason>
// and then one line
//   qbert-tests: N passed, N failed, N skipped
// counting test cases, which scripts/test.sh adds up across executables (CI reads only its last line).
// A skipped test case counts as skipped only if nothing in it failed before it skipped.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "support/skip.h"

namespace {
struct CountingListener : Catch::TestEventListenerBase {
    using TestEventListenerBase::TestEventListenerBase;
    void testCaseStarting(Catch::TestCaseInfo const& info) override {
        TestEventListenerBase::testCaseStarting(info);
        qbert::test::current_skip_reason().clear();
    }
    void testCaseEnded(Catch::TestCaseStats const& stats) override {
        const std::string& reason = qbert::test::current_skip_reason();
        if (stats.totals.assertions.failed > 0 || stats.totals.testCases.failed > 0) {
            ++failed;
        } else if (!reason.empty()) {
            ++skipped;
            skips.emplace_back(stats.testInfo.name, reason);
        } else {
            ++passed;
        }
        TestEventListenerBase::testCaseEnded(stats);
    }
    void testRunEnded(Catch::TestRunStats const& stats) override {
        for (const auto& [name, reason] : skips) std::printf("qbert-skip: %s: %s\n", name.c_str(), reason.c_str());
        std::printf("qbert-tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
        std::fflush(stdout);
        TestEventListenerBase::testRunEnded(stats);
    }
    static inline int passed = 0, failed = 0, skipped = 0;
    static inline std::vector<std::pair<std::string, std::string>> skips;
};
}  // namespace
CATCH_REGISTER_LISTENER(CountingListener)

int main(int argc, char* argv[]) { return Catch::Session().run(argc, argv); }
