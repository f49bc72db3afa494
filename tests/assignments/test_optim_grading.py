"""optim graded end to end: the reference, the untouched template, known bugs, valid variants.

Each known bug is a one-snippet mutation of ``reference/optim.py`` and must lose points on
exactly the checks listed with it (every other check keeps full marks); the valid solutions in
``tests/submissions/optim/`` are written differently from the reference and score full marks.

Every check of this practical calls one element only (sgd_step, Dropout...), so bugs in
different elements cannot affect each other's checks: to keep the suite fast, the bugs are
graded in a few submissions that each hold one bug per element, and each bug is held to exactly
its checks among those of its element (and every check outside the bugs' elements keeps full
marks).
"""

import time

import pytest

from corpus import REPO, assert_template_scores_zero, bug, copy_reference, losing, write_mutant
from grader.assignment import load_assignment
from grader.judge import collect_checks, grade

pytestmark = pytest.mark.slow

MODULE = "optim"
REQUIRED = {"sgd_step", "rmsprop_step", "decayed_lr", "l2_penalty", "Dropout", "BatchNorm1d",
            "precision_recall_f1"}

SGD_ALL = ("sgd_step plain matches torch", "sgd_step with momentum matches torch",
           "sgd_step with momentum and weight decay matches torch",
           "sgd_step weight decay without momentum", "sgd_step trains a library model",
           "sgd_step leaves the gradients unchanged")
SGD_MOMENTUM = ("sgd_step with momentum matches torch",
                "sgd_step with momentum and weight decay matches torch",
                "sgd_step trains a library model")
RMSPROP_ALL = ("rmsprop_step defaults match torch", "rmsprop_step custom hyperparameters match torch",
               "rmsprop_step trains a library model", "rmsprop_step tiny gradients match torch")
DECAYED = ("decayed_lr values", "decayed_lr over a schedule")
L2 = ("l2_penalty value and gradient", "l2_penalty on a convolutional network")
DROPOUT_RATES = ("Dropout zero rate and scaling", "Dropout other rates [0.1]",
                 "Dropout other rates [0.8]")
BN_EVAL = ("BatchNorm1d eval output matches torch", "BatchNorm1d other settings match torch",
           "BatchNorm1d default arguments match torch")
# The eval check computes its expected output from the module's own running statistics: a
# wrong running update costs the checks that compare those statistics, not that one.
BN_RUNNING = ("BatchNorm1d running statistics match torch", "BatchNorm1d other settings match torch",
              "BatchNorm1d default arguments match torch")
PRF_NEVER_PREDICTED = ("precision_recall_f1 with a class never predicted",
                       "precision_recall_f1 with absent classes",
                       "precision_recall_f1 random labels [2]",
                       "precision_recall_f1 random labels [5]",
                       "precision_recall_f1 random labels [8]")
PRF_TYPES = ("precision_recall_f1 accepts tensors and arrays [tensor]",
             "precision_recall_f1 accepts tensors and arrays [ndarray]")

BUGS = [
    # ------------------------------------------------------------------------- sgd_step
    bug("sgd_weight_decay_after_momentum",
        "            g = grad + weight_decay * p  # a new tensor: ``grad`` is not modified\n"
        "            if momentum != 0:\n"
        "                # The buffer is an exponentially weighted sum of past gradients; torch starts\n"
        "                # it at the first gradient (not at zero).\n"
        "                buf = g.clone() if velocity is None else momentum * velocity[i] + g\n"
        "                new_velocity.append(buf)\n"
        "                g = buf\n",
        "            g = grad.clone()\n"
        "            if momentum != 0:\n"
        "                buf = g.clone() if velocity is None else momentum * velocity[i] + g\n"
        "                new_velocity.append(buf)\n"
        "                g = buf\n"
        "            g = g + weight_decay * p\n",
        "sgd_step with momentum and weight decay matches torch", "sgd_step trains a library model"),
    bug("sgd_velocity_starts_at_zero", "buf = g.clone() if velocity is None",
        "buf = torch.zeros_like(g) if velocity is None", *SGD_MOMENTUM),
    bug("sgd_rebinds_instead_of_updating_in_place", "            p -= lr * g\n    return new_velocity",
        "            p = p - lr * g\n    return new_velocity", *SGD_ALL),
    bug("sgd_adds_weight_decay_to_grad_in_place",
        "g = grad + weight_decay * p  # a new tensor: ``grad`` is not modified",
        "g = grad.add_(weight_decay * p)", "sgd_step leaves the gradients unchanged"),
    # --------------------------------------------------------------------- rmsprop_step
    bug("rmsprop_eps_inside_sqrt", "p -= lr * g / (square_avg.sqrt() + eps)",
        "p -= lr * g / (square_avg + eps).sqrt()", *RMSPROP_ALL),
    bug("rmsprop_alpha_swapped", "square_avg = alpha * square_avg + (1 - alpha) * g * g",
        "square_avg = (1 - alpha) * square_avg + alpha * g * g", *RMSPROP_ALL),
    # ----------------------------------------------------------------------- decayed_lr
    bug("decayed_lr_exponential", "return lr0 / (1 + decay * iteration)",
        "return lr0 * decay ** iteration", *DECAYED),
    # ----------------------------------------------------------------------- l2_penalty
    bug("l2_includes_biases",
        'weights = [p for name, p in model.named_parameters() if name.endswith("weight")]',
        "weights = list(model.parameters())", *L2),
    bug("l2_without_lambda", "return lam * torch.as_tensor(total)", "return torch.as_tensor(total)",
        *L2),
    bug("l2_square_root", "return lam * torch.as_tensor(total)",
        "return lam * torch.as_tensor(total).sqrt()", *L2),
    bug("l2_detached", "return lam * torch.as_tensor(total)",
        "return lam * torch.as_tensor(total).detach()", *L2),
    # -------------------------------------------------------------------------- Dropout
    bug("dropout_not_rescaled", "return x * keep / (1 - self.p)", "return x * keep",
        *DROPOUT_RATES, "Dropout gradient is the scaled mask"),
    bug("dropout_active_in_eval", "if not self.training or self.p == 0:", "if self.p == 0:",
        "Dropout is identity in eval mode"),
    bug("dropout_p_is_keep_probability",
        "keep = (torch.rand_like(x) >= self.p).to(x.dtype)  # 1 with probability 1 - p\n"
        "        return x * keep / (1 - self.p)",
        "keep = (torch.rand_like(x) < self.p).to(x.dtype)\n"
        "        return x * keep / self.p",
        *DROPOUT_RATES, "Dropout gradient is the scaled mask"),
    bug("dropout_same_mask_every_call", "keep = (torch.rand_like(x) >= self.p)",
        "keep = (torch.rand(x.shape, generator=torch.Generator().manual_seed(0)) >= self.p)",
        "Dropout draws a new mask each call"),
    # ---------------------------------------------------------------------- BatchNorm1d
    bug("batchnorm_batch_statistics_in_eval",
        "            mean, var = self.running_mean, self.running_var",
        "            mean, var = x.mean(dim=0), x.var(dim=0, correction=0)", *BN_EVAL),
    bug("batchnorm_running_var_biased", "add_(m * var * n / (n - 1))", "add_(m * var)",
        *BN_RUNNING),
    bug("batchnorm_momentum_reversed",
        "                self.running_mean.mul_(1 - m).add_(m * mean)\n"
        "                self.running_var.mul_(1 - m).add_(m * var * n / (n - 1))",
        "                self.running_mean.mul_(m).add_((1 - m) * mean)\n"
        "                self.running_var.mul_(m).add_((1 - m) * var * n / (n - 1))",
        *BN_RUNNING),
    bug("batchnorm_unbiased_normalisation", "var = x.var(dim=0, correction=0)",
        "var = x.var(dim=0)",
        "BatchNorm1d training outputs and gradients match torch", *BN_RUNNING),
    # -------------------------------------------------------------- precision_recall_f1
    bug("prf_micro_average",
        "return precision.mean().item(), recall.mean().item(), f1.mean().item()",
        "accuracy = (tp.sum() / cm.sum()).item()\n    return accuracy, accuracy, accuracy",
        *PRF_NEVER_PREDICTED, *PRF_TYPES),
    bug("prf_nan_precision_for_never_predicted", "precision = tp / predicted.clamp(min=1)",
        "precision = tp / predicted", *PRF_NEVER_PREDICTED),
]


def element(check_name: str) -> str:
    return check_name.split()[0]


def bug_element(mutation) -> str:
    (only,) = {element(name) for name in mutation.loses}
    return only


class Combined:
    """Several mutations of the reference, in different elements, in one submission."""

    def __init__(self, name: str, mutations: list):
        self.name, self.mutations = name, mutations

    def apply(self, text: str) -> str:
        for mutation in self.mutations:
            text = mutation.apply(text)
        return text


def bug_groups(bugs) -> list[list]:
    """Bugs split into groups holding at most one bug per element (first fit, in order)."""
    groups: list[list] = []
    for mutation in bugs:
        for group in groups:
            if bug_element(mutation) not in {bug_element(m) for m in group}:
                group.append(mutation)
                break
        else:
            groups.append([mutation])
    return groups


GROUPS = bug_groups(BUGS)

# Bugs whose message must name the mistake: (check, fragments expected in its message).
MESSAGES = {
    "sgd_weight_decay_after_momentum": ("sgd_step with momentum and weight decay matches torch",
                                        ["step 2 of 5", "weight decay added after the momentum"]),
    "sgd_velocity_starts_at_zero": ("sgd_step with momentum matches torch",
                                    ["step 1 of 5", "starts at zero"]),
    "sgd_rebinds_instead_of_updating_in_place": ("sgd_step plain matches torch",
                                                 ["never changed", "in place"]),
    "sgd_adds_weight_decay_to_grad_in_place": ("sgd_step leaves the gradients unchanged",
                                               ["changed the gradients"]),
    "rmsprop_eps_inside_sqrt": ("rmsprop_step defaults match torch", ["eps inside the square root"]),
    "rmsprop_alpha_swapped": ("rmsprop_step defaults match torch", ["swapped"]),
    "decayed_lr_exponential": ("decayed_lr values", ["decay^iteration"]),
    "l2_includes_biases": ("l2_penalty value and gradient", ["includes the biases"]),
    "l2_without_lambda": ("l2_penalty value and gradient", ["without the factor lam"]),
    "l2_square_root": ("l2_penalty value and gradient", ["square root"]),
    "l2_detached": ("l2_penalty value and gradient", ["autograd graph"]),
    "dropout_not_rescaled": ("Dropout zero rate and scaling", ["not rescaled"]),
    "dropout_active_in_eval": ("Dropout is identity in eval mode", ["self.training"]),
    "dropout_p_is_keep_probability": ("Dropout zero rate and scaling", ["0.70", "not of keeping"]),
    "batchnorm_batch_statistics_in_eval": ("BatchNorm1d eval output matches torch",
                                           ["running_mean and running_var"]),
    "batchnorm_running_var_biased": ("BatchNorm1d running statistics match torch",
                                     ["running_var", "follows the biased batch variance"]),
    "batchnorm_momentum_reversed": ("BatchNorm1d running statistics match torch",
                                    ["running_mean", "weight of 1 - momentum"]),
    "prf_micro_average": ("precision_recall_f1 with a class never predicted", ["micro average"]),
    "prf_nan_precision_for_never_predicted": ("precision_recall_f1 with a class never predicted",
                                              ["NaN", "never predicted"]),
}


def test_reference_scores_full_marks_and_names_its_checks(tmp_path):
    started = time.monotonic()
    result = grade(copy_reference(tmp_path, MODULE), MODULE, hidden=True)
    elapsed = time.monotonic() - started
    assert result.error is None and result.load_errors == []
    assert losing(result) == set(), [(c.name, c.message) for c in result.checks if not c.passed]
    assert result.score == result.max_score > 0
    assert result.public() and result.hidden()
    for check in result.checks:
        assert check.element in REQUIRED, check.name
        assert check.description, check.name  # every check has a one-line docstring
        assert not check.trains  # no training and no accuracy threshold in this practical
    assert {c.element for c in result.public()} == REQUIRED
    assert {c.element for c in result.hidden()} == REQUIRED
    assert elapsed < 120  # the time budget of the assignment (typically 10-20 s)


def test_every_bug_names_existing_checks_of_one_element():
    names = {name for name, _, _ in collect_checks(load_assignment(MODULE), hidden=True)}
    assert len({m.name for m in BUGS}) == len(BUGS)
    for mutation in BUGS:
        assert mutation.loses and mutation.loses <= names, (mutation.name, mutation.loses - names)
        bug_element(mutation)  # one element only
    assert set(MESSAGES) <= {m.name for m in BUGS}
    for group in GROUPS:
        assert len({bug_element(m) for m in group}) == len(group)


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: "+".join(m.name for m in g))
def test_bugs_lose_points_exactly_on_their_checks(tmp_path, group):
    submission = Combined("bugs", group)
    result = grade(write_mutant(tmp_path, MODULE, submission), MODULE, hidden=True)
    lost = losing(result)
    messages = {c.name: c.message for c in result.checks}
    problems = []
    for mutation in group:
        mine = {name for name in lost if element(name) == bug_element(mutation)}
        if mine != mutation.loses:
            problems.append(f"{mutation.name}: lost points unexpectedly on "
                            f"{sorted(mine - mutation.loses)}, kept points on "
                            f"{sorted(mutation.loses - mine)}: "
                            f"{ {n: messages[n] for n in mine ^ mutation.loses} }")
        for name in mine:
            assert messages[name], name  # every lost point comes with a reason
        if mutation.name in MESSAGES:
            check, fragments = MESSAGES[mutation.name]
            missing = [f for f in fragments if f not in messages[check]]
            if missing:
                problems.append(f"{mutation.name}: the message of {check!r} lacks {missing}: "
                                f"{messages[check]}")
    others = {name for name in lost if element(name) not in {bug_element(m) for m in group}}
    if others:
        problems.append(f"checks of other elements lost points: { {n: messages[n] for n in others} }")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", ["dict_velocity_numpy_metrics", "functional_style"])
def test_valid_solutions_written_differently_score_full_marks(name):
    folder = REPO / "tests" / "submissions" / MODULE / name
    result = grade(folder, MODULE, hidden=True)
    assert result.error is None
    assert losing(result) == set(), {c.name: c.message for c in result.checks if not c.passed}
    if name == "functional_style":
        assert any("print(layer" in s.code for s in result.skipped)  # top-level code not run


def test_untouched_template_scores_zero_with_a_clear_message_each(tmp_path):
    assert_template_scores_zero(tmp_path, MODULE)


def test_same_submission_same_score(tmp_path):
    """Seeded (dropout masks included): a buggy submission gets the same scores and messages
    on a second run."""
    mutation = next(m for m in BUGS if m.name == "dropout_p_is_keep_probability")
    path = write_mutant(tmp_path, MODULE, mutation)
    first, second = grade(path, MODULE), grade(path, MODULE)
    assert [(c.name, c.score, c.message) for c in first.checks] == [
        (c.name, c.score, c.message) for c in second.checks]
    assert losing(first) == {"Dropout zero rate and scaling"}
