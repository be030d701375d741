# Reference traces of R's optim(method = "L-BFGS-B") for rima's L-BFGS-B (rima/lbfgsb.py).
#
# Run from the repository root:  Rscript tests/reference/lbfgsb_reference.R
# Reads the datasets in tests/reference/factor_data (written by factor_reference.R) and
# writes tests/reference/lbfgsb_reference.json.
#
# psych's ml and minres fits are run through psych::fa itself; optim is swapped, in psych's
# imports only, for a wrapper that calls the real optim with the same arguments and logs
# every evaluation (par in psych's units, value, gradient), the matrix S psych passes, and
# the result (par, value, counts, convergence, message). trace = 1 with REPORT = 1 is added
# to the control list so the number of iterations can be counted from R's own "iter" lines;
# it only prints: the wrapper checks that the traced run and psych's own run agree exactly,
# and the fits are checked against factor_reference.json.
# A few plain problems (Rosenbrock with every kind of bound, with no bounds, and an ml fit
# stopped by maxit) exercise the branches psych's calls do not reach.
suppressPackageStartupMessages({
  library(psych)
  library(jsonlite)
})

data_dir <- "tests/reference/factor_data"
fref <- fromJSON("tests/reference/factor_reference.json", simplifyVector = TRUE)
as_mat <- function(L) { L <- unclass(L); dimnames(L) <- NULL; L }
# jsonlite writes at most 15 significant digits; the tests replay R's path bit for bit where
# they can, so numbers are written with 17 (exact round trip), unbounded sides as null
num17 <- function(x) {
  f <- function(v) ifelse(is.finite(v), sprintf("%.17g", v), "null")
  txt <- if (is.matrix(x)) {
    paste0("[", paste(apply(x, 1, function(r) paste0("[", paste(f(r), collapse = ","), "]")),
                      collapse = ","), "]")
  } else paste0("[", paste(f(x), collapse = ","), "]")
  structure(txt, class = "json")
}
exact <- function(rec) {
  for (nm in c("start", "lower", "upper", "par", "parscale", "trace_value", "trace_par",
               "trace_grad", "S")) {
    if (!is.null(rec[[nm]])) rec[[nm]] <- num17(rec[[nm]])
  }
  rec$value <- structure(sprintf("%.17g", rec$value), class = "json")
  rec
}

real_optim <- stats::optim
last_call <- NULL
n_calls <- 0L

# run optim, recording every evaluation (fn then gr at each point) and R's iteration count
traced <- function(par, fn, gr, lower, upper, control, ...) {
  evals <- list()
  grads <- list()
  logged <- function(p, ...) {
    v <- fn(p, ...)
    evals[[length(evals) + 1L]] <<- c(v, p)
    v
  }
  logged_gr <- function(p, ...) {
    g <- gr(p, ...)
    grads[[length(grads) + 1L]] <<- g
    g
  }
  ctrl <- c(control, list(trace = 1, REPORT = 1))
  out <- capture.output(
    res <- real_optim(par, logged, logged_gr, ..., method = "L-BFGS-B", lower = lower,
                      upper = upper, control = ctrl))
  ev <- do.call(rbind, evals)
  gv <- do.call(rbind, grads)
  stopifnot(nrow(ev) == nrow(gv))  # optim asks for fn then gr at every point
  list(start = par, lower = rep_len(lower, length(par)), upper = rep_len(upper, length(par)),
       trace_value = ev[, 1], trace_par = unname(ev[, -1, drop = FALSE]),
       trace_grad = unname(gv),
       par = unname(res$par), value = res$value, counts = unname(res$counts[1]),
       convergence = res$convergence, message = res$message,
       iterations = length(grep("^iter ", out)))
}

psych_optim <- function(par, fn, gr = NULL, ..., method, lower, upper, control = list(),
                        hessian = FALSE) {
  stopifnot(method == "L-BFGS-B", !hessian)
  extra <- list(...)
  rec <- traced(par, fn, gr, lower, upper, control, ...)
  rec$parscale <- control$parscale
  rec$S <- as_mat(extra$S)
  rec$nf <- extra$nf
  n_calls <<- n_calls + 1L
  last_call <<- list(rec = rec, fn = fn, gr = gr, extra = extra, control = control,
                     lower = lower, upper = upper)
  out <- real_optim(par, fn, gr, ..., method = method, lower = lower, upper = upper,
                    control = control, hessian = hessian)
  # tracing only prints: the traced run and psych's own run are identical
  stopifnot(identical(rec$par, unname(out$par)), rec$counts == out$counts[[1]],
            identical(rec$message, out$message))
  out
}
imp <- parent.env(asNamespace("psych"))
unlockBinding("optim", imp)
assign("optim", psych_optim, envir = imp)

res <- list()
datasets <- c("one_factor_n200", "two_factor_n500", "three_factor_n1000", "big_n20000",
              "binary_n800", "ordinal_n1500", "heywood_n300", "herder_scales_n2000",
              "weighted_n1000")
for (name in datasets) {
  df <- read.csv(gzfile(file.path(data_dir, paste0(name, ".csv.gz"))))
  w <- NULL
  if ("weight" %in% names(df)) { w <- df$weight; df$weight <- NULL }
  X <- as.matrix(df)
  k <- fref[[name]]$k
  for (fm in c("ml", "minres")) {
    last_call <- NULL
    n_calls <- 0L
    args <- list(X, nfactors = k, rotate = "none", scores = "none", fm = fm, SMC = TRUE)
    if (!is.null(w)) args$weight <- w
    f <- suppressWarnings(suppressMessages(do.call(fa, args)))
    stopifnot(n_calls == 1L)  # fa optimised once: the trace is the fit
    rec <- last_call$rec
    # the same fit as in the factor reference file (which holds 15 significant digits and
    # was fitted on the data before the CSV round trip)
    ref_par <- fref[[name]]$fits[[paste(fm, "none", "regression", sep = "/")]]$objective_par
    dev <- max(abs((1 - unname(f$communalities)) - ref_par))
    if (!(dev < 1e-12)) stop(name, " ", fm, " differs from factor_reference.json by ", dev)
    rec$dataset <- name
    rec$objective <- fm
    rec$factr <- 1e7
    rec$pgtol <- 0
    rec$lmm <- 5
    rec$maxit <- 100
    res[[paste(name, fm, sep = "/")]] <- rec
    if (name == "two_factor_n500" && fm == "ml") {
      # the same problem stopped by maxit (R reports convergence 1, message "NEW_X")
      lc <- last_call
      ctrl <- lc$control
      ctrl$maxit <- 3
      rec3 <- do.call(traced, c(list(lc$rec$start, lc$fn, lc$gr, lc$lower, lc$upper, ctrl),
                                lc$extra))
      rec3$parscale <- ctrl$parscale
      rec3$S <- lc$rec$S
      rec3$nf <- lc$rec$nf
      rec3$dataset <- name
      rec3$objective <- fm
      rec3$factr <- 1e7
      rec3$pgtol <- 0
      rec3$lmm <- 5
      rec3$maxit <- 3
      res[["two_factor_n500/ml/maxit3"]] <- rec3
    }
  }
  cat(name, "done\n")
}
assign("optim", real_optim, envir = imp)

# Rosenbrock's function in n variables (the same expression is coded in the test)
rosen <- function(x) {
  n <- length(x)
  sum(100 * (x[-1] - x[-n]^2)^2 + (1 - x[-n])^2)
}
rosen_gr <- function(x) {
  n <- length(x)
  g <- numeric(n)
  a <- x[-1] - x[-n]^2
  g[-n] <- -400 * x[-n] * a - 2 * (1 - x[-n])
  g[-1] <- g[-1] + 200 * a
  g
}
plain <- function(start, lower, upper, control = list()) {
  rec <- traced(start, rosen, rosen_gr, lower, upper, control)
  rec$parscale <- if (is.null(control$parscale)) rep(1, length(start)) else control$parscale
  rec$objective <- "rosenbrock"
  rec$factr <- if (is.null(control$factr)) 1e7 else control$factr
  rec$pgtol <- if (is.null(control$pgtol)) 0 else control$pgtol
  rec$lmm <- if (is.null(control$lmm)) 5 else control$lmm
  rec$maxit <- if (is.null(control$maxit)) 100 else control$maxit
  rec
}
# every bound type: none, lower only, both, upper only (not boxed, so the first step is
# 1/||d||); the solution has the upper bound of x3 active
res[["rosenbrock/mixed"]] <- plain(c(-1.2, 1, -1.2, 1, 0.5), c(-Inf, -1.5, -2, -Inf, -Inf),
                                   c(Inf, Inf, 0.7, 2, Inf), list(maxit = 500))
# all variables boxed, lower bounds active at the solution
res[["rosenbrock/boxed"]] <- plain(c(2.5, 2.5, 2.5), c(1.5, 1.5, 1.5), c(4, 4, 4))
# no bounds at all: the Cauchy search is skipped after the first iteration
res[["rosenbrock/free"]] <- plain(c(-1.2, 1), -Inf, Inf, list(maxit = 500))
# a tighter factr and a memory of 3 corrections
res[["rosenbrock/tight"]] <- plain(c(-1.2, 1, -0.5, 0.8), rep(-3, 4), rep(3, 4),
                                   list(factr = 10, lmm = 3, maxit = 1000))

res <- lapply(res, exact)
res$`_meta` <- list(psych = as.character(packageVersion("psych")), R = R.version.string)
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, json_verbatim = TRUE),
           "tests/reference/lbfgsb_reference.json")
