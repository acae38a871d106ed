"""The dashboard's script driven by Streamlit's AppTest (no browser): widgets, runs, caching, messages."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")

from streamlit.testing.v1 import AppTest  # noqa: E402

from neuromask.dashboard import APP_PATH  # noqa: E402

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "benchmark"


def _app(**state: object) -> AppTest:
    """The app on the triangles sample and its shipped CNN (widget values preset through session_state)."""
    at = AppTest.from_file(str(APP_PATH), default_timeout=120)
    at.session_state["sample"] = "triangles_squares"
    at.session_state["model"] = "triangles_squares-cnn"
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def _texts(elements) -> list[str]:
    return [e.value for e in elements]


def test_the_page_opens_on_the_sample_with_its_top_classes() -> None:
    at = _app()
    assert not at.exception and not at.error
    assert at.title[0].value == "Explain an image"
    assert at.radio(key="target").options == ["triangle (p = 1.000)", "square (p = 0.000)"]
    assert "Press Explain to run the chosen methods." in _texts(at.info)


def test_explain_shows_each_method_once_and_remembers_results() -> None:
    at = _app(methods=["gradcam", "saliency"])
    at.button(key="run").click().run()
    assert not at.exception and not at.error
    assert at.subheader[0].value == "Why triangle?"
    captions = _texts(at.caption)
    assert sum("deletion" in c and "insertion" in c for c in captions) == 2
    results = dict(at.session_state["runs"].results)
    assert sorted(r.method for r in results.values()) == ["gradcam", "saliency"]
    # Another interaction (here: choosing the other class and back) recomputes nothing already known.
    at.radio(key="target").set_value(1).run()
    assert "Press Explain to run the chosen methods." in _texts(at.info)  # nothing known for 'square' yet
    at.radio(key="target").set_value(0).run()
    assert at.subheader[0].value == "Why triangle?"
    for key, result in at.session_state["runs"].results.items():
        assert result is results[key]


def test_neuromask_offers_a_slider_over_its_mask() -> None:
    at = _app(methods=["neuromask"], steps=20)
    at.button(key="run").click().run()
    assert not at.exception and not at.error
    slider = at.select_slider(key="history_step")
    assert slider.options == [str(s) for s in range(21)] and slider.value == 20
    slider.set_value(5).run()
    assert any(c.startswith("step 5: mask area") for c in _texts(at.caption))


def test_a_model_that_cannot_load_is_one_message() -> None:
    at = _app(model="a model file or spec…", model_spec="/nonexistent/model.pt")
    assert not at.exception
    assert len(at.error) == 1 and "The model '/nonexistent/model.pt' cannot be loaded" in at.error[0].value


def test_a_torchscript_file_answers_like_the_model_it_was_saved_from(tmp_path: Path) -> None:
    import torch

    import neuromask

    builtin = neuromask.load_model("triangles_squares-cnn")
    path = tmp_path / "triangles.pt"
    torch.jit.trace(builtin.module, torch.rand(1, 1, 32, 32)).save(str(path))
    at = _app(
        model="a model file or spec…",
        model_spec=str(path),
        model_size=32,
        model_channels=1,
        model_norm="[0, 1] as they are",
    )
    assert not at.exception and not at.error
    by_file = at.radio(key="target").options
    # The file has no labels, so its classes are indices; the probabilities are the built-in model's.
    reference = _app().radio(key="target").options
    assert [o.split(" ", 1)[1] for o in by_file] == [o.split(" ", 1)[1] for o in reference]
    assert [int(o.split(" ", 1)[0]) for o in by_file] == [builtin.labels.index(o.split(" ", 1)[0]) for o in reference]


def test_the_results_page_shows_a_benchmark_folder() -> None:
    at = _app(page="Results", results_folder=str(BENCHMARK))
    assert not at.exception and not at.error
    assert at.subheader[0].value == "Benchmark"
    groups = {p.name for p in (BENCHMARK / "charts").iterdir()}
    assert {m.value.removeprefix("#### ") for m in at.markdown if m.value.startswith("#### ")} >= groups
    at.selectbox(key="results_metric").select("deletion").run()
    assert "deletion: the mean over images per method; lower is better." in _texts(at.caption)
    at.text_input(key="results_folder").set_value(str(BENCHMARK / "charts")).run()
    assert "holds neither rows.parquet or rows.jsonl" in at.error[0].value


def test_the_results_page_shows_a_dataset_run(tmp_path: Path) -> None:
    import pandas as pd

    pd.DataFrame(
        {
            "image": ["a.png", "b.png", "a.png"],
            "method": ["gradcam", "gradcam", "saliency"],
            "status": ["ok", "failed", "ok"],
            "target": [3, -1, 3],
            "seconds": [0.5, 9.0, 0.25],
            "error": ["", "ImageLoadError: 'b.png' is corrupt or truncated", ""],
        }
    ).to_parquet(tmp_path / "results.parquet")
    at = _app(page="Results", results_folder=str(tmp_path))
    assert not at.exception and not at.error
    assert [s.value for s in at.subheader] == ["Dataset run"]
    summary = at.dataframe[0].value
    assert summary.loc["gradcam", "ok"] == 1 and summary.loc["gradcam", "failed"] == 1
    failures = at.dataframe[1].value
    assert list(failures["image"]) == ["b.png"]
