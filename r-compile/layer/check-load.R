# Checks a packaged layer from its unpacked zip, in a fresh R whose library path holds only
# the layer (LAYER_LIB) and the libraries below it (BELOW_LIBS): every package in the layer
# and every package asked for (R_PACKAGES) loads with library(), and no package in the layer
# repeats one provided below at the same version. Run by build-layer.sh with `R --vanilla -f`.
local({
  say <- function(...) message("[check] ", ...)
  fail <- function(...) {
    message("[check] ERROR: ", ...)
    quit(save = "no", status = 1)
  }
  split_list <- function(text, sep) {
    items <- strsplit(trimws(text), sep)[[1]]
    items[nzchar(items)]
  }
  lib <- Sys.getenv("LAYER_LIB")
  below <- split_list(Sys.getenv("BELOW_LIBS"), ":")
  below <- below[dir.exists(below)]
  asked <- split_list(Sys.getenv("R_PACKAGES"), "[[:space:]]+")
  .libPaths(c(if (dir.exists(lib)) lib, below))
  say("library paths: ", paste(.libPaths(), collapse = " "))

  mine <- if (dir.exists(lib)) installed.packages(lib.loc = lib, noCache = TRUE) else installed.packages(lib.loc = character())
  under <- installed.packages(lib.loc = c(below, .Library), noCache = TRUE)
  for (p in intersect(rownames(mine), rownames(under))) {
    if (identical(mine[p, "Version"], under[p, "Version"])) {
      fail(p, " ", mine[p, "Version"], " is in the layer and also provided below (", under[p, "LibPath"], ")")
    }
    message("[check] WARNING: ", p, " ", mine[p, "Version"], " in the layer shadows ", under[p, "Version"], " provided below")
  }
  failed <- character()
  for (p in unique(c(asked, rownames(mine)))) {
    ok <- tryCatch({
      suppressPackageStartupMessages(library(p, character.only = TRUE))
      TRUE
    }, error = function(e) {
      message("[check] ERROR: library(", p, ") failed: ", conditionMessage(e))
      FALSE
    })
    if (ok) say("library(", p, ") ok, from ", dirname(find.package(p)))
    else failed <- c(failed, p)
  }
  if (length(failed)) fail("packages that do not load from the packaged layer: ", paste(failed, collapse = ", "))
})
