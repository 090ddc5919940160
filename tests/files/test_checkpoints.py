import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import torch

from plantwatch.cli import main
from plantwatch.errors import UserError
from plantwatch.files.checkpoints import load_checkpoint, local_checkpoint
from plantwatch.tasks.multitask_task import MultiTaskTask
from plantwatch.training.cli import check_checkpoint_fits


class RunsCode:
    """Unpickling it would create the file ``marker`` (what an attacker's payload does)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mknod, (self.marker,))


def hostile_checkpoint(path, marker) -> bytes:
    """A Lightning-looking checkpoint whose unpickling would create ``marker``."""
    torch.save({"state_dict": {"w": torch.ones(2)}, "hyper_parameters": RunsCode(str(marker))},
               path)  # fmt: skip
    return path.read_bytes()


class Served(BaseHTTPRequestHandler):
    body: ClassVar[bytes] = b""
    requests: ClassVar[list[str]] = []

    def do_GET(self):  # the http.server API
        self.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def hostile_server(tmp_path):
    marker = tmp_path / "PWNED"
    Served.body, Served.requests = hostile_checkpoint(tmp_path / "x.ckpt", marker), []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Served)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/x.ckpt", marker
    httpd.shutdown()


@pytest.mark.parametrize("command", ["test", "validate", "predict"])
def test_a_checkpoint_url_is_refused_before_any_request(hostile_server, command, capsys):
    url, marker = hostile_server
    with pytest.raises(SystemExit) as stop:
        main([command, "--config", "quickstart", "--ckpt_path", url])
    assert stop.value.code == 2 and not marker.exists() and Served.requests == []
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"plantwatch {command}: --ckpt_path {url}: plantwatch loads")
    assert "curl -L -o x.ckpt" in error


def test_a_local_pickle_checkpoint_runs_nothing_and_is_named(tmp_path, capsys):
    path, marker = tmp_path / "x.ckpt", tmp_path / "PWNED"
    hostile_checkpoint(path, marker)
    with pytest.raises(UserError, match=r"x.ckpt: refused, it holds Python objects \(unsupported"):
        load_checkpoint(path)
    with pytest.raises(SystemExit) as stop:
        main(["test", "--config", "quickstart", "--ckpt_path", str(path)])
    assert stop.value.code == 2 and not marker.exists()
    assert "weights_only=False" not in capsys.readouterr().err


def test_files_that_are_no_checkpoint_get_one_line_each(tmp_path):
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    with pytest.raises(UserError, match="notes.ckpt: not a readable PyTorch checkpoint"):
        load_checkpoint(text)
    torch.save([torch.ones(1)], tmp_path / "list.pt")
    with pytest.raises(UserError, match="holds a list, not a state dict"):
        load_checkpoint(tmp_path / "list.pt")
    with pytest.raises(UserError, match="no such file"):
        local_checkpoint(tmp_path / "absent.ckpt")
    for url in ("https://host/a.ckpt", "s3://bucket/a.ckpt", "file:///tmp/a.ckpt"):
        with pytest.raises(UserError, match="local files only"):
            local_checkpoint(url)


def test_a_checkpoint_of_another_model_is_refused_and_its_own_accepted(tmp_path):
    power_only, everything = MultiTaskTask(tasks=["power"]), MultiTaskTask()
    path = tmp_path / "power.ckpt"
    torch.save({"state_dict": power_only.state_dict()}, path)
    check_checkpoint_fits(power_only, load_checkpoint(path), path)
    with pytest.raises(UserError, match=r"power.ckpt: the checkpoint is of another model \(miss"):
        check_checkpoint_fits(everything, load_checkpoint(path), path)
    torch.save({"state_dict": MultiTaskTask(tasks=["power"], bands=["B02", "B03"]).state_dict()},
               path)  # fmt: skip
    with pytest.raises(UserError, match=r"shapes \['input_mean \(2,\) ≠ \(12,\)'"):
        check_checkpoint_fits(power_only, load_checkpoint(path), path)
