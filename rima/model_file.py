"""Saved models (`model.json`): everything needed to score new households exactly as the
fitted ones, through the same kernel (`rima._kernels.score.score_households`).

The file is JSON: floats are written with Python's shortest round-trip repr, so a loaded
model holds bit-identical arrays and reproduces the fitted scores exactly.

What protects a model file: a sha256 checksum of the canonical content (every key but
`checksum` and `signature`) detects truncation and accidental edits, but not a deliberate
edit, since anyone can recompute it; `rima.load` checks every field against the schema
(`rima.model_schema`), so no file can make scoring read past an array or divide by zero;
only a signature (`rima.signing`, `rima sign`) checked against a trusted key
(`load(path, trusted_keys=...)`) shows who wrote the file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rima._kernels.score import score_households
from rima.columns import convert_rows, numeric_sources
from rima.config import threads_for
from rima.errors import DataError, ModelFileError
from rima.row_status import (
    mark_bad_cells,
    missing_reason,
    nonfinite_reason,
    pack_keys,
    status_codes_from_keys,
    status_column,
)
from rima.score_table import id_values, score_frame

# rows scored at a time by FittedModel.score
SCORE_CHUNK = 1 << 17

FORMAT = "rima-model"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)


def canonical_json(content: dict) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


def checksum_of(content: dict) -> str:
    """The "sha256:..." checksum of a model file's content (every field but `checksum`
    and `signature`, so signing a file leaves its checksum valid)."""
    from rima.signing import canonical

    return "sha256:" + hashlib.sha256(canonical(content)).hexdigest()


class FittedModel:
    """A fitted RIMA-II model that scores new households on the training scale.

    Made by `rima.fit` (``result.model``) or read by `rima.load`; not built by hand.

    Attributes
    ----------
    spec : Spec
        The spec the model was fitted with.
    pillar_names, variables, indicators : list of str
        The pillars and the columns the model reads, in its column order.
    mean_, scale_ : ndarray of shape (p,)
        Training means and n - 1 standard deviations of the variables.
    weights_, member_ : ndarray of shape (p, K)
        Pillar score weights on the standardised variables (factor score weights x
        variance weights x signs) and pillar membership.
    ymean_, ysd_ : ndarray of shape (m,)
        Indicator means and standard deviations.
    icpt_, cx_, cy_ : ndarray
        MIMIC prediction weights for each pattern of missing indicators (bit j set =
        indicator j missing).
    scale_range_ : tuple of float
        The RCI values (lo, hi) mapped to 0 and 100 by RCI_100.
    prediction : str
        How the RCI is predicted ("regression", "bartlett" or "causes").
    metadata : dict
        rima version, training fingerprint, fit summary.
    signed_by : str or None
        Key id of the trusted key that signed the file (None: not checked).

    Examples
    --------
    >>> from rima.example import EXAMPLE_SPEC
    >>> survey = rima.simulate(n_households=400, seed=1)
    >>> model = rima.fit(survey.households, EXAMPLE_SPEC, progress=False).model
    >>> scores = model.score(survey.households.head(3))
    >>> list(scores.columns)
    ['hhid', 'ABS', 'AST', 'SSN', 'AC', 'RCI', 'RCI_100', 'status', 'out_of_range']
    """

    def __init__(self, *, spec_dict, options, pillar_names, variables, mean, scale, weights,
                 member, indicators, ymean, ysd, icpt, cx, cy, lo, hi, orientation,
                 prediction, mimic, metadata, signed_by=None):
        from rima.spec import load_spec

        self.spec_dict = spec_dict
        self.spec = load_spec(spec_dict)
        self.options = options
        self.pillar_names = list(pillar_names)
        self.variables = list(variables)
        self.mean_ = np.asarray(mean, dtype=float)
        self.scale_ = np.asarray(scale, dtype=float)
        self.weights_ = np.asarray(weights, dtype=float).reshape(len(self.variables), -1)
        self.member_ = np.asarray(member, dtype=bool).reshape(self.weights_.shape)
        self.indicators = list(indicators)
        self.ymean_ = np.asarray(ymean, dtype=float)
        self.ysd_ = np.asarray(ysd, dtype=float)
        npat = 2 ** len(self.indicators)
        self.icpt_ = np.asarray(icpt, dtype=float).reshape(npat)
        self.cx_ = np.asarray(cx, dtype=float).reshape(npat, len(self.pillar_names))
        self.cy_ = np.asarray(cy, dtype=float).reshape(npat, len(self.indicators))
        self.scale_range_ = (float(lo), float(hi))
        self.orientation = orientation
        self.prediction = prediction
        self.mimic = mimic
        self.metadata = metadata
        # key_id of the trusted key that signed the loaded file (None: not checked)
        self.signed_by = signed_by

    @property
    def id(self) -> str:
        """The household id column."""
        return self.spec.id

    @property
    def required_columns(self) -> list[str]:
        """Columns `score` needs: the id, the variables and (unless the RCI is predicted
        from the causes alone) the indicators."""
        need = [self.id, *self.variables]
        if self.prediction != "causes":
            need += self.indicators
        return need

    # ------------------------------------------------------------------ scoring
    def score_arrays(self, X: np.ndarray, Y: np.ndarray, out: tuple | None = None,
                     at: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pillar scores, RCI and RCI_100 of arrays in the model's column order.

        Parameters
        ----------
        X : ndarray of shape (n, p)
            The variables (`variables` order), NaN = missing.
        Y : ndarray of shape (n, m)
            The indicators (`indicators` order), NaN = missing.
        out : tuple of arrays, optional
            (pillars, rci, rci_100) arrays to write into, from row `at`
            (`rima._kernels.score.score_households`).
        at : int, default 0
            First row of `out` to write.

        Returns
        -------
        pillars : ndarray of shape (n, K)
        rci, rci_100 : ndarray of shape (n,)
        """
        lo, hi = self.scale_range_
        with threads_for(len(X)):
            return score_households(X, self.mean_, self.scale_, self.weights_, self.member_,
                                    Y, self.ymean_, self.ysd_, self.icpt_, self.cx_, self.cy_,
                                    lo, hi, out=out, at=at)

    def score_batch(self, X: np.ndarray, Y: np.ndarray, out: tuple | None = None,
                    at: int = 0, missing: np.ndarray | None = None) -> tuple:
        """Score arrays in the model's column order, with each row's status.

        `score` and the streaming scorer (`rima.streaming`) both go through here.

        Parameters
        ----------
        X, Y : ndarray
            Variables (n, p) and indicators (n, m) in the model's column order; NaN =
            missing.
        out, at : optional
            As in `score_arrays`.
        missing : ndarray of uint64, optional
            The rows' missing cells as `rima.row_status.pack_keys` bit masks over the
            variables then the indicators, when the caller recorded them while converting.

        Returns
        -------
        tuple
            (pillars (n, K), rci (n,), rci_100 (n,), status codes (n,) int32, reasons), with
            status = reasons[code] and reasons[0] == "ok".
        """
        pillars, rci, rci100 = self.score_arrays(X, Y, out, at)
        n = X.shape[0]
        P, r, r100 = pillars, rci, rci100  # views of the rows just scored
        use_y = self.prediction != "causes"
        needed = self.variables + (self.indicators if use_y else [])
        bad = np.flatnonzero(~(np.isfinite(r) & np.isfinite(r100)))
        if missing is None:
            miss = np.isnan(X[bad])
            if use_y:
                miss = np.concatenate([miss, np.isnan(Y[bad])], axis=1)
            keys = pack_keys(miss)
        else:
            keys = missing[bad]
        partial = ([c for c in self.indicators if c in needed]
                   if self.options.get("missing") == "fiml" else ())
        codes, reasons = status_codes_from_keys(n, bad, keys, needed, partial)
        if bad.size:
            self._name_nonfinite(X, Y if use_y else None, bad, codes, reasons)
            # a row that is not "ok" carries no score that is not finite
            r[bad] = np.nan
            r100[bad] = np.nan
            Pb = P[bad]
            Pb[~np.isfinite(Pb)] = np.nan
            P[bad] = Pb
        return pillars, rci, rci100, codes, reasons

    def _name_nonfinite(self, X, Y, bad, codes, reasons):
        """Rows that missed no value yet got no finite score: an infinite or huge input
        overflowed. Their status names the column and the value, instead of "not scored"
        or an "ok" beside inf."""
        for k in np.flatnonzero(codes[bad] > 0):
            i = int(bad[k])
            if reasons[codes[i]] != missing_reason(()):
                continue
            x = np.asarray(X[i], dtype=float)
            names = list(self.variables)
            with np.errstate(all="ignore"):
                z = (x - self.mean_) / self.scale_ * np.abs(self.weights_).max(axis=1)
                if Y is not None:
                    y = np.asarray(Y[i], dtype=float)
                    x = np.concatenate([x, y])
                    z = np.concatenate([z, (y - self.ymean_) / self.ysd_])
                    names += list(self.indicators)
                j = np.flatnonzero(~np.isfinite(x))
                if not j.size:
                    j = np.flatnonzero(~np.isfinite(z))
                if not j.size:
                    j = [int(np.nanargmax(np.abs(z)))] if np.isfinite(z).any() else [0]
            c = int(j[0])
            msg = nonfinite_reason(names[c], x[c])
            if msg not in reasons:
                reasons.append(msg)
            codes[i] = reasons.index(msg)

    def score(self, df: pd.DataFrame) -> pd.DataFrame:
        """Score households on the training scale.

        Parameters
        ----------
        df : DataFrame
            One row per household with `required_columns`.

        Returns
        -------
        DataFrame
            One row per input row, in order: the id, one column per pillar, ``RCI``,
            ``RCI_100``, ``status`` ("ok" or the reason the row was not scored) and
            ``out_of_range`` (RCI_100 outside [0, 100]).

        Raises
        ------
        DataError
            `df` is not a DataFrame, a required column is missing or an id is not usable.
        """
        if not isinstance(df, pd.DataFrame):
            raise DataError(f"score needs a pandas DataFrame, got {type(df).__name__}")
        if isinstance(df.columns, pd.MultiIndex):
            raise DataError(f"the data has {df.columns.nlevels}-level column names "
                            "(a MultiIndex); flatten them to one name per column first, e.g. "
                            "df.columns = ['_'.join(map(str, c)) for c in df.columns]")
        from rima.io import check_unique_columns

        check_unique_columns([str(c) for c in df.columns])
        missing = [c for c in self.required_columns if c not in df.columns]
        if missing:
            from rima.io import columns_hint
            from rima.suggest import did_you_mean

            cols = [str(c) for c in df.columns]
            raise ModelFileError(
                f"the data lacks {len(missing)} column(s) the model needs: "
                + "; ".join(f"{c}{did_you_mean(c, cols)}" for c in missing)
                + columns_hint(cols, self.required_columns))
        n, K = len(df), len(self.pillar_names)
        use_y = self.prediction != "causes"
        # a non-numeric cell flags its row (status names column and value), never the batch
        bad: list = []
        src_x = numeric_sources(df, self.variables, bad)
        src_y = numeric_sources(df, self.indicators, bad) if use_y else None
        # rows are converted a chunk at a time into the same two buffers, which stay in
        # warm memory, instead of into an n x p copy of fresh pages; the kernel writes the
        # scores straight into one (K + 2, n) block that becomes the frame's float columns
        p, m, step = len(self.variables), len(self.indicators), min(n, SCORE_CHUNK)
        buf_x = np.empty(p * step)
        buf_y = np.full(m * step, np.nan)
        marks = np.empty((step, -(-(p + m) // 64)), dtype=np.uint64)
        out = np.empty((K + 2, n))
        codes = np.empty(n, dtype=np.int32)
        reasons = {"ok": 0}
        for a in range(0, n, SCORE_CHUNK):
            b = min(n, a + SCORE_CHUNK)
            # (p, rows) views with contiguous rows, as the column kernel is compiled for
            miss = marks[:b - a]
            miss[:] = 0
            # infinite cells stay in: the row's status then names the cell, as streaming does
            X = convert_rows(src_x, self.variables, a, b, buf_x[:p * (b - a)].reshape(p, -1),
                             miss, keep_infinite=True).T
            Y = buf_y[:m * (b - a)].reshape(m, -1)
            if use_y:
                convert_rows(src_y, self.indicators, a, b, Y, miss, first_bit=p,
                             keep_infinite=True)
            Y = Y.T
            *_, c, why = self.score_batch(X, Y, out=(out[:K].T, out[K], out[K + 1]), at=a,
                                          missing=miss)
            to_global = np.array([reasons.setdefault(r, len(reasons)) for r in why], np.int32)
            codes[a:b] = to_global[c]
        reasons = list(reasons)
        if bad:
            mark_bad_cells(sorted(bad, key=lambda t: t[0]), 1, list(out), codes, reasons)
        ids = df[self.id]
        return score_frame(out, ids, id_values(ids), self.pillar_names,
                           status_column(codes, reasons), with_range=True)

    # ------------------------------------------------------------------ file
    def to_dict(self) -> dict:
        """The model file's content (without its checksum).

        Returns
        -------
        dict
            The fields of ``model.json`` (format, spec, options, scoring arrays, MIMIC
            estimates, RCI_100 scale, metadata).
        """
        content = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "rima_version": self.metadata.get("rima_version"),
            "spec": self.spec_dict,
            "options": self.options,
            "pillars": self.pillar_names,
            "variables": {"names": self.variables, "mean": self.mean_.tolist(),
                          "sd": self.scale_.tolist()},
            "orientation": self.orientation,
            "pillar_score_weights": self.weights_.tolist(),
            "pillar_membership": self.member_.tolist(),
            "indicators": {"names": self.indicators, "mean": self.ymean_.tolist(),
                           "sd": self.ysd_.tolist()},
            "prediction": {"method": self.prediction, "intercept": self.icpt_.tolist(),
                           "coef_causes": self.cx_.tolist(),
                           "coef_indicators": self.cy_.tolist(),
                           "pattern": "bit j set = indicator j missing"},
            "mimic": self.mimic,
            "rci_100_scale": {"min": self.scale_range_[0], "max": self.scale_range_[1]},
            "metadata": self.metadata,
        }
        return content

    def save(self, path: str | Path) -> Path:
        """Write the model as ``model.json`` with its checksum.

        Parameters
        ----------
        path : str or Path
            The file to write.

        Returns
        -------
        Path
            `path`.
        """
        content = self.to_dict()
        content["checksum"] = checksum_of(content)
        path = Path(path)
        path.write_text(json.dumps(content, indent=1, allow_nan=True) + "\n", encoding="utf-8")
        return path

    def __repr__(self):
        lo, hi = self.scale_range_
        return (f"<FittedModel pillars={self.pillar_names} indicators={self.indicators} "
                f"prediction={self.prediction} RCI scale=[{lo:.4g}, {hi:.4g}]>")

    def _repr_html_(self):
        from rima.display import card_html

        lo, hi = self.scale_range_
        md = self.metadata
        return card_html("Saved RIMA-II model", [
            ("pillars", ", ".join(self.pillar_names)),
            ("indicators", ", ".join(self.indicators)),
            ("prediction", self.prediction),
            ("RCI_100 scale", f"RCI {lo:.4g} -> 0, {hi:.4g} -> 100"),
            ("trained on", (f"{md.get('n_scored', '?')} of {md.get('n_rows', '?')} rows, "
                            f"{md.get('source') or 'data frame'}")),
            ("fingerprint", md.get("training_fingerprint", "")),
            ("rima", md.get("rima_version", ""))])


def load(path: str | Path, trusted_keys: Iterable[Any] | None = None) -> FittedModel:
    """Read and check a saved model (``model.json``).

    Parameters
    ----------
    path : str or Path
        The model file written by `rima.fit` (``result.save``) or `FittedModel.save`.
    trusted_keys : iterable of key files or `rima.signing.Key`, optional
        When given, the file must carry a signature made by one of them (`rima sign`).

    Returns
    -------
    FittedModel
        The model, ready to `score` new households.

    Raises
    ------
    ModelFileError
        The file is missing, truncated, edited (checksum), of another format version,
        fails the schema, or lacks a trusted signature; the message says which.

    Examples
    --------
    >>> from rima.example import EXAMPLE_SPEC
    >>> survey = rima.simulate(n_households=400, seed=1)
    >>> result = rima.fit(survey.households, EXAMPLE_SPEC, progress=False)
    >>> path = result.model.save("model.json")
    >>> rima.load(path).scale_range_ == result.model.scale_range_
    True
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: model file not found")
    try:
        # utf-8-sig: a file saved again by Windows Notepad starts with a byte order mark
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: cannot read the model file: {exc}") from exc
    try:
        content = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: not a complete JSON document (truncated or corrupted?):"
                             f" {exc}") from exc
    except RecursionError:
        raise ModelFileError(f"{path}: not a rima model file (JSON nested too deeply to "
                             "read)") from None
    except ValueError as exc:  # an integer of thousands of digits
        raise ModelFileError(f"{path}: not a rima model file: {exc}") from None
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a rima model file (format is not {FORMAT!r})")
    version = content.get("format_version")
    # `true == 1` in Python: only a real integer is a version
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        raise ModelFileError(
            f"{path}: model file format version {version!r} is not supported by this rima "
            f"(supports {', '.join(map(str, SUPPORTED_VERSIONS))}; written by rima "
            f"{content.get('rima_version')}); refit the model or use a matching rima version")
    checksum = content.pop("checksum", None)
    if checksum is None:
        raise ModelFileError(f"{path}: model file has no checksum")
    actual = checksum_of(content)
    if actual != checksum:
        raise ModelFileError(f"{path}: checksum mismatch: the model file was edited or "
                             "damaged after it was written; refit or restore it")
    signed_by = None
    if trusted_keys is not None:
        from rima.signing import Key, read_key, verify

        keys = [k if isinstance(k, Key) else read_key(k) for k in trusted_keys]
        if not keys:
            raise ModelFileError(f"{path}: trusted keys were required but none was given")
        signed_by = verify(content, keys, path)
    from rima.model_schema import check_content

    check_content(content, path)
    try:
        pred = content["prediction"]
        return FittedModel(
            spec_dict=content["spec"], options=content["options"], pillar_names=content["pillars"],
            variables=content["variables"]["names"], mean=content["variables"]["mean"],
            scale=content["variables"]["sd"], weights=content["pillar_score_weights"],
            member=content["pillar_membership"], indicators=content["indicators"]["names"],
            ymean=content["indicators"]["mean"], ysd=content["indicators"]["sd"],
            icpt=pred["intercept"], cx=pred["coef_causes"], cy=pred["coef_indicators"],
            lo=content["rci_100_scale"]["min"], hi=content["rci_100_scale"]["max"],
            orientation=content["orientation"], prediction=pred["method"],
            mimic=content["mimic"], metadata=content["metadata"], signed_by=signed_by)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: model file is incomplete or malformed: {exc!r}") from exc


def sign(path, key, out=None) -> Path:
    """Add a signature to a model file (checked by `rima.load` first), written atomically
    to `out` (default: in place)."""
    import os

    from rima.signing import signature

    path = Path(path)
    load(path)  # sign only what rima would accept
    content = json.loads(path.read_text(encoding="utf-8"))
    content["signature"] = signature(content, key)
    out = Path(out) if out else path
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(json.dumps(content, indent=1, allow_nan=True) + "\n", encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
