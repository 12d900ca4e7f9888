// A receiver of Wazapin webhook deliveries with nothing but Node.js built-ins: it checks each
// delivery's Standard Webhooks signature (verify), answers at once and processes every event, once
// per webhook-id, after the answer.
//
//   npm install --no-save typescript@5 @types/node@20 && npx tsc     # compiles it into dist/
//   WAZAPIN_WEBHOOK_SECRET=whsec_... PORT=8000 node dist/receiver.js   # Node.js 20 or newer
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { pathToFileURL } from "node:url";

// README:begin
// Whether a delivery is genuine: signed with secret ("whsec_..."), over the raw body, and sent
// within five minutes of now (in Unix seconds).
export function verify(secret: string, headers: IncomingHttpHeaders, rawBody: Buffer, now = Date.now() / 1000): boolean {
  const id = headers["webhook-id"], ts = headers["webhook-timestamp"], sigs = headers["webhook-signature"];
  if (typeof id !== "string" || !id || typeof ts !== "string" || !/^\d+$/.test(ts) || typeof sigs !== "string") return false;
  if (Math.abs(now - Number(ts)) > 5 * 60) return false; // an old timestamp: a replay
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${ts}.`).update(rawBody).digest();
  return sigs.split(" ").some((sig) => { // two while a secret rotates
    const got = Buffer.from(sig.startsWith("v1,") ? sig.slice(3) : "", "base64");
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}
// README:end

/** The body a delivery may have; Wazapin's events are far smaller. */
export const maxBody = 1 << 20;

/**
 * A server that answers deliveries: 401 to one verify refuses, 204 to a genuine one, and after
 * answering calls onEvent with its event, once per webhook-id. now is the clock verify checks
 * timestamps against, in Unix seconds.
 */
export function createReceiver(
  secret: string,
  onEvent: (id: string, body: Buffer) => void,
  now: () => number = () => Date.now() / 1000,
): Server {
  // Delivery is at least once, so a retry may bring an event already processed: seen holds the
  // webhook-ids processed so far. An example can keep them in memory; a real receiver records
  // them in its database (a unique column), in the transaction that stores the event.
  const seen = new Set<string>();
  return createServer((req, res) => {
    if (req.method !== "POST") return void res.writeHead(405).end("deliveries are POSTed");
    // The raw body: the signature covers its bytes, so verify before parsing any JSON.
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("error", () => res.destroy()); // the connection broke: nothing to answer
    req.on("data", (chunk: Buffer) => {
      if ((size += chunk.length) <= maxBody) return void chunks.push(chunk);
      if (!res.headersSent) res.writeHead(413, { connection: "close" }).end("body too large", () => req.destroy());
    });
    req.on("end", () => {
      if (res.headersSent) return; // 413
      const body = Buffer.concat(chunks);
      if (!verify(secret, req.headers, body, now())) return void res.writeHead(401).end("invalid signature");
      const id = req.headers["webhook-id"] as string;
      const duplicate = seen.has(id); // answered 2xx like the first, but not processed again
      seen.add(id);
      // Answer fast: the service waits for this answer; the work comes after it. (An answer of
      // 410 Gone would make the service disable the endpoint.)
      res.writeHead(204).end();
      if (!duplicate) onEvent(id, body);
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const secret = process.env.WAZAPIN_WEBHOOK_SECRET ?? "";
  if (!secret.startsWith("whsec_")) throw new Error("set WAZAPIN_WEBHOOK_SECRET to the endpoint's secret (whsec_...)");
  const port = Number(process.env.PORT ?? 8000);
  // Parse and process events here. They are not ordered: the event's "sequence" orders them.
  const onEvent = (id: string, body: Buffer) => console.log(`event ${id}: ${body.toString()}`);
  createReceiver(secret, onEvent).listen(port, () => console.log(`receiving webhooks on :${port}`));
}
