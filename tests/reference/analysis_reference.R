# Reference values for rima.analysis regressions: survey-weighted, soum-clustered OLS,
# logit and probit, from R's sandwich (vcovCL, HC1 = Stata's small-sample factor) and
# survey (svyglm, cluster design ids = ~soum).
#
# Data: analysis_data.csv.gz (simulated Zavkhan households, seed 11, written once by
# rima.simulate and committed). Run from the repository root:
#   Rscript tests/reference/analysis_reference.R
# Output: tests/reference/analysis_reference.json

suppressPackageStartupMessages({
  library(sandwich)
  library(survey)
  library(jsonlite)
})

d <- read.csv(gzfile("tests/reference/analysis_data.csv.gz"), stringsAsFactors = FALSE)
# Interactions use the RCI (here the true resilience) centred at its weighted mean.
rc <- d$resilience - weighted.mean(d$resilience, d$hh_weight)
d$res_x_loss <- rc * d$loss_share
d$res_x_sev <- rc * d$severity
d$dzud <- as.numeric(d$dzud_class == "dzud")
d$dzud_like <- as.numeric(d$dzud_class == "dzud-like")
d$below35 <- as.numeric(d$fcs < 35)

design <- svydesign(ids = ~soum, weights = ~hh_weight, data = d)

one <- function(fit, sfit) {
  V <- vcovCL(fit, cluster = ~soum, type = "HC1")
  list(
    terms = names(coef(fit)),
    est = unname(coef(fit)),
    se_vcovCL_HC1 = unname(sqrt(diag(V))),
    vcov_vcovCL_HC1 = unname(V),
    est_svyglm = unname(coef(sfit)),
    se_svyglm = unname(sqrt(diag(vcov(sfit)))),
    nobs = nrow(d),
    n_clusters = length(unique(d$soum))
  )
}

f_ols <- fcs ~ resilience + loss_share + severity + res_x_loss + res_x_sev
ols <- lm(f_ols, data = d, weights = hh_weight)
s_ols <- svyglm(f_ols, design = design)

f_dz <- fcs ~ resilience + loss_share + dzud + dzud_like
ols_dz <- lm(f_dz, data = d, weights = hh_weight)
s_ols_dz <- svyglm(f_dz, design = design)

f_bin <- below35 ~ resilience + loss_share + severity
# tight convergence so the reference is the maximiser, not glm's default stopping point
ctl <- glm.control(epsilon = 1e-14, maxit = 100)
logit <- glm(f_bin, data = d, weights = hh_weight, family = quasibinomial(link = "logit"),
             control = ctl)
s_logit <- svyglm(f_bin, design = design, family = quasibinomial(link = "logit"),
             control = ctl)
probit <- glm(f_bin, data = d, weights = hh_weight, family = quasibinomial(link = "probit"),
             control = ctl)
s_probit <- svyglm(f_bin, design = design, family = quasibinomial(link = "probit"),
             control = ctl)

# Targeting: weighted share of low-resilience households by soum (domain means of a
# one-stage weighted design), with an illustrative RCI_100 = 50 + 18 * resilience.
d$RCI_100 <- 50 + 18 * d$resilience
d$low <- as.numeric(d$RCI_100 < 100 / 3)
d1 <- svydesign(ids = ~1, weights = ~hh_weight, data = d)
sb <- svyby(~low, ~soum, d1, svymean)

out <- list(
  generator = paste("R", getRversion(), "sandwich", packageVersion("sandwich"),
                    "survey", packageVersion("survey")),
  weighted_mean_resilience = weighted.mean(d$resilience, d$hh_weight),
  ols_severity = one(ols, s_ols),
  ols_dzud_class = one(ols_dz, s_ols_dz),
  logit = one(logit, s_logit),
  probit = one(probit, s_probit),
  share_low_by_soum = list(soum = as.character(sb$soum), share = unname(coef(sb)),
                           se = unname(SE(sb)))
)
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
      "tests/reference/analysis_reference.json")
