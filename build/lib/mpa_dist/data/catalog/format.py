"""A readable table of the catalogue: full task names (they are what `finetune.task=` takes)."""

COLUMNS = ["name", "kind", "input", "unit", "num_entries", "readout", "transform", "ood split"]


def _cell(item: dict, col: str) -> str:
    if col == "ood split":  # the ood scheme groups by scaffold (molecules) or chemical system (compositions)
        return "" if item["kind"] != "experimental" else \
            "scaffold" if item["input"] == "molecule" else "chemical system"
    return str(item[col])


def table(items: list[dict]) -> str:
    rows = [[_cell(it, c) for c in COLUMNS] for it in items]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(COLUMNS)]
    fmt = lambda cells: " ".join(f"{x:<{w}}" for x, w in zip(cells, widths)).rstrip()
    head = fmt(COLUMNS)
    lines = [head, "-" * len(head)] + [fmt(r) for r in rows]
    exp = [i for i in items if i["kind"] == "experimental"]
    lines.append(f"\n{len(items)} tasks; {len(exp)} experimental, of which "
                 f"{sum(i['num_entries'] >= 200 for i in exp)} with >= 200 entries")
    return "\n".join(lines)


def task_detail(name: str) -> str:
    """One task as a reference: its sources and licences, unit, readout, transform, entries and the
    split sizes under every scheme."""
    from mpa_dist.data.catalog import registry
    from mpa_dist.data.exposure import SCHEMES

    owner = {t.name: ds for ds in registry.datasets().values() for t in ds.tasks}
    if name not in owner:
        raise KeyError(f"unknown task {name!r}; `python launch/catalog.py` lists them")
    ds = owner[name]
    spec = next(t for t in ds.tasks if t.name == name)
    entries = ds.entries()
    lines = [f"{spec.name}: {spec.property} [{spec.unit}]", f"  {spec.description}" if spec.description else "",
             f"  kind {spec.kind}, input {spec.input}, readout {spec.readout}, transform {spec.transform}, "
             f"{len(entries)} entries", "  sources:"]
    lines += [f"    - {src.name} ({src.licence}){' [estimated values: train only]' if src.estimated else ''}"
              for src in spec.sources]
    lines.append("  split sizes (train / val / test / held):")
    for scheme in SCHEMES:
        col = f"split_{scheme}"
        if col in entries:
            n = entries[col].value_counts()
            lines.append(f"    {scheme:<7} {n.get('train', 0)} / {n.get('val', 0)} / {n.get('test', 0)} / {n.get('held', 0)}")
    return "\n".join(x for x in lines if x)
