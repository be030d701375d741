# Reference values for rima.mimic on R's own data sets, produced by lavaan.
#
# Run from the repository root:  Rscript tests/reference/rdata_mimic_reference.R
# Writes tests/reference/rdata_mimic_data/<name>.csv.gz (lavaan's PoliticalDemocracy and
# HolzingerSwineford1939 with missing values and sampling weights added here with fixed
# seeds, written and read back so R and Python see identical numbers) and
# tests/reference/rdata_mimic_reference.json.
#
# Cases:
# - FIML with households whose indicators are all missing but whose causes are observed:
#   lavaan (fixed.x = TRUE) keeps them, so they count in N and in the causes' moments.
# - se = "robust.sem" and estimator = "MLM" with sampling weights: lavaan 0.6 builds the
#   Gamma of these SEs (and of the Satorra-Bentler test) from the unweighted rows and pairs
#   robust.sem with the Yuan-Bentler test.
# - The bundled Zavkhan example with weights = true and the reference robust.sem SEs,
#   following the reference procedure (psych::fa(weight =) pillars, z-scored indicators),
#   and with missing = "fiml" and three households without any indicator.
#
# lavaan runs BFGS to reltol 1e-16 (its default nlminb stops at rel.tol 1e-10, which leaves
# ~1e-7 in the estimates); the largest gradient left is recorded.
suppressPackageStartupMessages({
  library(lavaan)
  library(psych)
  library(jsonlite)
})

out_dir <- "tests/reference/rdata_mimic_data"
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
tight <- list(optim.method = "BFGS", control = list(reltol = 1e-16, maxit = 10000))

tab <- function(x) {
  x <- as.data.frame(x)
  rownames(x) <- NULL
  x
}

round_trip <- function(d, name) {
  f <- file.path(out_dir, paste0(name, ".csv.gz"))
  con <- gzfile(f, "w")
  write.csv(d, con, row.names = FALSE, quote = FALSE, na = "")
  close(con)
  list(file = basename(f), data = read.csv(f, na.strings = c("", "NA")))
}

# missing indicators: n_all rows lose every indicator, then each indicator cell is missing
# with probability p
inject <- function(d, ind, n_all, p, seed) {
  set.seed(seed)
  all_rows <- sort(sample(nrow(d), n_all))
  d[all_rows, ind] <- NA
  for (y in ind) d[runif(nrow(d)) < p, y] <- NA
  d
}

run_one <- function(model, d, args, latent) {
  args <- c(list(model = model, data = d), args, tight)
  warns <- character(0)
  fit <- withCallingHandlers(do.call("cfa", args), warning = function(w) {
    warns <<- c(warns, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
  o <- lavInspect(fit, "options")
  out <- list(
    lavaan_options = list(estimator = o$estimator, se = o$se, test = o$test,
                          information = o$information),
    converged = lavInspect(fit, "converged"),
    max_abs_gradient = max(abs(lavInspect(fit, "optim.gradient"))),
    nobs = lavInspect(fit, "nobs"),
    norig = lavInspect(fit, "norig"),
    warnings = warns,
    params = tab(parameterEstimates(fit, standardized = TRUE)),
    fit_measures = as.list(unclass(fitMeasures(fit))),
    r2 = as.list(lavInspect(fit, "r2")))
  if (identical(args$missing, "ml")) {
    # the regression scores of every kept row (1-based data rows), those with no
    # indicator included
    out$pred_rows <- lavInspect(fit, "case.idx")
    out$lavpredict <- unname(drop(lavPredict(fit, method = "regression")[, latent]))
  }
  out
}

datasets <- list()

# ---------------------------------------------------------------- PoliticalDemocracy
pd <- PoliticalDemocracy
pd_model <- "dem60 =~ y1 + y2 + y3 + y4\ndem60 ~ x1 + x2 + x3\n"
pd_ind <- c("y1", "y2", "y3", "y4")
set.seed(1501)
pd$w <- round(exp(rnorm(nrow(pd), 0, 0.5)), 4)

rt <- round_trip(inject(pd, pd_ind, 4, 0.10, 1502), "pd_fiml")
datasets$pd_fiml <- list(file = rt$file, model = pd_model, fits = list(
  fiml = run_one(pd_model, rt$data, list(estimator = "ML", missing = "ml"), "dem60"),
  fiml_mlr = run_one(pd_model, rt$data, list(estimator = "MLR", missing = "ml"), "dem60"),
  weighted_fiml = run_one(pd_model, rt$data, list(estimator = "ML", missing = "ml",
                                                  sampling.weights = "w"), "dem60")))

rt <- round_trip(pd, "pd_weighted")
datasets$pd_weighted <- list(file = rt$file, model = pd_model, fits = list(
  weighted_robust_sem = run_one(pd_model, rt$data, list(estimator = "ML", se = "robust.sem",
                                                        sampling.weights = "w"), "dem60"),
  weighted_mlm = run_one(pd_model, rt$data, list(estimator = "MLM", sampling.weights = "w"),
                         "dem60")))

# ---------------------------------------------------------------- HolzingerSwineford1939
# numeric columns only; grade is missing for one pupil (a missing cause: excluded)
hs <- HolzingerSwineford1939[, c("id", "sex", "ageyr", "agemo", "grade", paste0("x", 1:9))]
set.seed(1503)
hs$w <- round(exp(rnorm(nrow(hs), 0, 0.6)), 4)
hs_vis <- "visual =~ x1 + x2 + x3\nvisual ~ sex + ageyr + grade\n"
hs_txt <- "textual =~ x4 + x5 + x6\ntextual ~ sex + ageyr + grade\n"

rt <- round_trip(inject(hs, c("x1", "x2", "x3"), 6, 0.08, 1504), "hs_fiml")
datasets$hs_fiml <- list(file = rt$file, model = hs_vis, fits = list(
  fiml = run_one(hs_vis, rt$data, list(estimator = "ML", missing = "ml"), "visual"),
  fiml_mlr = run_one(hs_vis, rt$data, list(estimator = "MLR", missing = "ml"), "visual")))

rt <- round_trip(hs, "hs_weighted")
datasets$hs_weighted <- list(file = rt$file, model = hs_txt, fits = list(
  weighted_robust_sem = run_one(hs_txt, rt$data, list(estimator = "ML", se = "robust.sem",
                                                      sampling.weights = "w"), "textual"),
  weighted_mlm = run_one(hs_txt, rt$data, list(estimator = "MLM", sampling.weights = "w"),
                         "textual")))

# ---------------------------------------------------------------- Zavkhan, weights = true
pillars <- list(
  ABS = c("dist_soum_km", "dist_vet_km", "dist_health_km", "solar_power", "mobile_coverage",
          "improved_water", "early_warning"),
  AST = c("herd_su", "hay_reserve_t", "shelter_quality", "has_motorbike", "has_vehicle",
          "n_durables"),
  SSN = c("social_insurance", "health_insurance", "remittances", "herder_loan",
          "livestock_insurance", "coop_member", "pug_member"),
  AC = c("head_edu_years", "n_income_sources", "nonlivestock_income_share",
         "dependency_ratio", "training", "otor_moves"))
ind <- c("fcs", "log_food_exp_ae", "hdds")
pillar_score <- function(X, weight) {
  p <- ncol(X)
  full <- suppressWarnings(fa(X, nfactors = p, rotate = "none", weight = weight))
  ss_full <- colSums(unclass(full$loadings)^2)
  k <- min(which(cumsum(ss_full) / sum(ss_full) > 0.95))
  f <- suppressWarnings(fa(X, nfactors = k, rotate = "none", fm = "pa", SMC = FALSE,
                           scores = "Bartlett", weight = weight))
  ss <- colSums(unclass(f$loadings)^2)
  drop(as.matrix(f$scores) %*% (ss / sum(ss)))
}
zk <- read.csv("examples/zavkhan/households.csv", check.names = FALSE)
keep <- complete.cases(zk[, c(unlist(pillars), ind, "hh_weight")])
dd <- zk[keep, ]
mdat <- data.frame(row.names = seq_len(nrow(dd)))
for (pn in names(pillars)) mdat[[pn]] <- pillar_score(dd[, pillars[[pn]]], dd$hh_weight)
for (y in ind) mdat[[y]] <- as.numeric(scale(dd[[y]]))
mdat$w <- dd$hh_weight
zk_model <- paste0("RCI =~ ", paste(ind, collapse = " + "), "\nRCI ~ ",
                   paste(names(pillars), collapse = " + "), "\n")
zfit <- run_one(zk_model, mdat, list(estimator = "ML", se = "robust.sem",
                                     sampling.weights = "w"), "RCI")
zfit$rows <- which(keep)
zfit$pillar_scores <- as.list(mdat[, names(pillars)])
datasets$zavkhan_weighted <- list(file = NULL, model = zk_model,
                                  fits = list(weighted_robust_sem = zfit))

# ---------------------------------------------------------------- Zavkhan, missing = "fiml"
# three households lose every indicator (data rows 4, 11 and 21): lavaan keeps them in the
# MIMIC (N and the pillars' moments); rima reports them unscored
zk <- read.csv("examples/zavkhan/households.csv", check.names = FALSE)
zk[c(4, 11, 21), ind] <- NA
keep <- complete.cases(zk[, unlist(pillars)])
dd <- zk[keep, ]
mdat <- data.frame(row.names = seq_len(nrow(dd)))
for (pn in names(pillars)) mdat[[pn]] <- pillar_score(dd[, pillars[[pn]]], NULL)
for (y in ind) mdat[[y]] <- as.numeric(scale(dd[[y]]))
zfit <- run_one(zk_model, mdat, list(estimator = "ML", se = "robust.huber.white",
                                     missing = "ml"), "RCI")
zfit$rows <- which(keep)
zfit$no_indicator_rows <- c(4L, 11L, 21L)
datasets$zavkhan_fiml <- list(file = NULL, model = zk_model,
                              fits = list(fiml_huber_white = zfit))

result <- list(lavaan_version = as.character(packageVersion("lavaan")),
               psych_version = as.character(packageVersion("psych")),
               datasets = datasets)
writeLines(toJSON(result, digits = NA, auto_unbox = TRUE, na = "null", null = "null",
                  pretty = FALSE),
           "tests/reference/rdata_mimic_reference.json")
cat("done\n")
