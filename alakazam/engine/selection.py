"""Selections of fields, scans and SPWs, resolved against an MS's metadata.

Field specs are names or ids; SPW specs are CASA-style strings `0,1,2`, `0~3` (and mixes such
as `0~1,3`), ints, or lists of those. Every failure is an InputError naming the value.
"""

from __future__ import annotations

from dataclasses import dataclass

from alakazam.engine.errors import InputError
from alakazam.engine.msmeta import MSMeta


@dataclass(frozen=True)
class Selection:
    """What to read: field ids, scan numbers and SPW ids (each None for all), and whether
    autocorrelation rows are kept (never for solving)."""

    field_ids: tuple[int, ...] | None = None
    scans: tuple[int, ...] | None = None
    spw_ids: tuple[int, ...] | None = None
    autocorrelations: bool = False


def select(meta: MSMeta, field=None, scans=None, spw=None, autocorrelations=False) -> Selection:
    """Resolve user specs (None = all) into a Selection, checking each against `meta`."""
    field_ids = resolve_fields(meta, field) if field is not None else None
    return Selection(
        field_ids=field_ids,
        scans=resolve_scans(meta, scans, field_ids) if scans is not None else None,
        spw_ids=resolve_spws(meta, spw) if spw is not None else None,
        autocorrelations=autocorrelations,
    )


def resolve_fields(meta: MSMeta, spec) -> tuple[int, ...]:
    """Field ids for a name, an id, or a list of them. Names are matched exactly first, then
    without regard to case; a string of digits that is no field's name is an id."""
    items = spec if isinstance(spec, (list, tuple)) else [spec]
    by_name = {f.name: f.id for f in meta.fields}
    by_lower = {f.name.lower(): f.id for f in meta.fields}
    out: list[int] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise InputError(f"field {item!r}: expected a field name or id")
        if isinstance(item, str) and item in by_name:
            fid = by_name[item]
        elif isinstance(item, str) and item.lower() in by_lower:
            fid = by_lower[item.lower()]
        elif isinstance(item, int) or item.strip().isdigit():
            fid = int(item)
            if not 0 <= fid < len(meta.fields):
                raise InputError(f"field id {fid}: {meta.path} has field ids 0..{len(meta.fields) - 1}")
        else:
            present = ", ".join(f.name for f in meta.fields)
            raise InputError(f"field {item!r}: not in {meta.path} (fields present: {present})")
        if fid not in out:
            out.append(fid)
    return tuple(out)


def resolve_scans(meta: MSMeta, spec, field_ids=None) -> tuple[int, ...]:
    """Scan numbers from an int, a list of ints, or a string such as `1,2` or `3~5`; each must
    exist. With `field_ids`, the selection is the intersection (as in CASA), which must not be
    empty."""
    numbers = parse_id_list(spec, "scan")
    present = {s.number: s for s in meta.scans}
    for n in numbers:
        if n not in present:
            raise InputError(f"scan {n}: not in {meta.path} (scans {_ranges(sorted(present))})")
    if field_ids is not None and not any(set(present[n].field_ids) & set(field_ids)
                                         for n in numbers):
        names = ", ".join(meta.fields[f].name for f in field_ids)
        raise InputError(f"scan {spec}: none of these scans observes the selected field(s) "
                         f"{names}")
    return numbers


def resolve_spws(meta: MSMeta, spec) -> tuple[int, ...]:
    """SPW ids from `0,1,2`, `0~3`, an int or a list; each must exist in `meta`."""
    ids = parse_id_list(spec, "spw")
    for i in ids:
        if not 0 <= i < len(meta.spws):
            raise InputError(f"spw {i}: {meta.path} has SPWs 0..{len(meta.spws) - 1}")
    return ids


def parse_id_list(spec, what: str) -> tuple[int, ...]:
    """Parse `0,1,2`, `0~3`, `0~1,5`, an int or a list of those into sorted unique ints."""
    items = spec if isinstance(spec, (list, tuple)) else [spec]
    out: set[int] = set()
    for item in items:
        if isinstance(item, bool):
            raise InputError(f"{what} {item!r}: expected a number, a list or a range such as 0~3")
        if isinstance(item, int):
            out.add(item)
            continue
        for part in str(item).split(","):
            part = part.strip()
            lo, sep, hi = part.partition("~")
            try:
                if sep:
                    first, last = int(lo), int(hi)
                    if last < first:
                        raise ValueError
                    out.update(range(first, last + 1))
                else:
                    out.add(int(part))
            except ValueError:
                raise InputError(f"{what} {item!r}: expected a number, a list or a range such "
                                 "as 0~3") from None
    if any(i < 0 for i in out):
        raise InputError(f"{what} {spec!r}: negative ids are not allowed")
    return tuple(sorted(out))


def _ranges(numbers: list[int]) -> str:
    """`1~4,7` style summary of sorted ints."""
    parts, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(str(start) if start == n else f"{start}~{n}")
            start = None
    return ",".join(parts)
