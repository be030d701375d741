# Reference values for weighted principal components (psych::principal(weight =)) on R's
# own data sets: psych's bfi (personality items) and psychTools' ability (binary items).
#
# Run from the repository root:  Rscript tests/reference/rdata_pca_reference.R
# Writes tests/reference/rdata_pca_data/<name>.csv.gz (complete rows of the items and a
# sampling weight drawn here with a fixed seed) and tests/reference/rdata_pca_reference.json.
#
# principal(weight =) extracts the components from the weighted correlations (cor.wt),
# solves its score weights on that same matrix, and applies them to the data standardised
# without weights.
suppressPackageStartupMessages({
  library(psych)
  library(GPArotation)
  library(jsonlite)
})

out_dir <- "tests/reference/rdata_pca_data"
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
as_mat <- function(L) { L <- unclass(L); dimnames(L) <- NULL; L }
n_score_rows <- 100

sets <- list(
  bfi = list(X = psych::bfi[, c(paste0("A", 1:5), paste0("C", 1:5), paste0("E", 1:5))],
             seed = 1505, fits = list(c(1, "none"), c(3, "none"), c(3, "varimax"),
                                      c(3, "oblimin"), c(3, "promax"))),
  ability = list(X = psychTools::ability, seed = 1506,
                 fits = list(c(1, "none"), c(2, "varimax"), c(2, "oblimin"))))

res <- list(psych_version = as.character(packageVersion("psych")), datasets = list())
for (name in names(sets)) {
  s <- sets[[name]]
  X <- s$X[complete.cases(s$X), ]
  set.seed(s$seed)
  w <- round(exp(rnorm(nrow(X), 0, 0.6)), 4)
  df <- data.frame(X, weight = w)
  f <- file.path(out_dir, paste0(name, ".csv.gz"))
  con <- gzfile(f, "w")
  write.csv(df, con, row.names = FALSE, quote = FALSE)
  close(con)
  df <- read.csv(f)
  X <- as.matrix(df[, colnames(X)])
  w <- df$weight
  fits <- list()
  for (fk in s$fits) {
    k <- as.integer(fk[1])
    rot <- fk[2]
    pr <- suppressWarnings(suppressMessages(principal(X, nfactors = k, rotate = rot,
                                                      weight = w)))
    item <- list(k = k, rotation = rot, loadings = as_mat(pr$loadings),
                 weights = as_mat(pr$weights),
                 scores = as_mat(pr$scores[seq_len(n_score_rows), , drop = FALSE]),
                 communality = unname(pr$communality), values = unname(pr$values))
    if (!is.null(pr$Phi)) item$Phi <- as_mat(pr$Phi)
    # what rima's unweighted-correlation weights would give, to show the gap is real
    item$weights_unweighted_r <- as_mat(solve(cor(X), unclass(pr$Structure)))
    fits[[paste(k, rot, sep = "/")]] <- item
  }
  res$datasets[[name]] <- list(file = basename(f), columns = colnames(X), n = nrow(X),
                               fits = fits)
  cat(name, "done\n")
}
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, pretty = FALSE),
           "tests/reference/rdata_pca_reference.json")
