"""The bug corpus of networks: seeded bugs of the reference, each with the checks it must lose
(and the words their messages must contain); the other folders of corpus/ are valid variants,
written differently, that must score full marks. Graded by tests/test_practicals.py."""

from grader.corpus import bug, reference_text

REFERENCE_TEXT = reference_text(__file__)

SHALLOW_ACCURACY = ("ShallowNet accuracy", "ShallowNet accuracy on another split")
CNN_ACCURACY = ("Cnn accuracy", "Cnn accuracy on another split")


def span_bug(name: str, first: tuple[str, str], second: tuple[str, str], *loses: str,
             maybe: tuple[str, ...] = (), diagnosis: str = ""):
    """A bug made of two edits: one snippet of the reference, from ``first``'s old text to
    ``second``'s, both replaced (a layer size and the forward step that goes with it)."""
    start = REFERENCE_TEXT.index(first[0])
    end = REFERENCE_TEXT.index(second[0], start) + len(second[0])
    old = REFERENCE_TEXT[start:end]
    new = old.replace(first[0], first[1], 1)
    new = new[:len(new) - len(second[0])] + second[1]
    return bug(name, old, new, *loses, maybe=maybe, diagnosis=diagnosis)


# The reference Cnn's layers and forward, and an original LeNet-5 in their place: padding 2,
# C5 as a convolution, tanh and average pooling.
CNN_BODY = REFERENCE_TEXT[REFERENCE_TEXT.index("        self.conv1 = nn.Conv2d(1, 6, kernel_size=5)"):
                          REFERENCE_TEXT.index("        return self.fc3(x)\n") + 27]
ORIGINAL_LENET = """        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.conv3 = nn.Conv2d(16, 120, kernel_size=5)
        self.fc1 = nn.Linear(120, 84)
        self.fc2 = nn.Linear(84, output_nbr)
        self.pool = nn.AvgPool2d(2)
        self.act = nn.Tanh()
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        x = x.reshape(x.shape[0], 1, 28, 28)
        x = self.pool(self.act(self.conv1(x)))
        x = self.pool(self.act(self.conv2(x)))
        x = self.act(self.conv3(x)).flatten(start_dim=1)
        return self.fc2(self.act(self.fc1(x)))
"""


CNN_ARCHITECTURE = ("Cnn parameter count", "Cnn layer shapes",
                    "Cnn matches reference with the same weights", "Cnn output nbr",
                    "Cnn matches reference with other weights")

BUGS = [
    bug("shallow_no_relu", "return self.fc2(self.relu(self.fc1(x)))", "return self.fc2(self.fc1(x))",
        "ShallowNet matches reference with the same weights",
        "ShallowNet zeroes negative pre activations", "ShallowNet matches reference with other sizes",
        maybe=SHALLOW_ACCURACY, diagnosis="no_relu"),
    bug("shallow_hidden_num_ignored",
        "self.fc1 = nn.Linear(input_num, hidden_num)\n        self.fc2 = nn.Linear(hidden_num, output_num)",
        "self.fc1 = nn.Linear(input_num, 128)\n        self.fc2 = nn.Linear(128, output_num)",
        "ShallowNet parameter count [64]", "ShallowNet parameter count with other sizes",
        "ShallowNet matches reference with other sizes", diagnosis="hidden_sizes_ignored"),
    bug("deep_hidden_sizes_ignored", "for size in hidden_sizes:", "for size in (512, 128):",
        "DeepNet parameter count [512-256-128]", "DeepNet parameter count [256]",
        "DeepNet parameter count with other sizes", "DeepNet matches reference with other sizes",
        diagnosis="hidden_sizes_ignored"),
    bug("deep_no_output_layer", "        layers.append(nn.Linear(width, output_num))\n", "",
        "DeepNet output shape [images]", "DeepNet output shape [flat]",
        "DeepNet parameter count [512-128]", "DeepNet parameter count [512-256-128]",
        "DeepNet parameter count [256]", "DeepNet matches reference with the same weights",
        "DeepNet zeroes negative pre activations and keeps negative logits",
        "DeepNet parameter count with other sizes", "DeepNet matches reference with other sizes",
        diagnosis="no_output_layer"),
    bug("deep_relu_on_output", "layers.append(nn.Linear(width, output_num))",
        "layers += [nn.Linear(width, output_num), nn.ReLU()]",
        "DeepNet matches reference with the same weights",
        "DeepNet zeroes negative pre activations and keeps negative logits",
        "DeepNet matches reference with other sizes", diagnosis="relu_on_output"),
    bug("cnn_fc1_for_32x32", "self.fc1 = nn.Linear(16 * 4 * 4, 120)",
        "self.fc1 = nn.Linear(16 * 5 * 5, 120)",
        "Cnn output shape [images]", "Cnn output shape [flat]", *CNN_ARCHITECTURE, *CNN_ACCURACY,
        diagnosis="lenet_sizes_for_32x32"),
    span_bug("cnn_no_second_pool",
             ("self.fc1 = nn.Linear(16 * 4 * 4, 120)", "self.fc1 = nn.Linear(16 * 8 * 8, 120)"),
             ("x = self.pool(self.relu(self.conv2(x)))", "x = self.relu(self.conv2(x))"),
             *CNN_ARCHITECTURE, maybe=CNN_ACCURACY, diagnosis="no_second_pool"),
    span_bug("cnn_padding_2",
             ("self.conv1 = nn.Conv2d(1, 6, kernel_size=5)",
              "self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)"),
             ("self.fc1 = nn.Linear(16 * 4 * 4, 120)", "self.fc1 = nn.Linear(16 * 5 * 5, 120)"),
             *CNN_ARCHITECTURE, maybe=CNN_ACCURACY, diagnosis="lenet_sizes_for_32x32"),
    bug("cnn_images_only", "        x = x.reshape(x.shape[0], 1, 28, 28)  # flat rows become images\n",
        "", "Cnn output shape [flat]", diagnosis="flat_rows_not_reshaped"),
    bug("early_stopping_no_reset", "            self.best = valid_loss\n            self.bad_epochs = 0\n",
        "            self.best = valid_loss\n",
        "EarlyStopping improvement resets the count",
        "EarlyStopping improvement beyond min delta resets the count",
        diagnosis="bad_epochs_not_reset"),
    bug("early_stopping_ignores_min_delta", "if valid_loss < self.best - self.min_delta:",
        "if valid_loss < self.best:",
        "EarlyStopping ignores improvements smaller than min delta",
        "EarlyStopping default arguments",
        "EarlyStopping improvement beyond min delta resets the count",
        diagnosis="min_delta_ignored"),
    bug("early_stopping_one_epoch_late", "return self.bad_epochs >= self.patience",
        "return self.bad_epochs > self.patience",
        "EarlyStopping stops after patience epochs without improvement",
        "EarlyStopping ignores improvements smaller than min delta",
        "EarlyStopping improvement resets the count", "EarlyStopping with another patience [1]",
        "EarlyStopping with another patience [3]", "EarlyStopping equal loss is not an improvement",
        "EarlyStopping default arguments",
        "EarlyStopping improvement beyond min delta resets the count",
        "EarlyStopping instances are independent", diagnosis="stops_one_epoch_late"),
    # Issue 10: code that hard-codes the first "best" loss at 1.0 (the public sequences all
    # started at 1.0, where it passed by luck).
    bug("early_stopping_best_starts_at_one", 'self.best = float("inf")', "self.best = 1.0",
        "EarlyStopping stops after patience epochs without improvement",
        "EarlyStopping ignores improvements smaller than min delta",
        "EarlyStopping keeps going while the loss improves",
        "EarlyStopping with another patience [3]", "EarlyStopping default arguments",
        "EarlyStopping improvement beyond min delta resets the count",
        "EarlyStopping instances are independent", diagnosis="best_starts_at_one"),
    # Issue 10: a ShallowNet that does not flatten images is told to.
    bug("shallow_images_not_flattened",
        "        x = x.reshape(x.shape[0], -1)\n        return self.fc2(self.relu(self.fc1(x)))",
        "        return self.fc2(self.relu(self.fc1(x)))", "ShallowNet output shape [images]",
        diagnosis="images_not_flattened"),
    # Issue 10: the original LeNet-5 (padding 2, tanh, average pooling, C5 as a 5x5
    # convolution: 61,706 parameters) runs on 28x28 images, and is told what differs.
    bug("cnn_original_lenet5", CNN_BODY, ORIGINAL_LENET,
             "Cnn parameter count", "Cnn layer shapes", "Cnn matches reference with the same weights",
             "Cnn output nbr", "Cnn matches reference with other weights", *CNN_ACCURACY,
             diagnosis="original_lenet5"),
]

MESSAGES = {  # bug: [(check, words its message must contain)]
    "shallow_no_relu": [("ShallowNet zeroes negative pre activations", "without ReLU"),
                        ("ShallowNet matches reference with the same weights", "without any ReLU")],
    "shallow_hidden_num_ignored": [("ShallowNet parameter count [64]", "hidden_num")],
    "deep_relu_on_output": [("DeepNet zeroes negative pre activations and keeps negative logits",
                             "ReLU applied after the output layer"),
                            ("DeepNet matches reference with the same weights",
                             "ReLU applied after the output layer")],
    "deep_no_output_layer": [("DeepNet parameter count [512-128]", "last Linear layer")],
    "cnn_fc1_for_32x32": [("Cnn layer shapes", "16·5·5 = 400"),
                          ("Cnn output shape [images]", "16·5·5 = 400"),
                          ("Cnn accuracy", "16·5·5 = 400")],
    "cnn_no_second_pool": [("Cnn parameter count", "max-pooling after the second convolution")],
    "cnn_padding_2": [("Cnn parameter count", "61,706 parameters")],
    "cnn_images_only": [("Cnn output shape [flat]", "reshape them to images")],
    "shallow_images_not_flattened": [("ShallowNet output shape [images]", "flatten the input")],
    "cnn_original_lenet5": [("Cnn parameter count", "original LeNet-5"),
                            ("Cnn layer shapes", "original LeNet-5"),
                            ("Cnn accuracy", "original LeNet-5")],
    "early_stopping_one_epoch_late": [
        ("EarlyStopping stops after patience epochs without improvement", "one epoch late")],
    "early_stopping_no_reset": [("EarlyStopping improvement resets the count", "one epoch early")],
    "early_stopping_ignores_min_delta": [
        ("EarlyStopping ignores improvements smaller than min delta", "never said to stop")],
}
