# handler.R: an R function for AWS Lambda (runtime provided.al2023 with this project's runtime
# layer). Set the function's handler to `handler.main`. Try it locally with
#
#   npm run invoke -- path/to/handler.R:main --event '{"id": 1}'
#
# How events become arguments and return values become JSON: runtime/README.md.

# --- Init: runs once per cold start, before the first event ------------------------------
# Load packages (from your layers) and anything expensive here, not in main():
# library(jsonlite)
# model <- readRDS("model.rds")   # files next to this one are in the working directory

# --- The handler: called once per event ---------------------------------------------------
# Each field of the JSON event is a named argument: {"id": 1} calls main(id = 1).
# Give defaults for optional fields; `...` ignores fields you do not use (without it, an
# unexpected field is an error); `context` receives the invocation's context.
main <- function(id, ..., context) {
  # message() and print() go to the function's log (CloudWatch Logs).
  message("handling id ", id, " for request ", context$aws_request_id)

  # stop() fails the invocation: the caller gets errorMessage, errorType and stackTrace.
  if (!is.numeric(id)) stop("id must be a number")

  # The return value is sent as JSON: a named list is an object, a vector an array,
  # a length-one vector a scalar, a data frame an array of rows.
  list(id = id, ok = TRUE)
}
