"""tf.layers conv1d, conv2d_transpose (valid and same), separable_conv2d, 1-d pooling and the
layer classes' weights, with numpy-valued initializers; values and static shapes."""

import importlib
import types

import numpy as np


def _layers(tf):
    """tf.layers; where TensorFlow (2.16+) routes tf.compat.v1.layers to Keras 3, which has none
    of TF1's layers, TF1's own layer code that TensorFlow still ships."""
    try:
        tf.layers.dense  # noqa: B018 - the attribute access is the test
        return tf.layers
    except AttributeError:
        ns = types.SimpleNamespace()
        for m in ("core", "convolutional", "pooling"):
            mod = importlib.import_module("tensorflow.python.keras.legacy_tf_layers." + m)
            ns.__dict__.update({k: v for k, v in vars(mod).items() if not k.startswith("_")})
        return ns


def program(tf):
    layers = _layers(tf)
    rng = np.random.default_rng(1)

    def init(shape):
        return tf.constant_initializer(rng.standard_normal(shape).astype(np.float32) * 0.3)

    seq = tf.constant(rng.standard_normal((2, 9, 3)).astype(np.float32))
    img = tf.constant(rng.standard_normal((2, 5, 6, 3)).astype(np.float32))
    c1 = layers.conv1d(
        seq,
        4,
        3,
        strides=2,
        padding="same",
        kernel_initializer=init((3, 3, 4)),
        bias_initializer=init((4,)),
        activation=tf.nn.relu,
    )
    p1 = layers.max_pooling1d(c1, 2, 2)
    a1 = layers.average_pooling1d(seq, 3, 2, padding="same")
    tv = layers.conv2d_transpose(
        img, 2, (3, 2), strides=(2, 3), kernel_initializer=init((3, 2, 2, 3)), bias_initializer=init((2,))
    )
    ts = layers.conv2d_transpose(img, 4, 3, strides=2, padding="same", kernel_initializer=init((3, 3, 4, 3)))
    sep = layers.separable_conv2d(
        img,
        5,
        2,
        depth_multiplier=2,
        padding="same",
        depthwise_initializer=init((2, 2, 3, 2)),
        pointwise_initializer=init((1, 1, 6, 5)),
        bias_initializer=init((5,)),
    )
    conv = layers.Conv2D(3, 2, strides=(1, 2), dilation_rate=1, kernel_initializer=init((2, 2, 3, 3)))
    co = conv(img)
    ap = layers.AveragePooling2D(2, 1, padding="same")(co)
    names = [v.name for v in tf.global_variables()]
    shapes = [t.shape.as_list() for t in (c1, p1, a1, tv, ts, sep, co, ap)]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        vals = sess.run([c1, p1, a1, tv, ts, sep, co, ap])
    out = dict(
        zip(
            [
                "conv1d",
                "maxpool1d",
                "avgpool1d",
                "deconv_valid",
                "deconv_same",
                "separable",
                "conv_obj",
                "avgpool2d",
            ],
            vals,
        )
    )
    out["names"] = np.array(names)
    out["conv_obj_weights"] = np.array([w.name for w in conv.weights])
    out["static_shapes"] = np.array([str(s) for s in shapes])
    return out
