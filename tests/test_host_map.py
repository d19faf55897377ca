"""``host_map``: the same elements as ``Dataset.map``, its function marked single-device."""

from __future__ import annotations

import numpy as np

from kiln_lab.engine.runtime import import_tensorflow_quietly

import_tensorflow_quietly()

import tensorflow as tf  # noqa: E402

from kiln_lab.engine.data import hostmap  # noqa: E402


def _double(x, y):
    return tf.cast(x, tf.float32) * 2.0, y


def test_the_pinned_tensorflow_takes_the_single_device_path():
    assert hostmap.HOST_MAPS, "TensorFlow's private data modules changed: host_map fell back to Dataset.map"
    mapped = hostmap.host_map(tf.data.Dataset.range(3).map(lambda i: (i, i)), _double)
    attrs = mapped._map_func.function.function_def.attr
    assert attrs["experimental_ints_on_device"].b


def test_host_map_gives_what_dataset_map_gives_in_order_with_its_length():
    source = tf.data.Dataset.from_tensor_slices((np.arange(50, dtype=np.int32), np.arange(50) % 3))
    expected = [(float(x), int(y)) for x, y in source.map(_double)]
    mapped = hostmap.host_map(source, _double)
    assert [(float(x), int(y)) for x, y in mapped] == expected
    assert int(mapped.cardinality()) == 50
    assert mapped.element_spec == source.map(_double).element_spec


def test_a_captured_host_variable_is_updated_from_the_map():
    with tf.device("/cpu:0"):
        seen = tf.Variable(tf.zeros([6], tf.bool))

    def mark(i):
        return seen.scatter_nd_update(tf.reshape(i, (1, 1)), [True]).read_value()[0] | True

    list(hostmap.host_map(tf.data.Dataset.range(0, 6, 2), mark))
    assert seen.numpy().tolist() == [True, False, True, False, True, False]


def test_without_the_private_modules_it_is_dataset_map(monkeypatch):
    monkeypatch.setattr(hostmap, "HOST_MAPS", False)
    source = tf.data.Dataset.from_tensor_slices((np.arange(5, dtype=np.int32), np.zeros(5, np.int64)))
    mapped = hostmap.host_map(source, _double)
    assert not isinstance(mapped, getattr(hostmap, "_HostMapDataset", ()))
    assert [float(x) for x, _ in mapped] == [0.0, 2.0, 4.0, 6.0, 8.0]
