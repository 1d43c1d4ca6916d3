"""The README quotes benchmark figures only from data/results/*.json, and stays in sync with them."""
import json
import shutil

import pytest

from peach_lite.paths import REPO_ROOT, results_dir
from peach_lite.results import BEGIN, END, readme_table, update_readme

README = REPO_ROOT / "README.md"
FIX = "run `python -m peach_lite.results --update-readme`"


def _block(text):
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def test_readme_block_matches_the_results_files():
    text = README.read_text()
    assert BEGIN in text and END in text, f"README.md lacks the {BEGIN} / {END} markers"
    assert _block(text) == readme_table().strip(), f"README.md results are stale: {FIX}"


def test_table_lists_every_headline_figure():
    table = readme_table()
    for path in sorted(results_dir().glob("*.json")):
        record = json.loads(path.read_text())
        assert f"[{path.stem}](benchmarks/{path.stem}.py)" in table
        for key in record["headline"]:
            assert f"{key} = " in table, f"{path.name}: headline {key!r} missing from the README table"


def test_update_rewrites_a_stale_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Demo\n\n{BEGIN}\n| stale | 1.0 |\n{END}\n\n## After\n")
    update_readme(readme)
    text = readme.read_text()
    assert _block(text) == readme_table().strip() and text.endswith(f"{END}\n\n## After\n")
    update_readme(readme)
    assert readme.read_text() == text, "updating twice must change nothing"


def test_missing_marker_is_a_clear_error(tmp_path):
    readme = tmp_path / "README.md"
    shutil.copy(README, readme)
    readme.write_text(readme.read_text().replace(END, ""))
    with pytest.raises(ValueError, match="results:end"):
        update_readme(readme)
