/** Packages that ship inside R itself: never resolved from a repository, never locked. */
export const BASE_PACKAGES: ReadonlySet<string> = new Set([
  "base",
  "compiler",
  "datasets",
  "graphics",
  "grDevices",
  "grid",
  "methods",
  "parallel",
  "splines",
  "stats",
  "stats4",
  "tcltk",
  "tools",
  "utils",
]);
