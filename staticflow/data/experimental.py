"""sf.data.experimental: the tf.data.experimental transformations TF1 code uses with `apply`."""

from staticflow.data.dataset import AUTOTUNE, Dataset  # noqa: F401


def shuffle_and_repeat(buffer_size, count=None, seed=None):
    """A transformation: shuffle (a new order each epoch), then repeat count times."""
    return lambda ds: ds.shuffle(buffer_size, seed=seed).repeat(count)


def map_and_batch(
    map_func, batch_size, num_parallel_batches=None, drop_remainder=False, num_parallel_calls=None
):
    """A transformation: map, then batch."""
    return lambda ds: ds.map(map_func).batch(batch_size, drop_remainder=drop_remainder)


def unbatch():
    """A transformation: each element's slices along its first dimension."""
    return lambda ds: ds.unbatch()
