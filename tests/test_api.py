"""grader.api: the one surface a check author imports."""

import numpy as np
import pytest
import torch

from grader import api


def test_the_api_names_what_checks_use():
    for name in ("check_close", "check_shape", "check_int", "check_parameter_count",
                 "check_gradient", "numerical_gradient", "CheckFailure", "linear_credit",
                 "recipe", "call", "models", "data", "training", "StudentModule", "Score"):
        assert name in api.__all__ and hasattr(api, name), name


@pytest.mark.parametrize("array", [np.array, torch.tensor], ids=["numpy", "torch"])
def test_one_finite_difference_for_numpy_and_torch(array):
    x = array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=np.float64 if array is np.array
              else torch.float64)
    numeric = api.numerical_gradient(lambda v: float((v ** 3).sum()), x)
    analytic = 3 * np.asarray(x) ** 2
    assert api.check_gradient(analytic, numeric, "d/dx sum(x³)") < 1e-8
    assert np.array_equal(np.asarray(x), np.asarray(array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])))


def test_a_wrong_gradient_fails_saying_where_and_by_how_much():
    expected = np.array([[1.0, 2.0], [3.0, 4.0]])
    wrong = expected.copy()
    wrong[1, 0] = -3.0
    with pytest.raises(api.CheckFailure, match=r"worst at index \(1, 0\): got -3, expected 3"):
        api.check_gradient(torch.tensor(wrong), expected, "backward")
    with pytest.raises(api.CheckFailure, match="gradient of shape"):
        api.check_gradient(wrong[0], expected, "backward")


class FakeStudent:
    """What api.recipe needs of the student fixture: lib(), the practical's helper names, and
    the process it installs them in."""

    def __init__(self, helpers):
        self.practical_helpers = helpers
        self.practical_source, self.practical_filename = "X = 1\n", "<side>"
        self.calls = []
        self.process = type("P", (), {"generation": 1, "start": lambda self: None})()

    def lib(self, dotted):
        calls = self.calls

        class Remote:
            def __call__(self, *args):
                calls.append((dotted, args))
        calls.append(dotted)
        return Remote()


def test_recipe_prefers_the_practical_helpers_and_installs_them_once_per_process():
    student = FakeStudent(frozenset({"train"}))
    api.recipe(student, "train")
    api.recipe(student, "train")
    assert student.calls.count("grader.recipes.install_practical") == 1
    assert student.calls[-1] == "practical.train"
    api.recipe(student, "parameter_layout")
    assert student.calls[-1] == "grader.recipes.parameter_layout"
    student.process.generation = 2    # the process was restarted: install again
    api.recipe(student, "train")
    assert student.calls.count("grader.recipes.install_practical") == 2


def test_install_practical_makes_an_importable_module():
    import sys

    from grader.recipes import install_practical

    install_practical("practical_under_test", "def twice(x):\n    return 2 * x\n", "<side.py>")
    try:
        import practical_under_test

        assert practical_under_test.twice(4) == 8
    finally:
        sys.modules.pop("practical_under_test", None)
