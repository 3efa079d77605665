# An example R function for AWS Lambda. Handler: handler.main (file handler.R, function main).
# Run it on this machine:
#
#   npm run invoke -- examples/hello/handler.R:main --event '{"name": "R"}'
#
# This part runs once per cold start: load packages, models and connections here.
greeting <- Sys.getenv("GREETING", "Hello")
calls <- 0

# The event's fields arrive as named arguments ({"name": "R"} -> main(name = "R")); `...`
# accepts and ignores any other field; `context` is the invocation's context.
main <- function(name = "world", fail = FALSE, sleep = 0, ..., context) {
  calls <<- calls + 1
  message("greeting ", name, " (call ", calls, " of this instance, request ", context$aws_request_id, ")")
  if (isTRUE(fail)) stop("asked to fail for ", name)
  if (sleep > 0) Sys.sleep(sleep)
  list(
    message = paste0(greeting, ", ", name, "!"),
    calls = calls,
    r = paste(R.version$major, R.version$minor, sep = "."),
    remaining_ms = round(context$remaining_time_ms())
  )
}
