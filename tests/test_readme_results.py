"""The README quotes benchmark figures only from data/results/*.json and shows their PNGs, all in sync."""
import json
import re
import shutil

import pytest

from peach_lite.paths import REPO_ROOT, results_dir
from peach_lite.results import (BEGIN, END, FIX_FIGURES, bars_panel, curves_panel, figure_spec, figure_status, readme_table,
                                update_readme, write_figures, write_results)

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


# Figures: each benchmark's PNG is drawn from its JSON by a command, is current, and the README shows it.


def _linked_images(block):
    return re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", block)


def test_every_benchmark_figure_exists_and_is_current():
    status = figure_status()
    assert status, "no results file has a figure"
    bad = {name: state for name, state in status.items() if state != "ok"}
    assert not bad, f"figures missing or drawn from older data {bad}: {FIX_FIGURES}"


def test_readme_shows_every_figure_and_each_one_exists():
    block = _block(README.read_text())
    linked = _linked_images(block)
    for name in figure_status():
        assert f"data/results/{name}.png" in linked, f"README does not show {name}.png: {FIX}"
    for link in linked:
        assert (REPO_ROOT / link).exists(), f"README shows {link}, which does not exist: {FIX_FIGURES}"


def test_a_written_result_draws_its_figure_and_goes_stale_when_the_data_changes(tmp_path):
    curves = curves_panel("Demo", "environment steps", "return", [{"label": "ours", "x": [0, 1, 2], "y": [[0, 1, 2], [0, 2, 3]]}],
                          hlines=[{"label": "oracle", "y": 3.0}])
    bars = bars_panel("Cost", "library", "CPU seconds", ["ours", "theirs"], [{"label": "cpu", "values": [[1.0, 2.0], [3.0]]}])
    path = write_results("demo", {"x": 1.0}, seeds=[0, 1], figure=figure_spec("A demo", [curves, bars]),
                         out_dir=tmp_path, command="python demo.py")
    assert path.with_suffix(".png").exists() and figure_status(tmp_path) == {"demo": "ok"}
    assert "![demo](" in readme_table(tmp_path) and "**demo**: A demo" in readme_table(tmp_path)
    record = json.loads(path.read_text())
    record["details"]["figure"]["panels"][0]["series"][0]["y"][0][0] = 5
    path.write_text(json.dumps(record))
    assert figure_status(tmp_path) == {"demo": "stale"}
    assert write_figures(tmp_path) == [path.with_suffix(".png")] and figure_status(tmp_path) == {"demo": "ok"}
    path.with_suffix(".png").unlink()
    assert figure_status(tmp_path) == {"demo": "missing"}


def test_a_figure_without_axis_labels_is_refused():
    with pytest.raises(ValueError, match="y_label"):
        figure_spec("No units", [curves_panel("Demo", "environment steps", "", [{"label": "a", "x": [0], "y": [[0]]}])])


def test_quote_headline_formats_listed_keys_and_says_when_nothing_ran():
    from peach_lite.results import quote_headline, read_results

    headline = read_results("sac_vs_sb3")["headline"]
    assert quote_headline("sac_vs_sb3", "speedup_vs_sb3", "no_such_key") == f"speedup_vs_sb3 {headline['speedup_vs_sb3']:.2f}"
    assert quote_headline("no_such_benchmark", "x") == "no results yet"
