// A typed client for the Wazapin Contacts API. Every request and response type comes from
// src/schema.ts, which `make generate` writes from ../../openapi.yaml with openapi-typescript;
// nothing here describes the wire format by hand.
import createClient, { mergeHeaders, type Client, type ClientOptions, type Middleware } from "openapi-fetch";
import type { paths } from "./schema.js";

export type * from "./schema.js";

/** The openapi-fetch client over the API's paths: GET, POST, PATCH, PUT, DELETE. */
export type WazapinClient = Client<paths>;

export interface WazapinOptions extends Omit<ClientOptions, "baseUrl"> {
  /** The server's base URL, e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  /** A workspace's API key (`wzk_…`), sent as X-Api-Key. */
  apiKey: string;
}

/** The header of the consistency token: on a write's answer, and on the reads after it. */
export const consistencyHeader = "Wazapin-Consistency";

/**
 * Creates a client that sends the API key with every request, and the consistency token of the
 * latest write it saw answered with every request after it: the client reads its own writes
 * also from a server that reads from replicas (see the Wazapin-Consistency parameter).
 */
export function createWazapinClient({ apiKey, headers, ...options }: WazapinOptions): WazapinClient {
  const client = createClient<paths>({ ...options, headers: mergeHeaders(headers, { "X-Api-Key": apiKey }) });
  client.use(consistency());
  return client;
}

/** Keeps the newest token the answers carried and sends it with every request. */
function consistency(): Middleware {
  let newest: { token: string; at: bigint } | undefined;
  return {
    onRequest({ request }) {
      if (newest) request.headers.set(consistencyHeader, newest.token);
      return request;
    },
    onResponse({ response }) {
      const token = response.headers.get(consistencyHeader);
      const at = token === null ? undefined : position(token);
      // Answers may arrive out of order: the newest position wins, not the latest answer.
      if (token !== null && at !== undefined && (!newest || at > newest.at)) newest = { token, at };
      return response;
    },
  };
}

/** Reads a token ("16/B374D848": two hexadecimal halves of a WAL position) as one number. */
function position(token: string): bigint | undefined {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(token);
  return m ? (BigInt("0x" + m[1]) << 32n) | BigInt("0x" + m[2]) : undefined;
}
