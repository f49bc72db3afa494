"""Calibration of networks's accuracy thresholds: the reference's ShallowNet and Cnn accuracies
per seed, computed the way the accuracy checks compute the student's (see
``benchmarks/calibrate_accuracy.py``). Judge-side only."""

from grader import api

THRESHOLDS = {"ShallowNet accuracy": "shallow_accuracy_high",
              "Cnn accuracy": "cnn_accuracy_high"}


def calibrate(assignment, seed: int) -> dict[str, float]:
    settings, ref = assignment.settings, assignment.load_reference()
    train, valid, test = api.data.calibration_splits(settings, seed)
    out = {}
    for name in ("ShallowNet", "Cnn"):
        inputs = (lambda d: d.images) if name == "Cnn" else (lambda d: d.flat())
        api.training.seed_everything(seed)
        model = getattr(ref, name)()
        api.training.train_classifier(model, inputs(train), train.labels,
                                      epochs=int(settings["accuracy_epochs"]),
                                      lr=float(settings["accuracy_lr"]), optimizer="adam",
                                      batch_size=int(settings["accuracy_batch_size"]), seed=seed,
                                      valid=(inputs(valid), valid.labels))
        out[f"{name} accuracy"] = api.accuracy(api.training.predict(model, inputs(test)),
                                               test.labels, "predictions")
    return out
