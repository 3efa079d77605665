# The event loop: init (source the function's script, find its handler), then for ever:
# GET next -> decode the event -> call the handler -> encode -> POST the response or the
# error, with the next `GET next` pipelined behind it. Behaviour for function authors is
# documented in README.md.
#
# This code runs uncompiled (see runtime.R and warm_runtime()) and on every invocation: it
# avoids needless
# calls, and handles failures of the Runtime API with one condition handler around the
# whole loop rather than one per request.

api_base <- "/2018-06-01/runtime"
next_path <- paste0(api_base, "/invocation/next")

# Responses up to this size are followed, on the same connection, by the `GET next` for the
# following event without waiting for the 202 (HTTP pipelining): the invocation ends one
# round trip earlier. Larger ones, which Lambda may refuse (413 above 6 MB), wait for the
# answer, so that an error can be posted for the same request instead.
# LAMBDA_R_PIPELINING=0 turns pipelining off.
pipeline_limit <- 1048576L

exit_init_error <- 1L
exit_api_failure <- 2L
exit_internal_error <- 3L

# Mutable runtime state.
st <- new.env(parent = emptyenv())
st$level <- 20L
st$request_id <- "-"
st$jit <- 0L
st$client <- NULL
st$next_message <- NULL
st$handler <- NULL
st$takes_context <- FALSE
st$calls <- NULL
st$base <- 0L
st$line <- NULL

# ---------------------------------------------------------------------------------------
# Logging: one line per message on stderr, `[LEVEL] <UTC time> <request id> <text>`, with
# line breaks turned into carriage returns so that CloudWatch keeps a message together.

log_levels <- c(DEBUG = 10L, INFO = 20L, WARN = 30L, WARNING = 30L, ERROR = 40L)

log_level_from_env <- function() {
  level <- log_levels[toupper(Sys.getenv("LOGLEVEL", "INFO"))]
  if (is.na(level)) 20L else level[[1L]]
}

log_at <- function(level, text) {
  if (log_levels[[level]] < st$level) return(invisible(NULL))
  text <- gsub("\n", "\r", paste(text, collapse = "\n"), fixed = TRUE)
  stamp <- format(Sys.time(), "%Y-%m-%dT%H:%M:%OS3Z", tz = "UTC")
  cat(paste0("[", level, "]\t", stamp, "\t", st$request_id, "\t", text, "\n"), file = stderr())
  invisible(NULL)
}

log_debug <- function(...) if (st$level <= 10L) log_at("DEBUG", paste0(...))
log_warn <- function(...) if (st$level <= 30L) log_at("WARN", paste0(...))
log_error <- function(...) log_at("ERROR", paste0(...))

now_ms <- function() as.numeric(Sys.time()) * 1000

elapsed <- function(since) sprintf("%.2f ms", now_ms() - since)

condition_message <- function(cond) {
  message <- tryCatch(paste(conditionMessage(cond), collapse = "\n"), error = function(e) "")
  sub("\n+$", "", message)
}

# An error to post (and log): `log`, when given, is logged instead of the message.
failure <- function(type, message, trace = character(), log = NULL) {
  structure(list(type = type, message = message, trace = trace, log = log), class = "runtime_failure")
}

# The value of the `Lambda-Runtime-Function-Error-Type` header for an error type: the Runtime
# API keeps only `Runtime.X` and `Function.X` (anything else becomes `Runtime.Unknown`), so an
# R condition class from the function's code, e.g. `simpleError`, is sent as
# `Function.simpleError` (characters other than letters, digits, `_` and `.` become `_`).
api_error_type <- function(type) {
  if (startsWith(type, "Runtime.") || startsWith(type, "Function.")) return(type)
  paste0("Function.", gsub("[^A-Za-z0-9_.]", "_", type))
}

# The Runtime API is unusable: ends the loop (exit status 2).
api_failure <- function(...) {
  stop(structure(class = c("runtime_api_error", "error", "condition"),
                 list(message = paste0(...), call = NULL)))
}

# ---------------------------------------------------------------------------------------
# Running the function's code. These closures are called from inside the function's code,
# where the JIT may be on: they are compiled at init (jit_closures), and switch the JIT off
# before calling anything else of the runtime.

jit_on <- function() if (st$jit > 0L) .Internal(enableJIT(st$jit))
jit_off <- function() if (st$jit > 0L) .Internal(enableJIT(0L))

on_user_error <- function(e) st$calls <- sys.calls()

on_user_warning <- function(w) {
  warn <- getOption("warn", 0)
  if (warn >= 2) return(NULL) # options(warn = 2): let R turn it into an error
  jit_off()
  if (warn >= 0) log_condition("WARN", w)
  jit_on()
  if (!is.null(findRestart("muffleWarning"))) invokeRestart("muffleWarning")
}

call_user <- function(call, env) {
  st$base <- sys.nframe()
  eval(call, env)
}

# Evaluates `call` in `env` as the function's code: list(value =) or list(error =, trace =).
# `skip` is how many frames below call_user() belong to the runtime, not to the function.
run_user <- function(call, env, skip) {
  st$calls <- NULL
  jit_on()
  out <- tryCatch(
    list(value = withCallingHandlers(call_user(call, env), error = on_user_error, warning = on_user_warning)),
    error = function(e) list(error = e)
  )
  jit_off()
  if (!is.null(out$error)) out$trace <- user_trace(st$calls, st$base + skip)
  out
}

log_condition <- function(level, cond) {
  call <- conditionCall(cond)
  where <- if (is.null(call)) "" else paste0("In ", format_call(call), ": ")
  log_at(level, paste0(class(cond)[[1L]], ": ", where, condition_message(cond)))
}

# The function's part of the call stack at an error, innermost call first, as text.
user_trace <- function(calls, first) {
  if (is.null(calls) || first > length(calls)) return(character())
  last <- length(calls) - 1L # the last frame is on_user_error()
  for (i in first:length(calls)) {
    head <- calls[[i]][[1L]]
    if (is.symbol(head) && as.character(head) %in% c(".handleSimpleError", "on_user_error")) {
      last <- i - 1L
      break
    }
  }
  if (last < first) return(character())
  rev(vapply(calls[first:last], format_frame, ""))
}

format_frame <- function(call) {
  text <- format_call(call)
  ref <- attr(call, "srcref")
  file <- if (is.null(ref)) NULL else attr(ref, "srcfile")$filename
  if (!is.null(file)) text <- paste0(text, " at ", file, "#", ref[[1L]])
  text
}

# deparse() without its worst cases: large values spliced into a call (do.call does that)
# are shown as <type[length]>, and the text is cut at 200 characters.
format_call <- function(call) {
  text <- tryCatch({
    if (is.call(call) && length(call) > 1L) {
      for (i in 2:length(call)) {
        arg <- call[[i]]
        if (!is.language(arg) && !is.null(arg) &&
            (is.list(arg) || length(arg) > 5L || (is.character(arg) && any(nchar(arg, "bytes") > 60L)))) {
          call[[i]] <- as.symbol(sprintf("<%s[%d]>", class(arg)[[1L]], length(arg)))
        }
      }
    }
    gsub("`(<[^`]*>)`", "\\1", deparse(call, width.cutoff = 500L, nlines = 1L)[[1L]])
  }, error = function(e) "<call>")
  if (nchar(text) > 200L) text <- paste0(substr(text, 1L, 197L), "...")
  text
}

# ---------------------------------------------------------------------------------------
# Init.

# `lib/script.handler` -> file lib/script.R, function handler. The function name may
# contain dots (`script.my.handler`): the first split whose file exists wins.
resolve_handler <- function(handler, root) {
  slash <- regexpr("/[^/]*$", handler)
  folder <- if (slash > 0L) substr(handler, 1L, slash) else ""
  name <- substring(handler, nchar(folder) + 1L)
  dots <- gregexpr(".", name, fixed = TRUE)[[1L]]
  dots <- dots[dots > 1L & dots < nchar(name)]
  if (!length(dots)) {
    return(failure("Runtime.MalformedHandlerName", sprintf(
      "handler '%s' is not of the form file.function (for example script.handler or lib/script.handler)", handler
    )))
  }
  files <- paste0(folder, substr(rep(name, length(dots)), 1L, dots - 1L), ".R")
  for (k in seq_along(dots)) {
    path <- file.path(root, files[[k]])
    if (file.exists(path) && !dir.exists(path)) {
      return(list(file = files[[k]], path = path, fn = substring(name, dots[[k]] + 1L)))
    }
  }
  failure("Runtime.HandlerFileNotFound", sprintf("handler '%s': file %s not found in %s", handler, files[[1L]], root))
}

source_exprs <- function(exprs) {
  refs <- attr(exprs, "srcref")
  for (i in seq_along(exprs)) {
    st$line <- if (length(refs) >= i) refs[[i]][[1L]]
    eval(exprs[[i]], globalenv())
  }
  invisible(NULL)
}

import_calls <- c("library", "require", "loadNamespace", "requireNamespace", "attachNamespace", "::", ":::")

is_import_error <- function(cond, calls) {
  if (inherits(cond, "packageNotFoundError")) return(TRUE)
  heads <- vapply(calls, function(call) {
    head <- call[[1L]]
    if (is.symbol(head)) as.character(head) else ""
  }, "")
  any(heads %in% import_calls)
}

# NULL, or the failure to report.
init <- function() {
  problem <- json_init()
  if (!is.null(problem)) {
    return(failure("Runtime.ImportModuleError", paste0(
      "the runtime cannot load its JSON package rjson: ", condition_message(problem)
    )))
  }
  handler <- Sys.getenv("_HANDLER")
  root <- Sys.getenv("LAMBDA_TASK_ROOT")
  if (!nzchar(root)) root <- getwd()
  target <- resolve_handler(handler, root)
  if (inherits(target, "runtime_failure")) return(target)
  log_debug("init: sourcing ", target$file, " for function ", target$fn)

  lines <- tryCatch(readLines(target$path, warn = FALSE, encoding = "UTF-8"), error = function(e) e)
  if (inherits(lines, "error")) {
    return(failure("Runtime.HandlerFileNotFound", paste0(target$file, ": ", condition_message(lines))))
  }
  exprs <- tryCatch(
    parse(text = lines, keep.source = TRUE, srcfile = srcfilecopy(target$file, lines, isFile = TRUE)),
    error = function(e) e
  )
  if (inherits(exprs, "error")) {
    return(failure("Runtime.UserCodeSyntaxError", condition_message(exprs)))
  }
  # Frames below call_user(): eval, eval, source_exprs, eval, eval.
  skip <- 6L
  env <- new.env(parent = environment(source_exprs))
  env$exprs <- exprs
  out <- run_user(quote(source_exprs(exprs)), env, skip)
  if (!is.null(out$error)) {
    e <- out$error
    type <- if (is_import_error(e, st$calls %||% list())) "Runtime.ImportModuleError" else class(e)[[1L]]
    trace <- out$trace
    # the outermost call is a top-level expression of the script: give its line
    top <- if (length(st$calls) >= st$base + skip) st$calls[[st$base + skip]]
    if (length(trace) && !is.null(top) && is.null(attr(top, "srcref")) && !is.null(st$line)) {
      trace[[length(trace)]] <- paste0(trace[[length(trace)]], " at ", target$file, "#", st$line)
    }
    return(failure(type, paste0("error while sourcing ", target$file, ": ", condition_message(e)), trace))
  }
  fn <- get0(target$fn, envir = globalenv(), mode = "function")
  if (is.null(fn)) {
    return(failure("Runtime.HandlerNotFound", sprintf(
      "%s does not define a function %s (handler '%s')", target$file, target$fn, handler
    )))
  }
  st$handler <- as.symbol(target$fn)
  st$takes_context <- "context" %in% names(formals(args(fn)))
  if (st$jit > 0L) {
    compiled <- compile_handler(target$fn)
    log_debug("init: compiled ", length(compiled), " function(s): ", paste(compiled, collapse = ", "))
  }
  NULL
}

# Byte-compiles, at init, the handler and the functions of the global environment it calls
# (directly or through one another, as far as their code names them), so that R's JIT does
# not compile them during the first invocations, which callers wait on: the cost is paid once,
# in the init phase. Functions the handler never names are left to the JIT, as before.
# Returns the names compiled. A function that fails to compile is left as it is (R's JIT
# would leave it too).
compile_handler <- function(handler) {
  todo <- handler
  seen <- character()
  compiled <- character()
  while (length(todo)) {
    name <- todo[[1L]]
    todo <- todo[-1L]
    if (name %in% seen) next
    seen <- c(seen, name)
    f <- get0(name, envir = globalenv(), inherits = FALSE)
    if (typeof(f) != "closure" || !identical(environment(f), globalenv())) next
    todo <- c(todo, setdiff(all.names(body(f)), seen), setdiff(unlist(lapply(formals(f), all.names)), seen))
    if (is_compiled(f)) next
    f <- tryCatch(compiler::cmpfun(f), error = function(e) NULL)
    if (is.null(f)) next
    assign(name, f, envir = globalenv())
    compiled <- c(compiled, name)
  }
  compiled
}

is_compiled <- function(f) typeof(.Internal(bodyCode(f))) == "bytecode"

# The runtime's own closures that run while the JIT is on (inside the function's code): R's
# JIT would compile them on their second call. The rest of the runtime runs with the JIT off,
# uncompiled: compiling all of it would add about 0.3 s to every cold start, for a gain of
# about 0.1 ms per invocation.
jit_closures <- c("jit_on", "jit_off", "on_user_error", "on_user_warning", "call_user", "remaining_time")

# Byte-compiles `jit_closures` (remaining_time() then makes compiled closures), then runs the
# per-invocation steps once on a made-up event, so that what R does the first time (loading
# base functions from their lazy-load database, rjson's parser) happens during init.
warm_runtime <- function() {
  env <- environment(warm_runtime)
  for (name in jit_closures) assign(name, compiler::cmpfun(get(name, envir = env)), envir = env)
  args <- decode_event(charToRaw('{"a": 1, "b": [1, 2], "c": "x", "d": [true, null], "e": {"f": [{"g": 1}]}}'))
  context <- make_context("warm-up", c("lambda-runtime-deadline-ms" = "0", "lambda-runtime-client-context" = "{}"))
  context$remaining_time_ms()
  json_encode(list(args = args, n = 1.5, i = 2L, s = "s", v = c(1, 2), l = TRUE, null = NULL, na = NA,
                   df = data.frame(x = 1:2, y = c("a", "b")), m = matrix(1:4, 2), date = Sys.Date()))
  format_call(quote(f(x = event[[1]])))
  invisible(NULL)
}

# ---------------------------------------------------------------------------------------
# The Runtime API.

response_text <- function(response) {
  text <- rawToChar(response$body[seq_len(min(length(response$body), 500L))])
  sprintf("HTTP %d %s", response$status, text)
}

header <- function(headers, name) {
  value <- headers[name][[1L]]
  if (is.na(value)) NULL else value
}

# Posts an error document; a pipelined `GET next` follows on the runtime's own connection.
post_error_document <- function(path, failure, client = st$client) {
  document <- list(errorMessage = failure$message, errorType = failure$type, stackTrace = as.list(failure$trace))
  then <- if (pipeline_limit >= 0L && identical(client, st$client) && !grepl("/init/", path, fixed = TRUE)) st$next_message
  response <- http_request(client, "POST", path, charToRaw(json_encode(document)),
                           c("Lambda-Runtime-Function-Error-Type" = api_error_type(failure$type)), then)
  if (response$status >= 500L) api_failure("posting an error: ", response_text(response))
  if (response$status != 202L) log_error("posting an error: ", response_text(response))
}

post_error <- function(id, failure, client = st$client) {
  trace <- if (length(failure$trace)) paste0("\n  ", failure$trace, collapse = "") else ""
  log_error(failure$type, ": ", failure$log %||% failure$message, trace)
  post_error_document(paste0(api_base, "/invocation/", id, "/error"), failure, client)
}

post_response <- function(id, body) {
  then <- if (length(body) <= pipeline_limit) st$next_message
  response <- http_request(st$client, "POST", paste0(api_base, "/invocation/", id, "/response"), body, NULL, then)
  status <- response$status
  if (status == 202L) return(invisible(NULL))
  if (status >= 500L) api_failure("posting the response: ", response_text(response))
  # A refused response ends the request: Lambda itself reports the failure to the caller
  # (Function.ResponseSizeTooLarge for a 413), and any further post for this request would be
  # refused too (403 InvalidStateTransition). One line in the log, nothing more posted.
  if (status == 413L) {
    log_error(sprintf(
      "Function.ResponseSizeTooLarge: the response (%d bytes) is larger than Lambda accepts (6 MB for a synchronous call); Lambda reports the error to the caller",
      length(body)
    ))
  } else {
    log_error("the Runtime API refused the response: ", response_text(response))
  }
  invisible(NULL)
}

next_event <- function() {
  client <- st$client
  response <- if (client$pipelined) http_read_pipelined(client)
  if (is.null(response)) response <- http_request(client, "GET", next_path)
  id <- response$headers["lambda-runtime-aws-request-id"][[1L]]
  if (response$status != 200L || is.na(id)) api_failure("GET next: ", response_text(response))
  list(id = id, headers = response$headers, body = response$body)
}

# ---------------------------------------------------------------------------------------
# One invocation.

# The handler's arguments: an object's fields by name; nothing for an empty body or null;
# any other JSON value as the one unnamed argument. A runtime_failure if it is not JSON.
decode_event <- function(body) {
  n <- length(body)
  if (!n) return(list())
  lead <- body[[1L]]
  if (any(json_space == lead)) {
    i <- 2L
    while (i <= n && any(json_space == body[[i]])) i <- i + 1L
    if (i > n) return(list())
    lead <- body[[i]]
  }
  value <- tryCatch(json_parse(rawToChar(body), n), error = function(e) e)
  if (inherits(value, "error")) {
    return(failure(
      "Runtime.UnmarshalError",
      paste0("the event is not valid JSON: ", json_error_message(value)),
      log = sprintf("the event (%d bytes) is not valid JSON", n)
    ))
  }
  if (is.null(value)) return(list())
  if (lead == json_brace) value else list(value)
}

remaining_time <- function(deadline) {
  force(deadline)
  function() max(0, deadline - as.numeric(Sys.time()) * 1000)
}

env_or_null <- function(name) {
  value <- Sys.getenv(name, NA)
  if (is.na(value)) NULL else value
}

parse_or_keep <- function(text) {
  if (is.null(text)) return(NULL)
  tryCatch(json_parse(text, nchar(text, type = "bytes")), error = function(e) text)
}

make_context <- function(id, headers) {
  deadline <- as.numeric(header(headers, "lambda-runtime-deadline-ms") %||% NA)
  memory <- env_or_null("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
  list(
    aws_request_id = id,
    deadline_ms = deadline,
    remaining_time_ms = remaining_time(deadline),
    invoked_function_arn = header(headers, "lambda-runtime-invoked-function-arn"),
    function_name = env_or_null("AWS_LAMBDA_FUNCTION_NAME"),
    function_version = env_or_null("AWS_LAMBDA_FUNCTION_VERSION"),
    memory_limit_in_mb = if (is.null(memory)) NULL else as.integer(memory),
    log_group_name = env_or_null("AWS_LAMBDA_LOG_GROUP_NAME"),
    log_stream_name = env_or_null("AWS_LAMBDA_LOG_STREAM_NAME"),
    trace_id = header(headers, "lambda-runtime-trace-id"),
    client_context = parse_or_keep(header(headers, "lambda-runtime-client-context")),
    identity = parse_or_keep(header(headers, "lambda-runtime-cognito-identity"))
  )
}

index_call <- function(i) lapply(as.numeric(i), function(k) call("[[", quote(event), k))
index_calls <- index_call(1:32)

invoke <- function(event) {
  id <- event$id
  st$request_id <- id
  debug <- st$level <= 10L
  if (debug) {
    started <- now_ms()
    log_at("DEBUG", paste0("invoke: event of ", length(event$body), " bytes"))
  }
  # (Sys.setenv() and Sys.unsetenv() themselves cost ten times more, in checks)
  trace_id <- event$headers["lambda-runtime-trace-id"][[1L]]
  if (is.na(trace_id)) .Internal(Sys.unsetenv("_X_AMZN_TRACE_ID")) else .Internal(Sys.setenv("_X_AMZN_TRACE_ID", trace_id))

  args <- decode_event(event$body)
  event$body <- NULL
  if (inherits(args, "runtime_failure")) return(post_error(id, args))
  if (st$takes_context) {
    if ("context" %in% names(args)) {
      log_warn("the event has a field 'context': the handler gets the invocation context under that name instead")
    }
    args[["context"]] <- make_context(id, event$headers)
  }

  # The handler is called as handler(a = event[[1]], b = event[[2]], ...) from an
  # environment holding `event`: R's messages and the stack trace name the arguments
  # without ever quoting the payload.
  n <- length(args)
  call <- as.call(c(list(st$handler), if (n <= length(index_calls)) index_calls[seq_len(n)] else index_call(seq_len(n))))
  if (!is.null(names(args))) names(call) <- c("", names(args))
  env <- new.env(parent = globalenv())
  env$event <- args
  # Frames below call_user(): eval, eval.
  out <- run_user(call, env, skip = 3L)
  if (debug) log_at("DEBUG", paste0("invoke: handler returned after ", elapsed(started)))
  if (!is.null(out$error)) {
    e <- out$error
    return(post_error(id, failure(class(e)[[1L]], condition_message(e), out$trace)))
  }
  json <- tryCatch(json_encode(out$value), error = function(e) e)
  if (inherits(json, "error")) {
    return(post_error(id, failure("Runtime.MarshalError", paste0(
      "the handler's return value cannot be converted to JSON: ", condition_message(json)
    ))))
  }
  body <- charToRaw(json)
  json <- NULL
  post_response(id, body)
  if (debug) log_at("DEBUG", paste0("invoke: response of ", length(body), " bytes posted after ", elapsed(started)))
}

# ---------------------------------------------------------------------------------------

serve <- function() {
  repeat {
    invoke(next_event()) # no reference to the event is kept here: it can be freed early
    st$request_id <- "-"
  }
}

run <- function() {
  started <- now_ms()
  address <- Sys.getenv("AWS_LAMBDA_RUNTIME_API")
  if (!nzchar(address)) {
    log_error("AWS_LAMBDA_RUNTIME_API is not set: this program runs under AWS Lambda or an emulator of its Runtime API")
    return(exit_api_failure)
  }
  tryCatch({
    st$client <- http_client(address)
    st$next_message <- http_message(st$client, "GET", next_path)[[1L]]
    problem <- init()
    flush(stdout())
    if (!is.null(problem)) {
      log_error(problem$type, ": ", problem$message)
      post_error_document(paste0(api_base, "/init/error"), problem)
      return(exit_init_error)
    }
    if (st$jit > 0L) warm_runtime()
    log_debug("init: ready after ", elapsed(started), " (R ", getRversion(), ", JIT level ", st$jit, ")")
    serve()
  }, runtime_api_error = function(e) {
    log_error("Runtime API: ", conditionMessage(e))
    exit_api_failure
  })
}

main <- function(jit_level) {
  st$jit <- jit_level
  st$level <- log_level_from_env()
  if (identical(Sys.getenv("LAMBDA_R_PIPELINING"), "0")) pipeline_limit <<- -1L
  status <- tryCatch(run(), error = function(e) {
    log_error("internal error in the R runtime (please report it): ", condition_message(e))
    exit_internal_error
  })
  flush(stdout())
  quit(save = "no", status = status, runLast = FALSE)
}
