# Reference values for rima.fit (the whole RIMA-II pipeline), produced by R psych + lavaan
# following the reference procedure of method.md §1-3 exactly.
#
# Run from the repository root:  Rscript tests/reference/pipeline_reference.R
# Reads examples/zavkhan/households.csv and tests/reference/pipeline_data/*.csv.gz (written
# by tests/reference/make_pipeline_data.py with rima.simulate) and writes
# tests/reference/pipeline_reference.json.
suppressPackageStartupMessages({
  library(psych)
  library(lavaan)
  library(jsonlite)
})

pillars <- list(
  ABS = c("dist_soum_km", "dist_vet_km", "dist_health_km", "solar_power", "mobile_coverage",
          "improved_water", "early_warning"),
  AST = c("herd_su", "hay_reserve_t", "shelter_quality", "has_motorbike", "has_vehicle",
          "n_durables"),
  SSN = c("social_insurance", "health_insurance", "remittances", "herder_loan",
          "livestock_insurance", "coop_member", "pug_member"),
  AC = c("head_edu_years", "n_income_sources", "nonlivestock_income_share",
         "dependency_ratio", "training", "otor_moves"))

datasets <- list(
  zavkhan = list(path = "examples/zavkhan/households.csv",
                 indicators = c("fcs", "log_food_exp_ae", "hdds")),
  sim_n600_s11 = list(path = "tests/reference/pipeline_data/sim_n600_s11.csv.gz",
                      indicators = c("fcs", "log_food_exp_ae", "hdds")),
  sim2ind_n800_s12 = list(path = "tests/reference/pipeline_data/sim2ind_n800_s12.csv.gz",
                          indicators = c("fcs", "hdds")))

run_pillar <- function(X) {
  p <- ncol(X)
  # step 2: number of factors by the cumulative 95 % share of a minres fit with p factors
  full <- suppressWarnings(fa(X, nfactors = p, rotate = "none"))
  ss_full <- colSums(unclass(full$loadings)^2)
  share <- cumsum(ss_full) / sum(ss_full)
  k <- min(which(share > 0.95))
  # steps 3-6: principal axis from unit communalities, no rotation, Bartlett scores
  f <- suppressWarnings(fa(X, nfactors = k, rotate = "none", fm = "pa", SMC = FALSE,
                           scores = "Bartlett"))
  L <- unclass(f$loadings)
  ss <- colSums(L^2)
  w <- ss / sum(ss)
  scores <- as.matrix(f$scores) %*% w
  list(k = k, ss_full = unname(ss_full), loadings = unname(L), ss = unname(ss),
       weights = unname(w), score = drop(scores))
}

out <- list()
for (name in names(datasets)) {
  d <- datasets[[name]]
  df <- read.csv(d$path, check.names = FALSE)
  ind <- d$indicators
  vars <- c(unlist(pillars), ind)
  keep <- complete.cases(df[, vars])
  dd <- df[keep, ]
  res <- list(rows = which(keep), n = sum(keep), indicators = ind)
  P <- data.frame(row.names = seq_len(nrow(dd)))
  for (pn in names(pillars)) {
    r <- run_pillar(dd[, pillars[[pn]]])
    res$pillars[[pn]] <- r[c("k", "ss_full", "loadings", "ss", "weights")]
    P[[pn]] <- r$score
  }
  mdat <- P
  for (y in ind) mdat[[y]] <- as.numeric(scale(dd[[y]]))
  model <- paste0("RCI =~ ", paste(ind, collapse = " + "), "\n RCI ~ ",
                  paste(names(pillars), collapse = " + "))
  # The reference model and estimator; only the optimiser's stopping rule is tightened.
  # lavaan's default nlminb stops at rel.tol 1e-10 on the objective, which leaves up to
  # ~3e-7 in the estimates and ~4e-6 in RCI_100 (it amplifies by 100 / range); BFGS run to
  # reltol 1e-16 reaches the optimum (max |gradient| recorded below, ~1e-9).
  fit <- cfa(model, data = mdat, estimator = "ML", se = "robust.sem",
             optim.method = "BFGS", control = list(reltol = 1e-16, maxit = 10000))
  res$max_abs_gradient <- max(abs(lavInspect(fit, "optim.gradient")))
  rci <- drop(lavPredict(fit))
  rci100 <- 100 * (rci - min(rci)) / (max(rci) - min(rci))
  r <- abs(sapply(names(pillars), function(pn) cor(P[[pn]], rci)))
  pe <- parameterEstimates(fit, standardized = TRUE)
  fm <- fitMeasures(fit, c("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr"))
  res$scores <- as.list(P)
  res$RCI <- rci
  res$RCI_100 <- rci100
  res$RSM <- as.list(100 * r / sum(r))
  res$params <- pe[, c("lhs", "op", "rhs", "est", "se", "std.all")]
  res$fit_measures <- as.list(fm)
  out[[name]] <- res
}
out$meta <- list(psych = as.character(packageVersion("psych")),
                 lavaan = as.character(packageVersion("lavaan")),
                 R = R.version.string)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = FALSE),
           "tests/reference/pipeline_reference.json")
