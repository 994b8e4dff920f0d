"""``mango-pl loop``: closed-loop sessions with a rig (or a simulated animal) from the command line.

    mango-pl loop init DIR --config session.yaml     # start a session (DIR must not hold one)
    mango-pl loop ask DIR [--simulate]               # the next batch: DIR/batches/batch_N/*.png + manifest
    mango-pl loop tell DIR responses.csv [--partial] # the rig's responses to it
    mango-pl loop status DIR                         # queries used, best stimulus per cell, responses per batch
    mango-pl loop export DIR [--output FOLDER]       # the best stimuli as images + CSV/JSON
    mango-pl loop run DIR --watch | --simulate       # ask, wait for responses_N.csv, tell, until the budget is spent

Exit codes: 0 done, 2 bad input (nothing changed), 3 no responses file in time (``run``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mango_pl.loop import config as config_module
from mango_pl.loop.config import SessionConfigError, SimulationSettings
from mango_pl.loop.journal import JournalError
from mango_pl.loop.responses import ResponsesError
from mango_pl.loop.session import Session, SessionError, working_directory

PROG = "mango-pl loop"


def _rig(session: Session):
    from mango_pl.loop.simulation import SimulatedRig

    settings = session.config.simulate or SimulationSettings()
    with working_directory(session.base_dir):
        return SimulatedRig(settings, session.config.cells, session.config.responses, session.space)


def _simulating(session: Session, flag: bool) -> bool:
    return flag or session.config.simulate is not None


def _init(options) -> int:
    session = Session.create(options.directory, options.config)
    session.close()
    mode = "shared stimuli for all targets" if session.config.shared else "a search per target cell"
    print(f"session {options.directory}: {session.config.cells} cells, targets {list(session.config.targets)} "
          f"({mode}), method {session.config.method}, budget {session.config.budget}, "
          f"grid d={session.header.grid_d} n={session.header.grid_n}, {len(session.header.references)} reference "
          f"image(s); next: {PROG} ask "
          f"{options.directory}")
    return 0


def _describe(asked, session: Session) -> str:
    batch = asked.batch
    searched = batch.search_stimuli
    retests = sum(s.retest for s in searched)
    state = "new" if asked.new else f"asked before and waiting for responses; {asked.written} missing file(s) written"
    return (f"batch {batch.number} ({state}): {len(searched)} stimuli ({retests} re-tests) + "
            f"{len(batch.stimuli) - len(searched)} references, {len(batch.presentations)} presentations in "
            f"{asked.folder} (order: manifest.csv)")


def _ask(options) -> int:
    with Session.open(options.directory) as session:
        asked = session.ask()
        if asked.batch is None:
            print(f"the budget is spent ({session.told} of {session.config.budget} told); see {PROG} status / export "
                  f"{options.directory}")
            return 0
        print(_describe(asked, session))
        inbox = Path(options.inbox) if options.inbox else session.inbox
        path = inbox / asked.batch.responses_name
        if _simulating(session, options.simulate):
            written = _rig(session).write_responses(asked.batch, asked.folder, path)
            print(f"simulated responses {'written to' if written else 'already in'} {path}")
        print(f"next: {PROG} tell {options.directory} {path}")
    return 0


def _tell(options) -> int:
    with Session.open(options.directory) as session:
        result = session.tell(options.responses, partial=options.partial)
    per = "" if session.config.shared else " per target"
    notes = ""
    if result.missing:
        notes += f"; {len(result.missing)} stimuli without responses"
    if result.untold:
        notes += f"; {len(result.untold)} responded after the first one without (kept, not told)"
    print(f"batch {result.batch}: told {result.told} of {result.shown} stimuli{per}{notes}; {result.remaining} left "
          f"of the budget" + ("" if result.remaining else f" (spent: {PROG} status / export {options.directory})"))
    return 0


def _status(options) -> int:
    from mango_pl.loop.files import replace_file
    from mango_pl.loop.status import status_plot, status_text

    with Session.open(options.directory, lock=False) as session:
        summary = session.summary()
    text = status_text(summary)
    print(text, end="")
    directory = Path(options.directory)
    replace_file(directory / "status.txt", text.encode())
    if not options.no_plot:
        replace_file(directory / "status.png", status_plot(summary))
        print(f"plot: {directory / 'status.png'}")
    return 0


def _export(options) -> int:
    from mango_pl.loop.export import export_best

    with Session.open(options.directory, lock=False) as session:
        result = export_best(session, options.output)
    for best in result.best:
        sem = "" if best.sem != best.sem else f" ± {best.sem:.3g}"
        print(f"cell {best.cell}{' (target)' if best.target else ''}: {best.id} mean {best.mean:.3g}{sem} over "
              f"{best.presentations} presentation(s)")
    print(f"exported to {result.folder} ({result.written} file(s) written)")
    return 0


def _run(options) -> int:
    from mango_pl.loop.watch import WaitTimeout, run_session

    with Session.open(options.directory) as session:
        simulate = _simulating(session, options.simulate)
        if not (simulate or options.watch):
            raise SessionError(f"{PROG} run needs --watch (a rig drops responses_<batch>.csv into the inbox) or "
                               f"--simulate (units of a trained network answer)")
        inbox = Path(options.inbox) if options.inbox else session.inbox
        rig = _rig(session) if simulate else None
        try:
            result = run_session(session, inbox, rig, options.poll, options.timeout, options.partial,
                                 max_batches=options.max_batches)
        except WaitTimeout as error:
            print(f"{PROG} run: {error}", file=sys.stderr)
            return 3
        except KeyboardInterrupt:
            print(f"{PROG} run: stopped ({session.told} of {session.config.budget} told); every committed ask and "
                  f"tell is in the journal: run again to go on", file=sys.stderr)
            return 130
        state = "budget spent" if result.done else "stopped"
        print(f"{state}: {session.told} of {session.config.budget} told; see {PROG} status {options.directory}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Closed-loop sessions: stimuli out to a rig as image "
                                     "files, recorded responses in, until the budget is spent; crash-safe (every "
                                     "ask and tell is journaled).", epilog=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="{init,ask,tell,status,export,run}")
    init = commands.add_parser("init", help="start a session in DIR from a session config",
                               description="Start a closed-loop session in DIR (it must not hold one); the config is "
                                           "copied into DIR. Example config:",
                               epilog=config_module.__doc__.split("::", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    init.add_argument("directory")
    init.add_argument("--config", required=True, help="the session config (YAML)")
    init.set_defaults(handler=_init)
    ask = commands.add_parser("ask", help="write the next batch of stimuli (the same batch until it is told)")
    ask.add_argument("directory")
    ask.add_argument("--simulate", action="store_true",
                     help="let units of a trained network answer: writes <inbox>/responses_<batch>.csv")
    ask.add_argument("--inbox", help="where the simulated responses go (default DIR/inbox)")
    ask.set_defaults(handler=_ask)
    tell = commands.add_parser("tell", help="tell the recorded responses to the batch that waits for them")
    tell.add_argument("directory")
    tell.add_argument("responses", help="CSV with columns stimulus_id, cell, response (optional presentation)")
    tell.add_argument("--partial", action="store_true",
                      help="accept aborted trials: stimuli without responses are not told (the searcher is told "
                           "the stimuli up to the first one without responses, in stimulus order)")
    tell.set_defaults(handler=_tell)
    status = commands.add_parser("status", help="queries used, best stimulus per cell, responses per batch")
    status.add_argument("directory")
    status.add_argument("--no-plot", action="store_true", help="skip DIR/status.png")
    status.set_defaults(handler=_status)
    export = commands.add_parser("export", help="the best stimulus of every cell as an image, with statistics")
    export.add_argument("directory")
    export.add_argument("--output", help="folder to write (default DIR/export/after_batch_<N>)")
    export.set_defaults(handler=_export)
    run = commands.add_parser("run", help="ask, wait for responses_<batch>.csv, tell, until the budget is spent")
    run.add_argument("directory")
    run.add_argument("--watch", action="store_true", help="wait for the rig's responses files in the inbox")
    run.add_argument("--simulate", action="store_true", help="units of a trained network answer (no rig)")
    run.add_argument("--inbox", help="the folder responses files arrive in (default DIR/inbox)")
    run.add_argument("--poll", type=float, default=1.0, help="seconds between looks at the inbox (default 1)")
    run.add_argument("--timeout", type=float, default=3600.0,
                     help="most seconds to wait for one batch's responses (default 3600); then exit code 3")
    run.add_argument("--partial", action="store_true", help="tell batches with aborted trials (see tell --partial)")
    run.add_argument("--max-batches", type=int, default=None, help="stop after this many batches")
    run.set_defaults(handler=_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mango-pl loop ARGV``; bad input is one line on stderr and exit code 2, with nothing changed."""
    options = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return options.handler(options)
    except (SessionError, SessionConfigError, ResponsesError, JournalError, FileNotFoundError,
            FileExistsError) as error:
        print(f"{PROG} {options.command}: error: {error}", file=sys.stderr)
        return 2
