// Catch2 v2 runner for every qbert test executable. Besides Catch2's own report it prints one line
//   qbert-tests: N passed, N failed
// counting test cases, which scripts/test.sh adds up across executables (CI reads only that line).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>

namespace {
struct CountingListener : Catch::TestEventListenerBase {
    using TestEventListenerBase::TestEventListenerBase;
    void testCaseEnded(Catch::TestCaseStats const& stats) override {
        (stats.totals.assertions.failed > 0 || stats.totals.testCases.failed > 0 ? failed : passed)++;
    }
    void testRunEnded(Catch::TestRunStats const&) override {
        std::printf("qbert-tests: %d passed, %d failed\n", passed, failed);
        std::fflush(stdout);
    }
    static inline int passed = 0, failed = 0;
};
}  // namespace
CATCH_REGISTER_LISTENER(CountingListener)

int main(int argc, char* argv[]) { return Catch::Session().run(argc, argv); }
