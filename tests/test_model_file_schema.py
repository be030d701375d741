"""A saved model file is checked field by field on load, and can be signed.

Each case edits one field of a real model file and recomputes the checksum (as anyone
can), so only the schema check or the signature stands between the edit and scoring.
"""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rima
from rima.errors import ModelFileError
from rima.model_file import checksum_of

EXAMPLE_DATA = Path(__file__).resolve().parents[1] / "examples" / "zavkhan" / "households.csv"


def _write(content, path):
    content = dict(content)
    content.pop("checksum", None)
    content["checksum"] = checksum_of(content)
    path.write_text(json.dumps(content, allow_nan=True))
    return path


@pytest.fixture()
def content(example_model_path):
    return json.loads(example_model_path.read_text())


def _refused(content, tmp_path, match):
    path = _write(content, tmp_path / "edited.json")
    with pytest.raises(ModelFileError, match=match):
        rima.load(path)


def test_an_untouched_file_loads(content, tmp_path):
    m = rima.load(_write(content, tmp_path / "same.json"))
    assert m.pillar_names == ["ABS", "AST", "SSN", "AC"]


@pytest.mark.parametrize("edit, match", [
    # arrays shorter than the variable list would be read past their end by the kernel
    (lambda c: c["variables"]["mean"].pop(), r"variables\.mean: has 25 value\(s\); the model needs 26"),
    (lambda c: c["variables"]["sd"].pop(), r"variables\.sd: has 25"),
    (lambda c: c["indicators"]["sd"].pop(), r"indicators\.sd: has 2 value"),
    (lambda c: c["pillar_score_weights"].pop(), r"pillar_score_weights: must be 26 rows"),
    (lambda c: c["pillar_membership"][3].pop(), r"pillar_membership\[3\]: must be 4 true/false"),
    (lambda c: c["prediction"]["intercept"].pop(), r"prediction\.intercept: has 7 value"),
    (lambda c: c["prediction"]["coef_causes"][0].pop(), r"prediction\.coef_causes\[0\]"),
    # an SD of 0 divides by zero; a negative one flips a variable
    (lambda c: c["variables"]["sd"].__setitem__(4, 0.0), r"variables\.sd\[4\]: must be positive"),
    (lambda c: c["indicators"]["sd"].__setitem__(0, -1.0), r"indicators\.sd\[0\]: must be positive"),
    (lambda c: c["variables"]["mean"].__setitem__(0, math.inf), r"variables\.mean\[0\]: must be finite"),
    (lambda c: c["variables"]["mean"].__setitem__(0, "12"), r"variables\.mean\[0\]: must be a number"),
    (lambda c: c["variables"]["mean"].__setitem__(0, True), r"variables\.mean\[0\]: must be a number"),
    (lambda c: c["pillar_score_weights"][0].__setitem__(0, math.nan), r"pillar_score_weights\[0\]\[0\]: must be finite"),
    (lambda c: c["prediction"]["intercept"].__setitem__(0, math.nan), r"prediction: the weights for households with every indicator must be finite"),
    # the RCI_100 scale: zero width, inverted, infinite, missing
    (lambda c: c["rci_100_scale"].update(max=c["rci_100_scale"]["min"]), r"rci_100_scale: the width 0\.0 is not positive"),
    (lambda c: c["rci_100_scale"].update(min=3.0, max=-3.0), r"rci_100_scale: the width -6\.0"),
    (lambda c: c["rci_100_scale"].update(max=math.inf), r"rci_100_scale: the ends must be finite"),
    (lambda c: c["rci_100_scale"].pop("max"), r"rci_100_scale: the ends must be finite"),
    # tables that are not tables
    (lambda c: c.update(options=["missing", "listwise"]), r"field options: must be a JSON object, got a list"),
    (lambda c: c["options"].update(missing="sometimes"), r"field options: .*missing = 'sometimes'"),
    (lambda c: c.update(spec="spec.toml"), r"field spec: must be a JSON object"),
    (lambda c: c.update(metadata=None), r"field metadata: must be a JSON object, got null"),
    (lambda c: c.pop("prediction"), r"field prediction: is missing"),
    # names that do not match the spec
    (lambda c: c["variables"]["names"].__setitem__(0, "herd_su"), r"variables\.names: lists 'herd_su' twice \(positions 1 and 8\)"),
    (lambda c: c["indicators"]["names"].reverse(), r"indicators\.names: .* differ from the spec"),
    (lambda c: c.update(pillars=["ABS", "AST", "SSN"]), r"pillars: .* differ from the spec"),
    (lambda c: c["prediction"].update(method="bartlett"), r"prediction\.method: 'bartlett' differs from options\.rci_prediction 'regression'"),
])
def test_inconsistent_files_are_refused_naming_the_field(content, tmp_path, edit, match):
    edit(content)
    _refused(content, tmp_path, match)


@pytest.mark.parametrize("version", [True, 1.0, "1", None, 2])
def test_format_version_must_be_a_supported_integer(content, tmp_path, version):
    content["format_version"] = version
    _refused(content, tmp_path, "format version .* is not supported")


def test_the_checksum_catches_an_edit_but_not_a_recomputed_one(content, tmp_path,
                                                             example_model_path):
    # what the checksum protects against: an edit without recomputing it
    c = dict(content)
    c["rci_100_scale"] = {"min": -1.0, "max": 9.0}
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(c, allow_nan=True))
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        rima.load(tampered)
    # ... and what it does not: the same edit with the checksum recomputed loads, and
    # changes the scores; only a signature check refuses it
    recomputed = _write(c, tmp_path / "recomputed.json")
    df = pd.read_csv(EXAMPLE_DATA).head(200)
    a = rima.load(example_model_path).score(df)["RCI_100"]
    b = rima.load(recomputed).score(df)["RCI_100"]
    assert not np.allclose(a, b, equal_nan=True)


@pytest.mark.parametrize("kind, verify_with", [("ed25519", "signer.key.pub"),
                                               ("ed25519", "signer.key"),
                                               ("hmac-sha256", "signer.key")])
def test_signed_models_load_only_with_a_trusted_key(example_model_path, tmp_path, kind,
                                                    verify_with):
    from rima.cli import main

    model = tmp_path / "model.json"
    model.write_bytes(example_model_path.read_bytes())
    key = tmp_path / "signer.key"
    with pytest.raises(SystemExit) as exc:
        main(["sign", str(model), "--key-file", str(key), "--new-key", kind])
    assert exc.value.code == 0
    m = rima.load(model, trusted_keys=[tmp_path / verify_with])
    assert m.signed_by is not None and len(m.signed_by) == 16
    # signing keeps the content: the checksum still holds without a key
    assert rima.load(model).signed_by is None

    # an edited signed file, checksum recomputed, is refused when a key is required
    c = json.loads(model.read_text())
    c["rci_100_scale"]["max"] += 1.0
    edited = _write(c, tmp_path / "edited.json")
    assert rima.load(edited).scale_range_[1] == c["rci_100_scale"]["max"]
    with pytest.raises(ModelFileError, match="signature .* is not valid for any trusted key"):
        rima.load(edited, trusted_keys=[tmp_path / verify_with])


def test_unsigned_model_and_wrong_key_are_refused(example_model_path, tmp_path):
    from rima.model_file import sign as sign_file
    from rima.signing import new_key, read_key

    new_key("ed25519", tmp_path / "a.key")
    new_key("ed25519", tmp_path / "b.key")
    with pytest.raises(ModelFileError, match="not signed, and a trusted key is required"):
        rima.load(example_model_path, trusted_keys=[tmp_path / "a.key.pub"])
    signed = sign_file(example_model_path, read_key(tmp_path / "a.key"),
                       out=tmp_path / "signed.json")
    with pytest.raises(ModelFileError, match="not valid for any trusted key"):
        rima.load(signed, trusted_keys=[tmp_path / "b.key.pub"])
    assert rima.load(signed, trusted_keys=[tmp_path / "b.key.pub",
                                           tmp_path / "a.key.pub"]).signed_by
    # a public key cannot sign; a short HMAC secret is refused
    with pytest.raises(rima.errors.RimaInputError, match="can only verify"):
        sign_file(example_model_path, read_key(tmp_path / "a.key.pub"))
    (tmp_path / "short").write_text("tooshort")
    with pytest.raises(rima.errors.RimaInputError, match="at least 32 bytes"):
        read_key(tmp_path / "short")


def test_score_and_serve_require_the_trusted_key(example_model_path, tmp_path):
    from rima.cli import main
    from rima.signing import new_key

    new_key("ed25519", tmp_path / "k")
    data = tmp_path / "d.csv"
    pd.read_csv(EXAMPLE_DATA).head(20).to_csv(data, index=False)
    with pytest.raises(SystemExit) as exc:
        main(["score", str(data), "--model", str(example_model_path), "--out",
              str(tmp_path / "s.csv"), "--trusted-key", str(tmp_path / "k.pub")])
    assert exc.value.code == 3 and not (tmp_path / "s.csv").exists()
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--model", str(example_model_path), "--port", "0",
              "--trusted-key", str(tmp_path / "k.pub")])
    assert exc.value.code == 3
