"""Compare the Delta tables and calibrated model of two demo data dirs, row for row."""
import sys, yaml
import polars as pl
from deltalake import DeltaTable

a, b = sys.argv[1], sys.argv[2]
ignore = {"run_id", "computed_at"}
def frame(root, kind, name):
    path = f"{root}/{kind}/{name}"
    if not DeltaTable.is_deltatable(path):
        return None
    df = pl.read_delta(path)
    df = df.select([c for c in df.columns if c not in ignore])
    return df.sort(df.columns)
ok = True
for kind, names in (("sources", ["households", "members", "payments", "declarations", "events", "controls"]),
                    ("tables", ["features", "scores", "targets", "quarantine"])):
    for name in names:
        x, y = frame(a, kind, name), frame(b, kind, name)
        if x is None or y is None:
            print(f"{kind}/{name}: missing in {'a' if x is None else 'b'}"); continue
        common = [c for c in x.columns if c in y.columns]
        extra = sorted(set(x.columns) ^ set(y.columns))
        same = x.select(common).sort(common).equals(y.select(common).sort(common))
        ok &= same
        print(f"{kind}/{name}: {x.height} vs {y.height} rows, identical on {len(common)} common columns: {same}"
              + (f" (columns in one only: {extra})" if extra else ""))
ma = yaml.safe_load(open(f"{a}/models/dmde_2025.yaml")); mb = yaml.safe_load(open(f"{b}/models/dmde_2025.yaml"))
for m in ma["models"]:
    ia, ib = ma["models"][m]["intercept"], mb["models"][m]["intercept"]
    print(f"intercept {m}: {ia['value']} vs {ib['value']} (n {ia['sample_size']} vs {ib['sample_size']})")
    ok &= ia["value"] == ib["value"]
print("IDENTICAL" if ok else "DIFFERENT")
