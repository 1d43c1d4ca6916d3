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


@pytest.fixture
def headline():
    """``headline(name)``: the headline of ``data/results/<name>.json``, or skip the test when the benchmark has not run."""
    from peach_lite.results import read_results

    def read(name: str) -> dict[str, float]:
        try:
            return read_results(name)["headline"]
        except FileNotFoundError:
            pytest.skip(f"data/results/{name}.json not produced yet: python benchmarks/{name}.py")

    return read
