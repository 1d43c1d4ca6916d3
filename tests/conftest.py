"""Fixtures shared by the test modules (the repo-root conftest.py sets up fast mode and nbval)."""
import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small tensors: one thread is fastest, and avoids oversubscribing a shared CPU. Opt in with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
