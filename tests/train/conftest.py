"""Training tests run torch on one thread: the machine's two cores are shared with other test
runs, and oneDNN's busy-waiting worker threads slow down many times over when a core is taken."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
