"""Scores stay identical through refactors: re-score the sample and the test split with every
bundled model and compare with the expected output committed in tests/regression/expected/.

A deliberate change of scores regenerates the files (`python -m tests.regression.expected`)
in its own commit that says why.
"""

import json

import pytest

from tests.regression.expected import INPUTS, MODELS, path_for, read_inputs, score

# The default model runs a float32 encoder; another CPU's kernels may move a rounded score by
# one step in its last (4th) decimal. Everything else must match exactly.
TOLERANCE = {"default": 1e-4, "fast": 0.0, "rules": 0.0}


def _scores_of(row: dict) -> tuple:
    return (row["risk"], row["priority"],
            *(x for i in row["indicators"] for x in (i["score"], *(e["score"] for e in i["evidence"]))))


def _without_scores(row: dict) -> dict:
    out = dict(row, risk=None, priority=None)
    out["indicators"] = [
        dict(i, score=None, evidence=[dict(e, score=None) for e in i["evidence"]])
        for i in row["indicators"]
    ]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("input_name", sorted(INPUTS))
def test_scores_match_the_committed_expected_output(model_name, input_name):
    with open(path_for(model_name, input_name), encoding="utf-8") as f:
        expected = [json.loads(line) for line in f]
    got = score(model_name, read_inputs(input_name))
    assert len(got) == len(expected)
    tol = TOLERANCE[model_name]
    for e, g in zip(expected, got, strict=True):
        assert _without_scores(g) == _without_scores(e), e["id"]
        for a, b in zip(_scores_of(g), _scores_of(e), strict=True):
            assert (a is None and b is None) or abs(a - b) <= tol, (e["id"], a, b)
