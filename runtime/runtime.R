# The R runtime for AWS Lambda: entry point, started by ./bootstrap as
#
#   Rscript runtime.R <folder of this file>
#
# It loads the runtime's own functions (json.R, http.R, loop.R) into an environment of
# their own, whose parent is the base package: nothing is added to the global environment,
# which belongs to the function's script, and nothing the script defines can shadow them.
local({
  # The runtime's own code runs uncompiled, with the JIT off (compiling it all would add
  # about 0.3 s to a cold start). At init, the few runtime closures that run inside the
  # function's code and the functions the script defines are byte-compiled once (loop.R,
  # warm_runtime() and compile_globals()), so that R's JIT compiles nothing during the first
  # invocations. The function's code runs with the level R was started with (R_ENABLE_JIT, 3
  # by default; 0 compiles nothing).
  jit_level <- .Internal(enableJIT(0L))
  dir <- commandArgs(trailingOnly = TRUE)[1L]
  if (is.na(dir)) {
    file_arg <- grep("^--file=", commandArgs(FALSE), value = TRUE)[1L]
    dir <- dirname(sub("^--file=", "", file_arg))
  }
  runtime <- new.env(parent = baseenv())
  for (file in c("json.R", "http.R", "loop.R")) {
    sys.source(file.path(dir, file), envir = runtime, keep.source = FALSE)
  }
  runtime$main(jit_level)
})
