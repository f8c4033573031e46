"""Hand-derived 2x2 checks of the literal LRP reference (tests/lrp_reference.py).

Layer used throughout: a = [1, -2], W = [[1, 2], [3, -1]], b = [0.5, -1], R = [2, 3], so that
z = W a + b = [-2.5, 4], W+ = [[1, 2], [3, 0]], W- = [[0, 0], [0, -1]], a+ = [1, 0], a- = [0, -2].
"""

import numpy as np
import pytest

from lrp_reference import layer_matrix, lrp_rule

A = np.array([1.0, -2.0])
W = np.array([[1.0, 2.0], [3.0, -1.0]])
B = np.array([0.5, -1.0])
R = np.array([2.0, 3.0])

# Z: s = R / z = [-0.8, 0.75]; W^T s = [1.45, -2.35].
CASES = [
    ("z", {}, [1.45, 4.7]),
    # z + 0.5 s(z) = [-3, 4.5]; s = [-2/3, 2/3]; W^T s = [4/3, -2]
    ("epsilon", {"epsilon": 0.5}, [4 / 3, 4.0]),
    # std([1, -2]) = 1.5 -> eps 0.75; z' = [-3.25, 4.75]
    ("std_x_epsilon", {"std_factor": 0.5}, [-8 / 13 + 36 / 19, 32 / 13 + 24 / 19]),
    # z+ = [1, 5] (no bias); s = [2, 0.6]
    ("z_plus", {}, [3.8, 1.2]),
    # AlphaBeta terms without bias: W+ a+ = [1, 3], W- a- = [0, 2], W- a+ = [0, 0], W+ a- = [-4, 0].
    # reference form (default): full bias b = [0.5, -1] in both denominators:
    # z+ = [1, 5] + b = [1.5, 4], s+ = [4/3, 3/4]: act = [1 * (1 * 4/3 + 3 * 3/4), -2 * (-1 * 3/4)] = [4/3 + 9/4, 3/2]
    # z- = [-4, 0] + b = [-3.5, -1], s- = [-4/7, -3]: inh = [1 * 0, -2 * (2 * -4/7 + 0 * -3)] = [0, 16/7]
    ("alpha_beta", {"alpha": 2.0, "beta": 1.0}, [2 * (4 / 3 + 9 / 4), 2 * 1.5 - 16 / 7]),
    ("alpha_beta", {"alpha": 1.0, "beta": 0.0}, [4 / 3 + 9 / 4, 1.5]),
    ("alpha_beta", {"alpha": 2.0, "beta": 1.0, "alpha_beta_bias": "reference"}, [2 * (4 / 3 + 9 / 4), 2 * 1.5 - 16 / 7]),
    # split form: z+ = [1, 5] + b+ = [1.5, 5], z- = [-4, 0] + b- = [-4, -1]; act = [4/3 + 1.8, 1.2], inh = [0, 2]
    ("alpha_beta", {"alpha": 2.0, "beta": 1.0, "alpha_beta_bias": "split"}, [2 * (4 / 3 + 1.8), 2 * 1.2 - 2.0]),
    ("alpha_beta", {"alpha": 1.0, "beta": 0.0, "alpha_beta_bias": "split"}, [4 / 3 + 1.8, 1.2]),
    # no bias (either form): z+ = [1, 5], z- = [-4, 0] (3 / 0 -> 0): act = [3.8, 1.2], inh = [0, -2 * 2 * -0.5] = [0, 2]
    ("alpha_beta", {"alpha": 2.0, "beta": 1.0, "bias": False}, [7.6, 0.4]),
    ("alpha_beta", {"alpha": 2.0, "beta": 1.0, "bias": False, "alpha_beta_bias": "split"}, [7.6, 0.4]),
    ("alpha_beta", {"alpha": 1.0, "beta": 0.0, "bias": False}, [3.8, 1.2]),
    # W + g W+ = [[1.25, 2.5], [3.75, -1]], b + g b+ = [0.625, -1]; z = [-3.125, 4.75]
    ("gamma", {"gamma": 0.25}, [-0.8 + 45 / 19, 3.2 + 24 / 19]),
    # no bias: z = (W + g W+) a = [-3.75, 5.75], s = [-8/15, 12/23]
    ("gamma", {"gamma": 0.25, "bias": False}, [-2 / 3 + 45 / 23, 8 / 3 + 24 / 23]),
    # W^2 = [[1, 4], [9, 1]], row sums [5, 10]
    ("w_square", {}, [3.1, 1.9]),
    ("flat", {}, [2.5, 2.5]),
    # low -2, high 3: z = [3, 14]
    ("bounded", {"low": -2.0, "high": 3.0}, [2 + 27 / 14, 15 / 14]),
    ("bounded", {"low": np.array([-2.0, -2.0]), "high": np.array([3.0, 3.0])}, [2 + 27 / 14, 15 / 14]),
    # sign(a) = [1, -1]
    ("sign", {}, [1.45, 2.35]),
    # no bias: z = W a = [-3, 5], s = [-2/3, 3/5], W^T s = [-2/3 + 9/5, -4/3 - 3/5]
    ("sign", {"bias": False}, [-2 / 3 + 9 / 5, 4 / 3 + 3 / 5]),
    ("sign_mu", {"mu": -2.0, "bias": False}, [-2 / 3 + 9 / 5, -4 / 3 - 3 / 5]),
    # sign_mu(a, 1.5) = [-1, -1]; sign_mu(a, -2) = [1, 1]
    ("sign_mu", {"mu": 1.5}, [-1.45, 2.35]),
    ("sign_mu", {"mu": -2.0}, [1.45, -2.35]),
]


@pytest.mark.parametrize("rule,params,expected", CASES)
def test_hand_derived(rule, params, expected):
    np.testing.assert_allclose(lrp_rule(rule, A, W, B, R, **params), expected, rtol=1e-12)


def test_conservative_rules_sum_to_relevance_when_no_bias_and_no_zero():
    for rule, params in [("z_plus", {}), ("w_square", {}), ("flat", {}), ("bounded", {"low": -2.0, "high": 3.0})]:
        assert lrp_rule(rule, A, W, B, R, **params).sum() == pytest.approx(R.sum())
    assert lrp_rule("z", A, W, np.zeros(2), R).sum() == pytest.approx(R.sum())


def test_alpha_beta_bias_forms_agree_without_bias_and_reject_unknown():
    for params in ({"alpha": 1.0, "beta": 0.0}, {"alpha": 3.0, "beta": 2.0}):
        ref = lrp_rule("alpha_beta", A, W, np.zeros(2), R, **params)
        split = lrp_rule("alpha_beta", A, W, np.zeros(2), R, alpha_beta_bias="split", **params)
        np.testing.assert_array_equal(ref, split)
    with pytest.raises(ValueError, match="alpha_beta_bias"):
        lrp_rule("alpha_beta", A, W, B, R, alpha=1.0, beta=0.0, alpha_beta_bias="zennit")


def test_zero_denominator_gives_zero():
    out = lrp_rule("z", np.zeros(2), W, np.zeros(2), R)
    np.testing.assert_array_equal(out, [0.0, 0.0])
    # sign(0) = +1 but z = 0 -> nothing flows
    np.testing.assert_array_equal(lrp_rule("sign", np.zeros(2), W, np.zeros(2), R), [0.0, 0.0])
    # epsilon at z = 0: s(0) = +1 -> denominator +eps
    out = lrp_rule("epsilon", np.zeros(2), W, np.zeros(2), R, epsilon=0.5)
    np.testing.assert_array_equal(out, [0.0, 0.0])


def test_layer_matrix_of_a_convolution():
    kernel = np.array([1.0, -2.0])

    def conv1d_valid(x):  # correlation, length 3 -> 2
        return np.array([x[0] * kernel[0] + x[1] * kernel[1], x[1] * kernel[0] + x[2] * kernel[1]])

    M = layer_matrix(conv1d_valid, (3,))
    np.testing.assert_array_equal(M, [[1.0, -2.0, 0.0], [0.0, 1.0, -2.0]])
    x = np.array([0.3, -1.0, 2.0])
    np.testing.assert_allclose(M @ x, conv1d_valid(x))


def test_unknown_rule():
    with pytest.raises(ValueError, match="unknown rule"):
        lrp_rule("nope", A, W, B, R)


def test_batch_norm_and_sum_rules_by_hand():
    from lrp_reference import lrp_batch_norm, lrp_sum

    # a = 3, mu = 1, var + eps = 4 -> sigma 2; gamma 2, beta 1: y = 2 * 2 / 2 + 1 = 3
    # R_in = R * 3 / 2 * (3 - 1) / 3 = R  (up to the 1e-7 stabilisers)
    out = lrp_batch_norm([3.0], [1.0], [4.0], [2.0], [1.0], 0.0, [5.0])
    assert out[0] == pytest.approx(5.0, rel=1e-6)
    r1, r2 = lrp_sum([[1.0, 0.0], [3.0, 0.0]], [8.0, 2.0])
    np.testing.assert_allclose(r1, [2.0, 0.0])
    np.testing.assert_allclose(r2, [6.0, 0.0])
