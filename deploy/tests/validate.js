#!/usr/bin/env node
// Validates every object of rendered Kubernetes YAML (kubectl kustomize's output) against the
// Kubernetes OpenAPI schema, with the kubernetes-models packages (JSON Schema, compiled by ajv).
// prometheus-operator's kinds (ServiceMonitor, PrometheusRule, ...) are validated with
// @kubernetes-models/prometheus-operator. A kind neither package knows is an error.
// Usage: node validate.js FILE.yaml...   Exit 0 when all objects validate, 1 otherwise.
// The schemas check types, required fields and formats; they accept unknown fields (the
// packages' schemas do not set additionalProperties), so a misspelt optional field passes.
"use strict";

const fs = require("fs");
const YAML = require("yaml");

function modelFor(apiVersion, kind) {
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  let module;
  try {
    if (group === "monitoring.coreos.com") {
      module = require(`@kubernetes-models/prometheus-operator/${group}/${version}`);
    } else {
      module = require(group === "" ? `kubernetes-models/${version}` : `kubernetes-models/${group}/${version}`);
    }
  } catch (e) {
    return null;
  }
  return module[kind] || null;
}

let failures = 0;
let count = 0;
for (const file of process.argv.slice(2)) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      console.error(`${file}: YAML error: ${doc.errors[0].message}`);
      failures++;
      continue;
    }
    const obj = doc.toJS();
    if (obj === null || obj === undefined) continue;
    count++;
    const name = `${file}: ${obj.kind}/${obj.metadata && obj.metadata.name}`;
    if (typeof obj.apiVersion !== "string" || typeof obj.kind !== "string") {
      console.error(`${name}: apiVersion and kind are required`);
      failures++;
      continue;
    }
    const Model = modelFor(obj.apiVersion, obj.kind);
    if (!Model) {
      console.error(`${name}: no schema for ${obj.apiVersion} ${obj.kind}`);
      failures++;
      continue;
    }
    try {
      new Model(obj).validate();
      console.log(`ok ${name} (${obj.apiVersion})`);
    } catch (e) {
      console.error(`${name}: ${e.message}`);
      failures++;
    }
  }
}
console.log(`${count} objects, ${failures} invalid`);
process.exit(failures === 0 && count > 0 ? 0 : 1);
