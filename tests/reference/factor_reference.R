# Reference values for rima's factor analysis, produced with R psych (and GPArotation).
#
# Run from the repository root:  Rscript tests/reference/factor_reference.R
# Writes tests/reference/factor_data/<name>.csv.gz (the datasets, generated here with a
# fixed seed and rounded to 6 decimals so that Python reads exactly the numbers R used)
# and tests/reference/factor_reference.json.
suppressPackageStartupMessages({
  library(psych)
  library(GPArotation)
  library(jsonlite)
})
set.seed(20260301)
out_dir <- "tests/reference/factor_data"
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

# Simulate n rows from a loading matrix L (p x k) with factor correlation phi.
sim_factor <- function(n, L, phi = 0) {
  k <- ncol(L)
  P <- matrix(phi, k, k); diag(P) <- 1
  F <- matrix(rnorm(n * k), n, k) %*% chol(P)
  u <- sqrt(pmax(1 - rowSums((L %*% P) * L), 0.02))
  X <- F %*% t(L) + matrix(rnorm(n * nrow(L)), n) %*% diag(u)
  colnames(X) <- paste0("x", seq_len(nrow(L)))
  X
}
blocks <- function(sizes, values) {
  p <- sum(sizes); k <- length(sizes)
  L <- matrix(0.05, p, k); start <- 0
  for (j in seq_len(k)) {
    idx <- start + seq_len(sizes[j])
    L[idx, j] <- values[[j]]
    start <- start + sizes[j]
  }
  L
}

datasets <- list()
# 1. small, one factor, three variables
datasets$one_factor_n200 <- list(
  X = sim_factor(200, matrix(c(0.8, 0.7, 0.6), 3, 1)), k = 1)
# 2. two correlated factors, six variables
datasets$two_factor_n500 <- list(
  X = sim_factor(500, blocks(c(3, 3), list(c(.8, .7, .6), c(.75, .65, .55))), phi = 0.3),
  k = 2)
# 3. three factors, nine variables
datasets$three_factor_n1000 <- list(
  X = sim_factor(1000, blocks(c(3, 3, 3), list(c(.8, .7, .6), c(.7, .6, .5), c(.75, .7, .55))),
                 phi = 0.2), k = 3)
# 4. large: 20,000 rows, twelve variables, three factors
datasets$big_n20000 <- list(
  X = sim_factor(20000, blocks(c(4, 4, 4), list(c(.8, .7, .6, .5), c(.7, .6, .55, .5),
                                                 c(.75, .65, .6, .4))), phi = 0.25), k = 3)
# 5. binary items, two factors
Xb <- sim_factor(800, blocks(c(4, 4), list(c(.8, .7, .6, .6), c(.7, .7, .6, .5))), phi = 0.2)
Xb <- (Xb > matrix(c(-0.5, 0, 0.3, 0.8, -0.2, 0.4, 0, 0.6), nrow(Xb), 8, byrow = TRUE)) * 1
datasets$binary_n800 <- list(X = Xb, k = 2)
# 6. ordinal (1-5) items, two factors
Xo <- sim_factor(1500, blocks(c(5, 5), list(c(.8, .7, .7, .6, .5), c(.75, .7, .6, .6, .5))),
                 phi = 0.35)
Xo <- apply(Xo, 2, function(v) as.numeric(cut(v, c(-Inf, -1.2, -0.4, 0.4, 1.2, Inf))))
colnames(Xo) <- paste0("x", 1:10)
datasets$ordinal_n1500 <- list(X = Xo, k = 2)
# 7. Heywood case: one variable almost perfectly explained by a two-factor structure
Lh <- blocks(c(3, 3), list(c(.99, .5, .45), c(.7, .6, .5)))
datasets$heywood_n300 <- list(X = sim_factor(300, Lh, phi = 0.1), k = 2)
# 8. herder-like scales: herd size in the hundreds, log expenditure near 11, binaries
Xh <- sim_factor(2000, blocks(c(4, 3), list(c(.8, .7, .6, .5), c(.7, .6, .5))), phi = 0.3)
Xh[, 1] <- 350 + 150 * Xh[, 1]          # herd size, sheep units
Xh[, 2] <- 11 + 0.05 * Xh[, 2]          # log expenditure (tiny spread, big mean)
Xh[, 3] <- (Xh[, 3] > 0.2) * 1          # vehicle
Xh[, 5] <- 1e4 + 3 * Xh[, 5]            # a large offset
colnames(Xh) <- c("herd_su", "log_exp", "vehicle", "hay", "income_k", "otor", "train")
datasets$herder_scales_n2000 <- list(X = Xh, k = 2)
# 9. sampling weights
Xw <- sim_factor(1000, blocks(c(3, 3), list(c(.8, .7, .6), c(.7, .6, .6))), phi = 0.2)
w <- round(exp(rnorm(1000, 0, 0.6)), 4)
datasets$weighted_n1000 <- list(X = Xw, k = 2, w = w)

rot_list <- c("none", "varimax", "promax", "oblimin")
score_list <- c("regression", "Bartlett")
methods <- list(
  pa = list(fm = "pa", SMC = FALSE, max.iter = 50),
  pa_smc = list(fm = "pa", SMC = TRUE, max.iter = 50),
  pf = list(fm = "pa", SMC = TRUE, max.iter = 1),
  minres = list(fm = "minres", SMC = TRUE, max.iter = 50),
  ml = list(fm = "ml", SMC = TRUE, max.iter = 50)
)
n_score_rows <- 60

# psych's ml and minres objectives and gradients (as in psych:::fac), for the converged
# reference solutions
ml_fn <- function(Psi, S, nf) {
  sc <- diag(1 / sqrt(Psi)); e <- eigen(sc %*% S %*% sc, symmetric = TRUE)$values[-(1:nf)]
  -(sum(log(e) - e) - nf + nrow(S))
}
ml_gr <- function(Psi, S, nf) {
  sc <- diag(1 / sqrt(Psi)); E <- eigen(sc %*% S %*% sc, symmetric = TRUE)
  L <- E$vectors[, 1:nf, drop = FALSE] %*% diag(sqrt(pmax(E$values[1:nf] - 1, 0)), nf)
  L <- diag(sqrt(Psi)) %*% L
  diag(L %*% t(L) + diag(Psi) - S) / Psi^2
}
minres_fn <- function(Psi, S, nf) {
  diag(S) <- 1 - Psi; E <- eigen(S, symmetric = TRUE)
  E$values[E$values < .Machine$double.eps] <- 100 * .Machine$double.eps
  L <- E$vectors[, 1:nf, drop = FALSE] %*% diag(sqrt(E$values[1:nf]), nf)
  res <- (S - L %*% t(L)); sum(res[lower.tri(res)]^2)
}
minres_gr <- function(Psi, S, nf) {
  E <- eigen(S - diag(Psi), symmetric = TRUE)
  L <- E$vectors[, 1:nf, drop = FALSE] %*% diag(sqrt(pmax(E$values[1:nf], 0)), nf)
  diag(L %*% t(L) + diag(Psi) - S)
}

as_mat <- function(L) { L <- unclass(L); dimnames(L) <- NULL; L }

res <- list()
for (name in names(datasets)) {
  d <- datasets[[name]]
  X <- round(d$X, 6)
  df <- as.data.frame(X)
  if (!is.null(d$w)) df$weight <- d$w
  gz <- gzfile(file.path(out_dir, paste0(name, ".csv.gz")), "w")
  write.csv(df, gz, row.names = FALSE)
  close(gz)
  n <- nrow(X); p <- ncol(X); k <- d$k
  wt <- d$w
  R <- if (is.null(wt)) cor(X) else cor.wt(X, w = wt)$r
  rows <- if (n <= 200) seq_len(n) else seq_len(n_score_rows)
  entry <- list(n = n, p = p, k = k, weighted = !is.null(wt), columns = colnames(X),
                score_rows = rows - 1L, R = as_mat(R))
  # sampling adequacy
  km <- KMO(R)
  entry$kmo <- list(overall = km$MSA, per_variable = unname(km$MSAi))
  cb <- cortest.bartlett(R, n = n)
  entry$bartlett_sphericity <- list(chisq = cb$chisq, df = cb$df, p_value = cb$p.value)
  # number-of-factor rules
  ev <- eigen(R)$values
  fp <- suppressWarnings(suppressMessages(fa(R, nfactors = p, rotate = "none", n.obs = n)))
  ss <- colSums(unclass(fp$loadings)^2)
  share <- cumsum(ss) / sum(ss)
  entry$eigenvalues <- ev
  entry$rules <- list(kaiser = sum(ev > 1), cumvar95 = which(share > 0.95)[1],
                      cumvar95_ss = unname(ss), cumvar95_cumshare = unname(share))
  set.seed(1)
  par <- suppressWarnings(suppressMessages(
    fa.parallel(R, n.obs = n, fa = "pc", plot = FALSE, n.iter = 20)))
  entry$parallel <- list(pc_values = par$pc.values, ncomp = par$ncomp)
  fits <- list()
  for (mname in names(methods)) {
    m <- methods[[mname]]
    for (rot in (if (k == 1) "none" else rot_list)) {
      for (sc in score_list) {
        args <- list(X, nfactors = k, rotate = rot, scores = sc, fm = m$fm, SMC = m$SMC,
                     max.iter = m$max.iter)
        if (!is.null(wt)) args$weight <- wt
        warn <- character(0)
        f <- withCallingHandlers(suppressMessages(do.call(fa, args)),
          warning = function(w) { warn <<- c(warn, conditionMessage(w)); invokeRestart("muffleWarning") })
        key <- paste(mname, rot, sc, sep = "/")
        item <- list(weights = as_mat(f$weights), scores = as_mat(f$scores[rows, , drop = FALSE]))
        if (sc == "regression") {
          item$loadings <- as_mat(f$loadings)
          item$communality <- unname(f$communality)
          item$uniquenesses <- unname(f$uniquenesses)
          item$values <- unname(f$values)
          item$ss <- unname(f$Vaccounted[1, ])
          item$heywood_warning <- any(grepl("Heywood", warn))
          if (!is.null(f$Phi)) item$Phi <- as_mat(f$Phi)
          if (m$fm == "pa") item$iterations <- length(f$communality.iterations)
          if (m$fm %in% c("minres", "ml")) item$objective_par <- 1 - unname(f$communalities)
        }
        fits[[key]] <- item
      }
    }
    # principal components (psych::principal)
  }
  for (rot in (if (k == 1) "none" else rot_list)) {
    # with weights: components of the weighted correlations (cor.wt), weights solved on
    # them, the data standardised without weights (principal's own scores)
    pr <- suppressWarnings(suppressMessages(principal(X, nfactors = k, rotate = rot,
                                                      weight = wt)))
    item <- list(loadings = as_mat(pr$loadings), communality = unname(pr$communality),
                 uniquenesses = unname(pr$uniquenesses), values = unname(pr$values),
                 ss = unname(pr$Vaccounted[1, ]), weights = as_mat(pr$weights))
    item$scores <- as_mat(pr$scores[rows, , drop = FALSE])
    if (!is.null(pr$Phi)) item$Phi <- as_mat(pr$Phi)
    fits[[paste("pca", rot, "regression", sep = "/")]] <- item
  }
  entry$fits <- fits
  # Fully converged minres and ml uniquenesses: psych's own objective functions (FAfn, and
  # the minres residual sum of squares) driven by optim to a tight tolerance. psych stops
  # L-BFGS-B at factr = 1e7, which leaves the optimum up to ~1e-5 away.
  conv <- list()
  for (fm in c("minres", "ml")) {
    start <- 1 - smc(R)
    fn <- if (fm == "ml") ml_fn else minres_fn
    gr <- if (fm == "ml") ml_gr else minres_gr
    o <- optim(start, fn, gr, method = "L-BFGS-B", lower = 0.005, upper = 1,
               control = list(parscale = rep(0.01, p), factr = 1, pgtol = 0, maxit = 10000),
               nf = k, S = R)
    for (rep in 1:5) {
      o <- optim(o$par, fn, gr, method = "L-BFGS-B", lower = 0.005, upper = 1,
                 control = list(parscale = rep(0.01, p), factr = 1, pgtol = 0, maxit = 10000),
                 nf = k, S = R)
    }
    conv[[fm]] <- list(uniquenesses = unname(o$par), value = o$value)
  }
  entry$converged <- conv
  res[[name]] <- entry
  cat(name, "done\n")
}
# moments: weighted mean and covariance (psych::cor.wt, weights normalised to sum to 1)
d <- datasets$weighted_n1000
cw <- cor.wt(round(d$X, 6), w = d$w, cor = FALSE)
res$weighted_n1000$weighted_mean <- unname(cw$mean)
res$weighted_n1000$weighted_cov_n <- as_mat(cw$r)
res$weighted_n1000$unweighted_cov <- as_mat(cov(round(d$X, 6)))
# missing values: pairwise-complete correlations and psych's (pairwise) principal axis
Xm <- round(datasets$three_factor_n1000$X, 6)
set.seed(7)
Xm[matrix(runif(length(Xm)) < 0.08, nrow(Xm))] <- NA
gz <- gzfile(file.path(out_dir, "missing_n1000.csv.gz"), "w")
write.csv(as.data.frame(Xm), gz, row.names = FALSE, na = "")
close(gz)
fm <- suppressWarnings(suppressMessages(fa(Xm, nfactors = 3, fm = "pa", SMC = FALSE,
                                          rotate = "none", scores = "none")))
res$missing_n1000 <- list(R_pairwise = as_mat(cor(Xm, use = "pairwise")),
                          R_listwise = as_mat(cor(Xm, use = "complete.obs")),
                          n_complete = sum(complete.cases(Xm)),
                          pa_pairwise_loadings = as_mat(fm$loadings))
res$`_meta` <- list(psych = as.character(packageVersion("psych")),
                    GPArotation = as.character(packageVersion("GPArotation")),
                    R = R.version.string)
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, matrix = "rowmajor"),
           "tests/reference/factor_reference.json")
