# Reference values for rima.mimic, produced by R's lavaan.
#
# Run from the repository root:  Rscript tests/reference/mimic_reference.R
# Writes tests/reference/mimic_data/<name>.csv.gz (the datasets, generated here with fixed
# seeds and read back so R and Python see identical numbers) and
# tests/reference/mimic_reference.json (parameterEstimates, all of fitMeasures, R2,
# predictions). Cases: ML, robust.sem, MLM, MLR on complete data; FIML with ML and MLR;
# sampling weights with ML and MLR, on complete data and combined with FIML.
suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})

out_dir <- "tests/reference/mimic_data"
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

make_data <- function(n, k, m, gamma, lambda, psi, theta, seed, xkind = NULL,
                      direct = NULL, rescov = NULL, miss = 0, weights = FALSE,
                      scale = NULL) {
  set.seed(seed)
  if (is.null(xkind)) xkind <- rep("normal", k)
  X <- sapply(seq_len(k), function(j) {
    switch(xkind[j],
      normal = rnorm(n),
      binary = rbinom(n, 1, 0.35),
      skewed = rexp(n) ^ 1.5,
      lognormal = exp(rnorm(n, 0, 0.8)))
  })
  X <- matrix(X, n, k)
  eta <- drop(X %*% gamma) + rnorm(n, 0, sqrt(psi))
  E <- sapply(seq_len(m), function(j) rnorm(n, 0, sqrt(theta[j])))
  if (!is.null(rescov)) {
    # shared error component between two indicators
    common <- rnorm(n, 0, sqrt(rescov$cov))
    E[, rescov$i] <- E[, rescov$i] + common
    E[, rescov$j] <- E[, rescov$j] + common
  }
  Y <- outer(eta, lambda) + E
  if (!is.null(direct)) Y[, direct$y] <- Y[, direct$y] + direct$b * X[, direct$x]
  Y <- sweep(Y, 2, 1:m, "+")
  colnames(Y) <- paste0("y", 1:m)
  colnames(X) <- paste0("x", 1:k)
  d <- data.frame(Y, X)
  if (!is.null(scale)) for (nm in names(scale)) d[[nm]] <- d[[nm]] * scale[[nm]]
  if (miss > 0) {
    for (j in 1:m) d[runif(n) < miss, j] <- NA
  }
  if (weights) d$w <- round(exp(rnorm(n, 0, 0.5)), 4)
  d
}

specs <- list(
  list(name = "base_n200", n = 200, k = 4, m = 3, gamma = c(0.5, 0.3, -0.2, 0.4),
       lambda = c(1, 0.8, 1.2), psi = 0.6, theta = c(0.5, 0.6, 0.4), seed = 101),
  list(name = "two_ind_binary", n = 1000, k = 2, m = 2, gamma = c(0.6, 0.8),
       lambda = c(1, 0.7), psi = 0.5, theta = c(0.4, 0.5), seed = 202,
       xkind = c("normal", "binary")),
  list(name = "big_skewed", n = 50000, k = 4, m = 3, gamma = c(0.3, 0.25, 0.2, -0.15),
       lambda = c(1, 0.9, 0.6), psi = 0.7, theta = c(0.5, 0.5, 0.8), seed = 303,
       xkind = c("skewed", "lognormal", "normal", "binary")),
  list(name = "weak_six_causes", n = 500, k = 6, m = 3,
       gamma = c(0.08, -0.05, 0.06, 0.04, 0.03, -0.07),
       lambda = c(1, 0.6, 0.5), psi = 1.0, theta = c(1.0, 1.2, 1.1), seed = 404,
       xkind = c("normal", "binary", "skewed", "normal", "lognormal", "binary")),
  list(name = "near_heywood", n = 300, k = 3, m = 3, gamma = c(0.5, 0.4, 0.3),
       lambda = c(1, 0.9, 0.8), psi = 0.5, theta = c(0.01, 0.6, 0.7), seed = 505),
  list(name = "fiml_missing", n = 800, k = 3, m = 3, gamma = c(0.5, 0.4, -0.3),
       lambda = c(1, 0.8, 1.1), psi = 0.6, theta = c(0.5, 0.5, 0.5), seed = 606,
       xkind = c("normal", "binary", "skewed"), miss = 0.10),
  list(name = "weighted", n = 1000, k = 4, m = 3, gamma = c(0.4, 0.3, 0.2, 0.1),
       lambda = c(1, 0.8, 0.9), psi = 0.5, theta = c(0.5, 0.4, 0.6), seed = 707,
       xkind = c("normal", "binary", "skewed", "normal"), weights = TRUE),
  list(name = "rescov", n = 600, k = 3, m = 3, gamma = c(0.5, 0.4, 0.3),
       lambda = c(1, 0.8, 0.9), psi = 0.5, theta = c(0.4, 0.4, 0.4), seed = 808,
       rescov = list(i = 2, j = 3, cov = 0.2), model_extra = "y2 ~~ y3"),
  list(name = "direct_effect", n = 600, k = 3, m = 3, gamma = c(0.5, 0.4, 0.3),
       lambda = c(1, 0.8, 0.9), psi = 0.5, theta = c(0.4, 0.4, 0.4), seed = 909,
       xkind = c("binary", "normal", "normal"), direct = list(y = 2, x = 1, b = 0.4),
       model_extra = "y2 ~ x1"),
  list(name = "badly_scaled", n = 400, k = 4, m = 3, gamma = c(0.5, 0.3, -0.2, 0.4),
       lambda = c(1, 0.8, 1.2), psi = 0.6, theta = c(0.5, 0.6, 0.4), seed = 1010,
       scale = list(x1 = 1000, x2 = 0.001, y2 = 1000)),
  # The two FIML cases below omit a direct effect present in the data, so the model
  # misfits and the robust RMSEA/CFI are away from their bounds.
  list(name = "weighted_fiml", n = 1000, k = 3, m = 3, gamma = c(0.5, 0.3, 0.2),
       lambda = c(1, 0.8, 0.9), psi = 0.5, theta = c(0.5, 0.4, 0.6), seed = 1111,
       xkind = c("normal", "binary", "skewed"), miss = 0.10, weights = TRUE,
       direct = list(y = 3, x = 2, b = 0.35)),
  list(name = "fiml_misfit", n = 900, k = 3, m = 3, gamma = c(0.5, 0.4, 0.3),
       lambda = c(1, 0.8, 0.9), psi = 0.5, theta = c(0.4, 0.5, 0.5), seed = 1212,
       xkind = c("normal", "skewed", "binary"), miss = 0.15,
       direct = list(y = 2, x = 1, b = 0.3))
)

model_syntax <- function(s) {
  ind <- paste0("y", 1:s$m)
  cau <- paste0("x", 1:s$k)
  txt <- paste0("RCI =~ ", paste(ind, collapse = " + "), "\n",
                "RCI ~ ", paste(cau, collapse = " + "), "\n")
  if (!is.null(s$model_extra)) txt <- paste0(txt, s$model_extra, "\n")
  txt
}

configs <- list(
  ml = list(estimator = "ML"),
  ml_robust_sem = list(estimator = "ML", se = "robust.sem"),
  mlm = list(estimator = "MLM"),
  mlr = list(estimator = "MLR")
)

tab <- function(x) {
  x <- as.data.frame(x)
  rownames(x) <- NULL
  x
}

# Explicit-formula scores (exact inverses) from the estimated matrices, so rima's scores
# can be checked independently of lavPredict's numerical choices.
explicit_scores <- function(fit, d, s, weighted = FALSE) {
  pe <- parameterEstimates(fit)
  ind <- paste0("y", 1:s$m)
  lam <- sapply(ind, function(y) pe$est[pe$lhs == "RCI" & pe$op == "=~" & pe$rhs == y])
  th <- matrix(0, s$m, s$m)
  for (a in 1:s$m) for (b in 1:s$m) {
    r <- pe$est[pe$op == "~~" & ((pe$lhs == ind[a] & pe$rhs == ind[b]) |
                                 (pe$lhs == ind[b] & pe$rhs == ind[a]))]
    if (length(r)) th[a, b] <- r[1]
  }
  psi <- pe$est[pe$lhs == "RCI" & pe$op == "~~" & pe$rhs == "RCI"]
  gam <- sapply(paste0("x", 1:s$k), function(x) {
    r <- pe$est[pe$lhs == "RCI" & pe$op == "~" & pe$rhs == x]
    if (length(r)) r else 0
  })
  B <- matrix(0, s$m, s$k)
  for (j in 1:s$m) for (h in 1:s$k) {
    r <- pe$est[pe$lhs == paste0("y", j) & pe$op == "~" & pe$rhs == paste0("x", h)]
    if (length(r)) B[j, h] <- r
  }
  Y <- as.matrix(d[, paste0("y", 1:s$m)])
  X <- as.matrix(d[, paste0("x", 1:s$k)])
  cc <- complete.cases(Y) & complete.cases(X)
  Y <- Y[cc, , drop = FALSE]
  X <- X[cc, , drop = FALSE]
  w <- if (weighted) d$w[cc] / mean(d$w[cc]) else rep(1, nrow(Y))
  ybar <- colSums(Y * w) / sum(w)
  xbar <- colSums(X * w) / sum(w)
  Pi <- outer(lam, gam) + B
  Omega <- psi * outer(lam, lam) + th
  Yc <- sweep(Y, 2, ybar)
  Xc <- sweep(X, 2, xbar)
  mu_eta <- sum(gam * xbar)
  resid <- Yc - Xc %*% t(Pi)
  reg <- mu_eta + drop(Xc %*% gam) + drop(resid %*% solve(Omega, lam * psi))
  thinv <- solve(th)
  bw <- drop(thinv %*% lam) / drop(t(lam) %*% thinv %*% lam)
  bart <- mu_eta + drop((Yc - Xc %*% t(B)) %*% bw)
  causes <- mu_eta + drop(Xc %*% gam)
  list(regression = reg, bartlett = bart, causes = causes)
}

run_one <- function(s, d, cfg, missing = "listwise", weighted = FALSE, predict = TRUE) {
  args <- c(list(model = model_syntax(s), data = d, missing = missing), cfg)
  if (weighted) args$sampling.weights <- "w"
  warns <- character(0)
  fit <- withCallingHandlers(do.call("cfa", args), warning = function(w) {
    warns <<- c(warns, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
  pe <- tab(parameterEstimates(fit, standardized = TRUE))
  # The baseline model can fail on badly scaled data; keep the rest of the output then.
  fm <- tryCatch(fitMeasures(fit), error = function(e) NULL)
  r2 <- lavInspect(fit, "r2")
  n <- lavInspect(fit, "nobs")
  idx <- if (!predict) integer(0) else if (n <= 1000) seq_len(n) else seq(1, n, by = 97)
  pr <- list()
  for (meth in c("regression", "Bartlett")) {
    if (!predict) break
    p <- tryCatch(drop(lavPredict(fit, method = meth)[, "RCI"]), error = function(e) NULL)
    if (!is.null(p)) pr[[tolower(meth)]] <- p[idx]
  }
  ex <- if (predict) explicit_scores(fit, d, s, weighted) else list()
  list(
    lavaan_options = list(estimator = lavInspect(fit, "options")$estimator,
                          se = lavInspect(fit, "options")$se,
                          test = lavInspect(fit, "options")$test,
                          information = lavInspect(fit, "options")$information,
                          meanstructure = lavInspect(fit, "options")$meanstructure),
    converged = lavInspect(fit, "converged"),
    iterations = lavInspect(fit, "iterations"),
    nobs = n,
    norig = lavInspect(fit, "norig"),
    warnings = warns,
    params = pe,
    fit_measures = if (is.null(fm)) NULL else as.list(unclass(fm)),
    r2 = as.list(r2),
    pred_rows = idx,
    lavpredict = pr,
    explicit = lapply(ex, function(v) v[idx])
  )
}

result <- list(lavaan_version = as.character(packageVersion("lavaan")), datasets = list())
for (s in specs) {
  d <- make_data(s$n, s$k, s$m, s$gamma, s$lambda, s$psi, s$theta, s$seed, s$xkind,
                 s$direct, s$rescov, if (is.null(s$miss)) 0 else s$miss,
                 isTRUE(s$weights), s$scale)
  f <- file.path(out_dir, paste0(s$name, ".csv.gz"))
  # Round trip through the file so R and Python read exactly the same numbers.
  con <- gzfile(f, "w")
  d[] <- lapply(d, signif, 7)
  write.csv(d, con, row.names = FALSE, quote = FALSE, na = "")
  close(con)
  d <- read.csv(f, na.strings = c("", "NA"))
  fits <- list()
  if (isTRUE(s$weights) && !is.null(s$miss) && s$miss > 0) {
    # lavaan accepts sampling weights with FIML (robust SEs, Yuan-Bentler test); only the
    # estimates and fit measures are compared there, so no scores are stored.
    fits$weighted_fiml <- run_one(s, d, list(estimator = "ML"), missing = "fiml",
                                  weighted = TRUE, predict = FALSE)
    fits$weighted_fiml_mlr <- run_one(s, d, list(estimator = "MLR"), missing = "fiml",
                                      weighted = TRUE, predict = FALSE)
  } else if (isTRUE(s$weights)) {
    fits$weighted_ml <- run_one(s, d, list(estimator = "ML"), weighted = TRUE)
    fits$weighted_mlr <- run_one(s, d, list(estimator = "MLR"), weighted = TRUE)
    d0 <- d
    fits$ml <- run_one(s, d0, configs$ml)
  } else if (!is.null(s$miss) && s$miss > 0) {
    pred <- s$name == "fiml_missing"
    fits$fiml <- run_one(s, d, list(estimator = "ML"), missing = "fiml", predict = pred)
    fits$fiml_mlr <- run_one(s, d, list(estimator = "MLR"), missing = "fiml",
                             predict = pred)
    if (pred) fits$ml <- run_one(s, d, configs$ml)
  } else {
    for (nm in names(configs)) fits[[nm]] <- run_one(s, d, configs[[nm]])
  }
  result$datasets[[s$name]] <- list(
    file = basename(f), model = model_syntax(s), n = s$n, fits = fits)
  cat(s$name, "done\n")
}

writeLines(toJSON(result, digits = NA, auto_unbox = TRUE, na = "null", null = "null",
                  pretty = FALSE),
           "tests/reference/mimic_reference.json")
