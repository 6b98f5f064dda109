#include "util/csv.h"

#include <istream>
#include <ostream>

namespace qbert::util {

std::string csv_field(std::string_view field) {
    if (field.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(field);
    std::string out = "\"";
    for (char c : field) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string csv_row(const std::vector<std::string>& fields) {
    std::string out;
    for (size_t i = 0; i < fields.size(); ++i) {
        if (i) out += ',';
        out += csv_field(fields[i]);
    }
    return out;
}

void write_csv_row(std::ostream& out, const std::vector<std::string>& fields) { out << csv_row(fields) << '\n'; }

namespace {
// Splits `s` into `fields`; false when it ends inside a quoted field (the record continues on the next line).
bool parse(std::string_view s, std::vector<std::string>& fields) {
    fields.clear();
    const size_t n = s.size();
    size_t i = 0;
    for (;;) {
        std::string cur;
        if (i < n && s[i] == '"') {
            for (++i;; ++i) {
                if (i >= n) return false;
                if (s[i] != '"') {
                    cur += s[i];
                } else if (i + 1 < n && s[i + 1] == '"') {
                    cur += '"';
                    ++i;
                } else {
                    break;
                }
            }
            ++i;  // the closing quote
            if (i < n && s[i] != ',')
                throw CsvError("CSV: text after the closing quote of field " + std::to_string(fields.size() + 1));
        } else {
            while (i < n && s[i] != ',') cur += s[i++];
        }
        fields.push_back(std::move(cur));
        if (i >= n) return true;
        ++i;  // the comma
    }
}

std::string_view without_cr(std::string_view s) { return !s.empty() && s.back() == '\r' ? s.substr(0, s.size() - 1) : s; }
}  // namespace

std::vector<std::string> parse_csv_line(std::string_view line) {
    std::vector<std::string> fields;
    if (!parse(without_cr(line), fields))
        throw CsvError("CSV: field " + std::to_string(fields.size() + 1) + " opens a quote that never closes");
    return fields;
}

bool read_csv_row(std::istream& in, std::vector<std::string>& fields) {
    std::string record;
    if (!std::getline(in, record)) return false;
    while (!parse(without_cr(record), fields)) {
        std::string more;
        if (!std::getline(in, more))
            throw CsvError("CSV: field " + std::to_string(fields.size() + 1) + " opens a quote that never closes");
        record += '\n';
        record += more;
    }
    return true;
}

}  // namespace qbert::util
