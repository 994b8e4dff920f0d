"""Closed-loop experiments: a crash-safe session that hands stimuli to a rig and takes its recorded responses.

The searcher asks, the session writes the stimuli as image files with a manifest, the rig shows
them and records one cell or a whole imaged population, and the responses are told back; every
ask and tell is journaled, so a session killed at any moment resumes exactly. Units of a trained
network can stand in for the animal (``--simulate``). The command is ``mango-pl loop``.

    >>> from mango_pl.loop import Session
    >>> session = Session.create("runs/cell7", "session.yaml")
    >>> asked = session.ask()                                   # files in asked.folder
    >>> session.tell("rig/responses_0000.csv")
"""

from mango_pl.loop.batch import Batch, Stimulus
from mango_pl.loop.config import (SessionConfig, SessionConfigError, SimulationSettings, load_session_config,
                                  parse_session_config)
from mango_pl.loop.export import ExportResult, export_best
from mango_pl.loop.journal import Journal, JournalError
from mango_pl.loop.responses import BatchResponses, ResponsesError, read_responses
from mango_pl.loop.results import AskResult, BatchSummary, BestStimulus, SessionSummary, TellResult
from mango_pl.loop.session import Session, SessionError
from mango_pl.loop.simulation import SimulatedRig
from mango_pl.loop.watch import RunResult, WaitTimeout, run_session

__all__ = [
    "AskResult",
    "Batch",
    "BatchResponses",
    "BatchSummary",
    "BestStimulus",
    "ExportResult",
    "Journal",
    "JournalError",
    "ResponsesError",
    "RunResult",
    "Session",
    "SessionConfig",
    "SessionConfigError",
    "SessionError",
    "SessionSummary",
    "SimulatedRig",
    "SimulationSettings",
    "Stimulus",
    "TellResult",
    "WaitTimeout",
    "export_best",
    "load_session_config",
    "parse_session_config",
    "read_responses",
    "run_session",
]
