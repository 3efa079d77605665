/**
 * Whether a published version is the one a layer build should have: its key (its bytes), its
 * owner (this copy of the pipeline), and what it says besides its bytes (description, license,
 * compatible runtimes). A version whose bytes are right but whose attributes changed is
 * republished without a rebuild. The planner and the publish step both ask here.
 */
import type { LayerBuild } from "./keys/graph.ts";
import { textFromDescription } from "./naming.ts";
import type { PublishedVersion } from "./ports.ts";

/** What differs between a published version carrying the build's key and what the manifest asks for. */
export function attributeChanges(head: PublishedVersion, build: LayerBuild): string[] {
  const changes: string[] = [];
  if (textFromDescription(head.description) !== build.publication.text) changes.push("description changed");
  if ((head.license ?? undefined) !== build.publication.license) changes.push("license changed");
  const runtimes = head.compatibleRuntimes;
  if (runtimes !== undefined && [...runtimes].sort().join(",") !== [...build.publication.runtimes].sort().join(",")) {
    changes.push("compatible runtimes changed");
  }
  return changes;
}

/** Whether `head` is exactly what this pipeline (`owner`) should have published for `build`. */
export function isCurrent(head: PublishedVersion | undefined, build: LayerBuild, owner: string): boolean {
  return head !== undefined && head.key === build.key && head.owner === owner && attributeChanges(head, build).length === 0;
}
