// A typed client for the Wazapin Contacts API. Every request and response type comes from
// src/schema.ts, which `make generate` writes from ../../openapi.yaml with openapi-typescript;
// nothing here describes the wire format by hand.
import createClient, { mergeHeaders, type Client, type ClientOptions } from "openapi-fetch";
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

/** Creates a client that sends the API key with every request. */
export function createWazapinClient({ apiKey, headers, ...options }: WazapinOptions): WazapinClient {
  return createClient<paths>({ ...options, headers: mergeHeaders(headers, { "X-Api-Key": apiKey }) });
}
