"""sf.data: every transformation against a plain-Python reference, iterators and their errors."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import staticflow as sf


def _all(ds_or_next, sess=None, feed=None):
    """Every element of a dataset (through a one-shot iterator) or of a get_next structure."""
    nxt = (
        ds_or_next.make_one_shot_iterator().get_next()
        if isinstance(ds_or_next, sf.data.Dataset)
        else ds_or_next
    )
    own = sess is None
    sess = sess or sf.Session()
    out = []
    try:
        while True:
            out.append(sess.run(nxt, feed))
    except sf.errors.OutOfRangeError:
        pass
    finally:
        if own:
            sess.close()
    return out


def _ints(values):
    return [int(v) for v in values]


@pytest.fixture(autouse=True)
def _fresh_graph():
    with sf.Graph().as_default() as g:
        yield g


def test_from_tensor_slices_tuple_and_dict_structures():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    y = np.array([b"a", b"b", b"c", b"d"], dtype=object)
    ds = sf.data.Dataset.from_tensor_slices((x, {"label": y, "n": [1, 2, 3, 4]}))
    assert ds.output_types == (sf.float32, {"label": sf.string, "n": sf.int32})
    assert ds.output_shapes[0].as_list() == [3] and ds.output_shapes[1]["n"].as_list() == []
    got = _all(ds)
    assert len(got) == 4
    for i, (a, d) in enumerate(got):
        np.testing.assert_array_equal(a, x[i])
        assert d["label"] == y[i] and d["n"] == i + 1


def test_from_tensors_range_take_skip_repeat_against_python():
    assert _ints(_all(sf.data.Dataset.range(7))) == list(range(7))
    assert _ints(_all(sf.data.Dataset.range(2, 11, 3))) == list(range(2, 11, 3))
    assert _ints(_all(sf.data.Dataset.range(10, 0, -4))) == list(range(10, 0, -4))
    assert _ints(_all(sf.data.Dataset.range(10).skip(3).take(4))) == list(range(10))[3:7]
    assert _ints(_all(sf.data.Dataset.range(5).take(-1))) == list(range(5))
    assert _ints(_all(sf.data.Dataset.range(5).skip(-1))) == []
    assert _ints(_all(sf.data.Dataset.range(3).repeat(3))) == list(range(3)) * 3
    assert _ints(_all(sf.data.Dataset.range(3).repeat().take(8))) == (list(range(3)) * 3)[:8]
    whole = _all(sf.data.Dataset.from_tensors(np.array([[1, 2], [3, 4]])))
    assert len(whole) == 1
    np.testing.assert_array_equal(whole[0], [[1, 2], [3, 4]])


def test_map_filter_and_tuple_arguments_against_python():
    ds = sf.data.Dataset.range(10).map(lambda x: (x, x * x)).filter(lambda a, b: sf.equal(a % 3, 0))
    ds = ds.map(lambda a, b: a + b)
    assert ds.output_types == sf.int64
    assert _ints(_all(ds)) == [a + a * a for a in range(10) if a % 3 == 0]
    named = collections.namedtuple("Pair", "x y")
    nt = sf.data.Dataset.range(3).map(lambda v: named(v, -v)).map(lambda p: p.x - p.y)
    assert _ints(_all(nt)) == [2 * v for v in range(3)]


def test_map_captures_an_outer_tensor_evaluated_when_the_iterator_starts():
    scale = sf.placeholder(sf.float32, [])
    offset = sf.constant(0.5)
    ds = sf.data.Dataset.from_tensor_slices(np.arange(4, dtype=np.float32)).map(lambda v: v * scale + offset)
    it = ds.make_initializable_iterator()
    nxt = it.get_next()
    with sf.Session() as sess:
        sess.run(it.initializer, {scale: 3.0})
        first = [float(sess.run(nxt)) for _ in range(2)]
        sess.run(it.initializer, {scale: -1.0})
        again = _all(nxt, sess)
    assert first == [0.5, 3.5]
    assert [float(v) for v in again] == [0.5, -0.5, -1.5, -2.5]


def test_initializable_iterator_fed_from_placeholders_and_out_of_range():
    x = sf.placeholder(sf.int32, [None, 2])
    it = sf.data.make_initializable_iterator(sf.data.Dataset.from_tensor_slices(x).batch(2))
    nxt = it.get_next()
    assert nxt.shape.as_list() == [None, 2]
    data = np.arange(10, dtype=np.int32).reshape(5, 2)
    with sf.Session() as sess:
        with pytest.raises(sf.errors.FailedPreconditionError, match="has not been initialized"):
            sess.run(nxt)
        sess.run(it.initializer, {x: data})
        got = _all(nxt, sess)
        with pytest.raises(sf.errors.OutOfRangeError, match="End of sequence"):
            sess.run(nxt)  # and again after the end
    np.testing.assert_array_equal(np.concatenate(got), data)
    assert [len(b) for b in got] == [2, 2, 1]


def test_one_run_advances_get_next_once_whatever_it_fetches():
    ds = sf.data.Dataset.from_tensor_slices((np.arange(5), np.arange(5) * 10))
    a, b = ds.make_one_shot_iterator().get_next()
    twice = a + b
    with sf.Session() as sess:
        assert sess.run([a, b, twice, a]) == [0, 0, 0, 0]
        assert sess.run([b, twice]) == [10, 11]
        assert sess.run(a) == 2


def test_batch_drop_remainder_shapes_and_errors():
    ds = sf.data.Dataset.range(7).batch(3, drop_remainder=True)
    assert ds.output_shapes.as_list() == [3]
    assert [b.tolist() for b in _all(ds)] == [[0, 1, 2], [3, 4, 5]]
    ragged = sf.data.Dataset.from_generator(lambda: iter([[1], [2, 3]]), sf.int64).batch(2)
    with pytest.raises(sf.errors.InvalidArgumentError, match="Cannot batch tensors with different shapes"):
        _all(ragged)


def test_padded_batch_against_numpy_padding():
    rows = [[1], [2, 3], [4, 5, 6], []]
    ds = sf.data.Dataset.from_generator(lambda: iter(rows), sf.int64, [None])
    got = _all(ds.padded_batch(2, padded_shapes=[None]))
    np.testing.assert_array_equal(got[0], [[1, 0], [2, 3]])
    np.testing.assert_array_equal(got[1], [[4, 5, 6], [0, 0, 0]])
    fixed = _all(ds.padded_batch(3, padded_shapes=[4], padding_values=sf.constant(-1, sf.int64)))
    np.testing.assert_array_equal(fixed[0], [[1, -1, -1, -1], [2, 3, -1, -1], [4, 5, 6, -1]])
    with pytest.raises(sf.errors.InvalidArgumentError, match="pad to a smaller size"):
        _all(ds.padded_batch(3, padded_shapes=[2]))


def test_shuffle_is_a_seeded_buffered_permutation():
    def order(seed, reshuffle=True, buffer=4, n=20, epochs=2):
        g = sf.Graph()
        with g.as_default():
            ds = sf.data.Dataset.range(n).shuffle(buffer, seed=seed, reshuffle_each_iteration=reshuffle)
            return _ints(_all(ds.repeat(epochs)))

    a = order(1)
    assert a == order(1)  # deterministic with a seed
    first, second = a[:20], a[20:]
    assert sorted(first) == list(range(20)) and sorted(second) == list(range(20))
    assert first != list(range(20)) and first != second  # a new order each epoch
    same = order(1, reshuffle=False)
    assert same[:20] == same[20:]
    # a buffer of 4: element i cannot come out before position i - 3
    for pos, v in enumerate(first):
        assert v <= pos + 3
    assert order(2) != a


def test_zip_concatenate_enumerate_unbatch():
    z = sf.data.Dataset.zip((sf.data.Dataset.range(3), sf.data.Dataset.range(10, 15)))
    assert [(int(a), int(b)) for a, b in _all(z)] == list(zip(range(3), range(10, 15)))
    c = sf.data.Dataset.range(3).concatenate(sf.data.Dataset.range(10, 12))
    assert _ints(_all(c)) == [0, 1, 2, 10, 11]
    with pytest.raises(TypeError, match="Incompatible dataset elements"):
        sf.data.Dataset.range(3).concatenate(sf.data.Dataset.from_tensors(np.float32(1)))
    e = sf.data.Dataset.from_tensor_slices(np.array([5.0, 6.0], np.float32)).enumerate(start=3)
    assert [(int(i), float(v)) for i, v in _all(e)] == [(3, 5.0), (4, 6.0)]
    u = sf.data.Dataset.from_tensor_slices(np.arange(6).reshape(3, 2)).batch(2).unbatch()
    assert [r.tolist() for r in _all(u)] == np.arange(6).reshape(3, 2).tolist()


def test_flat_map_and_interleave_in_tensorflows_order():
    fm = sf.data.Dataset.range(4).flat_map(lambda x: sf.data.Dataset.from_tensors(x).repeat(x))
    assert _ints(_all(fm)) == [x for x in range(4) for _ in range(x)]
    il = sf.data.Dataset.range(1, 4).interleave(
        lambda x: sf.data.Dataset.from_tensors(x).repeat(x), cycle_length=2, block_length=1
    )
    assert _ints(_all(il)) == [1, 2, 2, 3, 3, 3]  # TensorFlow's order
    il2 = sf.data.Dataset.range(3).interleave(
        lambda x: sf.data.Dataset.range(x * 10, x * 10 + 4), cycle_length=3, block_length=2
    )
    assert _ints(_all(il2)) == [0, 1, 10, 11, 20, 21, 2, 3, 12, 13, 22, 23]
    inner_map = sf.data.Dataset.range(2).flat_map(
        lambda x: sf.data.Dataset.range(3).map(lambda y: y + 10 * x)
    )
    assert _ints(_all(inner_map)) == [0, 1, 2, 10, 11, 12]


def test_prefetch_keeps_the_order_and_passes_errors_through():
    assert _ints(_all(sf.data.Dataset.range(50).prefetch(3))) == list(range(50))
    bad = sf.data.Dataset.from_generator(lambda: iter([1, 2, "x"]), sf.int64).prefetch(2)
    it = bad.make_one_shot_iterator().get_next()
    with sf.Session() as sess:
        assert [sess.run(it), sess.run(it)] == [1, 2]
        with pytest.raises(sf.errors.InvalidArgumentError, match="could not be converted"):
            sess.run(it)


def test_from_generator_types_shapes_and_errors():
    def gen(n):
        for i in range(n):
            yield i, [float(i)] * 2

    ds = sf.data.Dataset.from_generator(
        gen, (sf.int64, sf.float32), (sf.TensorShape([]), sf.TensorShape([2])), args=(3,)
    )
    got = _all(ds)
    assert [(int(a), b.tolist()) for a, b in got] == [(i, [float(i)] * 2) for i in range(3)]
    assert got[0][1].dtype == np.float32
    wrong_shape = sf.data.Dataset.from_generator(lambda: iter([[1, 2, 3]]), sf.int64, [2])
    with pytest.raises(
        sf.errors.InvalidArgumentError, match=r"shape \(3,\) where an element of shape \(2,\)"
    ):
        _all(wrong_shape)
    wrong_structure = sf.data.Dataset.from_generator(lambda: iter([1]), (sf.int64, sf.string))
    with pytest.raises(sf.errors.InvalidArgumentError, match="did not match the expected structure"):
        _all(wrong_structure)


def test_reinitializable_iterator_from_structure():
    train = sf.data.Dataset.range(5).map(lambda x: x * 2)
    valid = sf.data.Dataset.range(100, 102)
    it = sf.data.Iterator.from_structure(train.output_types, train.output_shapes)
    nxt = it.get_next()
    init_train, init_valid = it.make_initializer(train), it.make_initializer(valid)
    with pytest.raises(TypeError, match="Expected output types"):
        it.make_initializer(sf.data.Dataset.from_tensors(np.float32(1)))
    with pytest.raises(ValueError, match="does not have an initializer"):
        _ = it.initializer
    with sf.Session() as sess:
        sess.run(init_train)
        assert [sess.run(nxt) for _ in range(2)] == [0, 2]
        sess.run(init_valid)
        assert _ints(_all(nxt, sess)) == [100, 101]
        sess.run(init_train)
        assert _ints(_all(nxt, sess)) == [0, 2, 4, 6, 8]


def test_feedable_iterator_from_string_handle():
    a = sf.data.Dataset.range(3).make_one_shot_iterator()
    b = sf.data.Dataset.range(10, 13).make_one_shot_iterator()
    handle = sf.placeholder(sf.string, [])
    nxt = sf.data.Iterator.from_string_handle(handle, sf.int64, sf.TensorShape([])).get_next()
    with sf.Session() as sess:
        ha, hb = sess.run([a.string_handle(), b.string_handle()])
        got = [sess.run(nxt, {handle: h}) for h in (ha, hb, ha, hb)]
    assert got == [0, 10, 1, 11]


def test_one_shot_iterator_rejects_placeholders_and_get_next_names_its_op():
    x = sf.placeholder(sf.float32, [None])
    with pytest.raises(ValueError, match="placeholder"):
        sf.data.Dataset.from_tensor_slices(x).make_one_shot_iterator()
    nxt = sf.data.Dataset.range(1).make_one_shot_iterator().get_next(name="next_one")
    with sf.Session() as sess:
        sess.run(nxt)
        with pytest.raises(sf.errors.OutOfRangeError) as e:
            sess.run(nxt)
    assert "next_one" in str(e.value) and e.value.op is nxt.op


def test_iterators_are_per_session():
    nxt = sf.data.Dataset.range(3).make_one_shot_iterator().get_next()
    with sf.Session() as s1, sf.Session() as s2:
        assert [s1.run(nxt), s1.run(nxt), s2.run(nxt), s1.run(nxt)] == [0, 1, 0, 2]


def test_list_files_and_text_line_dataset(tmp_path):
    for name, body in (("b.txt", b"b1\r\nb2\n"), ("a.txt", b"a1\n\na3"), ("c.dat", b"no")):
        (tmp_path / name).write_bytes(body)
    names = _all(sf.data.Dataset.list_files(str(tmp_path / "*.txt"), shuffle=False))
    assert names == [str(tmp_path / n).encode() for n in ("a.txt", "b.txt")]
    lines = _all(sf.data.TextLineDataset([str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]))
    assert lines == [b"a1", b"", b"a3", b"b1", b"b2"]
    shuffled = _all(sf.data.Dataset.list_files(str(tmp_path / "*"), seed=3))
    assert sorted(shuffled) == sorted(str(tmp_path / n).encode() for n in ("a.txt", "b.txt", "c.dat"))
    with pytest.raises(sf.errors.InvalidArgumentError, match="No files matched pattern"):
        _all(sf.data.Dataset.list_files(str(tmp_path / "*.none")))


def test_fixed_length_record_dataset(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"HDR" + bytes(range(12)) + b"FT")
    got = _all(sf.data.FixedLengthRecordDataset(str(path), 4, header_bytes=3, footer_bytes=2))
    assert got == [bytes(range(0, 4)), bytes(range(4, 8)), bytes(range(8, 12))]


def test_graph_level_seed_makes_unseeded_shuffles_repeatable():
    def run():
        g = sf.Graph()
        with g.as_default():
            sf.set_random_seed(42)
            return _ints(_all(sf.data.Dataset.range(30).shuffle(30)))

    assert run() == run() != list(range(30))
