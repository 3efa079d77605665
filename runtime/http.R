# A minimal HTTP/1.1 client for the Lambda Runtime API, in base R.
#
# One keep-alive socket to AWS_LAMBDA_RUNTIME_API, opened non-blocking, with TCP_NODELAY.
# Each request is written with one writeBin (headers and body together); answers are read
# with socketSelect(), which waits without any timeout (`GET next` may block for as long
# as the sandbox is idle or frozen), and readBin() of whatever has arrived, then parsed
# from the raw bytes. Bytes read past the end of one answer stay in the client's buffer.
#
# A second request may be pipelined behind the first (the runtime sends `GET next` right
# behind its response, so the invocation ends one round trip earlier); its answer is read
# later with http_read_pipelined(). If a reused connection turns out to have been closed by
# the server before any byte of the answer, the request is written once more on a new one.

http_user_agent <- "r-lambda-runtime/1"
http_read_size <- 1048576L
http_crlf <- charToRaw("\r\n")
http_crlf2 <- charToRaw("\r\n\r\n")

http_client <- function(address) {
  colon <- regexpr(":[0-9]+$", address)
  if (colon < 2L) api_failure("AWS_LAMBDA_RUNTIME_API is not host:port: '", address, "'")
  client <- new.env(parent = emptyenv())
  client$host <- sub("^\\[(.*)\\]$", "\\1", substr(address, 1L, colon - 1L))
  client$port <- as.integer(substring(address, colon + 1L))
  client$authority <- address
  client$con <- NULL
  client$buffer <- raw(0L)
  client$pipelined <- FALSE
  client
}

http_close <- function(client) {
  if (!is.null(client$con)) try(close(client$con), silent = TRUE)
  client$con <- NULL
  client$buffer <- raw(0L)
  client$pipelined <- FALSE
}

http_connect <- function(client) {
  warned <- NULL
  con <- tryCatch(
    withCallingHandlers(
      socketConnection(client$host, client$port, open = "r+b", blocking = FALSE, timeout = 60, options = "no-delay"),
      warning = function(w) {
        warned <<- conditionMessage(w)
        invokeRestart("muffleWarning")
      }
    ),
    error = function(e) api_failure("cannot connect to ", client$authority, ": ", warned %||% conditionMessage(e))
  )
  client$con <- con
  client$buffer <- raw(0L)
  client$pipelined <- FALSE
}

# The bytes of one request, as a list of raw vectors to write in turn: one, unless the body
# is large (then it is written as it is, rather than copied behind the headers). `body` is
# a raw vector or NULL; `headers` a named character vector; `then` the bytes of a request
# to pipeline behind this one.
http_message <- function(client, method, path, body = NULL, headers = NULL, then = NULL) {
  head <- charToRaw(paste0(
    method, " ", path, " HTTP/1.1\r\nHost: ", client$authority, "\r\nUser-Agent: ", http_user_agent, "\r\n",
    if (length(headers)) paste0(names(headers), ": ", headers, "\r\n", collapse = ""),
    if (!is.null(body)) paste0("Content-Type: application/json\r\nContent-Length: ", length(body), "\r\n"),
    "\r\n"
  ))
  if (length(body) > 65536L) return(list(head, body, then))
  list(c(head, body, then))
}

# Sends a request (and, pipelined behind it, the bytes `then`, another request); returns
# the answer to the first: list(status, headers (named character vector, lower-case
# names), body (raw), close). Errors are runtime_api_error conditions.
http_request <- function(client, method, path, body = NULL, headers = NULL, then = NULL) {
  if (client$pipelined) stop("internal: the answer to a pipelined request was not read")
  message <- http_message(client, method, path, body, headers, then)
  reused <- !is.null(client$con)
  if (!reused) http_connect(client)
  response <- http_send(client, message)
  if (is.null(response) && reused) {
    log_debug("the Runtime API had closed the connection; reconnecting")
    http_connect(client)
    response <- http_send(client, message)
  }
  if (is.null(response)) {
    http_close(client)
    api_failure(method, " ", path, ": the connection was closed without an answer")
  }
  if (response$close) {
    http_close(client)
  } else {
    client$pipelined <- !is.null(then)
  }
  response
}

# The answer to the pipelined request, or NULL if the connection failed meanwhile (the
# request must then be sent again).
http_read_pipelined <- function(client) {
  client$pipelined <- FALSE
  response <- tryCatch(http_read_response(client), error = function(e) e)
  if (inherits(response, "runtime_api_error")) stop(response)
  if (inherits(response, "error")) {
    log_debug("reading the answer to GET next: ", conditionMessage(response))
    response <- NULL
  }
  if (is.null(response) || response$close) http_close(client)
  response
}

# The answer, or NULL when the connection turns out to be closed (or fails) before it.
http_send <- function(client, message) {
  response <- tryCatch({
    for (bytes in message) if (length(bytes)) writeBin(bytes, client$con)
    http_read_response(client)
  }, error = function(e) e)
  if (inherits(response, "runtime_api_error")) stop(response)
  if (inherits(response, "error")) {
    log_debug("connection: ", conditionMessage(response))
    return(NULL)
  }
  response
}

# Waits for bytes and appends what has arrived (at most `n`) to the buffer; FALSE at end
# of stream.
http_fill <- function(client, n = 65536L) {
  socketSelect(list(client$con))
  more <- readBin(client$con, "raw", n)
  if (!length(more)) return(FALSE)
  client$buffer <- if (length(client$buffer)) c(client$buffer, more) else more
  TRUE
}

# Reads one answer; NULL when the stream ends before its first byte. (This runs twice per
# invocation, hence the few, vectorised steps.)
http_read_response <- function(client) {
  if (!length(client$buffer) && !http_fill(client)) return(NULL)
  buffer <- client$buffer
  end <- grepRaw(http_crlf2, buffer, fixed = TRUE)
  while (!length(end)) {
    if (!http_fill(client)) api_failure("the connection was closed inside the response headers")
    buffer <- client$buffer
    end <- grepRaw(http_crlf2, buffer, fixed = TRUE)
  }
  # the status line is lines[1]: it has no colon, so it gets the name "" below
  lines <- strsplit(rawToChar(buffer[seq_len(end - 1L)]), "\r\n", fixed = TRUE)[[1L]]
  status <- strtoi(substr(lines[[1L]], 10L, 12L), 10L)
  if (is.na(status) || !startsWith(lines[[1L]], "HTTP/1.")) api_failure("bad status line '", lines[[1L]], "'")
  colon <- regexpr(":", lines, fixed = TRUE)
  # values follow ": " (as every server writes them); other whitespace is trimmed too
  headers <- substr(lines, colon + 2L, 1000000L)
  if (any(substr(lines, colon + 1L, colon + 1L) != " " | startsWith(headers, " ") | startsWith(headers, "\t"))) {
    headers <- sub("^[ \t]+", "", substr(lines, colon + 1L, 1000000L))
  }
  names(headers) <- tolower(substr(lines, 1L, colon - 1L))
  connection <- headers["connection"][[1L]]
  close <- !is.na(connection) && tolower(connection) == "close"
  size <- as.numeric(headers["content-length"][[1L]])
  start <- end + 4L
  have <- length(buffer)
  if (!is.na(size) && have - start + 1L >= size) {
    # all of it is here already (the usual case)
    last <- start + size - 1L
    body <- if (size > 0) buffer[start:last] else raw(0L)
    client$buffer <- if (have > last) buffer[(last + 1L):have] else raw(0L)
    return(list(status = status, headers = headers, body = body, close = close))
  }
  client$buffer <- if (have >= start) buffer[start:have] else raw(0L)
  if (!is.na(size)) {
    body <- http_take(client, size)
  } else if (identical(tolower(headers["transfer-encoding"][[1L]]), "chunked")) {
    body <- http_read_chunked(client)
  } else {
    while (http_fill(client, http_read_size)) NULL
    body <- client$buffer
    client$buffer <- raw(0L)
    close <- TRUE
  }
  list(status = status, headers = headers, body = body, close = close)
}

# Takes exactly `size` bytes from the buffer, reading more as needed.
http_take <- function(client, size) {
  have <- length(client$buffer)
  if (have < size) {
    parts <- list(client$buffer)
    client$buffer <- raw(0L)
    while (have < size) {
      socketSelect(list(client$con))
      more <- readBin(client$con, "raw", min(size - have, http_read_size))
      if (!length(more)) api_failure(sprintf("the connection was closed after %.0f of %.0f body bytes", have, size))
      parts[[length(parts) + 1L]] <- more
      have <- have + length(more)
    }
    return(unlist(parts, use.names = FALSE))
  }
  buffer <- client$buffer
  if (have == size) {
    client$buffer <- raw(0L)
    return(buffer)
  }
  client$buffer <- buffer[(size + 1L):have]
  buffer[seq_len(size)]
}

# Transfer-Encoding: chunked, the way the Runtime API sends events (in chunks of about 2 KB).
# Trailers are not supported (the Runtime API sends none).
http_read_chunked <- function(client) {
  chunks <- list()
  repeat {
    eol <- grepRaw(http_crlf, client$buffer, fixed = TRUE)
    while (!length(eol)) {
      if (!http_fill(client)) api_failure("the connection was closed inside a chunked body")
      eol <- grepRaw(http_crlf, client$buffer, fixed = TRUE)
    }
    size <- strtoi(sub(";.*$", "", rawToChar(client$buffer[seq_len(eol - 1L)])), 16L)
    if (is.na(size)) api_failure("bad chunk size in a chunked body")
    http_take(client, eol + 1L)
    data <- http_take(client, size + 2L)
    if (size == 0L) break
    chunks[[length(chunks) + 1L]] <- data[seq_len(size)]
  }
  unlist(chunks, use.names = FALSE) %||% raw(0L)
}

`%||%` <- function(x, y) if (is.null(x)) y else x
