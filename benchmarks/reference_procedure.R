# The RIMA-II reference procedure (method.md §1-3: R psych + lavaan, as FAO's Shiny RIMA
# tool runs it), timed, for `rima bench`. Not a source of reference numbers (those come
# from tests/reference/*.R); this script only measures how long R takes.
#
#   Rscript benchmarks/reference_procedure.R job.json
#
# job.json: {"data": "households.csv", "pillars": {"ABS": [...], ...},
#            "indicators": [...], "repeat": 3, "boot": 0}
# Prints one JSON object: {"fit": [seconds of each repeat], "boot": seconds or null,
# "boot_replicates": B, "n": rows analysed}. Reading the CSV is not timed.
suppressPackageStartupMessages({
  library(psych)
  library(lavaan)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
job <- fromJSON(args[1], simplifyVector = TRUE)
pillars <- job$pillars
ind <- job$indicators
df <- read.csv(job$data, check.names = FALSE)

pillar_score <- function(X) {
  p <- ncol(X)
  full <- suppressWarnings(fa(X, nfactors = p, rotate = "none"))
  ss_full <- colSums(unclass(full$loadings)^2)
  k <- min(which(cumsum(ss_full) / sum(ss_full) > 0.95))
  f <- suppressWarnings(fa(X, nfactors = k, rotate = "none", fm = "pa", SMC = FALSE,
                           scores = "Bartlett"))
  ss <- colSums(unclass(f$loadings)^2)
  drop(as.matrix(f$scores) %*% (ss / sum(ss)))
}

procedure <- function(dd) {
  P <- data.frame(row.names = seq_len(nrow(dd)))
  for (pn in names(pillars)) P[[pn]] <- pillar_score(dd[, pillars[[pn]]])
  mdat <- P
  for (y in ind) mdat[[y]] <- as.numeric(scale(dd[[y]]))
  model <- paste0("RCI =~ ", paste(ind, collapse = " + "), "\n RCI ~ ",
                  paste(names(pillars), collapse = " + "))
  fit <- cfa(model, data = mdat, estimator = "ML", se = "robust.sem")
  rci <- drop(lavPredict(fit))
  rci100 <- 100 * (rci - min(rci)) / (max(rci) - min(rci))
  r <- abs(sapply(names(pillars), function(pn) cor(P[[pn]], rci)))
  list(rsm = 100 * r / sum(r), rci100 = rci100, est = parameterEstimates(fit)$est)
}

vars <- c(unlist(pillars), ind)
dd <- df[complete.cases(df[, vars]), ]
times <- numeric(0)
for (i in seq_len(max(1, job[["repeat"]]))) {
  t0 <- proc.time()[["elapsed"]]
  invisible(procedure(dd))
  times <- c(times, proc.time()[["elapsed"]] - t0)
}
boot_time <- NULL
B <- if (is.null(job$boot)) 0 else job$boot
if (B > 0) {
  set.seed(1)
  t0 <- proc.time()[["elapsed"]]
  for (b in seq_len(B)) invisible(procedure(dd[sample.int(nrow(dd), replace = TRUE), ]))
  boot_time <- proc.time()[["elapsed"]] - t0
}
cat(toJSON(list(fit = times, boot = boot_time, boot_replicates = B, n = nrow(dd)),
           auto_unbox = TRUE, null = "null", digits = NA))
cat("\n")
