/** What an importer makes of another tool's file: a layer to create (or add to), and a report of every key. */
import type { NewLayerSettings } from "../edit.ts";

export type ImportFormat = "serveRmore" | "renv" | "description";

/** One line of the report: what became of a key (or a group of entries) of the imported file. */
export interface ImportFinding {
  /** `mapped`: written to the manifest. `not-needed`: has no use here, with the reason. `not-mapped`: left out; the user may act. `note`: for information. */
  readonly outcome: "mapped" | "not-needed" | "not-mapped" | "note";
  /** The key or entry of the imported file, e.g. `builder.instance_type`. */
  readonly key: string;
  readonly detail: string;
}

export interface Imported {
  readonly format: ImportFormat;
  /** The layer name the file suggests, when `--layer` is not given. */
  readonly layerName: string;
  readonly packages: readonly string[];
  /** Settings of the layer, used when it is created. */
  readonly layer: NewLayerSettings;
  /** A larger CodeBuild compute type, when the file asked for a bigger build machine than the manifest has. */
  readonly computeType?: string;
  readonly findings: readonly ImportFinding[];
}

/** What an importer needs to know of the manifest it imports into, so it can tell "not needed" from "mapped". */
export interface ImportContext {
  /** The imported file's name as the user gave it (for messages and the layer's description). */
  readonly file: string;
  readonly rVersions: readonly string[];
  readonly defaultRegions: readonly string[];
  readonly defaultRepository?: string;
  readonly computeType?: string;
}
