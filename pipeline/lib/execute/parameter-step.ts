/**
 * The step of a `parameter` action: write a publication's current version ARN to its parameter,
 * or delete the parameter of a pruned layer. Like a grant on a new version, a write whose value
 * comes from a publish in the same plan reads the latest version first and checks it carries the
 * planned build key. Safe to repeat: writing the same value again and deleting a parameter that
 * is gone both succeed.
 */
import { InternalError } from "../errors.ts";
import type { ParameterAction } from "../plan/types.ts";
import type { Backend } from "../ports.ts";
import { StepFailure } from "./executor.ts";

export async function runParameterStep(action: ParameterAction, backend: Backend, owner: string): Promise<string> {
  const store = backend.parameters;
  if (!store) throw new InternalError(`${action.id} was planned for a backend without a parameter store`);
  if (action.change === "delete") {
    await store.delete(action.region, action.name);
    return `deleted ${action.name}`;
  }
  let value = action.value;
  if (value === undefined) {
    if (action.layerName === undefined || action.key === undefined) throw new InternalError(`${action.id} has neither a value nor a publication`);
    const latest = await backend.layers.getLatest(action.region, action.layerName);
    if (latest?.key !== action.key) {
      throw new StepFailure(`no published version of ${action.layerName} in ${action.region} carries key ${action.key.slice(0, 12)}`);
    }
    value = latest.arn;
  }
  await store.put({ region: action.region, name: action.name, value, owner, change: action.change });
  return `${action.name} = ${value}`;
}
