/** The manifest's TypeScript types and its JSON Schema describe the same fields (see RAW_FIELDS). */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { RAW_FIELDS } from "../pipeline/lib/manifest/resolve.ts";

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  $ref?: string;
  definitions?: Record<string, SchemaNode>;
}

describe("manifest types and schema", async () => {
  const schema = JSON.parse(await readFile(new URL("../schema/layers.schema.json", import.meta.url), "utf8")) as SchemaNode;
  const deref = (node: SchemaNode | undefined): SchemaNode => {
    const ref = node?.$ref;
    return ref ? (schema.definitions?.[ref.replace("#/definitions/", "")] ?? {}) : (node ?? {});
  };
  const keys = (node: SchemaNode | undefined) => Object.keys(deref(node).properties ?? {}).filter((k) => k !== "$schema").sort();
  const cases: [keyof typeof RAW_FIELDS, SchemaNode | undefined][] = [
    ["manifest", schema],
    ["defaults", schema.properties?.defaults],
    ["layer", schema.definitions?.layer],
    ["share", schema.definitions?.share],
    ["builder", schema.properties?.builder],
    ["outputs", schema.properties?.outputs],
    ["parameters", schema.definitions?.parameters],
  ];
  for (const [name, node] of cases) {
    it(`${name}: the same fields in the types as in the schema`, () => {
      const inSchema = keys(node);
      assert.ok(inSchema.length > 0, `schema has properties for ${name}`);
      assert.deepEqual([...RAW_FIELDS[name]], inSchema);
    });
  }
});
