"""The Streamlit script of ``neuromask dashboard``: an Explain page and a Results page.

Layout only; every computation is a function of :mod:`neuromask.dashboard.logic`.
Models are loaded once per server (``st.cache_resource``); every explanation runs on one
worker thread, one at a time (``logic.submit``). Images and results live in each
session's own ``st.session_state``, so two browser sessions never see each other's data.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pandas as pd
import streamlit as st

import neuromask
from neuromask.dashboard import logic
from neuromask.errors import ImageLoadError, InputError, NeuromaskError
from neuromask.metrics import metric_info, metrics
from neuromask.types import LoadedModel

CUSTOM_MODEL = "a model file or spec…"
IMAGENET, RAW = "normalised with ImageNet's mean and std", "[0, 1] as they are"
COLUMNS = 4


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def shared_model(spec: str, options: tuple[tuple[str, Any], ...] = ()) -> LoadedModel:
    """One copy per server; explanations use it one at a time (``logic.submit``)."""
    return neuromask.load_model(spec, **dict(options))


def _runs() -> logic.Runs:
    """This session's explanations (``st.session_state`` is per browser session)."""
    runs: logic.Runs = st.session_state.setdefault("runs", logic.Runs())
    runs.collect()
    return runs


def _choose_image() -> tuple[str, Any] | None:
    source = st.sidebar.radio("Image", ["Sample", "Upload"], key="source", horizontal=True)
    if source == "Sample":
        name = st.sidebar.selectbox("Sample image", logic.sample_names(), key="sample")
        return name, logic.sample_image(name)
    upload = st.sidebar.file_uploader(f"An image file (up to {logic.MAX_PIXELS / 1e6:.0f} megapixels)", key="upload")
    if upload is None:
        st.info("Upload an image in the sidebar, or choose a sample.")
        return None
    try:
        image, notes = logic.read_upload(upload.getvalue(), upload.name)
    except ImageLoadError as exc:
        st.error(f"This upload cannot be used: {exc}")
        return None
    for note in notes:
        st.warning(note)
    return upload.name, image


def _choose_model() -> tuple[str, tuple[tuple[str, Any], ...]] | None:
    """The model spec chosen in the sidebar and, for a file, its input size and channels
    (the model is loaded only once there is an image to explain)."""
    names = [name for name, _ in neuromask.list_models()]
    choices = names + [CUSTOM_MODEL]
    default = names.index("efficientnet_lite0") if "efficientnet_lite0" in names else 0
    choice = st.sidebar.selectbox("Model", choices, index=default, key="model")
    if choice != CUSTOM_MODEL:
        return choice, ()
    spec = st.sidebar.text_input(
        "Model file or spec",
        key="model_spec",
        help="a TorchScript or ONNX file, weights.pt@package.module:Class, torchvision:NAME or timm:NAME",
    ).strip()
    size = st.sidebar.number_input("Its input size (px)", min_value=8, max_value=2048, value=224, key="model_size")
    channels = int(st.sidebar.selectbox("Its input channels", [3, 1], key="model_channels"))
    imagenet = st.sidebar.radio("Its pixels", [IMAGENET, RAW], key="model_norm") == IMAGENET
    if not spec:
        st.info("Type a model file or spec in the sidebar.")
        return None
    options: tuple[tuple[str, Any], ...] = (("input_size", int(size)), ("channels", channels))
    if not imagenet:  # [0, 1] pixels as they are: the identity normalisation
        options += (("mean", (0.0,) * channels), ("std", (1.0,) * channels))
    return spec, options


def _load(spec: str, options: tuple[tuple[str, Any], ...]) -> LoadedModel | None:
    try:
        return shared_model(spec, options)
    except (NeuromaskError, ValueError, OSError) as exc:
        st.error(f"The model '{spec}' cannot be loaded: {exc}")
        return None


def _wait(runs: logic.Runs, key: Any, method: str) -> None:
    """Draw a running method's progress until it ends. The page stays live meanwhile: a click
    reruns this script, and the run goes on and is collected on a later rerun."""
    bar = st.progress(0.0, text=f"{method}: waiting for the explanation before it")
    with st.spinner(f"{method}…"):
        while key in runs.running:
            done, total = runs.progress.get(key, (0, 0))
            if total:
                bar.progress(done / total, text=f"{method}: step {done} / {total}")
            time.sleep(0.25)
            runs.collect()
    bar.empty()


def _show_grid(picture: Any, results: list[logic.MethodResult]) -> None:
    masks = [r.method for r in results if r.is_mask]
    note = (
        "Masks ({}) share one colour scale: the mask's value, 0 (blue) to 1 (red). ".format(", ".join(masks))
        if masks
        else ""
    )
    st.caption(note + "Other maps have no common unit: each is stretched from its 1st to its 99th percentile.")
    for start in range(0, len(results), COLUMNS):
        cols = st.columns(COLUMNS)
        for col, r in zip(cols, results[start : start + COLUMNS]):
            with col:
                st.image(
                    logic.overlay(picture, logic.display_values(r.attribution, r.is_mask)),
                    caption=f"{r.method} ({r.kind})",
                    width="stretch",
                )
                st.caption(
                    " · ".join(f"{k} {v:.3f}" for k, v in r.scores.items() if k != "seconds") + f" · {r.seconds:.2f} s"
                )


def _show_history(picture: Any, result: logic.MethodResult) -> None:
    st.subheader("NeuroMask's mask while it learns")
    step = st.select_slider(
        "Optimisation step", options=result.history_steps, value=result.history_steps[-1], key="history_step"
    )
    if result.history is None:
        return
    frame = result.history[result.history_steps.index(step)]
    st.image(logic.overlay(picture, logic.display_values(frame, True)), width=logic.DISPLAY_SIDE)
    st.caption(f"step {step}: mask area {frame.mean():.3f}")


def explain_page() -> None:
    st.title("Explain an image")
    chosen_image = _choose_image()
    chosen_model = _choose_model()
    methods = st.sidebar.multiselect("Methods", logic.method_names(), default=["neuromask", "gradcam"], key="methods")
    default_steps = neuromask.method_options("neuromask")["steps"]
    steps = st.sidebar.number_input(
        "NeuroMask steps", min_value=1, max_value=5000, value=default_steps, step=10, key="steps"
    )
    with_scores = st.sidebar.checkbox(
        "Scores (deletion, insertion, mask area, masked probability)",
        value=True,
        key="scores",
        help="deletion and insertion take 224 forward passes each: seconds on a small model, "
        "tens of seconds on an ImageNet model on a CPU",
    )
    if chosen_image is None or chosen_model is None:
        return
    model = _load(*chosen_model)
    if model is None:
        return
    image_name, image = chosen_image
    try:
        inputs, picture = logic.prepare(model, image)
    except NeuromaskError as exc:
        st.error(f"The model cannot take this image: {exc}")
        return
    with st.spinner("Classifying…"):
        # On the explanation thread too: a forward pass here could run inside another
        # session's explanation, between the hooks it put on the shared model.
        top = logic.submit(logic.top_classes, model, inputs).result()
    left, right = st.columns([1, 2])
    with left:
        st.image(logic.overlay(picture), caption=f"{image_name}, as {model.name} sees it")
    with right:
        target = st.radio(
            "Class to explain (the model's top classes)",
            [t[0] for t in top],
            key="target",
            format_func=lambda i: next(f"{lab} (p = {p:.3f})" for j, lab, p in top if j == i),
        )
    if not methods:
        st.info("Choose at least one method in the sidebar.")
        return

    runs = _runs()
    digest = logic.image_digest(image)

    def options(method: str) -> dict[str, Any]:
        return {"steps": int(steps)} if method == "neuromask" else {}

    def key(method: str) -> tuple[Any, ...]:
        return (digest, model.name, int(target), method, json.dumps(options(method)), bool(with_scores))

    if st.button("Explain", type="primary", key="run"):
        for method in methods:
            runs.start(
                key(method),
                model,
                inputs,
                int(target),
                method,
                options(method),
                with_scores=with_scores,
                image=image_name,
            )
    for method in methods:
        if key(method) in runs.running:
            _wait(runs, key(method), method)
    for method in methods:
        if key(method) in runs.failures:
            st.error(runs.failures[key(method)])
    done = [runs.results[key(m)] for m in methods if key(m) in runs.results]
    if not done:
        st.info("Press Explain to run the chosen methods.")
        return
    st.subheader(f"Why {model.label(int(target))}?")
    _show_grid(picture, done)
    st.dataframe(pd.DataFrame.from_dict({r.method: r.scores for r in done}, orient="index"))
    learned = next((r for r in done if r.history is not None and len(r.history_steps) > 1), None)
    if learned is not None:
        _show_history(picture, learned)
    st.download_button(
        "Download results (.zip)",
        logic.results_archive(picture, done),
        file_name="neuromask_results.zip",
        mime="application/zip",
        key="download",
        on_click="ignore",
    )


def _direction(metric: str) -> str:
    """Which way is better, as the metric's registration says."""
    if metric not in metrics():
        return "a metric this version does not know"
    return f"{metric_info(metric).direction} is better"


def results_page() -> None:
    st.title("Results of a benchmark or a dataset run")
    folder = st.text_input(
        "Results folder",
        key="results_folder",
        placeholder="the --out folder of `neuromask benchmark` or of a dataset run",
    ).strip()
    if not folder:
        st.info("Give the path of a results folder on this machine.")
        return
    try:
        found = logic.open_results(folder)
    except InputError as exc:
        st.error(str(exc))
        return
    if found.rows is not None:
        rows = found.rows
        failed = rows[rows["status"] != "ok"]
        st.subheader("Benchmark")
        st.write(
            f"{len(rows)} cells, {rows['group'].nunique()} groups, {rows['method'].nunique()} methods, "
            f"{len(failed)} failed."
        )
        tables = list(logic.benchmark_tables(rows))
        metric_names = sorted({m for _, table in tables for m in table.columns})
        metric = st.selectbox("Chart of", metric_names, key="results_metric") if metric_names else None
        for group, table in tables:
            st.markdown(f"#### {group}")
            st.dataframe(table)
            if metric is not None and metric in table.columns:
                st.bar_chart(table[metric].dropna())
                st.caption(f"{metric}: the mean over images per method; {_direction(metric)}.")
        if len(failed):
            st.markdown("#### Failures")
            st.dataframe(failed)
        if found.charts:
            with st.expander(f"The report's charts ({len(found.charts)})"):
                for chart in found.charts:
                    st.image(str(chart), caption=str(chart.relative_to(found.path)))
        if found.machine:
            with st.expander("Machine and options"):
                st.json(found.machine)
    if found.run is not None:
        st.subheader("Dataset run")
        summary = logic.run_summary(found.run)
        st.dataframe(summary)
        st.bar_chart(summary["median seconds"].dropna())
        failed = found.run[found.run["status"] != "ok"]
        if len(failed):
            st.markdown("#### Failures")
            st.dataframe(failed)
        with st.expander(f"All {len(found.run)} rows"):
            st.dataframe(found.run)


st.set_page_config(page_title="neuromask", layout="wide")
page = st.sidebar.radio("Page", ["Explain", "Results"], key="page")
if page == "Explain":
    explain_page()
else:
    results_page()
