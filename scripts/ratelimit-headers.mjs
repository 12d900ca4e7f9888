#!/usr/bin/env node
// Declares the RateLimit-Policy and RateLimit headers on every response of every operation of
// openapi.yaml that needs an API key: on its inline responses, and on the components/responses
// they refer to. It edits the file line by line, keeping its formatting, and changes nothing
// that already declares them, so it can be run again after adding operations:
//
//   node scripts/ratelimit-headers.mjs openapi.yaml
//
// A test of internal/server (TestEveryAuthenticatedResponseDeclaresRateLimit) fails while a
// response lacks them. The file is indented by two spaces, as it is written.
import { readFileSync, writeFileSync } from "node:fs";

const file = process.argv[2] ?? "openapi.yaml";
const lines = readFileSync(file, "utf8").split("\n");
const methods = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);
const names = ["RateLimit-Policy", "RateLimit"];

const indent = (l) => l.length - l.trimStart().length;
const blank = (l) => l.trim() === "" || l.trimStart().startsWith("#");
const key = (l) => l.trim().replace(/:.*$/, "").replace(/^"|"$/g, "");

// end returns the line after the block that starts at line i (its children: lines indented
// deeper, blank lines inside included).
function end(i) {
  const n = indent(lines[i]);
  let j = i + 1;
  while (j < lines.length && (blank(lines[j]) || indent(lines[j]) > n)) j++;
  while (j > i + 1 && blank(lines[j - 1])) j--; // trailing blank lines belong to no one
  return j;
}

// children lists the lines of the direct children of the block at line i.
function children(i) {
  const out = [];
  const stop = end(i);
  let child = -1;
  for (let j = i + 1; j < stop; j++) {
    if (blank(lines[j])) continue;
    if (child < 0) child = indent(lines[j]);
    if (indent(lines[j]) === child) out.push(j);
  }
  return out;
}

function find(i, name) {
  return children(i).find((j) => key(lines[j]) === name);
}

// Pending insertions, by line: applied from the bottom up so earlier line numbers hold.
const inserts = [];

// declare adds the headers to the response whose block starts at line r.
function declare(r) {
  const c = indent(lines[r]) + 2;
  const pad = (n) => " ".repeat(n);
  const entries = (n) => names.flatMap((h) => [`${pad(n)}${h}:`, `${pad(n + 2)}$ref: "#/components/headers/${h}"`]);
  const headers = find(r, "headers");
  if (headers === undefined) {
    const desc = find(r, "description");
    inserts.push([desc === undefined ? r + 1 : end(desc), [`${pad(c)}headers:`, ...entries(c + 2)]]);
    return;
  }
  const have = new Set(children(headers).map((j) => key(lines[j])));
  const missing = names.filter((h) => !have.has(h));
  if (missing.length === 0) return;
  const before = children(headers).find((j) => key(lines[j]) === "X-Request-Id") ?? end(headers);
  const n = indent(lines[headers]) + 2;
  inserts.push([before, entries(n).filter((_, k) => missing.includes(names[Math.floor(k / 2)]))]);
}

const top = (name) => lines.findIndex((l) => l === `${name}:`);
const components = new Set();
for (const path of children(top("paths"))) {
  for (const op of children(path)) {
    if (!methods.has(key(lines[op]))) continue;
    const security = find(op, "security");
    if (security !== undefined && lines[security].trim() === "security: []") continue;
    const responses = find(op, "responses");
    for (const r of responses === undefined ? [] : children(responses)) {
      const ref = find(r, "$ref");
      if (ref !== undefined) {
        components.add(lines[ref].trim().replace(/^\$ref: "#\/components\/responses\/(.*)"$/, "$1"));
      } else {
        declare(r);
      }
    }
  }
}
const compResponses = find(top("components"), "responses");
for (const r of children(compResponses)) {
  if (components.has(key(lines[r]))) declare(r);
}

inserts.sort((a, b) => b[0] - a[0]);
for (const [at, add] of inserts) lines.splice(at, 0, ...add);
writeFileSync(file, lines.join("\n"));
console.log(`${file}: declared the rate limit headers on ${inserts.length} responses`);
