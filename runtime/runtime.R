# The R runtime for AWS Lambda: entry point, started by ./bootstrap as
#
#   Rscript runtime.R <folder of this file>
#
# It loads the runtime's own functions (json.R, http.R, loop.R) into an environment of
# their own, whose parent is the base package: nothing is added to the global environment,
# which belongs to the function's script, and nothing the script defines can shadow them.
local({
  # The runtime's own code runs uncompiled: letting R's JIT compile it would cost about
  # 60 ms on the second invocation, the first time the byte-code compiler is used. The
  # function's code runs with the level R was started with (R_ENABLE_JIT, 3 by default).
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
