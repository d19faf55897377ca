"""``host_map``: a parallel tf.data map whose function starts in a few milliseconds.

When an iterator is made, tf.data instantiates every map's function, by default as a
"multi-device function": TensorFlow's placer and its Grappler optimizers run over each one.
On a 2-core machine that is about 15 ms of CPU per function, and it was 90 of the 100 ms
Kiln's image stream took to make its iterator, before any file was read (docs/PERFORMANCE.md,
round 7). Kiln's decode and cast functions run on the host CPU and gain nothing from it.

TensorFlow takes its own such functions off that path with the function attribute
``experimental_ints_on_device`` (``tf.data.experimental.prefetch_to_device`` does);
``Dataset.map`` cannot set it, so `host_map` builds the same ParallelMapDataset with it set.
That needs TensorFlow's private data modules: where they are not as expected (another
TensorFlow version), `host_map` is ``Dataset.map`` (the same elements, the slower start) and
`HOST_MAPS` is False, which a test checks for the pinned TensorFlow.

Only for functions whose every op and captured resource lives on the host CPU: a function
that captures a variable on a GPU (Keras layers, their seed generators) needs the
multi-device path.
"""

from __future__ import annotations

from typing import Any

try:  # TensorFlow's private data modules: see the module docstring
    from tensorflow.python.data.ops import dataset_ops, structured_function
    from tensorflow.python.framework import dtypes, ops
    from tensorflow.python.ops import gen_dataset_ops

    HOST_MAPS = all(
        hasattr(module, name)
        for module, name in (
            (dataset_ops, "UnaryDataset"),
            (structured_function, "StructuredFunctionWrapper"),
            (gen_dataset_ops, "parallel_map_dataset_v2"),
        )
    )
except ImportError:  # pragma: no cover - a TensorFlow without them
    HOST_MAPS = False

_SINGLE_DEVICE = {"experimental_ints_on_device": True}  # tf.data then skips the multi-device set-up
_AUTOTUNE = -1  # tf.data.AUTOTUNE


def host_map(dataset: Any, function: Any, *, deterministic: bool = True) -> Any:
    """``dataset.map(function, num_parallel_calls=AUTOTUNE, deterministic=...)`` for a function
    that runs wholly on the host CPU, instantiated without the multi-device set-up."""
    if not HOST_MAPS:
        import tensorflow as tf

        return dataset.map(function, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    return _HostMapDataset(dataset, function, deterministic)


if HOST_MAPS:

    class _HostMapDataset(dataset_ops.UnaryDataset):
        """TensorFlow's ParallelMapDataset (map_op._ParallelMapDataset, as ``Dataset.map`` makes
        it: cardinality kept, inter-op parallelism on), with its function marked single-device."""

        def __init__(self, input_dataset: Any, function: Any, deterministic: bool) -> None:
            self._input_dataset = input_dataset
            self._name = None
            self._map_func = structured_function.StructuredFunctionWrapper(
                function, "Dataset.map()", dataset=input_dataset, defun_kwargs=dict(_SINGLE_DEVICE)
            )
            variant_tensor = gen_dataset_ops.parallel_map_dataset_v2(
                input_dataset._variant_tensor,
                self._map_func.function.captured_inputs,
                f=self._map_func.function,
                num_parallel_calls=ops.convert_to_tensor(_AUTOTUNE, dtype=dtypes.int64),
                deterministic="true" if deterministic else "false",
                use_inter_op_parallelism=True,
                preserve_cardinality=True,
                **self._common_args,
            )
            super().__init__(input_dataset, variant_tensor)

        def _functions(self) -> list[Any]:
            return [self._map_func]

        @property
        def element_spec(self) -> Any:
            return self._map_func.output_structure

        def _transformation_name(self) -> str:
            return "Dataset.map()"
