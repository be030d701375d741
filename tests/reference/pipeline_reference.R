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
  library(survey)
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

run_pillar <- function(X, weight = NULL) {
  p <- ncol(X)
  # step 2: number of factors by the cumulative 95 % share of a minres fit with p factors
  full <- suppressWarnings(fa(X, nfactors = p, rotate = "none", weight = weight))
  ss_full <- colSums(unclass(full$loadings)^2)
  share <- cumsum(ss_full) / sum(ss_full)
  k <- min(which(share > 0.95))
  # steps 3-6: principal axis from unit communalities, no rotation, Bartlett scores
  f <- suppressWarnings(fa(X, nfactors = k, rotate = "none", fm = "pa", SMC = FALSE,
                           scores = "Bartlett", weight = weight))
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
  # profiles: weighted mean RCI_100 by sex of household head with its linearised SE
  # (survey::svymean, one-stage design with sampling weights)
  des <- svydesign(ids = ~1, weights = ~hh_weight,
                   data = data.frame(RCI_100 = as.numeric(rci100), head_sex = dd$head_sex,
                                     hh_weight = dd$hh_weight))
  by_sex <- svyby(~RCI_100, ~head_sex, des, svymean)
  res$profile_head_sex <- list(category = as.character(by_sex$head_sex),
                               mean = unname(by_sex$RCI_100), se = unname(SE(by_sex)))
  res$params <- pe[, c("lhs", "op", "rhs", "est", "se", "std.all")]
  res$fit_measures <- as.list(fm)
  out[[name]] <- res
}
# Option missing = "fiml" on the bundled example: pillars on every row with complete pillar
# variables, indicators z-scored over their available values, MIMIC by FIML (lavaan
# missing = "ml", robust.huber.white SEs), lavPredict for every such row (households missing
# an indicator are scored from the indicators they have).
{
  df <- read.csv(datasets$zavkhan$path, check.names = FALSE)
  ind <- datasets$zavkhan$indicators
  keep <- complete.cases(df[, unlist(pillars)]) & rowSums(!is.na(df[, ind])) > 0
  dd <- df[keep, ]
  P <- data.frame(row.names = seq_len(nrow(dd)))
  for (pn in names(pillars)) P[[pn]] <- run_pillar(dd[, pillars[[pn]]])$score
  mdat <- P
  for (y in ind) mdat[[y]] <- as.numeric(scale(dd[[y]]))
  model <- paste0("RCI =~ ", paste(ind, collapse = " + "), "\n RCI ~ ",
                  paste(names(pillars), collapse = " + "))
  fit <- cfa(model, data = mdat, estimator = "ML", se = "robust.huber.white",
             missing = "ml", optim.method = "BFGS",
             control = list(reltol = 1e-16, maxit = 10000))
  pe <- parameterEstimates(fit)
  out$zavkhan_fiml <- list(rows = which(keep), n = sum(keep), indicators = ind,
                           scores = as.list(P), RCI = drop(lavPredict(fit)),
                           params = pe[, c("lhs", "op", "rhs", "est", "se")],
                           max_abs_gradient = max(abs(lavInspect(fit, "optim.gradient"))))
}
# Option weights = true on the second simulated dataset: psych::fa(weight =) (weighted
# correlations; scores standardised without weights, as psych does), lavaan
# sampling.weights (robust.huber.white SEs), weighted correlations for the RSM.
{
  df <- read.csv(datasets$sim_n600_s11$path, check.names = FALSE)
  ind <- datasets$sim_n600_s11$indicators
  keep <- complete.cases(df[, c(unlist(pillars), ind)])
  dd <- df[keep, ]
  P <- data.frame(row.names = seq_len(nrow(dd)))
  ks <- list()
  for (pn in names(pillars)) {
    r <- run_pillar(dd[, pillars[[pn]]], weight = dd$hh_weight)
    P[[pn]] <- r$score
    ks[[pn]] <- r$k
  }
  mdat <- P
  for (y in ind) mdat[[y]] <- as.numeric(scale(dd[[y]]))
  mdat$w <- dd$hh_weight
  model <- paste0("RCI =~ ", paste(ind, collapse = " + "), "\n RCI ~ ",
                  paste(names(pillars), collapse = " + "))
  fit <- cfa(model, data = mdat, estimator = "ML", sampling.weights = "w",
             optim.method = "BFGS", control = list(reltol = 1e-16, maxit = 10000))
  rci <- drop(lavPredict(fit))
  cw <- cov.wt(cbind(as.matrix(P), rci), wt = dd$hh_weight, cor = TRUE)$cor
  r <- abs(cw[seq_along(pillars), ncol(cw)])
  pe <- parameterEstimates(fit)
  out$sim_weighted <- list(rows = which(keep), k = ks, scores = as.list(P), RCI = rci,
                           RSM = as.list(setNames(100 * r / sum(r), names(pillars))),
                           params = pe[, c("lhs", "op", "rhs", "est", "se")])
}
out$meta <- list(psych = as.character(packageVersion("psych")),
                 lavaan = as.character(packageVersion("lavaan")),
                 R = R.version.string)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = FALSE),
           "tests/reference/pipeline_reference.json")
