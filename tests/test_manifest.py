"""Every file in data/ comes from a recorded command, and still reaches the score it was recorded with."""
import json

import pytest

from peach_lite.checkpoints import evaluate_entry, load_checkpoint, read_manifest, verify_entry
from peach_lite.paths import REPO_ROOT

DATA = REPO_ROOT / "data"
ENTRIES = read_manifest()["artifacts"]
_UNRECORDED_OK = {"MANIFEST.json", "README.md", ".gitkeep"}


def test_every_data_file_is_recorded():
    recorded = {entry["file"] for entry in ENTRIES}
    for path in DATA.rglob("*"):
        if path.is_dir() or path.name in _UNRECORDED_OK or path.parent.name == "results":
            continue
        assert path.relative_to(DATA).as_posix() in recorded, f"{path} is not in data/MANIFEST.json"


def test_every_results_file_has_a_flat_headline_and_provenance():
    for path in sorted((DATA / "results").glob("*.json")):
        record = json.loads(path.read_text())
        assert record["name"] == path.stem
        assert record["headline"] and all(isinstance(v, (int, float)) for v in record["headline"].values()), path
        for key in ("command", "seeds", "versions", "date"):
            assert record.get(key) not in (None, ""), f"{path} lacks {key}"


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_manifest_entry_reloads_and_reaches_its_score(entry):
    for key in ("file", "sha256", "command", "seed", "peach_lite_version", "score", "evaluate"):
        assert key in entry, f"{entry.get('file')}: manifest entry lacks {key}"
    path = verify_entry(entry)
    if path.suffix == ".pt":
        load_checkpoint(path)
    score = evaluate_entry(entry)
    recorded = entry["score"]
    if recorded["higher_is_better"]:
        assert score >= recorded["value"] - recorded["tolerance"], (path, score, recorded)
    else:
        assert score <= recorded["value"] + recorded["tolerance"], (path, score, recorded)
