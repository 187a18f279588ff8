// Validates Kubernetes manifests offline against the API schemas of kubernetes-models.
// Usage: node validate_k8s.mjs FILE.yaml...   (NODE_PATH: see tests/interop/npm-setup.sh)
// Prints "ok KIND NAME" per document, or "invalid ..." / "unknown ..." and exits 1.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const require = createRequire(resolve(process.env.NODE_PATH) + "/");
const YAML = require("yaml");

// apiVersion + kind -> the model module (kubernetes-models is ES modules only).
function modulePath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const folder = group === "" ? version : `${group}/${version}`;
  return pathToFileURL(resolve(process.env.NODE_PATH, "kubernetes-models", folder, `${kind}.js`)).href;
}

let bad = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of YAML.parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) {
      console.log(`invalid ${file}: YAML: ${doc.errors[0].message}`);
      bad++;
      continue;
    }
    const obj = doc.toJS();
    if (!obj) continue;
    if (String(obj.apiVersion).startsWith("kustomize.config.k8s.io/")) continue; // kubectl checks it
    const where = `${file}: ${obj.kind} ${obj.metadata && obj.metadata.name}`;
    let Model;
    try {
      Model = (await import(modulePath(obj.apiVersion, obj.kind)))[obj.kind];
    } catch (e) {
      console.log(`unknown ${where}: no schema for ${obj.apiVersion} ${obj.kind} (${e.message})`);
      bad++;
      continue;
    }
    try {
      new Model(obj).validate();
      console.log(`ok ${obj.kind} ${obj.metadata.name}`);
    } catch (e) {
      console.log(`invalid ${where}: ${e.message}`);
      bad++;
    }
  }
}
process.exit(bad ? 1 : 0);
