// GET /api/rules; POST /api/rules/validate, /api/rules/reload.

#include "engine/api/route_handler.h"

namespace vigil::api::route {

namespace {

json::array diagnostics_json(const std::vector<rules::Diagnostic>& diags) {
  json::array out;
  for (const auto& d : diags) {
    out.push_back(json::object{{"file", d.file}, {"line", d.line}, {"col", d.col},
                               {"message", d.message}, {"warning", d.warning},
                               {"text", d.str()}});
  }
  return out;
}

}  // namespace

Response Handler::rules_list() {
  if (!ctx_.hooks.rules) return err(http::status::service_unavailable, "rules are not wired");
  auto set = ctx_.hooks.rules();
  json::array items;
  if (set) {
    for (const auto& r : set->rules()) {
      json::object j;
      j["id"] = r.id;
      j["description"] = r.description;
      j["kind"] = rules::kind_name(r.kind);
      j["severity"] = vigil::v1::Severity_Name(r.severity);
      json::array reads;
      for (const auto& t : r.reads) reads.emplace_back(t);
      j["reads"] = std::move(reads);
      json::object params;
      for (const auto& p : r.params) params[p.name] = p.value;
      j["params"] = std::move(params);
      json::object actions;
      if (!r.actions.dispatch.empty()) actions["dispatch"] = r.actions.dispatch;
      if (!r.actions.operator_task.empty()) actions["operator_task"] = r.actions.operator_task;
      if (!r.actions.reminder.empty()) actions["reminder"] = r.actions.reminder;
      j["actions"] = std::move(actions);
      j["file"] = r.file;
      j["line"] = r.line;
      items.push_back(std::move(j));
    }
  }
  return ok(json::object{{"rules", std::move(items)}});
}

Response Handler::rules_validate() {
  if (req_.body().find_first_not_of(" \t\r\n") == std::string::npos) {
    return err(http::status::bad_request, "empty body: expected a rule file's YAML text");
  }
  rules::LoadResult r;
  try {
    r = rules::load_rule_text(req_.body(), query_or(t_, "name", "request.yaml"));
  } catch (const std::exception& e) {
    return err(http::status::bad_request, std::string("malformed body: ") + e.what());
  }
  json::array ids;
  if (r.rules) {
    for (const auto& id : r.rules->ids()) ids.emplace_back(id);
  }
  return ok(json::object{{"ok", r.ok()}, {"rules", std::move(ids)},
                         {"diagnostics", diagnostics_json(r.diagnostics)}});
}

Response Handler::rules_reload() {
  if (!ctx_.hooks.reload_rules) return err(http::status::service_unavailable, "rule reload is not wired");
  rules::LoadResult r = ctx_.hooks.reload_rules();
  if (!r.ok()) {
    std::string first = r.diagnostics.empty() ? "unknown error" : r.diagnostics.front().str();
    return ok(json::object{{"error", "rule reload failed: " + first},
                           {"diagnostics", diagnostics_json(r.diagnostics)}},
              http::status::unprocessable_entity);
  }
  return ok(json::object{{"ok", true}, {"rules", r.rules->rules().size()},
                         {"diagnostics", diagnostics_json(r.diagnostics)}});
}

}  // namespace vigil::api::route
