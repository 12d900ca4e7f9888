// The receiver's tests, run by ../go/main_test.go (go test ./...): it signs deliveries the way the
// service does, writes them to the JSON file named by WEBHOOK_CASES and runs this file with node --test.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { createReceiver, maxBody, verify } from "./receiver.js";

interface Case {
  name: string;
  headers: Record<string, string>;
  body: string; // base64
  genuine: boolean; // verify accepts it: answered 204, else 401
  duplicate: boolean; // a retry of an earlier genuine case's webhook-id: answered 204, not processed
}
interface Cases {
  secret: string;
  now: number; // the receiver's clock, in Unix seconds
  cases: Case[];
}

const file = process.env.WEBHOOK_CASES;
if (!file) throw new Error("WEBHOOK_CASES names the JSON file of cases that ../go/main_test.go writes");
const { secret, now, cases } = JSON.parse(readFileSync(file, "utf8")) as Cases;

test("the Standard Webhooks reference vector verifies", () => {
  const headers = {
    "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "webhook-timestamp": "1614265330",
    "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
  };
  const body = Buffer.from('{"test": 2432232314}');
  const vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  assert.equal(verify(vectorSecret, headers, body, 1614265330), true);
  assert.equal(verify(vectorSecret, headers, body, 1614265330 + 5 * 60), true);
  assert.equal(verify(vectorSecret, headers, body), false, "its timestamp is years old"); // the real clock
  assert.equal(verify(vectorSecret, headers, Buffer.from('{"test": 2432232315}'), 1614265330), false);
});

test("verify", async (t) => {
  assert.ok(cases.length > 0);
  for (const c of cases) {
    await t.test(c.name, () => {
      assert.equal(verify(secret, c.headers, Buffer.from(c.body, "base64"), now), c.genuine);
    });
  }
});

let base = "";
const processed: string[] = [];
const server = createReceiver(secret, (id) => processed.push(id), () => now);
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

test("the server answers 204 to genuine deliveries, 401 to others, and processes each webhook-id once", async () => {
  for (const c of cases) {
    const res = await fetch(base, { method: "POST", headers: c.headers, body: Buffer.from(c.body, "base64") });
    assert.equal(res.status, c.genuine ? 204 : 401, c.name);
  }
  const want = cases.filter((c) => c.genuine && !c.duplicate).map((c) => c.headers["webhook-id"]);
  assert.ok(want.length > 0 && want.length < cases.filter((c) => c.genuine).length, "cases hold duplicates");
  assert.deepEqual(processed, want);
});

test("the server refuses a body over maxBody with 413", async () => {
  const c = cases.find((c) => c.genuine && !c.duplicate);
  assert.ok(c);
  const before = processed.length;
  const res = await fetch(base, { method: "POST", headers: c.headers, body: Buffer.alloc(maxBody + 1) }).catch(
    (err: unknown) => err,
  );
  // The server closes the connection after answering, maybe while fetch is still sending: fetch
  // then fails instead of reading the 413 (it reads it on loopback, so far).
  if (res instanceof Response) assert.equal(res.status, 413);
  else assert.ok(res instanceof TypeError, `fetch: ${String(res)}`);
  assert.equal(processed.length, before);
});

test("the server answers 405 to a GET", async () => {
  assert.equal((await fetch(base)).status, 405);
});
