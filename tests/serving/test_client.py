"""TritonTracker's checks that need no server, and spreading streams over several servers."""
from __future__ import annotations

import pytest

from asymtrack_deploy.serving.client import pick_server


def test_pick_server_spreads_streams_and_moves_few_when_a_server_joins():
    servers = ["tracker-0.tracker:8000", "tracker-1.tracker:8000", "tracker-2.tracker:8000"]
    owners = {sid: pick_server(servers, sid) for sid in range(1, 3001)}
    counts = [list(owners.values()).count(s) for s in servers]
    assert min(counts) > 800, counts
    grown = servers + ["tracker-3.tracker:8000"]
    moved = [sid for sid in owners if pick_server(grown, sid) != owners[sid]]
    assert all(pick_server(grown, sid) == grown[3] for sid in moved)  # only to the new server
    assert 500 < len(moved) < 1000
    assert pick_server(list(reversed(servers)), 7) == pick_server(servers, 7)  # order does not matter
    with pytest.raises(ValueError, match="at least one server"):
        pick_server([], 7)


def test_constructor_checks_need_no_server():
    pytest.importorskip("tritonclient.http")
    from asymtrack_deploy.serving import TritonTracker

    assert TritonTracker("grpc://127.0.0.1:1", stream_id=2**63 - 1).protocol == "grpc"
    for bad in ({"stream_id": 0}, {"stream_id": 2**63}, {"stream_id": True}, {"encode": "webp"},
                {"on_lost": "retry"}, {"protocol": "udp"}):
        with pytest.raises(ValueError):
            TritonTracker("127.0.0.1:1", **{"stream_id": 1, **bad})
    tracker = TritonTracker("127.0.0.1:1", stream_id=3)
    with pytest.raises(RuntimeError, match="before init"):
        tracker.update(None)
    tracker.close()  # never started: nothing to send
