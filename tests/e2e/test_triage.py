"""An agent triages the broken rollout in staging with the read tools (`tests/e2e/triage.py`), over
one MCP session on each transport, against the real apiserver through the real policy."""

from __future__ import annotations

import pytest

from tests.e2e.triage import Agent, triage
from tests.gateways import Served

pytestmark = pytest.mark.e2e


async def test_triage_a_broken_rollout(served: Served) -> None:
    async with served.client() as client:
        await triage(Agent(client))
