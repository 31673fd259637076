"""Convolution, pooling and batch norm: shapes, arguments, conventions and errors.

Their gradients are checked against central differences (first and second order) by
test_gradcheck.py and test_higher_order.py, from the declarations; against PyTorch in
the oracle suite.
"""

from __future__ import annotations

import numpy as np
import pytest

import sg_tensor as st
from sg_tensor.shapes import _scatter


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def direct_conv2d(
    x: np.ndarray, w: np.ndarray, stride: int, pad: int, dilation: int
) -> np.ndarray:
    """The definition, one kernel offset at a time (groups=1)."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    kh, kw = w.shape[2:]
    ho = (xp.shape[2] - dilation * (kh - 1) - 1) // stride + 1
    wo = (xp.shape[3] - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((x.shape[0], w.shape[0], ho, wo))
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dilation, i * dilation + stride * (ho - 1) + 1, stride)
            cols = slice(j * dilation, j * dilation + stride * (wo - 1) + 1, stride)
            out += np.einsum("nchw,oc->nohw", xp[:, :, rows, cols], w[:, :, i, j])
    return out


@pytest.mark.parametrize(
    ("stride", "pad", "dilation"), [(1, 0, 1), (2, 1, 1), (1, 2, 2), (3, 1, 2)]
)
def test_conv2d_is_the_definition(stride: int, pad: int, dilation: int) -> None:
    x, w = rng().standard_normal((2, 3, 7, 6)), rng(1).standard_normal((4, 3, 3, 2))
    out = st.conv2d(x, w, None, stride, pad, dilation)
    np.testing.assert_allclose(out.data, direct_conv2d(x, w, stride, pad, dilation), rtol=1e-12)


def test_grouped_conv2d_is_separate_convolutions() -> None:
    x, w = rng().standard_normal((2, 4, 5, 5)), rng(1).standard_normal((6, 2, 3, 3))
    out = st.conv2d(x, w, groups=2).data
    first = st.conv2d(x[:, :2], w[:3]).data
    second = st.conv2d(x[:, 2:], w[3:]).data
    np.testing.assert_allclose(out, np.concatenate([first, second], axis=1), rtol=1e-13)


def test_same_padding_keeps_the_size_and_pads_the_odd_pixel_after() -> None:
    x = rng().standard_normal((1, 1, 5, 6))
    w = rng(1).standard_normal((1, 1, 2, 4))
    out = st.conv2d(x, w, padding="same")
    assert out.shape == (1, 1, 5, 6)
    # total padding (1, 3): before (0, 1), after (1, 2), as PyTorch pads
    expected = direct_conv2d(np.pad(x, ((0, 0), (0, 0), (0, 1), (1, 2))), w, 1, 0, 1)
    np.testing.assert_allclose(out.data, expected, rtol=1e-13)


def test_conv_transpose2d_is_the_adjoint_of_conv2d() -> None:
    x, w = rng().standard_normal((2, 3, 7, 6)), rng(1).standard_normal((4, 3, 3, 3))
    y = rng(2).standard_normal(st.conv2d(x, w, stride=2, padding=1).shape)
    back = st.conv_transpose2d(y, w, stride=2, padding=1, output_padding=(0, 1))
    assert back.shape == x.shape
    lhs = np.vdot(st.conv2d(x, w, stride=2, padding=1).data, y)
    assert lhs == pytest.approx(np.vdot(x, back.data), rel=1e-12)


def test_conv1d_is_conv2d_of_height_one() -> None:
    x, w = rng().standard_normal((2, 3, 9)), rng(1).standard_normal((4, 3, 3))
    out = st.conv1d(x, w, None, 2, 1, 2)
    expected = st.conv2d(x[:, :, None], w[:, :, None], None, (1, 2), (0, 1), (1, 2))
    np.testing.assert_allclose(out.data, expected.data[:, :, 0], rtol=1e-14)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: st.conv2d(np.zeros((2, 3, 5, 5)), np.zeros((4, 2, 3, 3))),
         r"conv2d: input \(2, 3, 5, 5\) has 3 channels but weight \(4, 2, 3, 3\)"),
        (lambda: st.conv2d(np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3)), np.zeros(3)),
         r"conv2d: bias must have shape \(4,\)"),
        (lambda: st.conv2d(np.zeros((1, 3, 2, 2)), np.zeros((4, 3, 3, 3))),
         r"conv2d: the kernel \(3, 3\) .* larger than the padded input \(2, 2\)"),
        (lambda: st.conv2d(np.zeros((1, 3, 5, 5)), np.zeros((4, 3, 3, 3)), stride=2,
                           padding="same"), "padding='same' is not supported for strided"),
        (lambda: st.conv_transpose2d(np.zeros((1, 3, 4, 4)), np.zeros((3, 2, 3, 3)), stride=2,
                                     output_padding=2), "output_padding .* must be smaller"),
        (lambda: st.conv1d(np.zeros((1, 3, 5, 5)), np.zeros((4, 3, 3))),
         r"conv1d: expected an input of 3 dimensions"),
        # a 1-D call runs as 2-D of height 1: its messages speak of its own axis
        (lambda: st.conv1d(np.zeros((2, 3, 4)), np.zeros((2, 3, 5))),
         r"conv1d: the kernel \(5,\) with dilation \(1,\) spans \(5,\), larger than the "
         r"padded input \(4,\) \(input \(2, 3, 4\)"),
        (lambda: st.conv_transpose1d(np.zeros((1, 3, 4)), np.zeros((3, 2, 3)), stride=2,
                                     output_padding=2),
         r"output_padding \(2,\) must be smaller than stride \(2,\) or dilation \(1,\)"),
        (lambda: st.conv_transpose1d(np.zeros((2, 3, 1)), np.zeros((3, 2, 1)), padding=2),
         r"input \(2, 3, 1\) with weight \(3, 2, 1\), stride \(1,\) and padding \(2,\) "
         r"gives an empty output \(-3,\)"),
    ],
)  # fmt: skip
def test_conv_errors_name_the_operator_and_shapes(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_conv_arguments_are_checked() -> None:
    x, w = np.zeros((1, 3, 5, 5)), np.zeros((4, 3, 3, 3))
    with pytest.raises(TypeError, match=r"conv2d: stride must be an int or 2 ints, got 1\.5"):
        st.conv2d(x, w, stride=1.5)
    with pytest.raises(ValueError, match="conv2d: padding must be at least 0"):
        st.conv2d(x, w, padding=-1)
    with pytest.raises(TypeError, match="conv2d: input must be floating point"):
        st.conv2d(x.astype(np.int64), w)


def test_float32_stays_float32_through_the_gradients() -> None:
    x = st.tensor(rng().standard_normal((2, 3, 6, 6)).astype(np.float32), requires_grad=True)
    w = st.tensor(rng(1).standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    out = st.max_pool2d(st.batch_norm(st.conv2d(x, w, padding=1), training=True), 2)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad is not None
    assert w.grad is not None
    assert (x.grad.dtype, w.grad.dtype) == (np.float32, np.float32)


# ---------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------
def test_max_pool_ties_go_to_the_first_and_nan_is_the_maximum() -> None:
    x = st.tensor(np.array([[[[2.0, 2.0, 1.0, np.nan], [2.0, 0.0, np.nan, 3.0]]]]),
                  requires_grad=True)  # fmt: skip
    out = st.max_pool2d(x, 2)
    assert out.data[0, 0, 0, 0] == 2.0
    assert np.isnan(out.data[0, 0, 0, 1])
    out.sum().backward()
    # first maximum in reading order; of several NaNs the last, as PyTorch's kernel picks
    np.testing.assert_array_equal(x.grad, [[[[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]]])


def test_a_padding_cell_never_wins_a_window_of_minus_infinity() -> None:
    # dilated windows reaching into the padding: the maximum of a window of -inf only is
    # its first input cell (PyTorch's), never a cell beside it outside the window
    x = st.tensor(np.array([[[0.0, -np.inf, 2.0]]]), requires_grad=True)
    out, index = st.max_pool1d(x, 2, padding=1, dilation=2, return_indices=True)
    out.sum().backward()
    assert index.tolist() == [[[1, 1]]]
    np.testing.assert_array_equal(x.grad, [[[0.0, 2.0, 0.0]]])
    square = np.full((1, 1, 3, 3), -np.inf)
    square[0, 0, 0, 0] = 0.0
    _, index = st.max_pool2d(square, 2, stride=1, padding=1, dilation=2, return_indices=True)
    assert index.tolist() == [[[[4, 3, 4], [1, 0, 1], [4, 3, 4]]]]


def test_overlapping_max_pool_windows_add_up() -> None:
    x = st.tensor(np.array([[[[0.0, 5.0, 0.0]]]]), requires_grad=True)
    st.max_pool2d(x, (1, 2), stride=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[[[0.0, 2.0, 0.0]]]])


def test_ceil_mode_adds_a_partial_window_and_avg_pool_divides_by_what_it_covers() -> None:
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    assert st.max_pool2d(x, 2).shape == (1, 1, 2, 2)
    assert st.max_pool2d(x, 2, ceil_mode=True).shape == (1, 1, 3, 3)
    corner = st.avg_pool2d(x, 2, ceil_mode=True).data[0, 0, 2, 2]
    assert corner == 24.0  # the window holds one pixel and divides by one


def test_scatter_of_integer_arrays_sums_in_np_add_at_order() -> None:
    g = rng().standard_normal((50, 7)) * 10.0 ** rng(1).integers(-8, 8, (50, 7))
    index = (rng(2).integers(0, 3, (50, 1)), rng(3).integers(-4, 4, (50, 7)))
    expected = np.zeros((3, 4))
    np.add.at(expected, index, g)
    np.testing.assert_array_equal(_scatter(g, shape=(3, 4), index=index), expected)  # bitwise


# ---------------------------------------------------------------------------------------
# Batch norm
# ---------------------------------------------------------------------------------------
def test_batch_norm_training_updates_running_stats_in_place() -> None:
    x = rng().standard_normal((8, 2, 3)) * 2 + 1
    mean, var = np.zeros(2), np.ones(2)
    out = st.batch_norm(x, None, None, mean, var, training=True, momentum=0.5)
    np.testing.assert_allclose(out.data.mean(axis=(0, 2)), 0.0, atol=1e-12)
    np.testing.assert_allclose(mean, 0.5 * x.mean(axis=(0, 2)), rtol=1e-13)
    np.testing.assert_allclose(var, 0.5 + 0.5 * x.var(axis=(0, 2), ddof=1), rtol=1e-13)


def test_batch_norm_refuses_bad_arguments_without_touching_the_stats() -> None:
    x = rng().standard_normal((4, 3))
    mean, var = np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match=r"batch_norm: bias must have shape \(3,\)"):
        st.batch_norm(x, np.ones(3), np.zeros(2), mean, var, training=True)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        st.batch_norm(x[:1], None, None, mean, var, training=True)
    with pytest.raises(ValueError, match="must be given in evaluation mode"):
        st.batch_norm(x)
    np.testing.assert_array_equal(mean, np.zeros(3))
    np.testing.assert_array_equal(var, np.ones(3))


def test_an_inf_stays_in_its_own_adaptive_windows() -> None:
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 0, 0] = np.inf
    out = st.adaptive_avg_pool2d(x, 2).data.ravel()
    assert out[0] == np.inf
    np.testing.assert_array_equal(out[1:], [4.5, 10.5, 12.5])


def test_one_dimensional_pooling_speaks_of_itself() -> None:
    with pytest.raises(ValueError, match=r"max_pool1d: empty input \(1, 2, 0\)"):
        st.max_pool1d(np.ones((1, 2, 0)), 2)
    with pytest.raises(TypeError, match="avg_pool1d: input must be floating point"):
        st.avg_pool1d(np.ones((1, 2, 4), dtype=np.int64), 2)
    assert st.max_pool1d(np.ones((1, 2, 6)), 2, []).shape == (1, 2, 3)  # empty: the default
    with pytest.raises(ValueError, match="max_pool1d: padding 2 must be at most half"):
        st.max_pool1d(np.ones((1, 1, 9)), 2, padding=2)
    with pytest.raises(ValueError, match=r"avg_pool1d: input \(1, 1, 9\) is too small"):
        st.avg_pool1d(np.ones((1, 1, 9)), 20)
    assert st.max_pool2d(np.ones((1, 1, 4, 4)), 2, stride=np.int64(2)).shape == (1, 1, 2, 2)
    with pytest.raises(TypeError, match="adaptive_avg_pool2d: output_size"):
        st.adaptive_avg_pool2d(np.ones((1, 1, 4, 4)), None)
    assert st.avg_pool2d(np.ones((1, 1, 4, 4)), 2, divisor_override=np.int64(2)).shape == (
        1, 1, 2, 2,
    )  # fmt: skip


def test_batch_norm_arguments_are_checked_before_anything_changes() -> None:
    x = rng().standard_normal((4, 3))
    with pytest.raises(TypeError, match="batch_norm: momentum must be a number, got None"):
        st.batch_norm(x, None, None, np.zeros(3), np.ones(3), training=True, momentum=None)
    with pytest.raises(TypeError, match="running_mean must be a floating-point array"):
        st.batch_norm(x, None, None, np.zeros(3, dtype=np.int64), np.ones(3), training=True)
    assert st.batch_norm(x, None, None, np.zeros(3), np.ones(3), eps=0.0).shape == (4, 3)


def test_a_window_view_past_its_array_is_refused() -> None:
    # as_strided checks nothing: a wrong geometry (a changed rule) must raise, never read
    # or write memory that is not the array's.
    from sg_tensor.convolution import windows

    x = np.arange(2 * 3 * 5 * 5, dtype=float).reshape(2, 3, 5, 5)
    flat = ((0, 0), (0, 0))
    view = windows(x, (2, 2), (2, 2), flat, (1, 1), (2, 2), writeable=True)
    assert view.shape == (2, 3, 2, 2, 2, 2)
    assert view[1, 2, 1, 1, 1, 1] == x[1, 2, 3, 3]
    # three windows of 2, stride 2, reach pixel 5 of 5: out of the array
    with pytest.raises(
        ValueError, match=r"3 windows of 2 \(stride 2, dilation 1\) reach past the 5 H"
    ):
        windows(x, (2, 2), (2, 2), flat, (1, 1), (3, 2), writeable=True)
    with pytest.raises(ValueError, match="reach past the 7 W pixels of the padded input"):
        windows(x, (3, 3), (1, 1), ((1, 1), (1, 1)), (2, 2), (1, 4))
    # the padding a geometry asks for is there: the same windows fit
    assert windows(x, (3, 3), (1, 1), ((1, 1), (1, 1)), (2, 2), (3, 3)).shape[-2:] == (3, 3)
