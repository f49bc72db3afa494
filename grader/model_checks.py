"""Checks on PyTorch models that live in the student process.

These helpers talk to a student's model through its handle (``grader.recipes`` runs on the
child's side) and compare what comes back with the reference, here in the judge. Weights are
matched by order of registration and shape, so a student's own layout (``nn.Sequential`` or
named layers, ``fc1`` or ``hidden``) does not matter — only the architecture does.
"""

from __future__ import annotations

import copy
import hashlib
import io
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from grader.i18n import _
from grader import diagnosis
from grader.checks import as_number, check_close, check_parameter_layout
from grader.files import write_atomically
from grader.failures import CheckFailure, NotImplementedYet, StudentError
from grader.student_process import Remote, StudentModule, call_as
from grader.wire import describe_value

PRACTICAL_MODULE = "practical"   # a practical's student_side.py, as the student process has it


def recipe(student: StudentModule, name: str) -> Remote:
    """A helper to run in the student process: the practical's own (its ``student_side.py``)
    when it defines ``name``, else the engine's (:mod:`grader.recipes`)."""
    # vars(): a StudentModule's missing attribute is a missing name of the submission.
    if name in vars(student).get("practical_helpers", ()):
        _install_practical(student)
        return student.lib(f"{PRACTICAL_MODULE}.{name}")
    return engine_recipe(student, name)


def engine_recipe(student: StudentModule, name: str) -> Remote:
    """A helper of :mod:`grader.recipes` (what the engine's own checks use, whatever the
    practical's helpers are called)."""
    return student.lib(f"grader.recipes.{name}")


def _install_practical(student: StudentModule) -> None:
    """Give the student process the practical's child-side module, once per process (a
    restarted process gets it again). It decides nothing: what its functions return is data
    checked here like any reply."""
    process = student.process
    process.start()
    if vars(student).get("practical_generation") == process.generation:
        return
    engine_recipe(student, "install_practical")(PRACTICAL_MODULE, student.practical_source,
                                                student.practical_filename)
    student.practical_generation = process.generation


def call(what: str, function: Remote, *args, hint: str = "", hints: dict | None = None,
         **kwargs):
    """Call into the student process (a student's function, or a recipe running it). An
    exception in the student's code fails the check naming ``what`` was being done (the student
    wrote ``update``, not the grader's ``apply_update``), with ``hint``, or the hint of
    ``hints`` whose key is in the error message; a not-implemented stub keeps its own short
    message."""
    try:
        return call_as(what, function, *args, hint=hint, **kwargs)
    except NotImplementedYet:
        raise
    except StudentError as e:
        for fragment, text in (hints or {}).items():
            if fragment in e.message:
                raise StudentError(e.call, e.type_name, e.message, e.where, text) from None
        raise


def layout(student: StudentModule, model: Remote) -> list[dict]:
    """Names, shapes and requires_grad of the model's parameters, as data."""
    return engine_recipe(student, "parameter_layout")(model)


def parameters(student: StudentModule, model: Remote) -> list[torch.Tensor]:
    return [p["value"] for p in engine_recipe(student, "parameters")(model)]


def reference_shapes(model: nn.Module) -> list[tuple[int, ...]]:
    return [tuple(p.shape) for p in model.parameters()]


def copy_reference_weights(student: StudentModule, model: Remote, reference_model: nn.Module,
                           what: str) -> None:
    """Give the student's model the reference model's weights: in order of registration, or
    matched by shape (weights stored as [in, out] get them transposed), see
    :func:`match_layout`."""
    mapping = match_layout(layout(student, model), reference_model, what)
    values = [p.detach().clone() for p in reference_model.parameters()]
    engine_recipe(student, "load_parameters")(model, to_student_order(values, mapping))


def compare_parameters(student_values: list[torch.Tensor], reference_model: nn.Module,
                       what: str, *, rtol: float = 1e-4, atol: float = 1e-6,
                       known_mistakes: Sequence[diagnosis.Candidate] = ()) -> None:
    """The student's parameters against the reference model's, one ``check_close`` each;
    ``known_mistakes`` give the parameters a known mistake leaves (same tolerance)."""
    if known_mistakes:
        def same_as(wrong: list[torch.Tensor]) -> None:
            if len(wrong) != len(student_values):
                raise CheckFailure(what)
            for got, value in zip(student_values, wrong):
                check_close(got, value, what, rtol=rtol, atol=atol)

        with diagnosis.recognising(student_values, known_mistakes, diagnosis.passes(same_as)):
            return compare_parameters(student_values, reference_model, what, rtol=rtol, atol=atol)
    names = [name for name, _ in reference_model.named_parameters()]
    for name, got, expected in zip(names, student_values, reference_model.parameters()):
        check_close(got, expected.detach(), f"{what}: parameter {name}", rtol=rtol, atol=atol,
                    expected_label="reference")


def optimizer_summary(student: StudentModule, optimizer: Remote) -> dict[str, Any]:
    return engine_recipe(student, "optimizer_summary")(optimizer)


def mean_loss_matches(value: Any, batch_mean: float, sample_mean: float, what: str, *,
                      known_mistakes: Sequence[diagnosis.Candidate] = ()) -> float:
    """The loss a loop returned is the mean of batch losses or the sample-weighted mean;
    ``known_mistakes``: the numbers a known mistake returns instead (the last batch's loss...),
    recognised with the same tolerance."""
    if known_mistakes:
        with diagnosis.recognising(value, known_mistakes, diagnosis.passes(
                lambda wrong: mean_loss_matches(value, wrong, wrong, what))):
            return mean_loss_matches(value, batch_mean, sample_mean, what)
    value = as_number(value, _("{what} (the mean loss)").format(what=what))
    for expected in (batch_mean, sample_mean):
        if abs(value - expected) <= 1e-4 * max(1.0, abs(expected)):
            return float(value)
    raise CheckFailure(_("{what}: returned {value:.6g}, expected the mean loss "
                         "{batch_mean:.6g} (mean of batch losses) or {sample_mean:.6g} (mean "
                         "over samples)").format(
                           what=what, value=value, batch_mean=batch_mean, sample_mean=sample_mean))


def library_model(student: StudentModule, layers: list[tuple], seed: int = 0
                  ) -> tuple[Remote, nn.Sequential]:
    """The same ``nn.Sequential`` of torch layers in the judge and in the student process.

    ``layers`` are (class name, *args) of ``torch.nn`` layers, e.g.
    ``[("Flatten",), ("Linear", 784, 10)]``. The judge draws the weights from ``seed`` and
    sends them over, so checks on a student's *loop* do not depend on the student's *model*.
    """
    torch.manual_seed(seed)
    local = nn.Sequential(*(getattr(nn, name)(*args) for name, *args in layers))
    remote_layers = [student.lib(f"torch.nn.{name}")(*args) for name, *args in layers]
    remote = engine_recipe(student, "sequential")(*remote_layers)
    engine_recipe(student, "load_parameters")(remote, [p.detach().clone() for p in local.parameters()])
    return remote, local


def reference_epoch(model: nn.Module, batches, loss_fn, optimizer=None) -> tuple[float, float]:
    """One epoch in the judge (training when an optimizer is given, else evaluation):
    (mean of batch losses, sample-weighted mean loss)."""
    model.train(optimizer is not None)
    losses, sizes = [], []
    for x, y in batches:
        if optimizer is not None:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        else:
            with torch.no_grad():
                loss = loss_fn(model(x), y)
        losses.append(loss.item())
        sizes.append(len(x))
    batch_mean = sum(losses) / len(losses)
    sample_mean = sum(l * n for l, n in zip(losses, sizes)) / sum(sizes)
    return batch_mean, sample_mean


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int):
    """The batches an unshuffled DataLoader yields, in the judge."""
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]


# --------------------------------------------------------------------------------------------
# Training judged here: the judge's own forward on the student's trained parameters
# --------------------------------------------------------------------------------------------
#
# The student process can run anything the student wrote, including replacements for the
# grader's own child-side helpers (they live in its memory). So an accuracy check never lets
# the child predict: the judge rebuilds the network the practical fixes, reads the student's
# parameters as data, and computes the predictions itself. And it gives accuracy credit only
# to weights it can reproduce: the judge draws the starting weights, and replays the same
# training (same start, same batches, the standard loop) in its own process; weights that
# training cannot have produced (fitted offline, or a lookup table's answers) earn nothing.

REPLAY_MAX_DISTANCE = 1e-2   # ‖θ_student − θ_replay‖ / ‖θ_replay − θ_start‖: valid code ~1e-6


def match_layout(student_layout: list[dict], local: nn.Module, what: str
                 ) -> list[tuple[int, bool]]:
    """For each parameter of ``local`` (registration order), the index of the student's
    parameter that holds it and whether it is stored transposed (``x @ W`` with W [in, out]).

    Registration order first; when it does not fit, each tensor is matched by shape (then by
    transposed shape) in order, so named layers registered in another order, or weights
    stored as [in, out], still map onto the practical's network. A forward on probe inputs
    confirms the mapping (:func:`check_forward_on_probes`)."""
    shapes = [tuple(p["shape"]) for p in student_layout]
    wanted = reference_shapes(local)
    if shapes == wanted:
        return [(i, False) for i in range(len(wanted))]
    if len(shapes) == len(wanted):
        used: set[int] = set()
        mapping: list[tuple[int, bool]] = []
        for shape in wanted:
            options = [(i, False) for i, s in enumerate(shapes) if s == shape and i not in used]
            if not options and len(shape) == 2:
                options = [(i, True) for i, s in enumerate(shapes)
                           if s == shape[::-1] and i not in used]
            if not options:
                break
            used.add(options[0][0])
            mapping.append(options[0])
        else:
            return mapping
    check_parameter_layout(student_layout, wanted, what)  # fails, listing both
    raise AssertionError("unreachable")


def to_student_order(values: list[torch.Tensor], mapping: list[tuple[int, bool]]
                     ) -> list[torch.Tensor]:
    out: list[torch.Tensor | None] = [None] * len(mapping)
    for value, (index, transposed) in zip(values, mapping):
        out[index] = (value.T if transposed else value).detach().clone().contiguous()
    return out  # type: ignore[return-value]


def from_student_order(values: list[Any], mapping: list[tuple[int, bool]], local: nn.Module,
                       what: str) -> list[torch.Tensor]:
    """The student's parameter values (as sent back) in ``local``'s order and layout."""
    out = []
    for (index, transposed), (name, p) in zip(mapping, local.named_parameters()):
        value = values[index] if index < len(values) else None
        if not isinstance(value, torch.Tensor):
            raise CheckFailure(_("{what}: parameter {index} came back as {describe_value}").format(
                                   what=what, index=index, describe_value=describe_value(value)))
        value = value.T if transposed else value
        if tuple(value.shape) != tuple(p.shape):
            raise CheckFailure(_("{what}: a parameter changed shape during training ({shape}, "
                                 "expected {shape2})").format(
                                   what=what, shape=list(value.shape), shape2=list(p.shape)))
        out.append(value.detach().to(p.dtype).clone())
    return out


def set_parameters(model: nn.Module, values: list[torch.Tensor]) -> nn.Module:
    with torch.no_grad():
        for p, v in zip(model.parameters(), values):
            p.copy_(v)
    return model


def predict_here(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """The judge's own predictions (argmax of the logits) in eval mode."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch_size]).argmax(dim=1)
                          for i in range(0, len(x), batch_size)])


def check_forward_on_probes(student: StudentModule, model: Remote, local: nn.Module,
                            probes: torch.Tensor, what: str, hint: str = "") -> None:
    """The student's own forward (eval mode) on random probe inputs — never the scored
    images — equals the practical's network with the same parameters: the parameters say
    what the model computes, so the judge may predict from them."""
    out = engine_recipe(student, "forward")(model, probes)
    local.eval()
    with torch.no_grad():
        expected = local(probes)
    try:
        check_close(out, expected, _("{what}: your model's output on {count} random inputs").format(
                                       what=what, count=len(probes)),
                    rtol=1e-3, atol=1e-4, expected_label=_("the practical's network with your "
                                                           "parameters"))
    except CheckFailure as e:
        raise CheckFailure(_("{e}\nThe accuracy is computed here, from your model's parameters "
                             "and the practical's architecture; your forward computes "
                             "something else with the same parameters.{hint}").format(
                               e=e, hint=hint)) from None


def relative_distance(values: list[torch.Tensor], replay: list[torch.Tensor],
                      start: list[torch.Tensor]) -> float:
    num = sum(float(((a.double() - b.double()) ** 2).sum()) for a, b in zip(values, replay))
    den = sum(float(((b.double() - s.double()) ** 2).sum()) for b, s in zip(replay, start))
    return (num ** 0.5) / max(den ** 0.5, 1e-12)


def check_trained(values: list[torch.Tensor], start: list[torch.Tensor], what: str,
                  hint: str = "") -> None:
    """The training moved the weights, and left them finite."""
    if all(torch.equal(v, s) for v, s in zip(values, start)):
        raise CheckFailure(_("{what}: the training left every weight as it was: no accuracy "
                             "credit for a network that did not learn.{hint}").format(
                               what=what, hint=hint))
    bad = [i for i, v in enumerate(values) if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckFailure(_("{what}: after training, {count} parameter tensor(s) hold NaN or "
                             "inf: the training diverged.{hint}").format(
                               what=what, count=len(bad), hint=hint))


def replay_verdict(values: list[torch.Tensor], start: list[torch.Tensor],
                   replay: list[torch.Tensor], predictions: torch.Tensor,
                   replay_predictions: torch.Tensor, *, min_agreement: float, what: str,
                   hint: str = "") -> None:
    """Fail unless the student's trained parameters are those the judge's replay of the same
    training gives (or predict like them on at least ``min_agreement`` of the scored images:
    valid code that rounds differently, or a harmless variant of the step)."""
    distance = relative_distance(values, replay, start)
    agreement = float((predictions == replay_predictions).double().mean())
    if distance <= REPLAY_MAX_DISTANCE or agreement >= min_agreement:
        return
    raise CheckFailure(
        _("{what}: the trained weights are not what this training gives. The grader ran the "
          "same training here (same starting weights, same mini-batches, the standard loop): "
          "your weights differ from its result by {distance:.0%} of how far training moved "
          "them, and the two networks agree on {agreement:.1%} of the held-out images (at "
          "least {min_agreement:.0%} expected). Accuracy credit goes only to weights the "
          "grader can reproduce.{hint}").format(
            what=what, distance=distance, agreement=agreement, min_agreement=min_agreement,
            hint=hint))


class JudgeRun:
    """Training in the judge's own process, on one thread (as in the student process: the
    same results, and many small steps run 30 times faster than on threads contending for
    the cores), without disturbing it: its thread count and global random states (torch,
    numpy, random: :func:`grader.training.seed_everything` seeds all three) are restored
    afterwards — so a replay taken from the cache leaves the judge as computing it would."""

    def __enter__(self):
        self.threads, self.state = torch.get_num_threads(), torch.get_rng_state()
        self.states = random.getstate(), np.random.get_state()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        torch.set_num_threads(self.threads)
        torch.set_rng_state(self.state)
        random.setstate(self.states[0])
        np.random.set_state(self.states[1])


def judged_training(student: StudentModule, model: Remote, local: nn.Module, *, what: str,
                    train_in_child: Callable[[], Any], data: tuple[torch.Tensor, torch.Tensor],
                    valid: tuple[torch.Tensor, torch.Tensor] | None, train_kwargs: dict,
                    scored: torch.Tensor, probes: torch.Tensor, min_agreement: float,
                    mismatch_hint: str = "", probe_hint: str = "") -> tuple[torch.Tensor, dict]:
    """Train the student's ``model`` in the child, then judge the result here.

    ``local`` is the practical's network (built here, its weights drawn by the caller's seed):
    its weights are the start, loaded into the student's model; ``train_in_child`` runs the
    training there (what it returns is ignored). The judge then reads the trained parameters
    as data, checks the student's forward on ``probes``, replays the same training with
    :func:`grader.training.train_classifier` (``train_kwargs``) and computes the predictions
    on ``scored`` itself. Returns those predictions and the replay's learning curves.
    """
    mapping = match_layout(layout(student, model), local, what)
    start = [p.detach().clone() for p in local.parameters()]
    engine_recipe(student, "load_parameters")(model, to_student_order(start, mapping))
    train_in_child()
    reply = engine_recipe(student, "parameters")(model)
    if not isinstance(reply, list) or not all(isinstance(p, dict) for p in reply):
        raise CheckFailure(_("{what}: the trained parameters came back as {describe_value}").format(
                               what=what, describe_value=describe_value(reply)))
    values = from_student_order([p.get("value") for p in reply], mapping, local, what)
    check_trained(values, start, what, mismatch_hint)
    trained = set_parameters(copy.deepcopy(local), values)
    check_forward_on_probes(student, model, trained, probes, what, probe_hint)
    # The disk cache only where the student process cannot write the judge's cache folder: in
    # the basic isolation a child runs as the judge's user and could plant a replay.
    replay = replayed_training(local, data, valid, train_kwargs, scored,
                               on_disk=student.process.isolation.backend.strong)
    with JudgeRun():
        predictions = predict_here(trained, scored)
    replay_verdict(values, start, replay.parameters, predictions, replay.predictions,
                   min_agreement=min_agreement, what=what, hint=mismatch_hint)
    return predictions, copy.deepcopy(replay.history)


@dataclass(frozen=True)
class Replay:
    """The standard training of the practical's network from given weights, done here."""

    parameters: list[torch.Tensor]   # the trained weights
    predictions: torch.Tensor        # their predicted classes on the scored images
    history: dict                    # the learning curves


_REPLAYS: dict[str, Replay] = {}     # this judge process's replays, by what they depend on
_REPLAYS_KEPT = 16


def replayed_training(local: nn.Module, data: tuple[torch.Tensor, torch.Tensor],
                      valid: tuple[torch.Tensor, torch.Tensor] | None, train_kwargs: dict,
                      scored: torch.Tensor, *, on_disk: bool = False) -> Replay:
    """:func:`grader.training.train_classifier` on a copy of ``local`` (its weights are the
    start), then its predictions on ``scored`` — computed once per judge process and machine.

    The replay depends on nothing of the student's: the start is drawn by the judge, the data
    and the loop are the judge's. So every student of a batch (and every ``grade check`` of the
    same practical) would compute the same thing; it is keyed by everything it depends on
    (network, start weights, data, settings, torch's version, the machine) and kept in this
    process and, ``on_disk``, in the judge's cache folder (:func:`grader.limits.cache_dir`;
    only when no student process can write there). One thread, fixed seeds: a replay
    computed again gives the same tensors, so caching never changes a score (a test).
    """
    from grader import training

    key = _replay_key(local, data, valid, train_kwargs, scored)
    replay = _REPLAYS.get(key) or (_load_replay(key) if on_disk else None)
    if replay is None:
        replica = copy.deepcopy(local)
        with JudgeRun():
            history = training.train_classifier(replica, data[0], data[1], valid=valid,
                                                **train_kwargs)
            predictions = predict_here(replica, scored)
        replay = Replay([p.detach().clone() for p in replica.parameters()], predictions,
                        history)
        if on_disk:
            _save_replay(key, replay)
    if key not in _REPLAYS and len(_REPLAYS) >= _REPLAYS_KEPT:
        _REPLAYS.pop(next(iter(_REPLAYS)))  # the oldest
    _REPLAYS[key] = replay
    return replay


def _replay_key(local, data, valid, train_kwargs, scored) -> str:
    from grader import limits, training

    digest = hashlib.sha256()
    digest.update(repr((str(local), sorted(train_kwargs.items()), torch.__version__,
                        limits.machine_key())).encode())
    digest.update(Path(training.__file__).read_bytes())  # the loop itself
    tensors = [*local.state_dict().values(), *data, *(valid or ()), scored]
    for t in tensors:
        t = t.detach().contiguous()
        digest.update(repr((t.dtype, tuple(t.shape))).encode())
        digest.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else
                      t.float().numpy().tobytes())
    return digest.hexdigest()[:32]


def _replay_path(key: str):
    from grader import limits

    return limits.cache_dir() / "replays" / f"{key}.pt"


def _load_replay(key: str) -> Replay | None:
    try:
        saved = torch.load(_replay_path(key), weights_only=True)
        return Replay(list(saved["parameters"]), saved["predictions"], saved["history"])
    except Exception:  # missing, truncated, from another version: computed again
        return None


def _save_replay(key: str, replay: Replay) -> None:
    path = _replay_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        torch.save({"parameters": replay.parameters, "predictions": replay.predictions,
                    "history": replay.history}, buffer)
        write_atomically(path, buffer.getvalue())
    except OSError:  # a read-only home: the process's own cache still serves
        pass


def counted_layout(student: StudentModule, model: Remote, probes: torch.Tensor,
                   what: str) -> list[dict]:
    """The model's parameter layout, for a count, spot-checked by effect.

    The layout is described by a helper that runs in the student process, where a submission
    can replace it (one reported a bias its network lacks: +3 points). So each tensor reported
    is given judge-drawn values and must change the model's output on random probes: a tensor
    the model does not have, or does not use, fails the count. A forward that raises in the
    student's own code is left to the checks about forward (the count stands on its own)."""
    from grader.failures import NotImplementedYet, StudentError

    reported = layout(student, model)
    generator = torch.Generator().manual_seed(20_261_130)
    values = [0.1 * torch.randn(tuple(p["shape"]), generator=generator) for p in reported]
    load, forward = engine_recipe(student, "load_parameters"), engine_recipe(student, "forward")
    try:
        load(model, values)
        base = torch.as_tensor(forward(model, probes))
        dead = []
        for i, entry in enumerate(reported):
            changed = list(values)
            changed[i] = values[i] + 0.5 + torch.randn(values[i].shape, generator=generator)
            load(model, changed)
            if torch.equal(torch.as_tensor(forward(model, probes)), base):
                dead.append(entry)
        # A forward that ignores every parameter is the forward checks' business; one that
        # uses some and not others holds tensors it does not use (or reports ones it lacks).
        if dead and len(dead) < len(reported):
            entry = dead[0]
            raise CheckFailure(
                _("{what}: the tensor {entry!r} ({describe_shape}) changes nothing in the "
                  "output when given other values: it is not a parameter the model uses, so it "
                  "is not counted as one").format(
                    what=what, entry=entry['name'], describe_shape=describe_shape(entry['shape'])))
    except NotImplementedYet:
        raise
    except StudentError as e:
        if not e.where:  # raised outside the student's code: the reported tensors do not fit
            raise CheckFailure(_("{what}: the parameters the model reports could not be given "
                                 "values ({type_name}: {message})").format(
                                   what=what, type_name=e.type_name, message=e.message)) from None
    return reported


def describe_shape(shape) -> str:
    return "×".join(str(int(s)) for s in shape) or "scalar"
