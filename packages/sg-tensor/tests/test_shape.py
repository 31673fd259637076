"""Shape and indexing operators: forward against numpy, scatter-add gradients, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sg_tensor as st
from sg_tensor import Tensor

R = np.random.default_rng(5)
X = R.standard_normal((2, 3, 4))
M = np.arange(12.0).reshape(3, 4)


def test_reshape_and_view_match_numpy() -> None:
    t = Tensor(X)
    np.testing.assert_array_equal(t.reshape(6, 4).data, X.reshape(6, 4))
    np.testing.assert_array_equal(t.reshape((4, -1)).data, X.reshape(4, -1))
    np.testing.assert_array_equal(t.view(-1).data, X.reshape(-1))
    np.testing.assert_array_equal(st.reshape(X, (3, 8)).data, X.reshape(3, 8))
    assert t.reshape(6, 4).op == ""  # no graph: nothing requires grad
    assert Tensor(X, requires_grad=True).reshape(6, 4).op == "reshape"


def test_transpose_family_matches_numpy() -> None:
    t = Tensor(X)
    np.testing.assert_array_equal(t.transpose().data, X.transpose())
    np.testing.assert_array_equal(t.T.data, X.T)
    np.testing.assert_array_equal(t.transpose(1, 0, 2).data, X.transpose(1, 0, 2))
    np.testing.assert_array_equal(t.transpose((2, 0, 1)).data, X.transpose(2, 0, 1))
    np.testing.assert_array_equal(t.permute(2, 0, 1).data, X.transpose(2, 0, 1))
    np.testing.assert_array_equal(t.permute(-1, 0, 1).data, X.transpose(2, 0, 1))
    np.testing.assert_array_equal(st.permute(X, (1, 2, 0)).data, X.transpose(1, 2, 0))
    np.testing.assert_array_equal(t.swapaxes(0, -1).data, X.swapaxes(0, -1))
    np.testing.assert_array_equal(st.swapaxes(X, 1, 2).data, X.swapaxes(1, 2))
    np.testing.assert_array_equal(st.transpose(X).data, X.T)


def test_transpose_gradient_is_the_inverse_permutation() -> None:
    x = Tensor(X, requires_grad=True)
    g = R.standard_normal((4, 2, 3))
    x.permute(2, 0, 1).backward(g)
    np.testing.assert_array_equal(x.grad, g.transpose(1, 2, 0))


def test_broadcast_to_and_expand() -> None:
    v = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(Tensor(v).broadcast_to(2, 3).data, np.broadcast_to(v, (2, 3)))
    np.testing.assert_array_equal(st.broadcast_to(v, (4, 3)).data, np.broadcast_to(v, (4, 3)))
    col = Tensor(v.reshape(3, 1))
    assert col.expand(2, -1, 5).shape == (2, 3, 5)
    assert st.expand(col, (3, 4)).shape == (3, 4)
    x = Tensor(v, requires_grad=True)
    x.broadcast_to(2, 3).backward(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.grad, [3.0, 5.0, 7.0])


def test_squeeze_unsqueeze_flatten() -> None:
    y = np.zeros((1, 3, 1, 2))
    assert Tensor(y).squeeze().shape == (3, 2)
    assert Tensor(y).squeeze(0).shape == (3, 1, 2)
    assert Tensor(y).squeeze((0, -2)).shape == (3, 2)
    assert st.squeeze(y, axis=2).shape == (1, 3, 2)
    assert Tensor(X).unsqueeze(0).shape == (1, 2, 3, 4)
    assert Tensor(X).unsqueeze(-1).shape == (2, 3, 4, 1)
    assert st.unsqueeze(X, 2).shape == (2, 3, 1, 4)
    assert Tensor(X).flatten().shape == (24,)
    assert Tensor(X).flatten(1).shape == (2, 12)
    assert st.flatten(X, 0, 1).shape == (6, 4)
    assert Tensor(np.float64(3.0)).flatten().shape == (1,)
    np.testing.assert_array_equal(Tensor(X).flatten().data, X.ravel())


# ---------------------------------------------------------------------------------------
# Indexing
# ---------------------------------------------------------------------------------------
INDICES: list[tuple[str, Any]] = [
    ("int", 1),
    ("negative-int", -1),
    ("tuple", (1, -2)),
    ("slice", slice(1, 3)),
    ("negative-step", slice(None, None, -1)),
    ("negative-step-2d", (slice(None, None, -2), slice(3, 0, -1))),
    ("none", (None, 0)),
    ("ellipsis", (Ellipsis, 1)),
    ("ellipsis-none", (Ellipsis, None)),
    ("int-array", np.array([0, 2, 0])),
    ("list", [2, 2, 1]),
    ("pairs", (np.array([0, 1, 0]), np.array([3, 3, 3]))),
    ("mixed", (slice(1, None), np.array([0, 0, 2]))),
    ("bool-mask", M > 4.5),
    ("bool-rows", np.array([True, False, True])),
    ("bool-cols", (slice(None), np.array([False, True, True, False]))),
    ("numpy-int", np.int64(2)),
]


@pytest.mark.parametrize("index", [i for _, i in INDICES], ids=[n for n, _ in INDICES])
def test_getitem_matches_numpy(index: Any) -> None:
    out = Tensor(M)[index]
    np.testing.assert_array_equal(out.data, M[index])
    assert out.shape == M[index].shape


def test_getitem_with_a_tensor_index() -> None:
    t = Tensor(M)
    np.testing.assert_array_equal(t[Tensor(np.array([2, 0]))].data, M[[2, 0]])
    np.testing.assert_array_equal(t[t > 5.5].data, M[M > 5.5])


def test_an_empty_index_list_selects_nothing() -> None:
    # numpy reads an empty list as an empty integer index
    x = Tensor(M[0], requires_grad=True)
    out = x[[]]
    assert out.shape == (0,)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros(4))


def test_repeated_integer_indices_add_up_their_gradients() -> None:
    x = Tensor([10.0, 20.0, 30.0, 40.0], requires_grad=True)
    out = x[[0, 2, 0, 0, 3]]
    np.testing.assert_array_equal(out.data, [10.0, 30.0, 10.0, 10.0, 40.0])
    out.backward(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    np.testing.assert_array_equal(x.grad, [8.0, 0.0, 2.0, 5.0])


def test_repeated_index_pairs_add_up_in_2d() -> None:
    x = Tensor(M, requires_grad=True)
    out = x[np.array([0, 1, 0]), np.array([3, 3, 3])]
    out.sum().backward()
    expected = np.zeros((3, 4))
    expected[0, 3] = 2.0
    expected[1, 3] = 1.0
    np.testing.assert_array_equal(x.grad, expected)


def test_repeated_rows_add_up() -> None:
    x = Tensor(M, requires_grad=True)
    (x[[1, 1, 1]] * 2.0).sum().backward()
    expected = np.zeros((3, 4))
    expected[1] = 6.0
    np.testing.assert_array_equal(x.grad, expected)


def test_boolean_mask_gradient_goes_to_the_selected_places() -> None:
    x = Tensor(M, requires_grad=True)
    mask = M % 3 == 0
    x[mask].backward(np.arange(1.0, mask.sum() + 1))
    expected = np.zeros((3, 4))
    expected[mask] = np.arange(1.0, mask.sum() + 1)
    np.testing.assert_array_equal(x.grad, expected)


def test_basic_index_gradient_is_placed_with_negative_steps() -> None:
    x = Tensor(M, requires_grad=True)
    x[::-2, 1].backward(np.array([5.0, 7.0]))
    expected = np.zeros((3, 4))
    expected[2, 1] = 5.0
    expected[0, 1] = 7.0
    np.testing.assert_array_equal(x.grad, expected)


def test_iterating_a_tensor_yields_differentiable_rows() -> None:
    x = Tensor(M, requires_grad=True)
    rows = list(x)
    assert len(rows) == 3
    np.testing.assert_array_equal(rows[2].data, M[2])
    (rows[0] + rows[2] * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [[1.0] * 4, [0.0] * 4, [2.0] * 4])


# ---------------------------------------------------------------------------------------
# concatenate, stack, split, pad
# ---------------------------------------------------------------------------------------
def test_concatenate_and_stack_match_numpy() -> None:
    a, b = R.standard_normal((2, 3)), R.standard_normal((1, 3))
    np.testing.assert_array_equal(st.concatenate([a, Tensor(b)]).data, np.concatenate([a, b]))
    np.testing.assert_array_equal(
        st.concatenate([a.T, b.T], axis=-1).data, np.concatenate([a.T, b.T], axis=-1)
    )
    np.testing.assert_array_equal(st.stack([a, a]).data, np.stack([a, a]))
    np.testing.assert_array_equal(st.stack([a, a], axis=-1).data, np.stack([a, a], axis=-1))
    assert st.concatenate([Tensor(a, requires_grad=True), b]).op == "concatenate"


def test_concatenate_gradient_is_cut_into_slices() -> None:
    a = Tensor(np.zeros((2, 1)), requires_grad=True)
    b = Tensor(np.zeros((2, 2)), requires_grad=True)
    g = np.arange(6.0).reshape(2, 3)
    st.concatenate([a, b], axis=1).backward(g)
    np.testing.assert_array_equal(a.grad, g[:, :1])
    np.testing.assert_array_equal(b.grad, g[:, 1:])


def test_the_same_tensor_concatenated_twice_gets_both_slices() -> None:
    a = Tensor(np.zeros(2), requires_grad=True)
    st.concatenate([a, a]).backward(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(a.grad, [4.0, 6.0])


def test_np_split_on_a_tensor_keeps_numpys_meaning() -> None:
    x = np.arange(12.0).reshape(2, 6)
    t = Tensor(x)
    for got, expected in zip(np.split(t, 3, axis=1), np.split(x, 3, axis=1)):
        np.testing.assert_array_equal(got.data, expected)
    for got, expected in zip(np.split(t, [1, 4], axis=-1), np.split(x, [1, 4], axis=-1)):
        np.testing.assert_array_equal(got.data, expected)


def test_split_and_chunk_follow_pytorch() -> None:
    """Regression: st.split(x, 2) meant numpy's two equal sections; PyTorch's split cuts
    pieces of size 2 (and a list gives the pieces' sizes, not cut indices)."""
    t = Tensor(np.arange(10.0).reshape(2, 5), requires_grad=True)
    pieces = t.split(2, dim=1)
    assert [p.shape for p in pieces] == [(2, 2), (2, 2), (2, 1)]
    assert [p.shape for p in st.split(t, [1, 4], dim=-1)] == [(2, 1), (2, 4)]
    assert [p.shape for p in t.chunk(2, dim=1)] == [(2, 3), (2, 2)]
    assert [p.shape for p in st.chunk(t, 3, 0)] == [(1, 5), (1, 5)]
    (pieces[2] * 3).sum().backward()
    np.testing.assert_array_equal(t.grad, [[0, 0, 0, 0, 3], [0, 0, 0, 0, 3]])
    with pytest.raises(ValueError, match=r"split: sizes \[1, 1\] do not add up to the size 5"):
        t.split([1, 1], 1)


def test_pad_matches_numpy() -> None:
    x = R.standard_normal((2, 3))
    np.testing.assert_array_equal(st.pad(x, 1).data, np.pad(x, 1))
    np.testing.assert_array_equal(st.pad(x, (1, 2)).data, np.pad(x, (1, 2)))
    np.testing.assert_array_equal(
        st.pad(x, ((0, 1), (2, 0)), value=-1.0).data,
        np.pad(x, ((0, 1), (2, 0)), constant_values=-1.0),
    )


def test_pad_gradient_is_the_middle() -> None:
    x = Tensor(np.zeros((2, 2)), requires_grad=True)
    g = np.arange(20.0).reshape(4, 5)
    st.pad(x, ((1, 1), (2, 1))).backward(g)
    np.testing.assert_array_equal(x.grad, g[1:3, 2:4])


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------
def test_reshape_to_an_incompatible_shape_names_both_shapes() -> None:
    with pytest.raises(
        ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3, 4\) .*\(5, 5\)"
    ):
        Tensor(X).reshape(5, 5)


def test_transpose_with_a_bad_permutation() -> None:
    with pytest.raises(ValueError, match=r"transpose: axes \(0, 0, 1\) are not a permutation"):
        Tensor(X).transpose(0, 0, 1)
    with pytest.raises(ValueError, match="not a permutation"):
        Tensor(X).permute(0, 1)


def test_broadcast_to_an_incompatible_shape() -> None:
    with pytest.raises(
        ValueError, match=r"broadcast_to: cannot broadcast a tensor of shape \(3,\) to \(2, 4\)"
    ):
        Tensor(np.zeros(3)).broadcast_to(2, 4)
    with pytest.raises(ValueError, match="broadcast_to: cannot broadcast"):
        Tensor(np.zeros((2, 3))).broadcast_to(3)  # numpy would not shrink either


def test_squeeze_of_a_non_unit_axis_leaves_it_as_pytorch() -> None:
    """Regression: squeeze of a size-3 axis raised; PyTorch leaves the axis alone."""
    x = Tensor(np.zeros((1, 3, 1)), requires_grad=True)
    assert x.squeeze(1).shape == (1, 3, 1)
    assert x.squeeze(dim=(0, 1)).shape == (3, 1)
    assert st.squeeze(x, -1).shape == (1, 3)
    with pytest.raises(ValueError, match="squeeze: axis 3 is out of range"):
        x.squeeze(3)


def test_unsqueeze_and_flatten_axis_errors() -> None:
    with pytest.raises(ValueError, match="unsqueeze: axis 4 is out of range"):
        Tensor(np.zeros((2, 3))).unsqueeze(4)
    with pytest.raises(ValueError, match="flatten: start_dim 1 comes after end_dim 0"):
        Tensor(X).flatten(1, 0)
    # a 0-d tensor has PyTorch's dims 0 and -1; out of range is PyTorch's IndexError too
    assert Tensor(np.float64(2.0)).flatten(0, -1).shape == (1,)
    with pytest.raises(IndexError, match="flatten: axis 1 is out of range"):
        Tensor(np.float64(2.0)).flatten(1)
    with pytest.raises(ValueError, match="flatten: axis 5 is out of range"):
        Tensor(np.float64(2.0)).flatten(5)


def test_concatenate_errors_name_the_shapes() -> None:
    with pytest.raises(
        ValueError, match=r"concatenate: all shapes must match except along axis 0; .*\(2, 3\)"
    ):
        st.concatenate([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match="concatenate: expected a non-empty sequence"):
        st.concatenate([])
    with pytest.raises(ValueError, match="zero-dimensional"):
        st.concatenate([np.float64(1.0), np.float64(2.0)])
    with pytest.raises(ValueError, match="concatenate: axis 2 is out of range"):
        st.concatenate([np.zeros((2, 3)), np.zeros((2, 3))], axis=2)


def test_stack_needs_equal_shapes() -> None:
    with pytest.raises(ValueError, match=r"stack: all tensors must have the same shape.*\(3,\)"):
        st.stack([np.zeros(2), np.zeros(3)])


def test_np_split_into_unequal_sections() -> None:
    with pytest.raises(ValueError, match="split: axis 0 of size 5 cannot be split into 2"):
        np.split(Tensor(np.zeros(5)), 2)


def test_pad_errors() -> None:
    with pytest.raises(ValueError, match="pad: pad_width must not be negative"):
        st.pad(np.zeros(3), -1)
    with pytest.raises(ValueError, match=r"pad: pad_width .* does not fit a tensor of shape"):
        st.pad(np.zeros((2, 2)), ((1, 1), (1, 1), (1, 1)))


def test_bad_indices_are_index_errors_with_the_shape() -> None:
    t = Tensor(M)
    with pytest.raises(IndexError, match=r"getitem: index 5 is out of bounds .*\(3, 4\)"):
        t[5]
    with pytest.raises(IndexError, match=r"getitem: unsupported index 1.5 of type float"):
        t[1.5]
    with pytest.raises(IndexError, match="arrays used as indices must be integer or boolean"):
        t[np.array([0.5])]
    with pytest.raises(IndexError, match="unsupported index"):
        t["a"]
    with pytest.raises(IndexError, match="getitem"):
        t[np.array([0, 7])]
    with pytest.raises(IndexError, match="getitem"):
        t[0, 0, 0]


def test_transpose_of_two_dims_follows_pytorch_and_np_transpose_follows_numpy() -> None:
    """Regression: ``x.transpose(0, 1)`` of a matrix returned it unchanged (numpy's
    identity permutation); PyTorch's meaning is the exchange of the two axes."""
    m = st.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    np.testing.assert_array_equal(m.transpose(0, 1).data, m.data.T)
    np.testing.assert_array_equal(st.transpose(m, 1, 0).data, m.data.T)
    np.testing.assert_array_equal(np.transpose(m, (0, 1)).data, m.data)  # numpy: identity
    x = st.tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.transpose(0, 2).shape == (4, 3, 2)
    assert x.transpose(-1, 1).shape == (2, 4, 3)
    assert x.transpose(dim0=0, dim1=1).shape == (3, 2, 4)
    assert x.transpose(2, 0, 1).shape == (4, 2, 3)  # three axes: numpy's permutation
    assert x.transpose().shape == (4, 3, 2)
    assert x.mT.shape == (2, 4, 3)
    assert x.swapdims(0, 1).shape == (3, 2, 4)
    m.transpose(0, 1).backward(np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(m.grad, np.arange(6.0).reshape(3, 2).T)
    with pytest.raises(ValueError, match=r"transpose: axis 3 is out of range"):
        x.transpose(0, 3)
    with pytest.raises(ValueError, match=r"mT: needs at least 2 dimensions"):
        st.tensor([1.0, 2.0]).mT


def test_cat_and_stack_take_dim() -> None:
    a, b = st.tensor(np.ones((2, 3))), st.tensor(np.zeros((2, 3)))
    assert st.cat([a, b], dim=1).shape == (2, 6)
    assert st.stack([a, b], dim=-1).shape == (2, 3, 2)
    assert a.unsqueeze(dim=0).shape == (1, 2, 3)
    with pytest.raises(TypeError, match=r"concatenate\(\): give dim= or axis=, not both"):
        st.cat([a, b], axis=0, dim=1)


def test_np_squeeze_keeps_numpys_meaning_and_numpy_keywords_stay_accepted() -> None:
    t = Tensor(np.zeros((1, 3)))
    assert np.squeeze(t, axis=0).shape == (3,)
    with pytest.raises(ValueError, match="squeeze: axis 1 has size 3, not 1"):
        np.squeeze(t, axis=1)
    assert t.squeeze(axis=1).shape == (1, 3)
    assert [p.shape for p in t.split(2, axis=1)] == [(1, 2), (1, 1)]


def test_flip_repeat_and_index_select_as_pytorch() -> None:
    x = st.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    np.testing.assert_array_equal(x.flip(0, 2).data, x.data[::-1, :, ::-1])
    np.testing.assert_array_equal(x.repeat(2, 1, 3).data, np.tile(x.data, (2, 1, 3)))
    assert st.tensor([1.0, 2.0]).repeat(3, 2).shape == (3, 4)
    picked = st.index_select(x, 1, np.array([2, 0, 2]))
    np.testing.assert_array_equal(picked.data, x.data[:, [2, 0, 2]])
    (picked.sum() + x.repeat(2, 1, 1).sum()).backward()
    expected = np.full((2, 3, 4), 2.0)
    expected[:, 2] += 2.0
    expected[:, 0] += 1.0
    np.testing.assert_array_equal(x.grad, expected)
    with pytest.raises(ValueError, match="repeat: give one non-negative count per axis"):
        x.repeat(2, 2)


def test_a_0d_tensor_takes_its_one_dim_everywhere_as_in_pytorch() -> None:
    t = st.tensor(2.0, requires_grad=True)
    results = [t.cumsum(0), t.flip(0), t.squeeze(0), t.transpose(0, -1), t.norm(dim=0),
               t.gather(0, st.tensor(0)), t.topk(1).values]  # fmt: skip
    assert [(r.shape, r.item()) for r in results] == [((), 2.0)] * len(results)
    assert t.topk(1).indices.item() == 0
    sum(results[1:], results[0]).backward()
    assert t.grad == 7.0
    with pytest.raises(ValueError, match="cumsum: axis 1 is out of range"):
        t.cumsum(1)
