"""Benchmark results: every ``benchmarks/<name>.py`` writes ``data/results/<name>.json`` and ``<name>.png``.

Each JSON file holds a flat ``"headline"`` of key figures plus the command, seeds, versions and date; its
``details`` keep the per-seed numbers and curves. The PNG beside it (learning curves with seed bands, dashed
oracle lines) is drawn from those details, by the benchmark or by ``python -m peach_lite.results --figures``,
never by hand. Lessons and the README read figures from here instead of pasting numbers:
``python -m peach_lite.results --update-readme`` regenerates the README's results table and figures.

Taught in notebooks/00_how_to_use.py (section "Where the numbers come from").
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import math
import os
import shlex
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from peach_lite import paths
from peach_lite.paths import REPO_ROOT, results_dir
from peach_lite.versions import stack_versions

__all__ = ["write_results", "read_results", "read_headline", "quote_headline", "readme_table", "update_readme", "BEGIN", "END",
           "figure_spec", "curves_panel", "bars_panel", "figure_for", "save_figure", "write_figures",
           "figure_status", "show_figure", "this_command"]

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
"""The README markers between which ``update_readme`` writes ``readme_table()``."""

FIX_FIGURES = "run `python -m peach_lite.results --figures`"


def write_results(
    name: str,
    headline: dict[str, float],
    *,
    seeds: list[int],
    details: dict[str, Any] | None = None,
    command: str | None = None,
    figure: dict[str, Any] | None = None,
    out_dir: str | Path | None = None,
) -> Path:
    """Write ``<out_dir>/<name>.json`` atomically, draw ``<name>.png`` beside it, print the headline last.

    Args:
        name: the benchmark script's name, e.g. ``"env_speed"``.
        headline: flat ``{figure name: number}``; nested values or non-finite numbers are a ValueError.
        seeds: the seeds the figures were measured over.
        details: anything else worth keeping (per-seed numbers, curves, configs).
        command: how to rerun it; defaults to this process's command line.
        figure: a :func:`figure_spec` of the curves to draw; kept as ``details["figure"]``. Without it the
            figure comes from :func:`figure_for` (the benchmark's known details layout), if there is one.
        out_dir: defaults to ``data/results`` (``--out`` of every benchmark).
    """
    if not name or "/" in name:
        raise ValueError(f"name must be a plain file stem like 'env_speed', got {name!r}")
    for key, value in headline.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"headline[{key!r}] must be a finite number, got {value!r}")
    details = dict(details or {})
    if figure is not None:
        details["figure"] = _checked_spec(figure)
    record = {
        "name": name,
        "headline": {k: float(v) for k, v in headline.items()},
        "command": command or this_command(),
        "seeds": [int(s) for s in seeds],
        "versions": stack_versions(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "details": details,
    }
    path = Path(out_dir or results_dir()) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
    print(f"wrote {path}")
    spec = figure_for(record)
    if spec is not None:
        print(f"wrote {save_figure(path.with_suffix('.png'), spec)}")
    print("headline: " + json.dumps(record["headline"]))
    return path


def read_results(name: str) -> dict[str, Any]:
    """Load ``data/results/<name>.json``; a missing file is a FileNotFoundError that says how to make it."""
    path = results_dir() / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist yet: run `python benchmarks/{name}.py` to produce it")
    record = json.loads(path.read_text())
    if not isinstance(record.get("headline"), dict):
        raise ValueError(f"{path} has no 'headline' object")
    return record


def quote_headline(name: str, *keys: str) -> str:
    """``"key value, ..."`` (two decimals) for the listed headline keys of ``data/results/<name>.json``, e.g. for the
    reason of a documented xfail; ``"no results yet"`` when the benchmark has not run. Keys it lacks are skipped."""
    try:
        headline = read_results(name)["headline"]
    except FileNotFoundError:
        return "no results yet"
    return ", ".join(f"{key} {headline[key]:.2f}" for key in keys if key in headline)


def read_headline(name: str) -> dict[str, float]:
    """Just the headline figures of ``data/results/<name>.json``."""
    return read_results(name)["headline"]


def readme_table(results_dir: str | Path | None = None) -> str:
    """Markdown for the README: a table of every ``data/results/*.json`` (headline figures, seeds, day,
    command), then each benchmark's figure ``data/results/<name>.png``.

    Taught in notebooks/00_how_to_use.py (section "Where the numbers come from").
    """
    folder = Path(results_dir or paths.results_dir())
    files = sorted(folder.glob("*.json"))
    if not files:
        return "_No results yet: run `make bench`._"
    rows = ["| benchmark | headline | seeds | date | command |", "|---|---|---|---|---|"]
    figures = []
    for path in files:
        record = json.loads(path.read_text())
        headline = "<br>".join(f"{k} = {_compact(v)}" for k, v in record["headline"].items())
        seeds = ", ".join(str(s) for s in record.get("seeds", []))
        command = record.get("command", "").replace("|", "\\|")
        rows.append(f"| [{path.stem}](benchmarks/{path.stem}.py) | {headline} | {seeds} "
                    f"| {record.get('date', '')[:10]} | `{command}` |")
        spec = figure_for(record)
        if spec is not None:
            figures.append(f"**{path.stem}**: {spec['title']}\n\n![{path.stem}]({_link(path.with_suffix('.png'))})")
    return "\n".join(rows) + "".join(f"\n\n{figure}" for figure in figures)


def update_readme(readme: str | Path | None = None, results_dir: str | Path | None = None) -> Path:
    """Rewrite the block between ``BEGIN`` and ``END`` in README.md with ``readme_table()``, atomically."""
    path = Path(readme or REPO_ROOT / "README.md")
    text = path.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{path} needs the markers {BEGIN} and then {END} on their own lines "
                         "where the results table goes")
    text = text[: start + len(BEGIN)] + "\n" + readme_table(results_dir) + "\n" + text[end:]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------------------------
# Figures: a plain-data spec in the JSON, drawn into a PNG that records which spec it shows


def figure_spec(title: str, panels: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A figure of one or more panels (:func:`curves_panel`, :func:`bars_panel`), as plain JSON data."""
    return _checked_spec({"title": title, "panels": list(panels)})


def curves_panel(title: str, x_label: str, y_label: str, series: Sequence[dict[str, Any]], *,
                 hlines: Sequence[dict[str, Any]] = (), smooth: int = 1) -> dict[str, Any]:
    """Learning curves: each series' mean over seeds as a line, its min-max over seeds as a band.

    Args:
        x_label, y_label: axis labels with units, e.g. ``"environment steps"``, ``"success rate (fraction)"``.
        series: ``[{"label": str, "x": [...] or [[...] per seed], "y": [[...] per seed]}]``; per-seed x may
            differ (curves are interpolated onto their common range).
        hlines: ``[{"label": "oracle", "y": 13.4}]``, drawn dashed.
        smooth: moving-average window over each seed's points before averaging (1: none).
    """
    return {"kind": "curves", "title": title, "x_label": x_label, "y_label": y_label, "series": list(series),
            "hlines": list(hlines), "smooth": int(smooth)}


def bars_panel(title: str, x_label: str, y_label: str, categories: Sequence[str], series: Sequence[dict[str, Any]],
               *, hlines: Sequence[dict[str, Any]] = (), log: bool = False) -> dict[str, Any]:
    """Grouped bars: each series' mean per category as a bar, every seed as a dot.

    Args:
        categories: the groups along x (e.g. env ids).
        series: ``[{"label": str, "values": [[per-seed values] per category]}]`` (an empty list: no bar).
        hlines: dashed reference lines, e.g. a target.
        log: a log-scale y axis.
    """
    return {"kind": "bars", "title": title, "x_label": x_label, "y_label": y_label, "categories": list(categories),
            "series": list(series), "hlines": list(hlines), "log": bool(log)}


def figure_for(record: dict[str, Any]) -> dict[str, Any] | None:
    """The figure spec of a results record: ``details["figure"]`` when the benchmark stored one, else the one
    drawn from the benchmark's known details layout (hac_maze, pearl_point_robot, ...), else None."""
    details = record.get("details") or {}
    if isinstance(details.get("figure"), dict):
        return details["figure"]
    builder = _FIGURE_BUILDERS.get(record.get("name", ""))
    return builder(details) if builder else None


def save_figure(path: str | Path, spec: dict[str, Any]) -> Path:
    """Draw ``spec`` into the PNG ``path`` atomically; the PNG records the spec's hash (see :func:`figure_status`)."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # a script or test: draw off-screen; a notebook keeps its backend
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = _checked_spec(spec)
    panels = spec["panels"]
    fig, axes = plt.subplots(1, len(panels), figsize=(max(6.4, 5.2 * len(panels)), 4.0), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        (_draw_curves if panel["kind"] == "curves" else _draw_bars)(ax, panel)
    fig.suptitle(spec["title"], fontsize=11)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=90, metadata={"Software": None, "Source": _spec_hash(spec)})
    plt.close(fig)
    os.replace(tmp, path)
    return path


def write_figures(results_dir: str | Path | None = None) -> list[Path]:
    """Draw ``<name>.png`` for every ``<name>.json`` in ``results_dir`` that has a figure; returns the paths."""
    written = []
    for path in sorted(Path(results_dir or paths.results_dir()).glob("*.json")):
        spec = figure_for(json.loads(path.read_text()))
        if spec is not None:
            written.append(save_figure(path.with_suffix(".png"), spec))
    return written


def figure_status(results_dir: str | Path | None = None) -> dict[str, str]:
    """``{name: "ok" | "missing" | "stale"}`` for every results file that has a figure: is its PNG there, and
    was it drawn from the JSON's current data?"""
    from PIL import Image

    status = {}
    for path in sorted(Path(results_dir or paths.results_dir()).glob("*.json")):
        spec = figure_for(json.loads(path.read_text()))
        if spec is None:
            continue
        png = path.with_suffix(".png")
        if not png.exists():
            status[path.stem] = "missing"
            continue
        with Image.open(png) as image:
            drawn_from = image.info.get("Source")
        status[path.stem] = "ok" if drawn_from == _spec_hash(spec) else "stale"
    return status


def show_figure(name: str):
    """Show ``data/results/<name>.png`` in a notebook (the README's figure, from the file)."""
    from IPython.display import Image

    path = results_dir() / f"{name}.png"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist yet: run `python benchmarks/{name}.py` or {FIX_FIGURES}")
    return Image(filename=str(path))


def this_command() -> str:
    """This process's command line as a user would retype it: ``python benchmarks/x.py --seeds 0 1``."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(".py"):
        try:
            argv[0] = str(Path(argv[0]).resolve().relative_to(Path.cwd()))
        except ValueError:
            pass
        return "python " + shlex.join(argv)
    return shlex.join([Path(sys.executable).name, *argv])


# ---------------------------------------------------------------------------------------------
# Helpers


def _compact(value: float) -> str:
    """3 significant digits, whole numbers as they are: ``0.99961`` -> ``1.00``, ``1707.2`` -> ``1,710``, ``3.0`` -> ``3``."""
    if value.is_integer():
        return f"{int(value):,}"
    rounded = float(f"{value:.3g}")
    return f"{rounded:,.0f}" if abs(rounded) >= 1000 else f"{value:#.3g}".rstrip(".")


def _link(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return path.as_posix()


def _spec_hash(spec: dict[str, Any]) -> str:
    return "peach_lite.results sha256:" + hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def _checked_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A figure needs a title, and each panel a kind, labelled axes and at least one series."""
    if not isinstance(spec, dict) or not spec.get("title") or not spec.get("panels"):
        raise ValueError("a figure spec needs a 'title' and at least one panel (use figure_spec(...))")
    for panel in spec["panels"]:
        if panel.get("kind") not in ("curves", "bars"):
            raise ValueError(f"panel kind must be 'curves' or 'bars', got {panel.get('kind')!r}")
        for key in ("x_label", "y_label"):
            if not panel.get(key):
                raise ValueError(f"panel {panel.get('title')!r} needs a {key} (with units)")
        if not panel.get("series"):
            raise ValueError(f"panel {panel.get('title')!r} has no series")
    return spec


def _draw_curves(ax, panel: dict[str, Any]) -> None:
    import numpy as np

    for series in panel["series"]:
        ys = [np.asarray(y, dtype=float) for y in series["y"]]
        xs = series["x"]
        xs = [np.asarray(x, dtype=float) for x in xs] if xs and isinstance(xs[0], (list, tuple)) else \
            [np.asarray(xs, dtype=float)] * len(ys)
        pairs = [(x[: len(y)], _moving_average(y, panel.get("smooth", 1))) for x, y in zip(xs, ys) if len(y)]
        if not pairs:
            continue
        lo, hi = max(x[0] for x, _ in pairs), min(x[-1] for x, _ in pairs)
        grid = np.linspace(lo, hi, 100) if hi > lo else np.array([lo])
        if len(pairs) > 1 and any(len(x) != len(pairs[0][0]) or np.any(x != pairs[0][0]) for x, _ in pairs):
            stack = np.stack([np.interp(grid, x, y) for x, y in pairs])
        else:
            grid, stack = pairs[0][0], np.stack([y for _, y in pairs])
        label = f"{series['label']} ({len(pairs)} seed{'s' if len(pairs) > 1 else ''})"
        [line] = ax.plot(grid, stack.mean(0), label=label, lw=1.6, marker="o" if len(grid) < 4 else None, ms=4)
        if len(pairs) > 1:
            ax.fill_between(grid, stack.min(0), stack.max(0), color=line.get_color(), alpha=0.2, lw=0)
    _finish_axes(ax, panel, note="line: mean over seeds; band: min-max over seeds")


def _draw_bars(ax, panel: dict[str, Any]) -> None:
    import numpy as np

    categories, series = panel["categories"], panel["series"]
    width = 0.8 / len(series)
    for index, s in enumerate(series):
        offsets = np.arange(len(categories)) - 0.4 + width * (index + 0.5)
        means = [float(np.mean(v)) if len(v) else np.nan for v in s["values"]]
        ax.bar(offsets, means, width=width * 0.9, label=s["label"], alpha=0.8)
        for offset, values in zip(offsets, s["values"]):
            ax.plot([offset] * len(values), values, "k.", ms=3)
    ax.set_xticks(np.arange(len(categories)))
    ax.set_xticklabels([c.split("/")[-1] for c in categories], rotation=30, ha="right", fontsize=8)
    if panel.get("log"):
        ax.set_yscale("log")
    _finish_axes(ax, panel, note="bar: mean over seeds; dots: seeds")


def _finish_axes(ax, panel: dict[str, Any], note: str) -> None:
    for line in panel.get("hlines", []):
        ax.axhline(line["y"], ls="--", lw=1.2, color=line.get("color", "k"), label=line["label"])
    ax.set_title(panel["title"], fontsize=10)
    ax.set_xlabel(panel["x_label"])
    ax.set_ylabel(panel["y_label"])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, title=note, title_fontsize=6)


def _moving_average(y, window: int):
    import numpy as np

    if window <= 1 or len(y) < window:
        return y
    kernel = np.ones(window) / window
    head = np.cumsum(y[: window - 1]) / np.arange(1, window)  # shorter windows at the start keep the length
    return np.concatenate([head, np.convolve(y, kernel, mode="valid")])


# The figures of benchmarks whose JSON predates details["figure"]: drawn from their per-seed details.


def _hac_maze_figure(details: dict[str, Any]) -> dict[str, Any] | None:
    runs = details.get("runs") or []
    levels = sorted({run["num_levels"] for run in runs})
    if not levels:
        return None
    series = [{"label": f"{k} level{'s' if k > 1 else ''}" + (" (flat)" if k == 1 else ""),
               "x": [r["eval_steps"] for r in runs if r["num_levels"] == k],
               "y": [r["eval_success"] for r in runs if r["num_levels"] == k]} for k in levels]
    hlines = [{"label": "optimum (every goal reached)", "y": 1.0},
              {"label": f"target {details.get('target', 0.8):.0%}", "y": details.get("target", 0.8), "color": "0.5"}]
    return figure_spec("HAC on the four-rooms point maze: flat vs 2 vs 3 levels", [curves_panel(
        "Success on held-out goals during training", "environment steps", "success rate (fraction of goals)",
        series, hlines=hlines)])


def _pearl_figure(details: dict[str, Any]) -> dict[str, Any] | None:
    runs = details.get("runs") or []
    if not runs:
        return None
    series = [{"label": "PEARL", "x": [r["learning_curve"]["env_steps"] for r in runs],
               "y": [r["learning_curve"]["final_return"] for r in runs]}]
    for variant, ablation in (details.get("ablations") or {}).items():
        curve = ablation.get("learning_curve")
        if curve:
            series.append({"label": variant.replace("_", " "), "x": [curve["env_steps"]], "y": [curve["final_return"]]})
    hlines = [{"label": "oracle (goal known)", "y": details["oracle_return"]}] if "oracle_return" in details else []
    return figure_spec("PEARL on the sparse point robot: meta-test return during meta-training", [curves_panel(
        "Held-out goals, return of the last trajectory", "environment steps (meta-training)",
        "return (sparse reward, per trajectory)", series, hlines=hlines)])


def _belief_figure(details: dict[str, Any]) -> dict[str, Any] | None:
    runs = details.get("runs") or {}
    panels = []
    for prefix, title in (("", "K-goal bandit"), ("movement_", "MovementBandits")):
        groups: dict[str, list[dict[str, Any]]] = {}
        for key, run in runs.items():
            agent = key.split("/")[0]
            if agent.startswith("movement_") != bool(prefix):
                continue
            agent = agent[len(prefix):]
            if agent in ("belief", "lstm", "aux_w1"):
                groups.setdefault(agent, []).append(run)
        if not groups:
            continue
        labels = {"belief": "belief network", "lstm": "RL² (LSTM)", "aux_w1": "LSTM + belief head"}
        series = [{"label": labels[agent], "x": [r["history"]["eval_steps"] for r in group],
                   "y": [r["history"]["eval_return"] for r in group]} for agent, group in sorted(groups.items())]
        first = next(iter(groups.values()))[0]
        hlines = [{"label": "Bayes-optimal", "y": first["bayes_optimal_return"]},
                  {"label": "oracle (task known)", "y": first["oracle_return"], "color": "0.5"}]
        panels.append(curves_panel(title, "environment steps", "return per trial", series, hlines=hlines))
    return figure_spec("Belief networks vs RL²: evaluation return against the Bayes-optimal policy", panels) if panels else None


def _env_speed_figure(details: dict[str, Any]) -> dict[str, Any] | None:
    rates = details.get("steps_per_s") or {}
    if not rates:
        return None
    per_seed = details.get("per_seed_steps_per_s") or {k: [v] for k, v in rates.items()}
    bare = details.get("per_seed_bare_v5_steps_per_s") or {k: [v] for k, v in (details.get("bare_v5_steps_per_s") or {}).items()}
    names = list(rates)
    series = [{"label": "peach_lite env (gymnasium.make, wrappers)", "values": [per_seed.get(n, []) for n in names]},
              {"label": "bare gymnasium v5 env", "values": [bare.get(n, []) for n in names]}]
    return figure_spec("Environment throughput, one process, random actions", [bars_panel(
        "Steps per CPU second of each task family", "task family", "steps per CPU second (log scale)", names, series,
        log=True)])


def _sac_figure(details: dict[str, Any]) -> dict[str, Any] | None:
    per_seed = details.get("per_seed") or []
    if not per_seed:
        return None
    panels = []
    curves = details.get("curves")
    if curves:
        panels.append(curves_panel(f"Training episodes on {details.get('env', 'Pendulum-v1')}", "environment steps",
                                   "episode return", [{"label": label, **curve} for label, curve in curves.items()],
                                   smooth=5))
    libraries = ["ours", "stable-baselines3"]
    panels.append(bars_panel("Compute per seed (same updates)", "library", "CPU seconds of learn", libraries,
                             [{"label": "CPU time", "values": [[r["cpu_s_ours"] for r in per_seed],
                                                               [r["cpu_s_sb3"] for r in per_seed]]}]))
    panels.append(bars_panel("Result per seed", "library", "evaluation return (mean of episodes)", libraries,
                             [{"label": "return", "values": [[r["return_ours"] for r in per_seed],
                                                             [r["return_sb3"] for r in per_seed]]}]))
    return figure_spec("Our SAC vs stable-baselines3's on Pendulum-v1, same work", panels)


_FIGURE_BUILDERS: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {
    "hac_maze": _hac_maze_figure,
    "pearl_point_robot": _pearl_figure,
    "belief_vs_lstm": _belief_figure,
    "env_speed": _env_speed_figure,
    "sac_vs_sb3": _sac_figure,
}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m peach_lite.results", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--readme", action="store_true", help="print the README results table")
    group.add_argument("--update-readme", action="store_true",
                       help="draw any missing or stale figure, then rewrite the block between the README markers")
    group.add_argument("--figures", action="store_true", help="draw data/results/<name>.png from every <name>.json")
    args = parser.parse_args()
    if args.readme:
        print(readme_table())
    elif args.figures:
        for written in write_figures():
            print(f"wrote {written}")
    else:
        try:
            for name, state in figure_status().items():
                if state != "ok":
                    spec = figure_for(json.loads((results_dir() / f"{name}.json").read_text()))
                    print(f"wrote {save_figure(results_dir() / f'{name}.png', spec)} (was {state})")
            print(f"updated {update_readme()}")
        except ValueError as error:
            sys.exit(f"error: {error}")
