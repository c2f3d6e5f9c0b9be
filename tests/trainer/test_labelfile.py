"""A user's labels CSV: read as given, refused whole with the line named when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from timbrecast.daemon.contract import DESCRIPTORS
from timbrecast.trainer import cli, labelfile

HEADER = "path," + ",".join(DESCRIPTORS)


def write(folder: Path, *rows: str, header: str = HEADER) -> Path:
    path = folder / "ratings.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_rows_become_resolved_paths_and_seven_values(tmp_path: Path) -> None:
    csv = write(tmp_path, "kits/a.wav,1,2,3,4,5,6,7", f"{tmp_path}/b.wav,0,0,0,0,0,0,100")
    labels = labelfile.read(csv, relative_to=tmp_path)
    assert labels == {
        str(tmp_path / "kits" / "a.wav"): (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0),
        str(tmp_path / "b.wav"): (0.0,) * 6 + (100.0,),
    }


def test_the_output_of_trainer_label_is_accepted(tmp_path: Path) -> None:
    csv = write(tmp_path, "a.wav,abc123,1,2,3,4,5,6,7", header="path,key," + ",".join(DESCRIPTORS))
    assert labelfile.read(csv, relative_to=tmp_path)[str(tmp_path / "a.wav")][6] == 7.0


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        (["a.wav,1,2,3,4,5,6"], "path," + ",".join(DESCRIPTORS[:-1]), "no column boominess"),
        (["a.wav,1,2,3,4,5,6,x"], HEADER, ":2: boominess 'x' is not a number"),
        (["a.wav,1,2,3,4,5,6,7", "b.wav,1,2,3,400,5,6,7"], HEADER, ":3: roughness 400.0"),
        (["a.wav,1,2,3,4,5,6,nan"], HEADER, ":2: boominess nan is outside 0-100"),
        (["a.wav,1,2,3,4,5,6,7", "./a.wav,1,2,3,4,5,6,7"], HEADER, ":3: ./a.wav is labelled twice"),
        ([",1,2,3,4,5,6,7"], HEADER, ":2: empty path"),
        ([], HEADER, "no rows"),
    ],
)
def test_a_bad_file_is_refused_with_its_line(tmp_path, rows, header, message) -> None:
    with pytest.raises(labelfile.LabelFileError, match=message.replace(".", r"\.")):
        labelfile.read(write(tmp_path, *rows, header=header), relative_to=tmp_path)


def test_build_with_bad_labels_exits_65_in_one_line(tmp_path: Path, capsys) -> None:
    kits = tmp_path / "kits"
    kits.mkdir()
    csv = write(tmp_path, "a.wav,1,2,3,4,5,6,-1")
    status = cli.main(["dataset", "build", "--user", str(kits), "--labels", str(csv)])
    assert status == 65
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"trainer: {csv}:2: boominess -1.0 is outside 0-100"]


def test_labels_without_a_user_folder_or_file_are_named(tmp_path: Path, capsys) -> None:
    csv = write(tmp_path, "a.wav,1,2,3,4,5,6,7")
    assert cli.main(["dataset", "build", "--labels", str(csv)]) == 78
    assert "--labels labels the clips of --user folders" in capsys.readouterr().err
    assert cli.main(["dataset", "build", "--labels", str(tmp_path / "none.csv")]) == 66
    assert cli.main(["dataset", "build", "--freesound", str(tmp_path / "none")]) == 66
