// Minimal command-line parsing for the edgequant CLI: options declared per
// command, `--opt value` / `--opt=value` / flags, positionals, clear errors.
#pragma once

#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgequant/core/error.hpp"

namespace eqcli {

struct OptionSpec {
  std::string name;  // without dashes
  bool takes_value;
  std::string help;
};

class Args {
 public:
  static edgequant::Expected<Args> parse(const std::vector<std::string>& argv,
                                         const std::vector<OptionSpec>& specs) {
    Args a;
    for (std::size_t i = 0; i < argv.size(); ++i) {
      const std::string& s = argv[i];
      if (s == "--") {
        for (++i; i < argv.size(); ++i) a.positional_.push_back(argv[i]);
        break;
      }
      if (s.size() > 2 && s[0] == '-' && s[1] == '-') {
        std::string key = s.substr(2), value;
        bool has_value = false;
        if (auto eq = key.find('='); eq != std::string::npos) {
          value = key.substr(eq + 1);
          key = key.substr(0, eq);
          has_value = true;
        }
        const OptionSpec* spec = nullptr;
        for (const auto& o : specs) {
          if (o.name == key) spec = &o;
        }
        if (!spec) return edgequant::make_error(edgequant::Errc::kBadArgument, "unknown option --" + key);
        if (spec->takes_value) {
          if (!has_value) {
            if (i + 1 >= argv.size()) {
              return edgequant::make_error(edgequant::Errc::kBadArgument, "option --" + key + " needs a value");
            }
            value = argv[++i];
          }
          a.values_[key].push_back(value);
        } else {
          if (has_value) {
            return edgequant::make_error(edgequant::Errc::kBadArgument, "option --" + key + " takes no value");
          }
          a.flags_[key] = true;
        }
      } else if (s.size() > 1 && s[0] == '-' && s != "-") {
        // Short aliases: -o, -h, -j.
        std::string key = s == "-o" ? "output" : s == "-h" ? "help" : s == "-j" ? "threads" : "";
        const OptionSpec* spec = nullptr;
        for (const auto& o : specs) {
          if (o.name == key) spec = &o;
        }
        if (!spec) return edgequant::make_error(edgequant::Errc::kBadArgument, "unknown option " + s);
        if (spec->takes_value) {
          if (i + 1 >= argv.size()) {
            return edgequant::make_error(edgequant::Errc::kBadArgument, "option " + s + " needs a value");
          }
          a.values_[key].push_back(argv[++i]);
        } else {
          a.flags_[key] = true;
        }
      } else {
        a.positional_.push_back(s);
      }
    }
    return a;
  }

  bool flag(const std::string& k) const { return flags_.count(k) != 0; }
  std::optional<std::string> value(const std::string& k) const {
    auto it = values_.find(k);
    if (it == values_.end()) return std::nullopt;
    return it->second.back();
  }
  std::vector<std::string> values(const std::string& k) const {
    auto it = values_.find(k);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
  }
  const std::vector<std::string>& positional() const { return positional_; }

  // Unsigned integer option; error names the option.
  edgequant::Expected<std::uint64_t> uint_value(const std::string& k, std::uint64_t fallback) const {
    auto v = value(k);
    if (!v) return fallback;
    char* end = nullptr;
    errno = 0;
    const unsigned long long n = std::strtoull(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0' || errno != 0 || (*v)[0] == '-') {
      return edgequant::make_error(edgequant::Errc::kBadArgument,
                                   "option --" + k + " needs a non-negative integer, got '" + *v + "'");
    }
    return static_cast<std::uint64_t>(n);
  }
  edgequant::Expected<double> double_value(const std::string& k, double fallback) const {
    auto v = value(k);
    if (!v) return fallback;
    char* end = nullptr;
    const double d = std::strtod(v->c_str(), &end);
    if (v->empty() || *end != '\0') {
      return edgequant::make_error(edgequant::Errc::kBadArgument,
                                   "option --" + k + " needs a number, got '" + *v + "'");
    }
    return d;
  }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::map<std::string, bool> flags_;
  std::vector<std::string> positional_;
};

}  // namespace eqcli
