# Installs a layer's packages into LAYER_LIB, from R_REPOSITORY, with the libraries below the
# layer (BELOW_LIBS: the runtime and stacked layers, `:`-separated) visible: what they already
# provide is not installed again, and dependencies they do not provide are. Run by
# build-layer.sh with `R --vanilla -f`; inputs come from the environment, already validated
# there and checked again here. Any package that fails to install fails the build.
local({
  say <- function(...) message("[layer] ", ...)
  fail <- function(...) {
    message("[layer] ERROR: ", ...)
    quit(save = "no", status = 1)
  }
  env <- function(name) Sys.getenv(name, unset = "")
  split_list <- function(text, sep) {
    items <- strsplit(trimws(text), sep)[[1]]
    items[nzchar(items)]
  }

  lib <- env("LAYER_LIB")
  if (!dir.exists(lib)) fail("LAYER_LIB does not exist: ", lib)
  below <- split_list(env("BELOW_LIBS"), ":")
  below <- below[dir.exists(below)]
  pkgs <- split_list(env("R_PACKAGES"), "[[:space:]]+")
  bad <- pkgs[!grepl("^[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]$", pkgs)]
  if (length(bad)) fail("invalid package names: ", paste(bad, collapse = ", "))
  repo <- env("R_REPOSITORY")
  if (!grepl("^(https?|file)://", repo)) fail("R_REPOSITORY must be an http(s):// or file:// URL")
  jobs <- suppressWarnings(as.integer(env("INSTALL_JOBS")))
  if (is.na(jobs) || jobs < 1L) jobs <- 1L

  .libPaths(c(lib, below)) # R appends its own library (.Library) itself
  options(repos = c(CRAN = repo), warn = 1, install.packages.compile.from.source = "always")
  say("library paths: ", paste(.libPaths(), collapse = " "))

  available <- tryCatch(
    available.packages(repos = repo, type = "source"),
    error = function(e) fail("cannot read the package index of ", repo, ": ", conditionMessage(e))
  )
  provided <- installed.packages(lib.loc = c(below, .Library), noCache = TRUE)
  already <- intersect(pkgs, rownames(provided))
  for (p in already) {
    say(sprintf("%s %s is provided below (%s): not installed again", p, provided[p, "Version"], provided[p, "LibPath"]))
  }
  todo <- setdiff(pkgs, already)
  absent <- setdiff(todo, rownames(available))
  if (length(absent)) fail("not in the repository ", repo, ": ", paste(absent, collapse = ", "))

  if (length(todo)) {
    say("installing ", paste(todo, collapse = " "), " and the dependencies not provided below")
    problems <- character()
    withCallingHandlers(
      install.packages(
        todo,
        lib = lib, repos = repo, type = "source", Ncpus = jobs, quiet = FALSE,
        dependencies = c("Depends", "Imports", "LinkingTo"),
        INSTALL_opts = c("--no-docs", "--no-html", "--no-demo", "--no-multiarch", "--without-keep.source")
      ),
      warning = function(w) {
        msg <- conditionMessage(w)
        if (grepl("had non-zero exit status|not available|installation of .* failed|cannot open", msg)) {
          problems <<- c(problems, msg)
        }
      }
    )
    if (length(problems)) {
      fail("package installation failed:\n  ", paste(problems, collapse = "\n  "), "\n(the R output above says why)")
    }
  }

  # Packages needed only to compile (LinkingTo: headers) are not needed at run time.
  installed <- installed.packages(lib.loc = c(lib, below, .Library), noCache = TRUE)
  needed <- unique(c(pkgs, unlist(tools::package_dependencies(
    pkgs, db = installed, which = c("Depends", "Imports"), recursive = TRUE
  ), use.names = FALSE)))
  mine <- rownames(installed.packages(lib.loc = lib, noCache = TRUE))
  for (p in setdiff(mine, needed)) {
    say(p, " is needed only to compile (LinkingTo): left out of the layer")
    unlink(file.path(lib, p), recursive = TRUE)
  }
  present <- rownames(installed.packages(lib.loc = c(lib, below, .Library), noCache = TRUE))
  lost <- setdiff(needed, present)
  if (length(lost)) fail("not installed, though needed: ", paste(lost, collapse = ", "))

  # R stamps the time of installation into each package; a fixed stamp keeps the bytes stable.
  fixed <- "1980-01-01 00:00:00 UTC"
  for (p in intersect(mine, needed)) {
    dir <- file.path(lib, p)
    desc <- file.path(dir, "DESCRIPTION")
    lines <- readLines(desc, warn = FALSE, encoding = "bytes")
    at <- grep("^Built:", lines, useBytes = TRUE)
    lines[at] <- sub("; [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]+( UTC)?;", paste0("; ", fixed, ";"), lines[at], useBytes = TRUE)
    writeLines(lines, desc, useBytes = TRUE)
    meta_file <- file.path(dir, "Meta", "package.rds")
    meta <- readRDS(meta_file)
    if (!is.null(meta$Built$Date)) meta$Built$Date <- fixed
    if (!is.null(meta$DESCRIPTION[["Built"]])) {
      meta$DESCRIPTION[["Built"]] <- sub("; [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]+( UTC)?;", paste0("; ", fixed, ";"), meta$DESCRIPTION[["Built"]])
    }
    saveRDS(meta, meta_file)
  }
  say("installed into the layer: ", paste(sort(intersect(mine, needed)), collapse = " "))
})
