"""report.html and index.html: their contents, that they need no network, and that they
draw in a real browser (headless Chromium through chromedriver, software WebGL)."""

import base64
import io
import itertools
import shutil
import time
from html.parser import HTMLParser
from urllib.parse import unquote

import h5py
import numpy as np
import pytest
from PIL import Image

import dynan
from dynan import h5
from dynan.figures import PANELS
from dynan.report import state_space, write_index, write_plotly_js, write_report

MODELS = ("flipflop_leaky", "tdnms_leaky", "integrator_leaky")


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory):
    """The analyze folder of a bundled model (made once, on first use)."""
    root, folders = tmp_path_factory.mktemp("analyzed"), {}

    def folder(name):
        if name not in folders:
            dynan.load(dynan.example_model(name)).analyze(
                out=root / name, n_trials=32, n_inits=64, formats=("png",),
                progress=False).close()
            folders[name] = root / name
        return folders[name]

    return folder


@pytest.fixture(scope="module")
def report(analyzed):
    """The report of a bundled model, written beside its results (made once)."""
    reports = {}

    def page(name):
        if name not in reports:
            reports[name] = write_report(analyzed(name) / f"{name}.h5")
        return reports[name]

    return page


class Page(HTMLParser):
    """What the tests read from a page: every ``src`` and ``href`` by tag, the tables by
    the heading above them (the header table under None), the figure captions."""

    def __init__(self, text):
        super().__init__()
        self.links, self.tables, self.captions = [], {}, []
        self._heading, self._text = None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.links += [(tag, key, value) for key, value in attrs if key in ("src", "href")]
        if tag == "table":
            self.tables[self._heading] = []
        elif tag == "tr":
            self.tables[self._heading].append([])
        elif tag in ("h2", "td", "th", "figcaption"):
            self._text = ""

    def handle_data(self, data):
        if self._text is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "h2":
            self._heading = self._text
        elif tag in ("td", "th"):
            self.tables[self._heading][-1].append(self._text)
        elif tag == "figcaption":
            self.captions.append(self._text)
        if tag in ("h2", "td", "th", "figcaption"):
            self._text = None


def test_report_needs_no_network(report):
    page = Page(report("flipflop_leaky").read_text())
    kinds = {(tag, key) for tag, key, _ in page.links}
    assert kinds == {("img", "src")}  # no script, style sheet or font is fetched
    assert all(value.startswith("data:image/png;base64,") for _, _, value in page.links)


def test_report_tables_are_the_summary(analyzed, report):
    text = report("flipflop_leaky").read_text()
    tables = Page(text).tables
    with dynan.Results(analyzed("flipflop_leaky") / "flipflop_leaky.h5") as res:
        summary = dynan.Summary.from_results(res)
    header = dict(tables[None])
    assert header["network"].startswith("LeakyDynamics, 64 units, gamma 0.5")
    assert header["task"] == "flipflop (performance 1.000)"
    assert header["dt"] == "0.01 s"
    assert header["trials"].startswith("32: ")
    [(label, counts)] = summary.fixed_points.items()
    assert tables["Fixed points"] == [
        ["input condition", "input", "stable", "marginal", "saddle", "unstable", "slow points",
         "outside"],
        [label, "[0, 0, 0]", *(str(counts[k]) for k in ("stable", "marginal", "saddle",
                                                        "unstable", "slow_points", "outside"))]]
    assert counts["stable"] == 8  # the bit cube's corners
    attractors = tables["Attractor time constants"][1:]
    assert [int(row[1]) for row in attractors] == [
        p["point"] for p in summary.attractor_time_constants[label]]
    leading = tables["Leading time constants"]
    assert leading[0][0] == "slowest modes (s)"
    assert leading[1] == [f"Jacobian at {summary.attractor}",
                          *(f"{t:.3g}" for t in summary.leading_time_constants)]
    t = summary.topology
    assert tables["Topology"][1] == [str(t[k]) for k in (
        "saddles", "branches", "fixed_point", "cycle", "unresolved", "outside", "outside_saddles")]
    assert t["saddles"] > 0
    assert "No line or ring attractor traced." in text


def test_report_manifolds_table(analyzed, report):
    tables = Page(report("integrator_leaky").read_text()).tables
    [header, row] = tables["Manifolds"]
    assert header[:3] == ["label", "closed", "dimension"]
    assert row[:3] == ["integrate", "no", "1"]  # a line attractor


def test_report_embeds_every_panel(analyzed, report):
    text = report("flipflop_leaky").read_text()
    pngs = sorted((analyzed("flipflop_leaky") / "figures").glob("*.png"))
    assert len(pngs) == len(PANELS) + 1  # and the overview
    assert sorted(Page(text).captions) == sorted(png.stem for png in pngs)
    for png in pngs:
        assert base64.b64encode(png.read_bytes()).decode() in text


def test_report_draws_missing_panels(analyzed, tmp_path):
    """Without figure files the panels are drawn now; the ones whose data the file lacks
    are named."""
    path = tmp_path / "flipflop.h5"
    shutil.copy(analyzed("flipflop_leaky") / "flipflop_leaky.h5", path)
    with h5py.File(path, "r+") as f:
        del f["linearization"]
        lacking = {name for name, panel in PANELS.items()
                   if any(need not in f for need in panel.needs)}
    assert "eigenvalues" in lacking and "trajectories" not in lacking
    text = write_report(path).read_text()
    page = Page(text)
    assert set(page.captions) == set(PANELS) - lacking
    assert all(value.startswith("data:image/png;base64,") for _, _, value in page.links)
    assert "eigenvalues (needs linearization)" in text


def test_state_space_view(analyzed, report):
    path = analyzed("flipflop_leaky") / "flipflop_leaky.h5"
    with dynan.Results(path) as res:
        fig = state_space(res)
        fps = res.fixed_points()
        p = res.pca()
        branches = res.get("topology").counts()["branches"]
        trials = dynan.figures.flipflop_trials(res)
    lines = [trace for trace in fig.data if trace.mode == "lines"]
    points = [trace for trace in fig.data if trace.mode == "markers"]
    # as the trajectory panel: a few trials per final bit pattern (all 8), from their last pulse
    assert sorted(trials) == sorted("".join(bits) for bits in itertools.product("+-", repeat=3))
    assert [trace.name for trace in lines] == [*trials, f"unstable manifolds ({branches} branches)"]
    first = list(trials.values())[0]
    x = np.concatenate([np.append(p.transform(h)[:, 0], np.nan) for h in first])
    np.testing.assert_allclose(lines[0].x, x)
    texts = [text for trace in points for text in trace.text]
    assert len(texts) == int((~fps.outside).sum()) > 0
    for trace in points:
        kind = trace.name.split()[0]
        assert trace.marker.symbol == {"stable": "circle", "saddle": "circle-open"}[kind]
        for text, x in zip(trace.text, trace.x):
            k = int(text.split("<br>")[0].split()[-1])  # "<class> fixed point <row>"
            tau = fps.time_constants[k]
            slowest = tau[np.isfinite(tau) & (tau > 0)].max()
            assert text == (f"{fps.stability[k]} fixed point {k}<br>input condition: "
                            f"{fps.labels[k]}<br>q = {fps.qstar[k]:.2e}<br>slowest time "
                            f"constant: {slowest:.3g} s")
            assert x == pytest.approx(p.transform(fps.xstar[k])[0])
    text = report("flipflop_leaky").read_text()
    assert text.count('id="state-space"') == 1 and "Plotly.newPlot" in text


def test_time_constants_in_steps(analyzed, tmp_path):
    path = tmp_path / "flipflop.h5"
    shutil.copy(analyzed("flipflop_leaky") / "flipflop_leaky.h5", path)
    with h5py.File(path, "r+") as f:
        f["fixed_points"].attrs["dt"] = 1.0  # time step unknown
    texts = [t for trace in state_space(path).data if trace.mode == "markers" for t in trace.text]
    assert all(t.endswith(" steps") for t in texts)


def test_text_is_escaped(analyzed, tmp_path):
    folder = analyzed("flipflop_leaky")
    path = tmp_path / "flipflop.h5"
    shutil.copy(folder / "flipflop_leaky.h5", path)
    label = '<b>odor</b> & "on"'
    with h5py.File(path, "r+") as f:
        f.attrs["model_path"] = '<b onclick="x">net&co.keras'
        n = len(f["fixed_points/labels"])
        del f["fixed_points/labels"]
        h5.write_column(f["fixed_points"], "labels", np.full(n, label))
    text = write_report(path, figures=folder / "figures").read_text()
    assert "<b onclick" not in text and "<b>odor" not in text
    assert "<h1>&lt;b onclick=&quot;x&quot;&gt;net&amp;co</h1>" in text
    escaped = "&lt;b&gt;odor&lt;/b&gt; &amp; &quot;on&quot;"
    assert Page(text).tables["Fixed points"][1][0] == label  # shown as written
    assert f"<td>{escaped}</td>" in text
    names = [trace.name for trace in state_space(path).data if trace.mode == "markers"]
    assert names == [f"stable ({escaped})", f"saddle ({escaped})"]  # plotly reads HTML too


def test_report_of_results_in_memory_needs_a_path():
    res = dynan.load(dynan.example_model("flipflop_leaky")).record(dynan.tasks.flipflop(4, seed=0))
    with pytest.raises(ValueError, match="pass the path of the report"):
        write_report(res)


def test_index(report, tmp_path):
    (tmp_path / "batch").mkdir()
    index = write_index(
        [{"name": f"{name}.keras", "status": "done", "report": report(name)}
         for name in ("flipflop_leaky", "integrator_leaky")]
        + [{"name": "<broken>.keras", "status": "error", "report": None,
            "error": "ValueError: no task"}], tmp_path / "batch" / "index.html")
    page = Page(index.read_text())
    assert [(tag, key) for tag, key, _ in page.links] == [("a", "href")] * 2
    assert [(index.parent / unquote(href)).resolve() for _, _, href in page.links] == [
        report(name).resolve() for name in ("flipflop_leaky", "integrator_leaky")]
    rows = page.tables[None]
    assert rows[0][:3] == ["model", "status", "task"]
    flipflop, integrator, broken = rows[1:]
    assert flipflop[:4] == ["flipflop_leaky.keras", "done", "flipflop", "1"]
    assert flipflop[5:7] == ["8", "0"]  # stable, marginal
    assert integrator[2] == "integrator" and integrator[6] == "1"  # one marginal point
    assert broken[:3] == ["<broken>.keras", "error", "–"] and broken[-1] == "ValueError: no task"
    assert "&lt;broken&gt;.keras" in index.read_text()


# --- in a real browser ------------------------------------------------------------------

BROWSER_FLAGS = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--window-size=1280,1000",
                 # software WebGL (SwiftShader): plotly's 3-D scenes draw with WebGL
                 "--use-angle=swiftshader", "--enable-unsafe-swiftshader")


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and chromedriver, ("the browser tests need headless Chromium: apt-get "
                                       "install chromium chromium-driver (.ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in BROWSER_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(chromedriver))
    yield driver
    driver.quit()


def _check_console_and_requests(driver):
    """No error in the page's console, and no request off the machine."""
    severe = [entry["message"] for entry in driver.get_log("browser")
              if entry["level"] == "SEVERE"]
    assert severe == []
    requests = driver.execute_script(
        "return performance.getEntriesByType('resource').map(entry => entry.name)")
    assert [r for r in requests if not r.startswith(("file:", "data:", "blob:"))] == []


def _pixels(element):
    return np.asarray(Image.open(io.BytesIO(element.screenshot_as_png)).convert("RGB"),
                      dtype=int)


def _coloured(pixels):
    """Pixels of a saturated colour: the traces (axes, grid and text are grey)."""
    return int(((pixels.max(axis=2) - pixels.min(axis=2)) > 80).sum())


def _wait_for(condition, timeout=30):
    """Poll ``condition()`` until it gives something other than None; return that."""
    deadline = time.monotonic() + timeout
    while (value := condition()) is None and time.monotonic() < deadline:
        time.sleep(0.25)
    return value


def _drawn(canvas, unlike=None):
    """The canvas's pixels once it shows the traces (and differs from ``unlike`` in more
    than 2 % of its pixels), else None."""
    pixels = _pixels(canvas)
    if _coloured(pixels) < 1000:
        return None
    if unlike is not None and (pixels.shape == unlike.shape
                               and np.mean(np.any(pixels != unlike, axis=2)) < 0.02):
        return None
    return pixels


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_report_draws_in_browser(browser, report, name, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(report(name).as_uri())
    assert browser.title == f"dynan report: {name}"
    canvas = _wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "#state-space canvas") or None)
    assert canvas, "no WebGL canvas in the state-space view"
    assert "WebGL is not supported" not in browser.find_element(By.ID, "state-space").text
    # The legend (SVG, over the scene) is hidden: coloured pixels then come from WebGL alone.
    browser.execute_async_script(
        "Plotly.relayout('state-space', {showlegend: false}).then(arguments[0])")
    drawn = _wait_for(lambda: _drawn(canvas[0]))
    assert drawn is not None, "the 3-D view is blank: WebGL drew no trajectory"
    Image.fromarray(drawn.astype(np.uint8)).save(tmp_path / f"{name}.png")
    browser.execute_async_script("Plotly.relayout('state-space', {'scene.camera.eye': "
                                 "{x: -1.6, y: 1.4, z: 0.4}}).then(arguments[0])")
    assert _wait_for(lambda: _drawn(canvas[0], unlike=drawn)) is not None, (
        "the 3-D view did not turn with its camera")
    assert len(browser.find_elements(By.CSS_SELECTOR, "figure img")) >= len(PANELS)
    assert browser.execute_script(
        "return [...document.images].every(img => img.complete && img.naturalWidth > 0)")
    _check_console_and_requests(browser)


@pytest.mark.slow
def test_report_sharing_plotly_js_draws_in_browser(browser, analyzed, report, tmp_path):
    """A batch's reports load plotly.js from the batch's folder: the 3-D view draws."""
    from selenium.webdriver.common.by import By

    (tmp_path / "model").mkdir()
    page = write_report(analyzed("integrator_leaky") / "integrator_leaky.h5",
                        tmp_path / "model" / "report.html", plotly_js="../plotly.min.js")
    write_plotly_js(tmp_path)
    assert report("integrator_leaky").stat().st_size - page.stat().st_size > 4 * 10**6
    assert 'src="../plotly.min.js"' in page.read_text()
    browser.get(page.as_uri())
    canvas = _wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "#state-space canvas") or None)
    assert canvas and _wait_for(lambda: _drawn(canvas[0])) is not None
    _check_console_and_requests(browser)


@pytest.mark.slow
def test_index_in_browser(browser, report, tmp_path):
    from selenium.webdriver.common.by import By

    index = write_index([{"name": name, "status": "done", "report": report(name)}
                         for name in MODELS], tmp_path / "index.html")
    browser.get(index.as_uri())
    _check_console_and_requests(browser)
    assert len(browser.find_elements(By.CSS_SELECTOR, "tr")) == 1 + len(MODELS)
    browser.find_element(By.LINK_TEXT, "tdnms_leaky").click()
    assert browser.title == "dynan report: tdnms_leaky"
    _check_console_and_requests(browser)
