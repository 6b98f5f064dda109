// Skipped tests (Catch2 v2 has no SKIP). A test that cannot run here (no data, ...) calls
//   QBERT_SKIP("../shared/data is not present");
// at the top level of its TEST_CASE (or of a SECTION): the reason is recorded for the current test case and
// the test returns. The listener in tests/main.cpp counts that test case as skipped (neither passed nor
// failed, unless an assertion failed before the skip) and prints one line per skipped test
//   qbert-skip: <test name>: <reason>
// before its "qbert-tests: P passed, F failed, S skipped" line; scripts/test.sh adds both up.
// The macro returns from the enclosing function, so it belongs in the test body, not in a helper that
// returns a value (there it does not compile, which is the point).
#pragma once

#include <catch2/catch.hpp>

#include <sstream>
#include <string>

namespace qbert::test {

// The reason the current test case skipped itself, "" if it did not. Reset by the listener at the start of
// every test case.
inline std::string& current_skip_reason() {
    static std::string reason;
    return reason;
}

inline void mark_current_test_skipped(const std::string& why) {
    current_skip_reason() = why.empty() ? std::string("(no reason given)") : why;
}

}  // namespace qbert::test

#define QBERT_SKIP(why)                                                                    \
    do {                                                                                   \
        std::ostringstream qbert_skip_os_;                                                 \
        qbert_skip_os_ << why;                                                             \
        ::qbert::test::mark_current_test_skipped(qbert_skip_os_.str());                    \
        WARN("skipped: " << ::qbert::test::current_skip_reason());                         \
        return;                                                                            \
    } while (0)
