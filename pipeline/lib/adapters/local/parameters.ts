/**
 * LayerParameters in the local folder: `parameters/<region>.json`, one object per region mapping
 * each name to its value and tags, written atomically like the rest of the folder. It behaves as
 * Parameter Store does where the pipeline can tell: a parameter is created with its tags,
 * overwriting keeps them, deleting one that is gone is fine.
 */
import { join } from "node:path";
import { StateError } from "../../errors.ts";
import { PARAMETER_OWNER_TAG, localParametersKey } from "../../naming.ts";
import type { LayerParameters, ParameterWrite, StoredParameter } from "../../ports.ts";
import { readJsonFile } from "../../util/json.ts";
import { schemaValidator } from "../../util/json-schema.ts";
import { serialized, writeJsonAtomic } from "./state.ts";

interface StoredEntry {
  value: string;
  version: number;
  tags: Record<string, string>;
}

type StoredRegion = Record<string, StoredEntry>;

const STORED_PARAMETERS_SCHEMA = {
  type: "object",
  additionalProperties: {
    type: "object",
    required: ["value", "version", "tags"],
    properties: {
      value: { type: "string" },
      version: { type: "integer", minimum: 1 },
      tags: { type: "object", additionalProperties: { type: "string" } },
    },
  },
} as const;

export class LocalLayerParameters implements LayerParameters {
  constructor(readonly root: string) {}

  private file(region: string): string {
    return join(this.root, ...localParametersKey(region).split("/"));
  }

  private async load(region: string): Promise<StoredRegion> {
    const file = this.file(region);
    const data = await readJsonFile(file);
    if (data === undefined) return {};
    if (!schemaValidator("local:parameters", STORED_PARAMETERS_SCHEMA)(data)) {
      throw new StateError(`${file} is not a valid record of parameters; fix or remove it`);
    }
    return data as StoredRegion;
  }

  async list(region: string, path: string): Promise<StoredParameter[]> {
    const stored = await this.load(region);
    return Object.entries(stored)
      .filter(([name]) => name.startsWith(`${path}/`))
      .map(([name, e]) => ({ name, value: e.value }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async readOwner(region: string, name: string): Promise<string | undefined> {
    const entry = (await this.load(region))[name];
    if (!entry) throw new StateError(`parameter ${name} does not exist in ${region}`);
    return entry.tags[PARAMETER_OWNER_TAG];
  }

  async put(write: ParameterWrite): Promise<void> {
    await serialized(this.file(write.region), async () => {
      const stored = await this.load(write.region);
      const entry = stored[write.name];
      if (entry && write.change === "create" && entry.tags[PARAMETER_OWNER_TAG] !== write.owner) {
        throw new StateError(`parameter ${write.name} in ${write.region} appeared after the plan and is not this pipeline's: it was left as it is`);
      }
      stored[write.name] = entry
        ? { ...entry, value: write.value, version: entry.version + 1 }
        : { value: write.value, version: 1, tags: { [PARAMETER_OWNER_TAG]: write.owner } };
      await writeJsonAtomic(this.file(write.region), stored);
    });
  }

  async delete(region: string, name: string): Promise<void> {
    await serialized(this.file(region), async () => {
      const stored = await this.load(region);
      if (!(name in stored)) return;
      delete stored[name];
      await writeJsonAtomic(this.file(region), stored);
    });
  }
}
