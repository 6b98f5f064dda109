// CSV as RFC 4180 writes it: fields separated by commas, and a field that contains a comma, a double quote, CR
// or LF wrapped in double quotes with its quotes doubled (`say "hi", twice` -> `"say ""hi"", twice"`). Rows end
// with "\n"; the reader also takes "\r\n". Every CSV the project writes (metrics.csv, the sweep and search
// tables) goes through here, so a reader never splits a field at a comma it contains.
#pragma once

#include <iosfwd>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace qbert::util {

class CsvError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// `field` as written in a row: unchanged, or quoted when it has to be.
std::string csv_field(std::string_view field);
// The fields, each through csv_field, joined by commas; no line end.
std::string csv_row(const std::vector<std::string>& fields);
// csv_row(fields) + "\n".
void write_csv_row(std::ostream& out, const std::vector<std::string>& fields);

// The fields of one record. `line` is the record without its line end (a trailing "\r" is dropped); it may
// hold line breaks inside quoted fields. "" is one empty field, "a," two fields. A quote inside an unquoted
// field is kept as it is (files written before quoting); an unterminated quoted field, or text between a
// closing quote and the next comma, throws CsvError naming the field.
std::vector<std::string> parse_csv_line(std::string_view line);

// Reads the next record from `in` into `fields`, taking further lines while a quoted field is open; false at
// the end of the input. Throws CsvError as parse_csv_line does (an unterminated quote at the end of input too).
bool read_csv_row(std::istream& in, std::vector<std::string>& fields);

}  // namespace qbert::util
