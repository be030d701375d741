# Reference values for rima.analysis.impact (tests/test_analysis_impact.py).
#   cd tests/reference && Rscript impact_reference.R
# Data: impact_data.csv (make_impact_data.py). Two-way fixed effects by lm with household
# and round dummies, survey weights hh_weight, cluster-robust covariance by
# sandwich::vcovCL(type = "HC0", cadjust = TRUE), i.e. G/(G-1), times (N-1)/(N-K) with K
# the slope coefficients + 1 (household effects are nested in the soum clusters, so they
# are not counted, as in Stata's reghdfe and fixest's default). The doubly robust DiD
# (Sant'Anna and Zhao 2020, panel case) is computed from its published formulas with glm
# and lm, its influence function summed by soum.
suppressPackageStartupMessages({library(sandwich); library(jsonlite)})
d <- read.csv("impact_data.csv", stringsAsFactors = FALSE, encoding = "UTF-8")
d$hh <- factor(d$hhid)
d$rf <- factor(d$round)
G <- length(unique(d$soum))

twfe <- function(formula, terms) {
  fit <- lm(formula, data = d, weights = hh_weight)
  V <- vcovCL(fit, cluster = d$soum, type = "HC0", cadjust = TRUE)
  N <- nrow(d)
  K <- length(terms) + (nlevels(d$rf) - 1) + 1
  V <- V[terms, terms, drop = FALSE] * (N - 1) / (N - K)
  list(est = unname(coef(fit)[terms]), se = unname(sqrt(diag(V))), V = unname(V))
}

did <- twfe(fcs ~ d + hh + rf, "d")
d$e1 <- d$g * (d$round == 1)
d$e3 <- d$g * (d$round == 3)
es <- twfe(fcs ~ e1 + e3 + hh + rf, c("e1", "e3"))
pre_F <- es$est[1]^2 / es$V[1, 1]

# doubly robust DiD: change from round 2 (baseline) to round 3
b <- d[d$round == 2, ]; b <- b[order(b$hhid), ]
p <- d[d$round == 3, ]; p <- p[order(p$hhid), ]
stopifnot(all(b$hhid == p$hhid))
dy <- p$fcs - b$fcs
D <- b$g
n <- length(dy)
w <- b$hh_weight / mean(b$hh_weight)
X <- cbind(1, b$soum_dzud_forecast, b$n_children)
ps_fit <- suppressWarnings(glm(D ~ -1 + X, family = binomial(), weights = w))
ps <- pmin(fitted(ps_fit), 1 - 1e-6)
or_fit <- lm(dy ~ -1 + X, weights = w * (1 - D))
m <- as.vector(X %*% coef(or_fit))
w1 <- w * D
w0 <- w * ps * (1 - D) / (1 - ps)
eta1 <- sum(w1 * (dy - m)) / sum(w1)
eta0 <- sum(w0 * (dy - m)) / sum(w0)
att <- eta1 - eta0
wc <- w * (1 - D)
lin_ols <- (wc * (dy - m)) * X %*% solve(crossprod(X * wc, X) / n)
lin_ps <- (w * (D - ps)) * X %*% (summary(ps_fit)$cov.unscaled * n)
inf_t <- (w1 * (dy - m) - w1 * eta1 - lin_ols %*% colMeans(w1 * X)) / mean(w1)
M2 <- colMeans((w0 * (dy - m - eta0)) * X)
M3 <- colMeans(w0 * X)
inf_c <- (w0 * (dy - m) - w0 * eta0 + lin_ps %*% M2 - lin_ols %*% M3) / mean(w0)
psi <- as.vector(inf_t - inf_c)
cs <- tapply(psi / n, b$soum, sum)
dr_se <- sqrt(G / (G - 1) * sum(cs^2))

out <- list(
  n_rows = nrow(d), clusters = G,
  did = list(est = did$est, se = did$se),
  event_study = list(rounds = c(1, 3), est = es$est, se = es$se, pretrend_F = pre_F),
  dr_did = list(est = att, se = dr_se, covariates = c("soum_dzud_forecast", "n_children")),
  R_version = R.version.string, sandwich = as.character(packageVersion("sandwich"))
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "impact_reference.json")
