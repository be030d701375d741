# Reference values for rima.classes, produced with base R and the survey package.
#
# Run from the repository root:  Rscript tests/reference/classes_reference.R
# Writes tests/reference/classes_reference.json: the datasets (generated here with a fixed
# seed, rounded to 4 decimals so Python reads exactly the numbers R used; the probabilities
# are written as 15-digit decimals for the same reason) and
#   - fixed-threshold classes by cut(right = FALSE): a value equal to a cut point goes up;
#   - quantile(type = 1) for equal weights;
#   - survey::svyquantile(qrule = "math") (inverse of the weighted empirical CDF) for
#     sampling weights, and quantile(type = 1) of rows replicated by integer weights.
suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
})
set.seed(20261129)
probs <- c(0.1, 0.333333333333333, 0.5, 0.666666666666667, 0.9)
thr <- c(100 / 3, 200 / 3)

math_q <- function(x, w, p) {
  d <- svydesign(ids = ~1, weights = ~w, data = data.frame(x = x, w = w))
  as.numeric(coef(svyquantile(~x, d, p, qrule = "math", ci = FALSE)))
}

cases <- list()
# 1. scores on the RCI_100 scale, some outside [0, 100], values either side of the
#    default cut points 100/3 and 200/3 (which Python computes as the same doubles)
x <- round(c(runif(200, -5, 105), 33.3333, 33.3334, 66.6666, 66.6667, 0, 100), 4)
cls <- as.character(cut(x, breaks = c(-Inf, thr, Inf), right = FALSE,
                        labels = c("low", "medium", "high")))
w <- round(runif(length(x), 0.5, 12), 4)
cases$scores <- list(
  x = x, w = w, probs = probs, thresholds = thr, classes = cls,
  quantile_type1 = as.numeric(quantile(x, probs, type = 1, names = FALSE)),
  svyquantile_math = math_q(x, w, probs)
)
# 2. integer weights: the weighted quantile equals type 1 on replicated rows
x2 <- round(rnorm(60, 50, 15), 4)
w2 <- sample(1:9, 60, replace = TRUE)
cases$integer_weights <- list(
  x = x2, w = w2, probs = probs,
  replicated_type1 = as.numeric(quantile(rep(x2, w2), probs, type = 1, names = FALSE)),
  svyquantile_math = math_q(x2, w2, probs)
)
# 3. four classes with custom cut points, values exactly on them included
x3 <- c(round(runif(100, 0, 100), 4), 20, 40, 60)
thr3 <- c(20, 40, 60)
cases$four_classes <- list(
  x = x3, thresholds = thr3,
  classes = as.character(cut(x3, breaks = c(-Inf, thr3, Inf), right = FALSE,
                             labels = c("very_low", "low", "medium", "high")))
)
writeLines(toJSON(cases, digits = NA, auto_unbox = FALSE),
           "tests/reference/classes_reference.json")
