/**
 * The files the pipeline writes into a state store and reads back later: the outputs index,
 * build records and the reconcile lock. Plans act on what these say (recorded grants, a lock's
 * holder), so nothing read back is trusted: each is checked against its schema here, beside the
 * types its writers use, and a file that does not match is a STATE_UNREADABLE error naming it.
 */
import { createHash } from "node:crypto";
import { StateError } from "../errors.ts";
import type { BuildRecord } from "../keys/inputs.ts";
import type { LockInfo, OutputsIndex } from "../ports.ts";
import { schemaValidator } from "../util/json-schema.ts";
import { parseJsonText } from "../util/json.ts";

const sha256Hex = { type: "string", pattern: "^[0-9a-f]{64}$" } as const;
const text = { type: "string", minLength: 1 } as const;
const arch = { enum: ["x86_64", "arm64"] } as const;

const grant = {
  oneOf: [
    { type: "object", required: ["kind", "account"], properties: { kind: { const: "account" }, account: { type: "string", pattern: "^[0-9]{12}$" } }, additionalProperties: false },
    { type: "object", required: ["kind", "organization"], properties: { kind: { const: "organization" }, organization: text }, additionalProperties: false },
    { type: "object", required: ["kind"], properties: { kind: { const: "public" } }, additionalProperties: false },
  ],
} as const;

const outputsEntry = {
  type: "object",
  required: ["layer", "layerName", "r", "arch", "region", "arn", "version", "key"],
  properties: {
    layer: text,
    layerName: text,
    r: text,
    arch,
    region: text,
    arn: text,
    version: { type: "integer", minimum: 1 },
    key: sha256Hex,
    zippedBytes: { type: "integer", minimum: 0 },
    unzippedBytes: { type: "integer", minimum: 0 },
    grants: { type: "array", items: grant },
    packages: {
      type: "array",
      items: { type: "object", required: ["name", "version"], properties: { name: text, version: text }, additionalProperties: false },
    },
    parameter: { type: "string", pattern: "^(/[A-Za-z0-9_.-]+)+$" },
  },
} as const;

/** The schema of each stored format, by name. Newer writers may add fields; required ones must be there. */
export const STORED_SCHEMAS = {
  "outputs index": {
    type: "object",
    required: ["version", "generatedAt", "layers"],
    properties: {
      version: { const: 1 },
      generatedAt: text,
      commit: { type: "string" },
      regions: { type: "array", items: text },
      layers: { type: "array", items: outputsEntry },
    },
  },
  "build record": {
    type: "object",
    required: ["version", "key", "inputs"],
    properties: {
      version: { const: 1 },
      key: sha256Hex,
      inputs: {
        type: "object",
        required: ["kind", "rVersion", "arch"],
        properties: { kind: { enum: ["r", "layer"] }, rVersion: text, arch },
      },
      sha256: sha256Hex,
      metadata: { type: "object" },
    },
  },
  lock: {
    type: "object",
    required: ["id", "holder", "createdAt", "expiresAt"],
    properties: { id: text, holder: { type: "string" }, createdAt: text, expiresAt: text, commit: { type: "string" } },
  },
} as const;

export interface StoredTypes {
  "outputs index": OutputsIndex;
  "build record": BuildRecord;
  lock: LockInfo;
}

export type StoredFormat = keyof StoredTypes;

/** Checks data read back from a state store; `where` names the file or object in the error. */
export function checkStored<F extends StoredFormat>(format: F, data: unknown, where: string): StoredTypes[F] {
  const validate = schemaValidator(`stored:${format}`, STORED_SCHEMAS[format]);
  if (!validate(data)) {
    const first = validate.errors?.[0];
    const at = first ? `${first.instancePath || "(top)"} ${first.message ?? "is invalid"}` : "does not match";
    throw new StateError(`${where} is not a valid ${format}: ${at}; fix or remove it`);
  }
  return data as StoredTypes[F];
}

/** Parses and checks stored JSON text. */
export function parseStored<F extends StoredFormat>(format: F, body: string, where: string): StoredTypes[F] {
  return checkStored(format, parseJsonText(body, where), where);
}

/**
 * A lock as read back. A lock that cannot be read (empty, `null`, not JSON, missing fields) still
 * holds the store, so a reconcile never takes over a lock it does not understand; it is reported
 * as held by an unreadable lock whose id is derived from its bytes, which `--force-unlock` takes.
 */
export function readLock(body: string, where: string): LockInfo {
  try {
    return parseStored("lock", body, where);
  } catch (error) {
    const digest = createHash("sha256").update(body).digest("hex").slice(0, 12);
    return {
      id: `unreadable-${digest}`,
      holder: `an unreadable lock (${(error as Error).message})`,
      createdAt: "unknown",
      expiresAt: new Date(0).toISOString(),
      unreadable: true,
    };
  }
}
