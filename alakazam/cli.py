"""The `alakazam` command line: one subcommand per job, errors as one line and exit status 2."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from alakazam import __version__
from alakazam.engine.errors import InputError, TaskFailed
from alakazam.engine.parallel import configure_process

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit status 2 like every other bad input."""

    def error(self, message):
        raise InputError(f"{message} (see `{self.prog} --help`)")


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers")


def _terms(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip() and v.strip().lower() != "none")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="alakazam", description="Radio-interferometric calibration.")
    parser.add_argument("--version", action="version", version=f"alakazam {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sim = sub.add_parser("simulate", help="write an MS with known injected Jones terms")
    sim.add_argument("out", help="path of the MS to write (truth goes to OUT.truth.npz/.json)")
    sim.add_argument("--array", default="vla", choices=["vla", "meerkat"])
    sim.add_argument("--n-ant", type=int, default=7)
    sim.add_argument("--n-spw", type=int, default=2)
    sim.add_argument("--n-chan", type=int, default=16, help="channels per SPW")
    sim.add_argument("--start-freq", type=float, default=1.3e9, help="Hz")
    sim.add_argument("--spw-bandwidth", type=float, default=64e6, help="Hz")
    sim.add_argument("--duration", type=float, default=1200.0, help="s")
    sim.add_argument("--integration", type=float, default=10.0, help="s")
    sim.add_argument("--scan-length", type=float, default=120.0, help="s")
    sim.add_argument("--feed", default="LINEAR", type=str.upper, choices=["LINEAR", "CIRCULAR"])
    sim.add_argument("--corr", default="all", choices=["all", "parallel"])
    sim.add_argument("--terms", type=_terms, default=None,
                     help="injected Jones terms, e.g. K,G,B (default K,G,B,D,Xf,Kcross; "
                          "K,G,B with --corr parallel; 'none' for none)")
    sim.add_argument("--snr", type=float, default=50.0,
                     help="phase-calibrator flux / noise sigma per visibility ('inf': noiseless)")
    sim.add_argument("--flag-ant", type=_int_list, default=(), help="antennas to flag, e.g. 2,5")
    sim.add_argument("--rfi-fraction", type=float, default=0.0,
                     help="fraction of samples hit by unflagged RFI spikes")
    sim.add_argument("--gain-drift", type=float, default=0.05,
                     help="fractional amplitude modulation of G over 1-3 h periods")
    sim.add_argument("--autocorr", action="store_true", help="also write autocorrelations")
    sim.add_argument("--schedule", default="standard", choices=["standard", "polcal"],
                     help="polcal: flux calibrator, phase calibrator and target in turn, so "
                          "the polarised flux calibrator is seen over a parallactic-angle range")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--overwrite", action="store_true")

    run = sub.add_parser("run", help="run the solve and apply blocks of a config")
    run.add_argument("config", help="YAML config (see README)")
    run.add_argument("--dry-run", action="store_true",
                     help="validate against the MS and print the plan without solving")
    run.add_argument("--progress", choices=["bar", "json"], default="bar",
                     help="json: one JSON object per line on stdout (for the TUI and scripts)")
    run.add_argument("--workers", type=int, default=None,
                     help="processes solving a step's fields in parallel (default: the cores)")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="run solve passes and apply chunks on Dask distributed: a scheduler's "
                          "address (tcp://host:8786), or `local` for a LocalCluster of "
                          "--workers processes (overrides the config's executor block)")
    run.add_argument("--live-dir", metavar="DIR",
                     help="also write each finished solution table to DIR as a file of its own, "
                          "to inspect it while the run goes on (the TUI's live plots)")

    info = sub.add_parser("info", help="summarise a solution file")
    info.add_argument("table", help="HDF5 solution file")

    fi = sub.add_parser("fluxscale-info", help="flux scale factors, derived flux densities "
                                               "and their QA stored in a solution file")
    fi.add_argument("table", help="HDF5 file written by a fluxscale block")

    demo = sub.add_parser("demo", help="simulate, calibrate and report recovered vs true")
    demo.add_argument("dir", nargs="?", default="alakazam-demo",
                      help="folder for demo.ms, demo.yaml and cal.h5 (default alakazam-demo)")

    pl = sub.add_parser("plot", help="terminal plots of solutions (works over SSH)")
    pl.add_argument("table", help="HDF5 solution file")
    pl.add_argument("--jones", help="Jones type (default: the first in the file)")
    pl.add_argument("--field", help="field name (default: the first)")
    pl.add_argument("--spw", type=int, help="SPW id (default: the first)")
    pl.add_argument("--antenna", help="antenna names or ids, comma-separated (default: all)")
    pl.add_argument("--receptor", choices=["1", "2", "both"], default="both")
    pl.add_argument("--axis", choices=["time", "freq"], default="time")
    pl.add_argument("--quantity", default="phase",
                    choices=["amp", "phase", "delay", "leakage", "real", "imag"])
    pl.add_argument("--width", type=int, help="columns (default: the terminal's)")
    pl.add_argument("--height", type=int, help="rows (default: the terminal's)")

    ex = sub.add_parser("export", help="write solutions in another tool's format: a CASA "
                                       "caltable, an H5Parm, an SKA GainTable")
    ex.add_argument("table", help="HDF5 solution file")
    fmt = ex.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--casa", metavar="OUT", help="CASA caltable to write (G, B, K, D, Xf)")
    fmt.add_argument("--h5parm", metavar="OUT", help="H5Parm to write (G, K; one field)")
    fmt.add_argument("--gaintable", metavar="OUT",
                     help="SKA GainTable-shaped netCDF4/HDF5 file to write (one field)")
    ex.add_argument("--jones", help="Jones type (needed when the file holds several)")
    ex.add_argument("--field", help="field names, comma-separated (default: all)")
    ex.add_argument("--ms", help="the MS the solutions belong to (default: the one recorded in "
                                 "the file): its subtables go into the caltable")

    rf = sub.add_parser("restore-flags", help="list or restore saved flag versions of an MS")
    rf.add_argument("ms")
    rf.add_argument("version", nargs="?", help="version to restore (omit to list them)")

    lo = sub.add_parser("listobs", help="summarise an MS: fields, scans, SPWs, antennas")
    lo.add_argument("ms")
    lo.add_argument("--field", help="field names or ids, comma-separated")
    lo.add_argument("--scan", help="scan numbers, e.g. 1,3 or 2~5")
    lo.add_argument("--spw", help="SPW ids, e.g. 0,1 or 0~3")
    lo.add_argument("--standard", default="perley-butler-2017",
                    help="flux-density standard of the calibrator fluxes shown (default "
                         "perley-butler-2017)")

    sj = sub.add_parser("setjy", help="write a flux standard's or a point source's model into "
                                      "MODEL_DATA (not needed by `run`, which computes models)")
    sj.add_argument("ms")
    sj.add_argument("--field", required=True, help="field names or ids, comma-separated")
    sj.add_argument("--spw", help="SPW ids, e.g. 0,1 or 0~3 (default all)")
    group = sj.add_mutually_exclusive_group()
    group.add_argument("--standard", help="flux-density standard (default perley-butler-2017 "
                                          "unless --flux is given)")
    group.add_argument("--flux", type=float, help="point source: Stokes I (Jy) at --ref-freq")
    group.add_argument("--stokes", help="point source: I,Q,U,V in Jy (instead of --flux)")
    sj.add_argument("--spix", type=float, default=0.0, help="spectral index (S ~ nu^spix)")
    sj.add_argument("--ref-freq", help="frequency of the flux density, e.g. 1.4GHz")
    sj.add_argument("--offset", help="east,north offset from the phase centre in arcsec")
    sj.add_argument("--unpolarised", action="store_true",
                    help="leave out the standard's linear polarisation (3C286)")
    return parser


def _simulate(args) -> int:
    from rich.progress import Progress

    from alakazam.engine.simulate.simulate import SimOptions, simulate
    from alakazam.engine.simulate.truth import TERMS

    terms = args.terms
    if terms is None:
        terms = TERMS if args.corr == "all" else ("K", "G", "B")
    opts = SimOptions(array=args.array, n_ant=args.n_ant, n_spw=args.n_spw, n_chan=args.n_chan,
                      start_freq=args.start_freq, spw_bandwidth=args.spw_bandwidth,
                      duration=args.duration, integration=args.integration,
                      scan_length=args.scan_length, feed=args.feed, corr=args.corr,
                      terms=terms, snr=args.snr if math.isfinite(args.snr) else math.inf,
                      flag_ant=args.flag_ant, rfi_fraction=args.rfi_fraction,
                      gain_drift=args.gain_drift, autocorr=args.autocorr,
                      schedule=args.schedule, seed=args.seed)
    with Progress(transient=True) as progress:
        task = progress.add_task(f"simulating {args.out}", total=None)
        truth = simulate(args.out, opts, overwrite=args.overwrite,
                         progress=lambda done, total: progress.update(task, completed=done,
                                                                      total=total))
    print(f"wrote {args.out}: {opts.n_ant} antennas, {opts.n_spw} SPW x {opts.n_chan} channels, "
          f"{len(truth.times)} integrations, {opts.feed}, terms {','.join(truth.terms) or 'none'}, "
          f"noise sigma {truth.sigma:.4g} Jy; truth in {args.out}.truth.npz/.json")
    return 0


def _listobs(args) -> int:
    from alakazam.engine.fluxstandards import check_standard
    from alakazam.engine.msmeta import read_meta
    from alakazam.engine.selection import select
    from alakazam.listobs import print_listobs

    meta = read_meta(args.ms)
    field = args.field.split(",") if args.field is not None else None
    print_listobs(meta, select(meta, field=field, scans=args.scan, spw=args.spw),
                  standard=check_standard(args.standard))
    return 0


def _setjy(args) -> int:
    from rich.progress import Progress

    from alakazam.engine.config import model_spec
    from alakazam.engine.setjy import run_setjy

    point = args.flux is not None or args.stokes is not None
    if point and args.unpolarised:
        raise InputError("--unpolarised applies to a standard; a point source's polarisation "
                         "is its --stokes")
    if not point and (args.spix or args.ref_freq is not None or args.offset is not None):
        raise InputError("--spix, --ref-freq and --offset describe a point source: give "
                         "--flux or --stokes")
    if point:
        raw = {"flux_jy": args.flux} if args.flux is not None else {
            "stokes": [_number(v, "--stokes") for v in args.stokes.split(",")]}
        raw["spix"] = args.spix
        if args.ref_freq is not None:
            raw["ref_freq"] = args.ref_freq
        if args.offset is not None:
            raw["offset"] = [_number(v, "--offset") for v in args.offset.split(",")]
    else:
        raw = {"standard": args.standard or "perley-butler-2017",
               "polarised": not args.unpolarised}
    spec = model_spec(raw, "setjy")
    with Progress(transient=True) as bar:
        task = bar.add_task(f"setjy {args.ms}", total=None)
        labels = run_setjy(args.ms, args.field.split(","), spec, args.spw,
                           progress=lambda done, total: bar.update(task, completed=done,
                                                                   total=total))
    for name, label in labels.items():
        print(f"wrote MODEL_DATA of {args.ms} field {name}: {label}")
    return 0


def _number(text: str, option: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{option}: {text!r} is not a number") from None


def _run(args) -> int:
    from alakazam.engine.apply import plan_apply
    from alakazam.engine.config import ExecutorSpec, load_config
    from alakazam.engine.executor import make_executor
    from alakazam.engine.parallel import default_workers
    from alakazam.engine.solve import describe_plan, plan
    from alakazam.engine.tiers import apply_plan

    config = load_config(args.config)
    workers = args.workers or default_workers()
    if workers < 1:
        raise InputError(f"--workers {workers}: must be at least 1")
    spec = config.executor
    if args.scheduler:
        spec = ExecutorSpec("dask", args.scheduler, args.workers if args.scheduler == "local"
                            else None)
    if args.live_dir and not os.path.isdir(args.live_dir):
        raise InputError(f"--live-dir {args.live_dir}: no such directory")
    if args.dry_run:
        if spec.kind == "dask":
            print(f"executor: Dask distributed, scheduler {spec.scheduler} (each solve pass "
                  "per field and SPW, and each apply chunk, is a task reading its own rows)")
        for i, block in enumerate(config.solve):
            meta, steps = plan(block, f"solve[{i}]")
            print("\n".join(describe_plan(block, meta, steps, workers)))
        for block in config.fluxscale:
            print(f"fluxscale {block.reference_field} ({block.reference_table}) -> "
                  f"{', '.join(block.transfer_fields)} ({block.transfer_table}) -> "
                  f"{block.output}")
        for i, block in enumerate(config.apply):
            pending = [t.table for t in block.terms if not os.path.exists(t.table)]
            if pending:  # written by this config's solve blocks
                print(f"apply[{i}] {block.ms} -> {block.output_col}: checked when run "
                      f"(tables not written yet: {', '.join(sorted(set(pending)))})")
                continue
            meta, sel, terms, spw_map = plan_apply(block, f"apply[{i}]")
            names = ", ".join(meta.fields[f].name for f in sel.field_ids)
            chain = " -> ".join(f"{t.provenance['jones']} ({t.provenance['table']}, "
                                f"{t.field_select}, {t.time_interp})" for t in terms)
            rows, peak = apply_plan(meta, block.memory_limit_gb)
            print(f"apply {block.ms} fields {names} SPWs {sorted(spw_map)} -> "
                  f"{block.output_col}: {chain}\n  blocks of {rows} rows (read, corrected and "
                  f"written overlapped), predicted peak memory {peak / 2**30:.2f} GB")
        return 0
    report = _json_report if args.progress == "json" else None
    with make_executor(spec, workers) as executor:
        _execute(config, args, workers, report, executor)
    _say(report, event="finished", message="done")
    return 0


def _execute(config, args, workers: int, report, executor) -> None:
    """The solve, fluxscale and apply blocks of `config`, in order, on `executor`."""
    from alakazam.engine.apply import run_apply
    from alakazam.engine.fluxscale import run_fluxscale
    from alakazam.engine.solve import run_solve

    for i, block in enumerate(config.solve):
        with _bar(report) as bar:
            tasks = {}

            def progress(step, done, total, label, live, bar=bar, tasks=tasks, block=block, i=i):
                if report:
                    return report(event="progress", block=f"solve[{i}]", step=step, done=done,
                                  total=total, label=label, **({"live": live} if live else {}))
                if step not in tasks:
                    tasks[step] = bar.add_task(f"step {step} {block.steps[step].jones}", total=total)
                bar.update(tasks[step], completed=done, description=f"step {step} {label}")

            solutions = run_solve(block, f"solve[{i}]", progress, args.live_dir, workers,
                                  executor)
        flagged = sum(int(s.flags.sum()) for s in solutions)
        total = sum(s.flags.size for s in solutions)
        _say(report, event="written", block=f"solve[{i}]", table=block.output,
             message=f"wrote {block.output}: {len(solutions)} solution tables, "
                     f"{100 * flagged / max(total, 1):.1f}% flagged")
    written: set[str] = set()  # fluxscale outputs of this run: later blocks append
    for i, block in enumerate(config.fluxscale):
        results = run_fluxscale(block, f"fluxscale[{i}]", append=block.output in written)
        written.add(block.output)
        for res in results:
            fluxes = ", ".join(f"SPW {s.spw_id} {s.flux_jy:.4f}±{s.flux_err_jy:.4f}"
                               for s in res.spws)
            spix = f"; spectral index {res.spix:+.3f}±{res.spix_err:.3f}" \
                if math.isfinite(res.spix) else ""
            _say(report, event="written", block=f"fluxscale[{i}]", table=block.output,
                 message=f"wrote {block.output}: {res.field} {fluxes} Jy{spix}"
                         f" (alakazam fluxscale-info {block.output})")
    for i, block in enumerate(config.apply):
        with _bar(report) as bar:
            task = bar.add_task(f"apply[{i}] -> {block.output_col}", total=None)

            def progress(done, total, bar=bar, task=task, i=i):
                if report:
                    return report(event="progress", block=f"apply[{i}]", done=done, total=total,
                                  label=f"apply -> {block.output_col}")
                bar.update(task, completed=done, total=total)

            counts = run_apply(block, f"apply[{i}]", progress, executor)
        _say(report, event="written", block=f"apply[{i}]", column=block.output_col,
             message=f"wrote {block.output_col} of {block.ms}: {counts['rows']} rows; "
                     f"{100 * counts['flagged_by_solutions'] / max(counts['samples'], 1):.2f}% "
                     "of samples flagged for want of a solution (original flags saved as flag "
                     f"version before_apply_{block.output_col})")


def _json_report(**event) -> None:
    print(json.dumps(event), flush=True)


def _say(report, message: str, **event) -> None:
    if report:
        report(message=message, **event)
    elif event.get("event") != "finished":
        print(message)


def _bar(report=None):
    """A rich progress display, or a silent one when progress goes out as JSON lines."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(),
                    TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                    disable=report is not None)


def _demo(args) -> int:
    from alakazam.demo import run_demo

    run_demo(args.dir)
    return 0


def _plot(args) -> int:
    import plotext

    from alakazam import plots

    table = plots.load(args.table)
    sol = plots.pick(table.solutions, args.jones, args.field, args.spw)
    names = table.antenna_names
    receptors = {"1": (0,), "2": (1,), "both": (0, 1)}[args.receptor]
    curves = plots.series(sol, args.quantity, args.axis, plots.select_antennas(args.antenna, names),
                          receptors, names, table.receptor_names)
    plotext.clear_figure()
    if not sys.stdout.isatty():
        plotext.theme("clear")  # no colour codes in files and pipes
    if args.width or args.height:
        plotext.plotsize(args.width or 100, args.height or 30)
    plots.draw(plotext, curves, f"{sol.jones_type} {sol.field_name} SPW {sol.spw_id}: "
               f"{args.quantity} ({int(sum(c.flagged.sum() for c in curves))} flagged points, x)",
               args.axis, args.quantity)
    print(plotext.build())
    return 0


def _export(args) -> int:
    from alakazam.engine.casatable import VISCAL, write_caltable
    from alakazam.engine.msmeta import read_meta
    from alakazam.engine.solformats import write_gaintable, write_h5parm
    from alakazam.engine.store import read_solutions

    sols = read_solutions(args.table, args.jones)
    types = sorted({s.jones_type for s in sols})
    if not sols:
        raise InputError(f"{args.table}: no {args.jones or ''} solutions".replace("  ", " "))
    if len(types) > 1:
        raise InputError(f"{args.table} holds {', '.join(types)}: choose one with --jones")
    if args.field:
        wanted = args.field.split(",")
        sols = [s for s in sols if s.field_name in wanted]
        if not sols:
            raise InputError(f"--field {args.field}: no {types[0]} solutions of it in "
                             f"{args.table}")
    ms = args.ms or sols[0].attrs.get("ms", "")
    basis = str(sols[0].attrs.get("feed_basis", "LINEAR"))
    if args.casa:
        if types[0] not in VISCAL:
            raise InputError(f"--jones {types[0]}: a CASA caltable is written for "
                             f"{', '.join(VISCAL)}")
        if not os.path.isdir(ms):
            raise InputError(f"{args.table}: its MS {ms!r} is not there; give it with --ms")
        rows = write_caltable(sols, args.casa, ms, basis)
        print(f"wrote {args.casa}: {types[0]} caltable, {rows} rows, {len(sols)} field/SPW "
              "tables")
        return 0
    if not os.path.isdir(ms):
        raise InputError(f"{args.table}: its MS {ms!r} is not there (antenna names and "
                         "positions); give it with --ms")
    antennas = read_meta(ms).antennas
    if args.h5parm:
        write_h5parm(sols, args.h5parm, antennas.names, antennas.positions, basis)
        print(f"wrote {args.h5parm}: {types[0]} H5Parm of {sols[0].field_name}")
    else:
        write_gaintable(sols, args.gaintable, antennas.names, basis)
        print(f"wrote {args.gaintable}: {types[0]} GainTable of {sols[0].field_name}")
    return 0


def _restore_flags(args) -> int:
    from alakazam.engine import flagversions

    if args.version is None:
        versions = flagversions.list_versions(args.ms)
        print("\n".join(versions) if versions else f"{args.ms}: no flag versions")
        return 0
    flagversions.restore(args.ms, args.version)
    print(f"restored FLAG and FLAG_ROW of {args.ms} from flag version {args.version}")
    return 0


def _info(args) -> int:
    from alakazam.info import print_info

    print_info(args.table)
    return 0


def _fluxscale_info(args) -> int:
    from alakazam.fluxinfo import print_fluxscale_info

    print_fluxscale_info(args.table)
    return 0


COMMANDS = {"simulate": _simulate, "listobs": _listobs, "setjy": _setjy, "run": _run,
            "info": _info, "export": _export,
            "fluxscale-info": _fluxscale_info,
            "restore-flags": _restore_flags, "demo": _demo, "plot": _plot}


def _caused_by_interrupt(exc: BaseException | None) -> bool:
    """Whether a KeyboardInterrupt is in the chain of causes of `exc` (numba's dispatcher
    turns one raised inside its callbacks into a SystemError)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def main(argv=None) -> int:
    configure_process()
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except InputError as exc:
        print(f"alakazam: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except TaskFailed as exc:
        print(f"alakazam: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("alakazam: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemError as exc:  # Ctrl-C landing in a Python call made from compiled code
        if not _caused_by_interrupt(exc):
            raise
        print("alakazam: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader of our output went away (e.g. `| head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
