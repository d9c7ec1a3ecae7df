"""Write the history files tests/test_protocol.py reads, with the libraries that write them.

Not run by the tests (it needs torch, pytorch-lightning, keras and transformers); run it by
hand in a scratch environment to refresh the files:

    pip install torch==2.13.0 pytorch-lightning keras transformers accelerate
    KERAS_BACKEND=torch python tests/data/histories/make_histories.py tests/data/histories

Each model is tiny (a linear classifier on 64 random points) and trains for 3 epochs; the
"nan" variants use a learning rate that blows up.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import torch

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
rng = np.random.default_rng(0)
X = rng.normal(size=(64, 4)).astype("float32")
Y = (X[:, 0] + X[:, 1] > 0).astype("int64")


def lightning(name: str, lr: float, on_epoch: bool, snapshots: str | None = None) -> None:
    import pytorch_lightning as pl
    from pytorch_lightning.loggers import CSVLogger
    from torch.utils.data import DataLoader, TensorDataset

    class Net(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 2)

        def training_step(self, batch, _):
            x, y = batch
            loss = torch.nn.functional.cross_entropy(self.layer(x), y)
            self.log("train_loss", loss, on_step=True, on_epoch=on_epoch)
            return loss

        def validation_step(self, batch, _):
            x, y = batch
            logits = self.layer(x)
            self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))
            self.log("val_acc", (logits.argmax(1) == y).float().mean())

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=lr)

    seen: list[str] = []  # the file as a reader polling it would find it, at every change

    class Snapshot(pl.Callback):
        def _take(self, *_):
            path = tmp / "run" / "version_0" / "metrics.csv"
            text = path.read_bytes().decode() if path.exists() else ""
            if not seen or seen[-1] != text:
                seen.append(text)

        on_train_batch_end = on_validation_epoch_end = on_train_epoch_end = _take
        on_train_epoch_start = on_fit_end = _take

    pl.seed_everything(0)
    data = TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
    tmp = Path(tempfile.mkdtemp())
    trainer = pl.Trainer(
        max_epochs=3,
        logger=CSVLogger(tmp, name="run"),
        log_every_n_steps=2,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[Snapshot()],
    )
    trainer.fit(Net(), DataLoader(data, batch_size=16), DataLoader(data, batch_size=32))
    shutil.copy(tmp / "run" / "version_0" / "metrics.csv", OUT / name)
    if snapshots:
        (OUT / snapshots).write_text(json.dumps([s for s in seen if s], indent=0) + "\n")


def keras_csv(name: str, lr: float, validation_freq: int) -> None:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(
        optimizer=keras.optimizers.SGD(lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        X,
        Y,
        batch_size=16,
        epochs=3,
        validation_data=(X, Y),
        verbose=0,
        validation_freq=validation_freq,
        callbacks=[keras.callbacks.CSVLogger(OUT / name)],
    )


def hf_state(name: str, lr: float) -> None:
    from transformers import Trainer, TrainingArguments

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 2)

        def forward(self, x, labels=None):
            logits = self.layer(x)
            return {"loss": torch.nn.functional.cross_entropy(logits, labels), "logits": logits}

    rows = [{"x": torch.from_numpy(x), "labels": int(y)} for x, y in zip(X, Y)]
    tmp = tempfile.mkdtemp()
    args = TrainingArguments(
        tmp,
        num_train_epochs=3,
        per_device_train_batch_size=16,
        learning_rate=lr,
        eval_strategy="epoch",
        logging_steps=3,
        save_strategy="no",
        report_to=[],
        seed=0,
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer = Trainer(model=Net(), args=args, train_dataset=rows, eval_dataset=rows)
    trainer.train()
    trainer.save_state()
    shutil.copy(Path(tmp) / "trainer_state.json", OUT / name)


lightning("lightning_metrics.csv", 0.1, on_epoch=True, snapshots="lightning_snapshots.json")
lightning("lightning_step_only.csv", 0.1, on_epoch=False)
lightning("lightning_nan.csv", float("inf"), on_epoch=True)
keras_csv("keras_log.csv", 0.1, validation_freq=1)
keras_csv("keras_validation_freq2.csv", 0.1, validation_freq=2)
keras_csv("keras_nan.csv", float("inf"), validation_freq=1)
hf_state("trainer_state.json", 0.1)
hf_state("trainer_state_nan.json", float("inf"))
print(json.dumps(sorted(p.name for p in OUT.iterdir())))
