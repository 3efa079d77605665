# JSON for the R Lambda runtime.
#
# Decoding uses rjson's C parser (rjson has no dependencies and loads in about a
# millisecond; jsonlite needs the methods package and costs about 150 ms of cold start with
# only base attached). Encoding is done here, in vectorised base R, so that the rules for
# return values are ours and documented in README.md:
#
#   NULL -> null; length-1 vectors -> scalars (I(x) keeps an array); other vectors -> arrays;
#   named vectors and named lists -> objects; unnamed lists -> arrays; data frames -> an
#   array of row objects; matrices -> arrays of rows; NA, NaN and +-Inf -> null; factors ->
#   strings; Date -> "YYYY-MM-DD"; POSIXct/POSIXlt -> ISO 8601 in UTC; a string of class
#   "json" -> inserted verbatim.
#
# Everything here runs with only the base package attached.

json_decoder <- NULL
json_space <- as.raw(c(0x20, 0x09, 0x0a, 0x0d))
json_brace <- as.raw(0x7b)

# Loads the parser once, at init; returns NULL or the error. Only rjson's compiled code is
# loaded (dyn.load, about 2 ms) and its C routine called directly, with the checks that
# its exported fromJSON() makes; fromJSON() would also run trimws() over the whole text,
# which costs ten times the parse itself on a large event. Should that ever not work, the
# namespace is loaded and fromJSON() used.
json_init <- function() {
  loaded <- tryCatch({
    if (!is.loaded("fromJSON", PACKAGE = "rjson")) {
      dlls <- file.path(.libPaths(), "rjson", "libs", paste0("rjson", .Platform$dynlib.ext))
      dyn.load(dlls[file.exists(dlls)][[1L]])
    }
    identical(json_parse_direct(' {"a": [1, 2]} ', 15L), list(a = c(1, 2)))
  }, error = function(e) FALSE)
  if (loaded) {
    json_decoder <<- json_parse_direct
    return(NULL)
  }
  exported <- tryCatch(getExportedValue("rjson", "fromJSON"), error = function(e) e)
  if (inherits(exported, "error")) return(exported)
  json_decoder <<- function(text, size) exported(json_str = text)
  NULL
}

json_parse_direct <- function(text, size) {
  parsed <- .Call("fromJSON", text, "error", TRUE, PACKAGE = "rjson")
  if (parsed[[2L]] != size && !all(charToRaw(text)[(parsed[[2L]] + 1L):size] %in% json_space)) {
    stop(sprintf("invalid JSON at byte %d", parsed[[2L]] + 1L), call. = FALSE)
  }
  if (inherits(parsed[[1L]], "try-error")) stop(parsed[[1L]], call. = FALSE)
  parsed[[1L]]
}

# Parses `text`, `size` bytes long; errors when it is not JSON.
json_parse <- function(text, size) json_decoder(text, size)

json_error_message <- function(e) {
  message <- conditionMessage(e)
  # how rjson reports a value cut short
  if (grepl("SET_STRING_ELT", message, fixed = TRUE)) "incomplete JSON value" else message
}

json_encode <- function(x) {
  if (is.null(x)) return("null")
  if (length(x) == 1L && is.null(attributes(x)) && is.atomic(x)) {
    # the common case, a plain scalar
    if (is.na(x) || (is.double(x) && !is.finite(x))) return("null")
    return(switch(typeof(x),
      double = , integer = as.character(x),
      character = json_strings(x),
      logical = if (x) "true" else "false",
      json_values(x)
    ))
  }
  if (!is.null(oldClass(x))) {
    if (inherits(x, "json")) return(paste(as.character(x), collapse = ""))
    if (is.data.frame(x)) return(json_wrap("[", json_df_rows(x), "]"))
    if (inherits(x, "POSIXlt")) x <- as.POSIXct(x)
  }
  if (is.list(x)) {
    keys <- names(x)
    if (is.null(keys) && length(x) > 1L && is.list(x[[1L]])) {
      rows <- json_records(x)
      if (!is.null(rows)) return(json_wrap("[", rows, "]"))
    }
    parts <- vapply(x, json_encode, "", USE.NAMES = FALSE)
    if (is.null(keys)) return(json_wrap("[", parts, "]"))
    return(json_wrap("{", json_members(keys, parts), "}"))
  }
  if (!is.atomic(x)) {
    stop(sprintf("cannot convert an object of type '%s' (class %s) to JSON",
                 typeof(x), paste(class(x), collapse = "/")), call. = FALSE)
  }
  d <- dim(x)
  if (!is.null(d)) {
    if (length(d) == 2L) return(json_wrap("[", json_matrix_rows(x), "]"))
    if (length(d) > 2L) {
      parts <- vapply(seq_len(d[[1L]]), function(i) {
        json_encode(array(x[(seq_len(prod(d[-1L])) - 1L) * d[[1L]] + i], dim = d[-1L]))
      }, "")
      return(json_wrap("[", parts, "]"))
    }
  }
  values <- json_values(x)
  keys <- names(x)
  if (!is.null(keys)) return(json_wrap("{", json_members(keys, values), "}"))
  if (length(values) == 1L && !inherits(x, "AsIs")) return(values)
  json_wrap("[", values, "]")
}

json_wrap <- function(open, parts, close) {
  paste0(open, paste(parts, collapse = ","), close)
}

# "key":value for each pair (paste0() would make one "":... out of zero pairs).
json_members <- function(keys, values) {
  if (!length(keys)) return(character())
  paste0(json_strings(keys), ":", values)
}

# One JSON scalar per element of an atomic vector; names and dims are dropped.
json_values <- function(x) {
  if (!is.null(oldClass(x))) {
    if (is.factor(x)) {
      x <- as.character(x)
    } else if (inherits(x, "Date")) {
      x <- format(x, "%Y-%m-%d")
    } else if (inherits(x, "POSIXt")) {
      x <- format(as.POSIXct(x), "%Y-%m-%dT%H:%M:%OS3Z", tz = "UTC")
    }
    x <- unclass(x)
  }
  switch(typeof(x),
    logical = {
      v <- c("false", "true")[x + 1L]
      if (anyNA(x)) v[is.na(x)] <- "null"
      v
    },
    integer = {
      v <- as.character(x)
      if (anyNA(x)) v[is.na(x)] <- "null"
      v
    },
    double = {
      # As R writes numbers: up to 15 significant digits, as print() and as.character().
      # Whole numbers go through integers, which is twenty times faster.
      finite <- is.finite(x)
      whole <- finite & x == trunc(x) & abs(x) <= 2147483647
      if (all(whole)) return(as.character(as.integer(x)))
      if (!any(whole)) {
        v <- as.character(x)
        if (!all(finite)) v[!finite] <- "null"
        return(v)
      }
      v <- rep("null", length(x))
      if (any(whole)) v[whole] <- as.character(as.integer(x[whole]))
      other <- finite & !whole
      v[other] <- as.character(x[other])
      v
    },
    character = {
      v <- json_strings(x)
      if (anyNA(x)) v[is.na(x)] <- "null"
      v
    },
    complex = {
      v <- json_strings(as.character(x))
      if (anyNA(x)) v[is.na(x)] <- "null"
      v
    },
    raw = as.character(as.integer(x)),
    stop(sprintf("cannot convert a vector of type '%s' to JSON", typeof(x)), call. = FALSE)
  )
}

json_control_codes <- setdiff(1:31, c(9L, 10L, 13L))

# Quoted, escaped JSON strings, as UTF-8.
json_strings <- function(s) {
  if (!length(s)) return(character())
  s <- enc2utf8(as.character(s))
  special <- grep("[\"\\\\\001-\037]", s, useBytes = TRUE)
  if (length(special)) s[special] <- json_escape(s[special])
  paste0("\"", s, "\"")
}

json_escapes <- list(c("\\", "\\\\"), c("\"", "\\\""), c("\n", "\\n"), c("\r", "\\r"), c("\t", "\\t"))

# Works on the bytes (UTF-8 continuation bytes are never special), which is several
# times faster than character-wise matching on large strings.
json_escape <- function(s) {
  for (escape in json_escapes) {
    if (any(grepl(escape[[1L]], s, fixed = TRUE, useBytes = TRUE))) {
      s <- gsub(escape[[1L]], escape[[2L]], s, fixed = TRUE, useBytes = TRUE)
    }
  }
  if (any(grepl("[\001-\037]", s, useBytes = TRUE))) {
    for (code in json_control_codes) {
      ch <- rawToChar(as.raw(code))
      if (any(grepl(ch, s, fixed = TRUE, useBytes = TRUE))) {
        s <- gsub(ch, sprintf("\\u%04x", code), s, fixed = TRUE, useBytes = TRUE)
      }
    }
  }
  Encoding(s) <- "UTF-8"
  s
}

# A list of records, list(list(a = 1, b = "x"), list(a = 2, b = "y"), ...), each with the
# same names and plain scalar values, is encoded column by column like a data frame, which
# is a hundred times faster than one record at a time. NULL when `x` is not of that shape.
json_records <- function(x) {
  keys <- names(x[[1L]])
  width <- length(keys)
  if (!width || anyDuplicated(keys) || !all(vapply(x, is.list, NA)) || any(lengths(x) != width)) return(NULL)
  columns <- vector("list", width)
  for (k in seq_len(width)) {
    column <- lapply(x, `[[`, keys[[k]])
    if (any(lengths(column) != 1L) || any(vapply(column, is.object, NA))) return(NULL)
    for (is_type in list(is.character, is.numeric, is.logical)) {
      same <- vapply(column, is_type, NA)
      if (any(same)) break
    }
    if (!all(same)) return(NULL)
    values <- unlist(column, use.names = FALSE)
    if (length(values) != length(x) || is.list(values)) return(NULL)
    columns[[k]] <- values
  }
  json_rows(keys, columns)
}

# One JSON array per matrix row.
json_matrix_rows <- function(m) {
  nr <- nrow(m)
  nc <- ncol(m)
  if (nc == 0L) return(rep("[]", nr))
  v <- json_values(m)
  columns <- lapply(seq_len(nc), function(j) v[(j - 1L) * nr + seq_len(nr)])
  paste0("[", do.call(paste, c(columns, sep = ",")), "]")
}

# One JSON object per data frame row; NA cells are null, the key is kept.
json_df_rows <- function(df) {
  if (length(df) == 0L) return(rep("{}", nrow(df)))
  json_rows(names(df), as.list(df))
}

# One JSON object per row from named columns of equal length, made with a single paste0()
# (every intermediate vector of strings costs as much as the result).
json_rows <- function(keys, columns) {
  if (!NROW(columns[[1L]])) return(character())
  keys <- json_strings(keys)
  pieces <- vector("list", 2L * length(columns) + 1L)
  for (j in seq_along(columns)) {
    pieces[[2L * j - 1L]] <- paste0(if (j == 1L) "{" else ",", keys[[j]], ":")
    pieces[[2L * j]] <- json_df_cells(columns[[j]])
  }
  pieces[[length(pieces)]] <- "}"
  do.call(paste0, pieces)
}

json_df_cells <- function(column) {
  if (is.data.frame(column)) return(json_df_rows(column))
  if (is.list(column)) return(vapply(column, json_encode, "", USE.NAMES = FALSE))
  if (is.matrix(column)) return(json_matrix_rows(column))
  json_values(column)
}
