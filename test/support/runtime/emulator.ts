/**
 * The Runtime API emulator the runtime tests and benchmarks use: the product's embedded
 * Runtime API (pipeline/lib/invoke/runtime-api.ts), under the name the tests know it by.
 */
export { RuntimeApi as RuntimeApiEmulator, apiErrorType, errorDocument } from "../../../pipeline/lib/invoke/runtime-api.ts";
export type {
  ErrorDocument,
  EventSpec,
  HandedOut,
  InitError,
  Outcome,
  RuntimeApiOptions as EmulatorOptions,
} from "../../../pipeline/lib/invoke/runtime-api.ts";
