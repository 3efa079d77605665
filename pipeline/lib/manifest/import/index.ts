/** Imports another tool's list of R packages: the format is told from the file's name, then its content. */
import { UsageError } from "../../errors.ts";
import { importDescription, looksLikeDescription } from "./description.ts";
import { importRenvLock, looksLikeRenvLock } from "./renv.ts";
import { importServeRmore, looksLikeServeRmore } from "./serve-r-more.ts";
import type { ImportContext, ImportFormat, Imported } from "./types.ts";

export type { ImportContext, ImportFinding, ImportFormat, Imported } from "./types.ts";

export function detectFormat(file: string, text: string): ImportFormat {
  const name = file.replace(/^.*[/\\]/, "");
  if (/^renv\.lock$/i.test(name) || (/\.lock$/i.test(name) && looksLikeRenvLock(text))) return "renv";
  if (name === "DESCRIPTION") return "description";
  if (/server?more.*\.ya?ml$/i.test(name)) return "serveRmore";
  if (looksLikeRenvLock(text)) return "renv";
  if (looksLikeDescription(text)) return "description";
  if (looksLikeServeRmore(text)) return "serveRmore";
  throw new UsageError(
    `cannot tell what ${file} is: import reads a serveRmore.yaml (with builder.cran_r_package_names), an renv.lock or an R package's DESCRIPTION`,
  );
}

export function importFile(text: string, context: ImportContext): Imported {
  const format = detectFormat(context.file, text);
  switch (format) {
    case "serveRmore":
      return importServeRmore(text, context);
    case "renv":
      return importRenvLock(text, context);
    case "description":
      return importDescription(text, context);
  }
}
