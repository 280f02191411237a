"""What every runtime backend promises its callers, checked the same way for each of them.

A backend module's tests call these with a backend class, a bundle and the reference crop pairs;
keeping the checks in one place keeps the backends interchangeable in their errors too.
"""
from __future__ import annotations

import numpy as np
import pytest


def check_thread_count_is_validated(backend_class, bundle, threads) -> None:
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        backend_class(bundle, threads=threads)


def check_bad_crops_and_states_are_refused(backend, pairs) -> None:
    with pytest.raises(ValueError, match=r"uint8 of shape \(1, 256, 256, 3\)"):
        backend.search(pairs["search"][0:2], backend.template(pairs["template"][0:1]))
    with pytest.raises(RuntimeError, match="call template\\(\\) first"):
        backend.search(pairs["search"][0:1], None)
    with pytest.raises(ValueError, match=f"this same {type(backend).__name__}"):
        backend.search(pairs["search"][0:1], {"stage1_etm_depth": np.zeros((1, 2, 3), np.float32)})


def check_state_of_another_instance_is_refused(backend_class, bundle, backend, pairs) -> None:
    with backend_class(bundle) as other:
        foreign = other.template(pairs["template"][0:1])
        with pytest.raises(ValueError, match=f"this same {backend_class.__name__}"):
            backend.search(pairs["search"][0:1], foreign)


def check_closed_backend_says_so(backend_class, bundle, pairs) -> None:
    backend = backend_class(bundle)
    backend.close()
    with pytest.raises(RuntimeError, match="closed"):
        backend.template(pairs["template"][0:1])
