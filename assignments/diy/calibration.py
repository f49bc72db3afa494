"""What diy's accuracy checks score, for the grader's own label inspection
(tests/test_practicals.py): USPS-sized test images (real USPS when cached, else MNIST 16x16).
Judge-side only. (diy's thresholds are calibrated by hand: see assignment.toml.)"""

from grader import api

# The judge sends these images, without labels, for the student's network to predict (the
# trained parameters are read back and the predictions recomputed in the judge as well).
SCORED_IMAGES_SENT_UNLABELLED = True


def scored_images(assignment):
    """(images, labels, side) of the held-out digits the accuracy checks score."""
    _, test = api.data.resolve_usps()
    n = int(assignment.settings["mlp_test_size"])
    return test.images[:n], test.labels[:n], 16
