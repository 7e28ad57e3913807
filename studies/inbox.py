"""Multi-label: is a message spam, urgent, both or neither? Two sigmoid outputs.

Generated data (2,000 messages, six numeric features); the task is inferred
from the two 0/1 label columns.

    tuner run studies/inbox.py --trials 10
"""

import tuner
from tuner.datasets import inbox

study = tuner.Study(
    data=inbox,
    space=tuner.Space(
        n_layers=tuner.Int(1, 2),
        units=tuner.Int(8, 128, log=True),
        learning_rate=tuner.Float(1e-3, 3e-2, log=True),
        batch_size=tuner.Choice([32, 64]),
    ),
    class_names=["spam", "urgent"],
    trials=10,
    max_epochs=40,
    patience=5,
)
