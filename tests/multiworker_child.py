"""One worker of a real two-process `MultiWorkerMirroredStrategy` cluster on loopback.

    python -m tests.multiworker_child INDEX PORT0 PORT1 LOG_DIR [--validation-data]

Keras 3.15 cannot run `fit` or `evaluate` under this strategy at all, with or without this plugin
(keras-team/keras#20585: "Attempt to convert a value (PerReplica ...)"). So each worker drives the
same parts `fit` would: our compiled metrics updated through `Model.compute_metrics` inside
`strategy.run` on its shard of the breast-cancer training split (`tf.data` auto-sharding by data),
and `MetricsCallback`'s hooks called at each of 2 epoch ends. Worker 0 (the chief of a cluster
without a "chief" task) also saves its own predictions of the whole split to LOG_DIR/reference.npz,
for the test to count single-process. With --validation-data the model compiles none of our
metrics and the callback gets `validation_data` instead, which it must refuse on every worker at
`on_train_begin` (printed as {"worker": INDEX, "refused": message}).
"""

from __future__ import annotations

import json
import os
import sys

EPOCHS = 2
BATCH_SIZE = 64


def main(index: int, port0: str, port1: str, log_dir: str, validation_data: bool = False) -> None:
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"localhost:{port0}", f"localhost:{port1}"]},
        "task": {"type": "worker", "index": index},
    })
    import keras
    import numpy as np
    import tensorflow as tf

    import tb_metrics_plugin as tbm
    from tests.datasets import breast_cancer_split

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    (x, y), _ = breast_cancer_split()
    with strategy.scope():
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="sgd", loss="binary_crossentropy",
                      metrics=[] if validation_data else [tbm.ThresholdCurves(), tbm.ConfusionMatrix()])
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH_SIZE).with_options(options)
    distributed = strategy.experimental_distribute_dataset(batches)

    @tf.function
    def count(batch):
        def on_replica(features, labels):
            model.compute_metrics(features, labels, model(features, training=False), None)

        strategy.run(on_replica, args=batch)

    callback = tbm.MetricsCallback(log_dir, validation_data=(x, y) if validation_data else None)
    callback.set_model(model)
    try:
        callback.on_train_begin()
    except ValueError as error:
        print(json.dumps({"worker": index, "refused": str(error)}), flush=True)
        return
    for epoch in range(EPOCHS):
        callback.on_epoch_begin(epoch)
        for metric in model.metrics:
            metric.reset_state()
        for batch in distributed:
            count(batch)
        callback.on_epoch_end(epoch)
    callback.on_train_end()
    if index == 0:
        np.savez(os.path.join(log_dir, "reference.npz"), scores=keras.ops.convert_to_numpy(model(x)), labels=y)
    (curves,) = [m for m in model._compile_metrics.metrics if isinstance(m, tbm.ThresholdCurves)]
    print(json.dumps({"worker": index, "replicas": strategy.num_replicas_in_sync,
                      "raw_items_kept": curves.raw_items is not None}), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], "--validation-data" in sys.argv[5:])
