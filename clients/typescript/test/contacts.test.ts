// Drives a running server through the typed client. client_test.go starts the server with a fresh
// workspace (default region ID), type-checks this file with tsc (strict) and runs it with
// WAZAPIN_URL and WAZAPIN_API_KEY set. The tests run in order and share the workspace.
import assert from "node:assert/strict";
import { test } from "node:test";

import { consistencyHeader, createWazapinClient, type Contact, type FieldError, type Problem } from "../src/index.js";

const baseUrl = process.env.WAZAPIN_URL;
const apiKey = process.env.WAZAPIN_API_KEY;
if (!baseUrl || !apiKey) {
  throw new Error("WAZAPIN_URL and WAZAPIN_API_KEY must be set (go test ./clients/typescript/ sets them)");
}
const client = createWazapinClient({ baseUrl, apiKey });

/** Fails with the problem's text when a request did not succeed, and returns its data. */
function ok<T>(r: { data?: T; error?: Problem; response: Response }, status: number): T {
  assert.equal(r.response.status, status, `HTTP ${r.response.status}: ${JSON.stringify(r.error)}`);
  assert.ok(r.data !== undefined, "no data");
  return r.data;
}

/** Reads a failed request's problem through its type. */
function problem(r: { data?: unknown; error?: Problem; response: Response }, status: number): Problem {
  assert.equal(r.response.status, status, `HTTP ${r.response.status}: ${JSON.stringify(r.data ?? r.error)}`);
  assert.equal(r.response.headers.get("content-type"), "application/problem+json");
  assert.ok(r.error !== undefined, "no problem body");
  assert.equal(r.error.status, status);
  return r.error;
}

let ujang: Contact;
let siti: Contact;

test("create answers 201 with the normalized contact", async () => {
  const created = ok(
    await client.POST("/v1/contacts", {
      body: {
        phone_number: "+6281234567890",
        name: "Ujang",
        email: "ujang@example.com",
        external_source: "shopify",
        external_id: "cust_123",
        custom_fields: { tier: "premium" },
      },
    }),
    201,
  );
  ujang = created.data;
  assert.match(ujang.id, /^cnt_/);
  assert.equal(ujang.phone_number, "+6281234567890");
  assert.equal(ujang.name, "Ujang");
  assert.equal(ujang.email, "ujang@example.com");
  assert.equal(ujang.external_source, "shopify");
  assert.equal(ujang.external_id, "cust_123");
  assert.deepEqual(ujang.custom_fields, { tier: "premium" });
});

test("get by phone finds the contact under other spellings", async () => {
  // openapi-fetch percent-encodes path parameters: "+62 812-3456-7890" goes out as %2B62%20812-3456-7890.
  for (const phone of ["081234567890", "+62 812-3456-7890", "6281234567890", "+6281234567890"]) {
    const got = ok(await client.GET("/v1/contacts/phone/{phone}", { params: { path: { phone } } }), 200);
    assert.equal(got.data.id, ujang.id, phone);
  }
  const missing = problem(
    await client.GET("/v1/contacts/phone/{phone}", { params: { path: { phone: "081299999999" } } }),
    404,
  );
  assert.equal(missing.candidates, undefined);
});

test("resolve: 200 with what matched, 404 when nothing matches, 409 with the candidates", async () => {
  siti = ok(
    await client.POST("/v1/contacts", {
      body: { phone_number: "081298765432", name: "Siti", email: "siti@example.com" },
    }),
    201,
  ).data;
  assert.equal(siti.phone_number, "+6281298765432");

  const resolved = ok(
    await client.POST("/v1/contacts/resolve", {
      body: {
        identifiers: [
          { type: "wa_id", value: "6281234567890" },
          { type: "external_id", source: "shopify", value: "cust_123" },
          { type: "email", value: "nobody@example.com" },
        ],
      },
    }),
    200,
  );
  assert.equal(resolved.data.id, ujang.id);
  assert.deepEqual(
    resolved.meta.matched.map((m) => m.type),
    ["wa_id", "external_id"],
  );

  problem(
    await client.POST("/v1/contacts/resolve", {
      body: { identifiers: [{ type: "phone", value: "081211112222" }] },
    }),
    404,
  );

  const conflict = problem(
    await client.POST("/v1/contacts/resolve", {
      body: {
        identifiers: [
          { type: "phone", value: "0812-3456-7890" },
          { type: "email", value: "SITI@example.com" },
        ],
      },
    }),
    409,
  );
  const candidates: string[] = conflict.candidates ?? [];
  assert.deepEqual([...candidates].sort(), [ujang.id, siti.id].sort());
});

test("list walks two pages with the cursor, newest first", async () => {
  const asep = ok(await client.POST("/v1/contacts", { body: { name: "Asep", email: "asep@example.com" } }), 201).data;

  const first = ok(await client.GET("/v1/contacts", { params: { query: { limit: 2 } } }), 200);
  assert.deepEqual(
    first.data.map((c) => c.id),
    [asep.id, siti.id],
  );
  const cursor = first.meta.next_cursor;
  assert.ok(cursor, "the first page has a next_cursor");

  const second = ok(await client.GET("/v1/contacts", { params: { query: { limit: 2, cursor } } }), 200);
  assert.deepEqual(
    second.data.map((c) => c.id),
    [ujang.id],
  );
  assert.equal(second.meta.next_cursor, null);
});

test("an invalid email is a 422 problem naming the field", async () => {
  const invalid = problem(
    await client.POST("/v1/contacts", { body: { name: "Bad", email: "not-an-email" } }),
    422,
  );
  const errors: FieldError[] = invalid.errors ?? [];
  assert.deepEqual(
    errors.map((e) => e.field),
    ["email"],
  );
  assert.ok(errors[0]?.message, "the field error has a message");
});

test("the client sends the consistency token of its latest write with its next requests", async () => {
  const sent: (string | null)[] = [];
  const tracked = createWazapinClient({
    baseUrl,
    apiKey,
    fetch: async (request: Request) => {
      sent.push(request.headers.get(consistencyHeader));
      return fetch(request);
    },
  });
  const made = ok(await tracked.POST("/v1/contacts", { body: { phone_number: "+6281299990001" } }), 201);
  ok(await tracked.POST("/v1/contacts", { body: { phone_number: "+6281299990002" } }), 201);
  const got = await tracked.GET("/v1/contacts/{contactID}", { params: { path: { contactID: made.data.id } } });
  ok(got, 200);
  assert.equal(sent[0], null, "a token before any write");
  if (process.env.WAZAPIN_REPLICATED) {
    // The server reads from a replica (client_test.go): every write answers a token, and the
    // read carries the newest.
    assert.match(sent[1] ?? "", /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/);
    assert.notEqual(sent[2], null);
    assert.notEqual(sent[2], sent[1], "the second write's token replaces the first's");
  } else {
    assert.deepEqual(sent, [null, null, null]);
  }
});
