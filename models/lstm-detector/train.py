#!/usr/bin/python3
"""Trains the LSTM autoencoder of the learned early-warning detector (issue 5) and exports it to ONNX.

Run with Debian's interpreter (python3-torch 1.13, python3-onnx), one thread, from the repository root:

    npm run build
    node dist/cli/main.js seed --patients 200 --days 180 --seed 9  --out /tmp/det9
    node dist/cli/main.js seed --patients 200 --days 180 --seed 11 --out /tmp/det11
    node dist/cli/main.js seed --patients 200 --days 180 --seed 7  --out /tmp/det7
    npx tsx models/lstm-detector/exportWindows.mjs --window 14 --out /tmp/lstm-train /tmp/det9 /tmp/det11
    npx tsx models/lstm-detector/exportWindows.mjs --window 14 --out /tmp/lstm-holdout /tmp/det7
    /usr/bin/python3 models/lstm-detector/train.py --train /tmp/lstm-train --holdout /tmp/lstm-holdout --seed 1

The windows come from the engine's own feature code (src/detect/lstm/featureWindows.ts via exportWindows.mjs), so the
features are defined once. Only "normal" windows (label 0: no clinical event within [-7, +28] days) are trained on:
the autoencoder learns what a person's ordinary weeks look like, relative to their own baseline. The held-out cohort
(other people, other seed) is only scored, never trained on.

Writes lstm-detector.onnx and model-card.json beside this file (keeps a "heldOutDetection" block already in the
card: those figures come from `twin eval detect --detector lstm`, run after export).
"""
import argparse
import datetime
import hashlib
import json
import os
import random
import time

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_VERSION = "1.0.0"


class LstmAutoencoder(nn.Module):
    """Encoder LSTM over the window -> last hidden state (the code) -> repeated -> decoder LSTM -> per-day z."""

    def __init__(self, features: int, window: int, hidden: int):
        super().__init__()
        self.window = window
        self.encoder = nn.LSTM(2 * features, hidden, batch_first=True)
        self.decoder = nn.LSTM(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.encoder(x)
        code = h[-1].unsqueeze(1).repeat(1, self.window, 1)
        y, _ = self.decoder(code)
        return self.head(y)


def load(folder: str):
    meta = json.load(open(os.path.join(folder, "meta.json")))
    features = len(meta["features"])
    window = meta["window"]
    x = np.fromfile(os.path.join(folder, "windows.f32"), dtype="<f4").reshape(meta["n"], window, 2 * features)
    labels = np.fromfile(os.path.join(folder, "labels.u8"), dtype=np.uint8)
    return meta, x, labels


def masked_error(model: nn.Module, x: np.ndarray, features: int) -> np.ndarray:
    """Per-window mean squared error over present entries (the raw score the engine calibrates per person)."""
    out = []
    with torch.no_grad():
        for i in range(0, len(x), 4096):
            xb = torch.from_numpy(x[i : i + 4096])
            y = model(xb)
            z, m = xb[:, :, :features], xb[:, :, features:]
            err = ((y - z) ** 2 * m).sum(dim=(1, 2)) / m.sum(dim=(1, 2)).clamp(min=1)
            out.append(err.numpy())
    return np.concatenate(out)


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Mann-Whitney AUC: probability a positive window scores above a negative one."""
    scores = np.concatenate([pos, neg])
    ranks = scores.argsort().argsort() + 1
    r_pos = ranks[: len(pos)].sum()
    return float((r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--train", required=True)
    p.add_argument("--holdout", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--hidden", type=int, default=24)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--input-dropout", type=float, default=0.1)
    p.add_argument("--out", default=HERE)
    a = p.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    random.seed(a.seed)
    torch.use_deterministic_algorithms(True)

    meta, x_all, labels = load(a.train)
    features, window = len(meta["features"]), meta["window"]
    x = x_all[labels == 0]
    print(f"train windows {len(x)} of {len(x_all)} (normal only), features {features}, window {window}")
    model = LstmAutoencoder(features, window, a.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.epochs)
    rng = np.random.default_rng(a.seed)
    started = time.time()
    for epoch in range(a.epochs):
        order = rng.permutation(len(x))
        total, count = 0.0, 0
        model.train()
        for i in range(0, len(order), a.batch):
            xb = torch.from_numpy(x[order[i : i + a.batch]])
            z, m = xb[:, :, :features], xb[:, :, features:]
            # Denoising: hide some present values from the encoder (not from the loss), so the model must predict a
            # day from its context rather than copy it; an unusual day then reconstructs badly.
            keep = torch.from_numpy((rng.random(m.shape) >= a.input_dropout).astype(np.float32)) * m
            y = model(torch.cat([z * keep, keep], dim=2))
            loss = ((y - z) ** 2 * m).sum() / m.sum().clamp(min=1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
            count += len(xb)
        sched.step()
        print(f"epoch {epoch + 1}/{a.epochs} loss {total / count:.4f} ({time.time() - started:.0f} s)")
    train_seconds = time.time() - started
    model.eval()

    hmeta, hx, hlabels = load(a.holdout)
    assert hmeta["features"] == meta["features"] and hmeta["window"] == window
    err = masked_error(model, hx, features)
    normal, illness, other = err[hlabels == 0], err[hlabels == 1], err[hlabels == 2]
    metrics = {
        "heldOutWindows": int(len(hx)),
        "meanErrorNormal": round(float(normal.mean()), 4),
        "meanErrorIllnessOnset": round(float(illness.mean()), 4),
        "meanErrorOtherClinical": round(float(other.mean()), 4),
        "aucIllnessOnsetVsNormal": round(auc(illness, normal), 4),
        "note": "raw per-window reconstruction error, before per-person calibration; illness onset = windows ending "
        "within 3 days of symptom onset",
    }
    print(json.dumps(metrics, indent=2))

    onnx_path = os.path.join(a.out, "lstm-detector.onnx")
    dummy = torch.zeros(2, window, 2 * features)
    torch.onnx.export(
        model,
        dummy,
        onnx_path,
        opset_version=17,
        input_names=["window"],
        output_names=["reconstruction"],
        dynamic_axes={"window": {0: "batch"}, "reconstruction": {0: "batch"}},
    )
    import onnx

    onnx.checker.check_model(onnx.load(onnx_path))
    sha = hashlib.sha256(open(onnx_path, "rb").read()).hexdigest()

    card_path = os.path.join(a.out, "model-card.json")
    previous = json.load(open(card_path)) if os.path.exists(card_path) else {}
    card = {
        "name": "recovery-twin LSTM autoencoder early-warning detector",
        "version": MODEL_VERSION,
        "file": "lstm-detector.onnx",
        "sha256": sha,
        "format": {"opset": 17, "input": "window [batch, window, 2 x features] float32 (z values then masks per day)",
                   "output": "reconstruction [batch, window, features] float32 (z values)"},
        "window": window,
        "features": meta["features"],
        "featureDefinition": "src/detect/lstm/featureWindows.ts: robust z vs the person's prior 28 days "
        "(median, 1.4826 x MAD, metric spread floor), clipped to +-6, mask 1 when present with >= 7 prior values",
        "architecture": {"encoder": f"LSTM({2 * features}->{a.hidden})", "decoder": f"LSTM({a.hidden}->{a.hidden})",
                         "head": f"Linear({a.hidden}->{features})", "parameters": sum(p.numel() for p in model.parameters())},
        "training": {
            "seed": a.seed,
            "epochs": a.epochs,
            "batch": a.batch,
            "learningRate": a.lr,
            "inputDropout": a.input_dropout,
            "threads": 1,
            "seconds": round(train_seconds, 1),
            "torch": torch.__version__,
            "windows": int(len(x)),
            "data": [
                {"source": f"synthetic cohort {c} (`twin seed`, 200 patients x 180 days)",
                 "licence": "generated by this project (Apache-2.0); no real person's data"}
                for c in meta["cohorts"]
            ],
            "selection": "normal windows only: no clinical ground-truth event (illness, injury, surgery, overreaching, "
            "plateau) within [-7, +28] days; data gaps and device changes count as normal",
        },
        "heldOut": {"data": [f"synthetic cohort {c}" for c in hmeta["cohorts"]], "people": "none seen in training",
                    "reconstruction": metrics},
        "builtAt": datetime.date.today().isoformat(),
    }
    # Written by hand after export (figures from `twin eval detect`, text that is not training output): kept.
    for key in ("intendedUse", "limitations", "trainingDataCommands", "heldOutDetection", "evaluationData"):
        if key in previous:
            card[key] = previous[key]
    with open(card_path, "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes, sha256 {sha}) and {card_path}")


if __name__ == "__main__":
    main()
