"""Known mistakes of the networks practical (ShallowNet, DeepNet, Cnn, EarlyStopping): what a
failed check most likely means, the line to look at and the fix (see :mod:`grader.diagnosis`).
The answers are computed in the judge: the handout's networks built with the mistake
(``networks_checks.py``), and the stopper's decisions simulated here with the mistake."""

from __future__ import annotations

from grader.api import Mistake, N_

# --------------------------------------------------------------------- ShallowNet, DeepNet

NO_RELU = Mistake(
    "no_relu", N_("the network has no ReLU between its Linear layers (without any ReLU it is "
                  "one affine map)"),
    N_("Apply the ReLU to each hidden layer's output: `self.fc2(self.relu(self.fc1(x)))`."),
    find=r"def forward|relu|ReLU")
RELU_ON_OUTPUT = Mistake(
    "relu_on_output", N_("a ReLU applied after the output layer zeroes the negative logits"),
    N_("Return the last Linear layer's output as it is: no activation after it."),
    find=r"ReLU|relu")
HIDDEN_SIZES_IGNORED = Mistake(
    "hidden_sizes_ignored",
    N_("the Linear layers' widths are fixed in the code: the hidden size arguments are ignored"),
    N_("Build the layers from the arguments (input_num, hidden_num or hidden_sizes, "
       "output_num), not from fixed numbers."),
    find=r"Linear\(")
NO_OUTPUT_LAYER = Mistake(
    "no_output_layer", N_("the last Linear layer (to output_num classes) is missing"),
    N_("After the hidden layers, add one more `nn.Linear(width, output_num)`, without ReLU."),
    find=r"Linear\(")
IMAGES_NOT_FLATTENED = Mistake(
    "images_not_flattened",
    N_("the network was given images [B, 1, 28, 28] and does not flatten them"),
    N_("flatten the input at the start of forward: `x = x.reshape(x.shape[0], -1)` (or "
       "nn.Flatten()), so that the first Linear layer gets rows of 784 pixels."),
    find=r"def forward")
FLAT_ROWS_NOT_RESHAPED = Mistake(
    "flat_rows_not_reshaped",
    N_("Cnn only accepts images: flat rows [B, 784] are not reshaped to images"),
    N_("at the start of forward, reshape them to images: "
       "`x = x.reshape(x.shape[0], 1, 28, 28)`."),
    element="Cnn.forward")

# ------------------------------------------------------------------------------------- Cnn

LENET_FOR_32 = Mistake(
    "lenet_sizes_for_32x32",
    N_("the first fully connected layer takes 16·5·5 = 400 features: LeNet's size for 32×32 "
       "inputs (or with padding=2)"),
    N_("On 28×28 images without padding: 28 → conv5 → 24 → pool → 12 → conv5 → 8 → pool → 4, "
       "so `nn.Linear(16 * 4 * 4, 120)`, and no padding."),
    element="Cnn.__init__", find=r"Linear\(|padding")
NO_SECOND_POOL = Mistake(
    "no_second_pool",
    N_("the first fully connected layer takes 16·8·8 = 1,024 features: the max-pooling after "
       "the second convolution is missing"),
    N_("Pool after the second convolution too: `x = self.pool(self.relu(self.conv2(x)))`, then "
       "16·4·4 = 256 features."),
    element="Cnn.forward", find=r"conv2")
ORIGINAL_LENET5 = Mistake(
    "original_lenet5",
    N_("this is the original LeNet-5, made for 32×32 images (padding 2, C5 as a 5×5 "
       "convolution to 120 maps, tanh, average pooling)"),
    N_("The practical's Cnn: Conv2d(1, 6, 5) → ReLU → MaxPool2d(2), Conv2d(6, 16, 5) → ReLU → "
       "MaxPool2d(2), flatten (256), Linear(256, 120) → ReLU, Linear(120, 84) → ReLU, "
       "Linear(84, 10)."),
    element="Cnn.__init__")

# --------------------------------------------------------------------------- EarlyStopping

NO_RESET = Mistake(
    "bad_epochs_not_reset",
    N_("EarlyStopping does not reset its count of epochs without improvement when the loss "
       "improves"),
    N_("On an improvement, set `self.bad_epochs = 0` as well as `self.best`."),
    element="EarlyStopping.step", find=r"self\.best\s*=")
IGNORES_MIN_DELTA = Mistake(
    "min_delta_ignored",
    N_("EarlyStopping counts any decrease as an improvement: min_delta is ignored"),
    N_("An epoch improves only when `valid_loss < self.best - self.min_delta`."),
    element="EarlyStopping.step", find=r"if ")
ONE_EPOCH_LATE = Mistake(
    "stops_one_epoch_late",
    N_("EarlyStopping stops one epoch late: it waits for more than patience epochs without "
       "improvement"),
    N_("Stop as soon as the count reaches patience: `return self.bad_epochs >= self.patience` "
       "(>=, not >)."),
    element="EarlyStopping.step", find=r"return")
BEST_STARTS_AT_ONE = Mistake(
    "best_starts_at_one",
    N_("EarlyStopping starts from best = 1.0, so a first loss above 1 is not an improvement"),
    N_("Start from `self.best = float('inf')`: the first epoch always improves."),
    element="EarlyStopping.__init__", find=r"self\.best\s*=")


def first_stop(losses: list[float], patience: int, min_delta: float, *, reset: bool = True,
               use_delta: bool = True, late: bool = False,
               best: float = float("inf")) -> int | None:
    """The epoch (0-based) the handout's stopper first says stop at, with a mistake when asked;
    None when it never does."""
    bad = 0
    for index, loss in enumerate(losses):
        if loss < best - (min_delta if use_delta else 0.0):
            best = loss
            bad = 0 if reset else bad
        else:
            bad += 1
        if (bad > patience) if late else (bad >= patience):
            return index
    return None


def early_stopping_mistakes(losses: list[float], patience: int, min_delta: float) -> list:
    """Where each mistaken stopper first says stop, on these losses."""
    def at(**mistake):
        return lambda: first_stop(losses, patience, min_delta, **mistake)
    return [ONE_EPOCH_LATE.gives(at(late=True)), NO_RESET.gives(at(reset=False)),
            IGNORES_MIN_DELTA.gives(at(use_delta=False)),
            BEST_STARTS_AT_ONE.gives(at(best=1.0))]
SIGMOID_INSTEAD_OF_RELU = Mistake(
    "sigmoid_instead_of_relu", N_("the network uses sigmoid where the handout uses ReLU"),
    N_("Use nn.ReLU (or torch.relu) after each hidden layer."), find=r"[Ss]igmoid")
AVERAGE_POOLING = Mistake(
    "average_pooling", N_("Cnn uses average pooling instead of max pooling"),
    N_("Use nn.MaxPool2d(2) (or F.max_pool2d) after each convolution's ReLU."),
    element="Cnn.__init__", find=r"AvgPool|avg_pool")

# What the handout network gives with each usual mistake (``networks_checks.variants``).
VARIANTS = {"without any ReLU": NO_RELU, "with a ReLU after": RELU_ON_OUTPUT,
            "with sigmoid instead of ReLU": SIGMOID_INSTEAD_OF_RELU,
            "with average pooling": AVERAGE_POOLING}


def variant_mistake(label: str) -> Mistake | None:
    return next((m for start, m in VARIANTS.items() if label.startswith(start)), None)
