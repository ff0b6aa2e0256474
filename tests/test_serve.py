"""``infoscope serve``: runs listed, views live while a recorder writes, clean stop on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
import torch
from torch import nn

from infoscope import Recorder
from infoscope.serve import make_server
from infoscope.store import StoreError

from .browser import errors, needs_browser, open_page, plane_points


def _recorder(path):
    torch.manual_seed(0)
    x = torch.randn(120, 6)
    y = (x[:, 0] > 0).long()
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 2))
    return Recorder(model, {"train": (x, y)}, layers=["1", "2"], estimators=["renyi"], units=True,
                    store=path, run="live")


@pytest.fixture
def served(tmp_path):
    path = tmp_path / "live.db"
    rec = _recorder(path)
    rec.record(epoch=0, metrics={"loss": 0.7})
    server = make_server(path, port=0, every=0.3)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server, rec
    rec.close()
    server.shutdown()
    server.server_close()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_routes(served):
    server, rec = served
    assert server.url.startswith("http://127.0.0.1:")
    status, body = _get(server.url)
    assert status == 200 and "/runs/live" in body and "1 records" in body
    status, body = _get(server.url + "api/runs")
    assert status == 200 and json.loads(body) == [{"name": "live", "status": "running", "experiment": None,
                                                   "records": 1, "last_epoch": 0}]
    status, before = _get(server.url + "api/runs/live/revision")
    rec.record(epoch=1, metrics={"loss": 0.6})
    assert _get(server.url + "api/runs/live/revision")[1] != before
    status, body = _get(server.url + "api/runs/live")
    payload = json.loads(body)
    assert [r["epoch"] for r in payload["records"]] == [0, 1] and payload["metrics"]["loss"]["v"] == [0.7, 0.6]
    status, body = _get(server.url + "api/runs/nope")
    assert status == 404 and "no run named 'nope'" in body and "live" in body
    assert _get(server.url + "elsewhere")[0] == 404
    assert _get(server.url + "favicon.ico")[0] == 204
    status, body = _get(server.url + "api/runs/live/tables")
    assert status == 200 and "Configuration" in body


def test_a_port_in_use_is_a_clear_error(tmp_path, capsys):
    import socket

    from infoscope.cli import main

    path = tmp_path / "live.db"
    _recorder(path).close()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["serve", str(path), "--port", str(taken.getsockname()[1])]) == 2
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err


def test_refuses_what_it_cannot_serve(tmp_path):
    with pytest.raises(StoreError, match="no database"):
        make_server(tmp_path / "missing.db", port=0)
    (tmp_path / "junk.db").write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(StoreError, match="not an infoscope database"):
        make_server(tmp_path / "junk.db", port=0)
    with pytest.raises(ValueError, match="every"):
        make_server(tmp_path / "missing.db", port=0, every=0)


@needs_browser
def test_page_follows_a_running_recorder(served, browser):
    server, rec = served
    page = open_page(browser, server.url + "runs/live")
    try:
        views = 'section[data-run="live"] .views'
        assert page.get_attribute(views, "data-epoch") == "0"
        assert len(plane_points(page, "live")) == 2  # two layers, one epoch
        for epoch in (1, 2):
            rec.record(epoch=epoch, metrics={"loss": 0.7 - 0.1 * epoch})
            committed = time.perf_counter()
            page.wait_for_function(f"document.querySelector('{views}').dataset.epoch === '{epoch}'", timeout=10_000)
            seen = time.perf_counter() - committed
            assert len(plane_points(page, "live")) == 2 * (epoch + 1)
            print(f"epoch {epoch} shown {seen:.2f} s after its commit")
        assert "last record epoch 2" in page.inner_text('section[data-run="live"] .live-status')
        # the tables follow too (final values of the last epoch)
        page.wait_for_function("document.querySelector('section[data-run=\"live\"] .tables').textContent"
                               ".includes('Final values (epoch 2')", timeout=10_000)
        assert page.evaluate("document.querySelector('section[data-run=\"live\"] .units').data[0].type") == "heatmap"
        assert not errors(page), page.messages
        assert not page.outside
    finally:
        page.context.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_ctrl_c_stops_cleanly(tmp_path, sig):
    path = tmp_path / "live.db"
    rec = _recorder(path)
    rec.record(epoch=0)
    rec.close()
    proc = subprocess.Popen([sys.executable, "-m", "infoscope", "serve", str(path), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    try:
        line = proc.stdout.readline()
        url = line.split(" at ")[1].split()[0]
        assert _get(url + "runs/live")[0] == 200
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)


def test_serve_and_the_report_show_the_same_tables_from_stored_findings(tmp_path):
    from infoscope.experiments import run_experiment
    from infoscope.report import build_report

    db = tmp_path / "t.db"
    run_experiment("tishby", store=db, run="t", epochs=2, probe_size=120, units=False)
    server = make_server(db, port=0, every=0.3)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        status, live = _get(server.url + "api/runs/t/tables")
    finally:
        server.shutdown()
        server.server_close()
    assert status == 200
    report = build_report(db, ["t"])
    assert live in report  # the very same tables, analysis and findings included
    assert "redundant pairs and unit health need the trained model" not in live  # the runner stored the findings


def test_only_requests_for_this_host_are_answered_and_connections_are_bounded(tmp_path):
    import socket
    import time

    path = tmp_path / "h.db"
    _recorder(path).close()
    server = make_server(path, port=0, every=0.3, idle_timeout=0.5, max_connections=4)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        def get(host):
            req = urllib.request.Request(server.url + "api/runs", headers={"Host": host})
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    return r.status, r.read().decode()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read().decode()

        assert get(f"127.0.0.1:{port}")[0] == 200 and get(f"localhost:{port}")[0] == 200
        status, body = get(f"rebind.attacker.example:{port}")  # DNS rebinding names the attacker's host
        assert status == 403 and "answers only to 127.0.0.1 and localhost" in body
        assert get(f"127.0.0.1:{port + 1}")[0] == 403
        before = threading.active_count()
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]  # connections that never ask
        time.sleep(0.3)
        assert threading.active_count() - before <= 4  # at most max_connections threads for them
        time.sleep(1.0)
        assert threading.active_count() - before <= 0  # and those closed after the idle timeout
        for s in idle:
            s.close()
        assert get(f"127.0.0.1:{port}")[0] == 200  # still serving
    finally:
        server.shutdown()
        server.server_close()
