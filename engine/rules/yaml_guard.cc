#include "engine/rules/yaml_guard.h"

#include <yaml.h>

namespace vigil::rules {

std::optional<Diagnostic> check_yaml_syntax(const std::string& text, const std::string& file) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) return Diagnostic{file, 0, 0, "YAML parser out of memory", false};
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  std::optional<Diagnostic> error;
  for (;;) {
    yaml_event_t event;
    if (!yaml_parser_parse(&parser, &event)) {
      error = Diagnostic{file, static_cast<int>(parser.problem_mark.line) + 1,
                         static_cast<int>(parser.problem_mark.column) + 1,
                         std::string("YAML syntax: ") + (parser.problem ? parser.problem : "error") +
                             (parser.context ? std::string(" ") + parser.context : ""),
                         false};
      break;
    }
    const bool end = event.type == YAML_STREAM_END_EVENT;
    yaml_event_delete(&event);
    if (end) break;
  }
  yaml_parser_delete(&parser);
  return error;
}

}  // namespace vigil::rules
