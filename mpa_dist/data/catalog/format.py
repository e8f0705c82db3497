"""A readable table of the catalogue."""

COLUMNS = [("name", 28), ("kind", 12), ("input", 11), ("unit", 18), ("num_entries", 11), ("readout", 14),
           ("transform", 9), ("split", 8)]


def table(items: list[dict]) -> str:
    head = " ".join(f"{c:<{w}}" for c, w in COLUMNS)
    lines = [head, "-" * len(head)]
    for it in items:
        lines.append(" ".join(f"{str(it[c]):<{w}.{w}}" for c, w in COLUMNS))
    exp = [i for i in items if i["kind"] == "experimental"]
    lines.append(f"\n{len(items)} tasks; {len(exp)} experimental, of which "
                 f"{sum(i['num_entries'] >= 200 for i in exp)} with >= 200 entries")
    return "\n".join(lines)
