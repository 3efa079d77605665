/**
 * Facts about AWS Lambda that the pipeline relies on, in one place: the architectures a layer can
 * target and the limits Lambda enforces on what we publish. Validation checks a manifest against
 * these at plan time, so nothing Lambda would refuse reaches a build.
 */

export const ARCHES = ["x86_64", "arm64"] as const;
export type Arch = (typeof ARCHES)[number];

/** Lambda's limit for a layer name in the API (the console form allows only 64). */
export const LAYER_NAME_MAX = 140;
/** Lambda's limit for a layer version description. */
export const DESCRIPTION_MAX = 256;

/** The runtimes our layers declare they work with (custom runtimes on Amazon Linux 2023). */
export const LAYER_RUNTIMES: readonly string[] = ["provided.al2023"];

/** Lambda attaches at most this many layers to one function: a layer and every layer below it must fit. */
export const LAYERS_PER_FUNCTION = 5;
