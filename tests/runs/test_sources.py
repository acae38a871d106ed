"""Sources: IDs, classes and bytes of folders, ImageFolder layouts and WebDataset shards."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataset_runs import write_shards
from neuromask.errors import ImageLoadError, InputError
from neuromask.runs import open_source
from neuromask.runs.sources import decode_image


def test_folder_ids_are_sorted_relative_paths_with_the_files_bytes(image_folder: Path) -> None:
    samples = open_source(image_folder)
    expected = sorted(p.relative_to(image_folder).as_posix() for p in image_folder.rglob("*.png"))
    assert [s.id for s in samples] == expected
    assert all(s.class_name is None for s in samples)
    assert samples[0].read() == (image_folder / expected[0]).read_bytes()


def test_imagefolder_class_is_the_first_folder(image_folder: Path) -> None:
    samples = open_source(image_folder, "imagefolder")
    assert {s.class_name for s in samples} == {"triangle", "square"}
    assert all(s.id.startswith(f"{s.class_name}/") for s in samples)


def test_imagefolder_refuses_an_image_outside_a_class_folder(tmp_path: Path, image_folder: Path) -> None:
    first = next(image_folder.rglob("*.png"))
    (tmp_path / "loose.png").write_bytes(first.read_bytes())
    with pytest.raises(InputError, match="class folder"):
        open_source(tmp_path, "imagefolder")


def test_webdataset_shards_group_members_by_key(tmp_path: Path, image_folder: Path) -> None:
    written = write_shards(tmp_path, image_folder, per_shard=4)
    samples = open_source(tmp_path)  # auto: a folder of .tar shards and no images
    assert [s.id for s in samples] == sorted(f"{name}/{key}" for name, key, _ in written)
    by_id = {f"{name}/{key}": data for name, key, data in written}
    for s in samples:
        assert s.read() == by_id[s.id]
        assert s.class_name == s.id.split("/")[1].split("_")[0]
    one_shard = open_source(tmp_path / "shard-000001.tar")
    assert [s.id.split("/")[0] for s in one_shard] == ["shard-000001.tar"] * 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"hello, not a picture", "not an image file"),
    ],
)
def test_decode_errors_name_the_image(data: bytes, message: str) -> None:
    with pytest.raises(ImageLoadError, match=f"image 'x/y.png' is .*{message}"):
        decode_image(data, "x/y.png")


def test_truncated_png_is_reported_as_corrupt(image_folder: Path) -> None:
    data = next(image_folder.rglob("*.png")).read_bytes()
    with pytest.raises(ImageLoadError, match="corrupt or truncated"):
        decode_image(data[: len(data) // 2], "half.png")


def test_missing_or_empty_source(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        open_source(tmp_path / "nope")
    with pytest.raises(InputError, match="holds no images"):
        open_source(tmp_path)
