# Installs a layer's packages into LAYER_LIB, from R_REPOSITORY, with the libraries below the
# layer (BELOW_LIBS: the runtime and stacked layers, `:`-separated) visible: what they already
# provide is not installed again, and dependencies they do not provide are. Run by
# build-layer.sh with `R --vanilla -f`; inputs come from the environment, already validated
# there and checked again here. Any package that fails to install fails the build. With
# R_LOCKED_PACKAGES (from layers.lock) it installs exactly those versions, nothing resolved.
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
  locked <- split_list(env("R_LOCKED_PACKAGES"), "[[:space:]]+")
  install_opts <- c("--no-docs", "--no-html", "--no-demo", "--no-multiarch", "--without-keep.source")

  # Exactly what layers.lock pins (name/version/algorithm/digest, in install order): each
  # tarball from the repository, or its Archive for an older version, checked against the
  # checksum the lock recorded before anything is installed.
  install_locked <- function(locked) {
    re <- "^([A-Za-z][A-Za-z0-9.]*[A-Za-z0-9])/([0-9]+([.-][0-9]+)+)/(md5|sha256)/([0-9a-f]+)$"
    bad <- locked[!grepl(re, locked)]
    if (length(bad)) fail("invalid R_LOCKED_PACKAGES entries: ", paste(bad, collapse = ", "))
    parts <- regmatches(locked, regexec(re, locked))
    dl <- file.path(tempdir(), "locked")
    dir.create(dl, showWarnings = FALSE)
    files <- character()
    for (p in parts) {
      name <- p[2]; version <- p[3]; algo <- p[5]; want <- p[6]
      tarball <- sprintf("%s_%s.tar.gz", name, version)
      dest <- file.path(dl, tarball)
      urls <- c(paste0(repo, "/src/contrib/", tarball), paste0(repo, "/src/contrib/Archive/", name, "/", tarball))
      got <- FALSE
      for (url in urls) {
        got <- tryCatch(suppressWarnings(download.file(url, dest, mode = "wb", quiet = TRUE)) == 0L, error = function(e) FALSE)
        if (got) break
      }
      if (!got) fail("cannot download ", name, " ", version, " from ", repo, " (src/contrib or src/contrib/Archive/", name, ")")
      have <- if (algo == "md5") unname(tools::md5sum(dest)) else sub(" .*", "", system2("sha256sum", dest, stdout = TRUE))
      if (!identical(have, want)) {
        fail(sprintf("checksum mismatch for package %s %s: the lock file says %s %s, the tarball from %s has %s", name, version, algo, want, url, have))
      }
      say(sprintf("%s %s: %s %s verified", name, version, algo, want))
      files <- c(files, dest)
    }
    problems <- character()
    withCallingHandlers(
      install.packages(files, lib = lib, repos = NULL, type = "source", quiet = FALSE, INSTALL_opts = install_opts),
      warning = function(w) {
        msg <- conditionMessage(w)
        if (grepl("had non-zero exit status|installation of .* failed|cannot open", msg)) problems <<- c(problems, msg)
      }
    )
    if (length(problems)) {
      fail("package installation failed:\n  ", paste(problems, collapse = "\n  "), "\n(the R output above says why)")
    }
    now <- installed.packages(lib.loc = lib, noCache = TRUE)
    for (p in parts) {
      if (!(p[2] %in% rownames(now)) || now[p[2], "Version"] != p[3]) fail("package ", p[2], " ", p[3], " is not what got installed")
    }
    say("installed the ", length(parts), " locked packages")
  }

  .libPaths(c(lib, below)) # R appends its own library (.Library) itself
  options(repos = c(CRAN = repo), warn = 1, install.packages.compile.from.source = "always")
  say("library paths: ", paste(.libPaths(), collapse = " "))

  if (length(locked)) {
    install_locked(locked)
  } else {
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
          INSTALL_opts = install_opts
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
