// util/csv: RFC 4180 quoting on write, and a reader that gives back exactly the fields written.
#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "util/csv.h"

using Catch::Matchers::Contains;
using qbert::util::CsvError;
using qbert::util::csv_field;
using qbert::util::csv_row;
using qbert::util::parse_csv_line;
using qbert::util::read_csv_row;
using qbert::util::write_csv_row;
using Row = std::vector<std::string>;

TEST_CASE("csv: a field is quoted only when it holds a comma, quote, CR or LF", "[util][csv]") {
    auto [in, out] = GENERATE(table<std::string, std::string>({
        {"plain", "plain"},
        {"", ""},
        {" spaced ", " spaced "},
        {"0.8663", "0.8663"},
        {"a,b", "\"a,b\""},
        {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {"\"", "\"\"\"\""},
        {"two\nlines", "\"two\nlines\""},
        {"cr\rhere", "\"cr\rhere\""},
        {"{\"lr\": 0.001, \"n\": 2}", "\"{\"\"lr\"\": 0.001, \"\"n\"\": 2}\""},
    }));
    CAPTURE(in);
    REQUIRE(csv_field(in) == out);
}

TEST_CASE("csv: rows written are read back field for field", "[util][csv]") {
    const std::vector<Row> rows{
        {"epoch", "train_loss", "val_accuracy"},
        {"1", "0.693147", "0.5"},
        {"", "", ""},
        {"a,b", "say \"hi\", twice", "x"},
        {"multi\nline", "crlf\r\ninside", "\"quoted\""},
        {"trailing,"},
        {""},
    };
    std::stringstream ss;
    for (const Row& r : rows) write_csv_row(ss, r);
    REQUIRE(ss.str().substr(0, 35) == "epoch,train_loss,val_accuracy\n1,0.6");
    Row got;
    for (const Row& r : rows) {
        REQUIRE(read_csv_row(ss, got));
        REQUIRE(got == r);
    }
    REQUIRE_FALSE(read_csv_row(ss, got));
}

TEST_CASE("csv: parse_csv_line splits at commas outside quotes", "[util][csv]") {
    REQUIRE(parse_csv_line("a,b,c") == Row{"a", "b", "c"});
    REQUIRE(parse_csv_line("") == Row{""});
    REQUIRE(parse_csv_line("a,") == Row{"a", ""});
    REQUIRE(parse_csv_line(",") == Row{"", ""});
    REQUIRE(parse_csv_line("\"a,b\",c") == Row{"a,b", "c"});
    REQUIRE(parse_csv_line("\"\"\"\",\"\"") == Row{"\"", ""});
    REQUIRE(parse_csv_line("a,b\r") == Row{"a", "b"});           // a CRLF line read with getline
    REQUIRE(parse_csv_line("\"x\r\",y\r") == Row{"x\r", "y"});   // a CR inside quotes stays
    REQUIRE(parse_csv_line("5 \"inch\",x") == Row{"5 \"inch\"", "x"});  // unquoted field: quotes kept as written
    REQUIRE(parse_csv_line(csv_row({"x,y", "", "z\"w"})) == Row{"x,y", "", "z\"w"});
}

TEST_CASE("csv: malformed records name the field", "[util][csv]") {
    REQUIRE_THROWS_AS(parse_csv_line("a,\"open"), CsvError);
    REQUIRE_THROWS_WITH(parse_csv_line("a,\"open"), Contains("field 2") && Contains("never closes"));
    REQUIRE_THROWS_WITH(parse_csv_line("\"ab\"c,d"), Contains("field 1") && Contains("after the closing quote"));
    std::stringstream ss("ok,\"line one\nline two\nno close");
    Row got;
    REQUIRE_THROWS_WITH(read_csv_row(ss, got), Contains("field 2") && Contains("never closes"));
}

TEST_CASE("csv: CRLF files read like LF files", "[util][csv]") {
    std::stringstream ss("h1,h2\r\n\"a\r\nb\",c\r\nlast,\r\n");
    Row got;
    REQUIRE(read_csv_row(ss, got));
    REQUIRE(got == Row{"h1", "h2"});
    REQUIRE(read_csv_row(ss, got));
    REQUIRE(got == Row{"a\r\nb", "c"});
    REQUIRE(read_csv_row(ss, got));
    REQUIRE(got == Row{"last", ""});
    REQUIRE_FALSE(read_csv_row(ss, got));
}
